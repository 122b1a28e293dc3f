package awsproxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// fakeLambda is a lambda.Invoker that records invocations and answers with answer (an empty result when
// nil).
type fakeLambda struct {
	answer func(ctx context.Context, function string, payload []byte) (*lambda.Result, error)

	mu    sync.Mutex
	calls []invocation
}

type invocation struct {
	function    string
	payload     []byte
	deadline    time.Time
	hasDeadline bool
}

func (f *fakeLambda) Invoke(ctx context.Context, function string, payload []byte) (*lambda.Result, error) {
	dl, ok := ctx.Deadline()
	f.mu.Lock()
	f.calls = append(f.calls, invocation{function: function, payload: payload, deadline: dl, hasDeadline: ok})
	f.mu.Unlock()
	if f.answer == nil {
		return &lambda.Result{Payload: []byte(`{"statusCode":200}`)}, nil
	}
	return f.answer(ctx, function, payload)
}

func (f *fakeLambda) only(t *testing.T) invocation {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 1 {
		t.Fatalf("function invoked %d times, want 1", len(f.calls))
	}
	return f.calls[0]
}

func answer(payload string) func(context.Context, string, []byte) (*lambda.Result, error) {
	return func(context.Context, string, []byte) (*lambda.Result, error) {
		return &lambda.Result{Payload: []byte(payload)}, nil
	}
}

const testARN = "arn:aws:lambda:eu-west-1:123456789012:function:chat"

func integ(uri string, timeout time.Duration) *snapshot.Integration {
	return &snapshot.Integration{ID: "abc123", Type: "AWS_PROXY", URI: uri, Method: http.MethodPost, Timeout: timeout}
}

func defaultInteg() *snapshot.Integration {
	return integ("arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"+testARN+"/invocations", 29*time.Second)
}

func rc(eventType, routeKey string) *proxyevent.RequestContext {
	r := &proxyevent.RequestContext{
		RouteKey: routeKey, EventType: eventType, ExtendedRequestID: "R1kmxHb2tjMFa1Q=", RequestID: "R1kmxHb2tjMFa1Q=",
		MessageDirection: "IN", Stage: "prod", ConnectedAt: 1705751697419,
		Identity:   proxyevent.Identity{SourceIP: "198.51.100.7", UserAgent: "client/1.0"},
		DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", ConnectionID: "R1kmxc2VNjMCFIA=", APIID: "a1b2c3d4e5",
	}
	r.SetRequestTime(time.UnixMilli(1705751697420))
	return r
}

func connectReq() *integration.Request {
	return &integration.Request{
		Context: rc(proxyevent.EventConnect, "$connect"),
		Header: http.Header{
			"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
			"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Protocol": {"chat.v1, chat.v2"}, "User-Agent": {"client/1.0"},
		},
		Query:          url.Values{"token": {"abc"}},
		StageVariables: map[string]string{"alias": "live"},
	}
}

func messageReq(body string) *integration.Request {
	r := rc(proxyevent.EventMessage, "sendmessage")
	r.MessageID = "R1knPc2ntjMCFIA="
	return &integration.Request{Context: r, Body: []byte(body), StageVariables: map[string]string{"alias": "live"}}
}

func disconnectReq() *integration.Request {
	r := rc(proxyevent.EventDisconnect, "$disconnect")
	r.DisconnectStatusCode = 1005
	reason := "Client-side close frame status not set"
	r.DisconnectReason = &reason
	return &integration.Request{Context: r}
}

func TestInvokeEvents(t *testing.T) {
	tests := []struct {
		name  string
		req   *integration.Request
		check func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest)
	}{
		{
			name: "connect", req: connectReq(),
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				rc := ev.RequestContext
				if rc.EventType != "CONNECT" || rc.RouteKey != "$connect" || rc.MessageID != nil || rc.DisconnectReason != nil {
					t.Errorf("requestContext = %+v", rc)
				}
				if ev.Headers["Sec-WebSocket-Protocol"] != "chat.v1, chat.v2" || ev.Headers["Host"] != "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com" ||
					ev.Headers["X-Forwarded-For"] != "198.51.100.7" || ev.Headers["Connection"] != "" || ev.Headers["Upgrade"] != "" {
					t.Errorf("headers = %v", ev.Headers)
				}
				if ev.QueryStringParameters["token"] != "abc" || ev.MultiValueQueryStringParameters["token"][0] != "abc" {
					t.Errorf("query = %v / %v", ev.QueryStringParameters, ev.MultiValueQueryStringParameters)
				}
				if ev.StageVariables["alias"] != "live" || ev.Body != "" {
					t.Errorf("stageVariables = %v, body %q", ev.StageVariables, ev.Body)
				}
			},
		},
		{
			name: "message", req: messageReq(`{"action":"sendmessage","data":"hi"}`),
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				rc := ev.RequestContext
				if rc.EventType != "MESSAGE" || rc.RouteKey != "sendmessage" || rc.MessageID != "R1knPc2ntjMCFIA=" {
					t.Errorf("requestContext = %+v", rc)
				}
				if ev.Body != `{"action":"sendmessage","data":"hi"}` || ev.Headers != nil || ev.QueryStringParameters != nil {
					t.Errorf("body %q, headers %v, query %v", ev.Body, ev.Headers, ev.QueryStringParameters)
				}
			},
		},
		{
			name: "disconnect", req: disconnectReq(),
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				rc := ev.RequestContext
				if rc.EventType != "DISCONNECT" || rc.DisconnectStatusCode != 1005 || rc.DisconnectReason == nil ||
					*rc.DisconnectReason != "Client-side close frame status not set" || rc.MessageID != nil {
					t.Errorf("requestContext = %+v", rc)
				}
				if len(ev.Headers) != 4 || ev.Headers["x-restapi"] != "" || ev.StageVariables != nil {
					t.Errorf("headers %v, stage variables %v", ev.Headers, ev.StageVariables)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeLambda{}
			start := time.Now()
			if _, err := New(fake).Invoke(context.Background(), defaultInteg(), tc.req); err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			call := fake.only(t)
			if call.function != testARN {
				t.Errorf("function = %q, want %q", call.function, testARN)
			}
			if !call.hasDeadline || call.deadline.Before(start.Add(29*time.Second)) || call.deadline.After(time.Now().Add(29*time.Second)) {
				t.Errorf("deadline = %v (set %v), want 29s from the call", call.deadline, call.hasDeadline)
			}
			var ev events.APIGatewayWebsocketProxyRequest
			if err := json.Unmarshal(call.payload, &ev); err != nil {
				t.Fatalf("event is not JSON: %v\n%s", err, call.payload)
			}
			if ev.RequestContext.ConnectionID != "R1kmxc2VNjMCFIA=" || ev.IsBase64Encoded {
				t.Errorf("connectionId %q, isBase64Encoded %v", ev.RequestContext.ConnectionID, ev.IsBase64Encoded)
			}
			tc.check(t, &ev)
		})
	}
}

func TestInvokeURIForms(t *testing.T) {
	tests := []struct {
		name, uri, want string
	}{
		{name: "apigateway invocation URI", uri: "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/" + testARN + "/invocations", want: testARN},
		{name: "qualified ARN in the URI", uri: "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/" + testARN + ":live/invocations", want: testARN + ":live"},
		{name: "percent-encoded ARN in the URI", uri: "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Achat/invocations", want: testARN},
		{name: "other partition", uri: "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/arn:aws-cn:lambda:cn-north-1:123456789012:function:chat/invocations", want: "arn:aws-cn:lambda:cn-north-1:123456789012:function:chat"},
		{name: "name in the URI", uri: "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/chat/invocations", want: "chat"},
		{name: "bare function ARN", uri: testARN, want: testARN},
		{name: "bare qualified ARN", uri: testARN + ":7", want: testARN + ":7"},
		{name: "plain name", uri: "chat", want: "chat"},
		{name: "name and alias", uri: "chat:live", want: "chat:live"},
		{name: "partial ARN", uri: "123456789012:function:chat", want: "123456789012:function:chat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lambda.FunctionFromURI(tc.uri)
			if err != nil || got != tc.want {
				t.Fatalf("FunctionFromURI(%q) = %q, %v; want %q", tc.uri, got, err, tc.want)
			}
			fake := &fakeLambda{}
			if _, err := New(fake).Invoke(context.Background(), integ(tc.uri, time.Second), messageReq("x")); err != nil {
				t.Fatal(err)
			}
			if f := fake.only(t).function; f != tc.want {
				t.Errorf("invoked %q, want %q", f, tc.want)
			}
		})
	}
}

func TestInvokeResults(t *testing.T) {
	big := `{"statusCode":200,"body":"` + strings.Repeat("x", proxyevent.MaxMessageBody+1) + `"}`
	tests := []struct {
		name    string
		req     *integration.Request
		result  *lambda.Result
		err     error // from the lambda.Invoker
		status  int
		header  http.Header
		body    string
		wantErr error // errors.Is target; ErrTimeout must never match unless it is the target
	}{
		{name: "connect accepted with subprotocol", req: connectReq(), result: &lambda.Result{Payload: []byte(`{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"chat.v2"}}`)},
			status: 200, header: http.Header{"Sec-Websocket-Protocol": {"chat.v2"}}},
		{name: "connect subprotocol from multiValueHeaders", req: connectReq(), result: &lambda.Result{Payload: []byte(`{"statusCode":200,"multiValueHeaders":{"sec-websocket-protocol":["chat.v1"]}}`)},
			status: 200, header: http.Header{"Sec-Websocket-Protocol": {"chat.v1"}}},
		{name: "connect rejected", req: connectReq(), result: &lambda.Result{Payload: []byte(`{"statusCode":401,"body":"nope"}`)}, status: 401, body: "nope"},
		{name: "connect handler returned nothing", req: connectReq(), result: &lambda.Result{Payload: []byte(`null`)}, status: 200},
		{name: "connect with a large body", req: connectReq(), result: &lambda.Result{Payload: []byte(big)}, status: 200, body: strings.Repeat("x", proxyevent.MaxMessageBody+1)},
		{name: "message reply", req: messageReq("hi"), result: &lambda.Result{Payload: []byte(`{"statusCode":200,"body":"{\"echo\":\"hi\"}"}`)}, status: 200, body: `{"echo":"hi"}`},
		{name: "message string result", req: messageReq("hi"), result: &lambda.Result{Payload: []byte(`"pong"`)}, status: 200, body: "pong"},
		{name: "message base64 reply", req: messageReq("hi"), result: &lambda.Result{Payload: []byte(`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`)}, status: 200, body: "hi"},
		{name: "message reply of exactly 128 KiB", req: messageReq("hi"), result: &lambda.Result{Payload: []byte(`{"body":"` + strings.Repeat("y", proxyevent.MaxMessageBody) + `"}`)},
			status: 200, body: strings.Repeat("y", proxyevent.MaxMessageBody)},
		{name: "message reply over 128 KiB", req: messageReq("hi"), result: &lambda.Result{Payload: []byte(big)}, wantErr: proxyevent.ErrBodyTooLarge},
		{name: "function error", req: messageReq("hi"), result: &lambda.Result{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`)}, wantErr: ErrFunctionError},
		{name: "function error on connect", req: connectReq(), result: &lambda.Result{FunctionError: "Unhandled", Payload: []byte(`{"errorType":"Sandbox.Timedout"}`)}, wantErr: ErrFunctionError},
		{name: "malformed result", req: messageReq("hi"), result: &lambda.Result{Payload: []byte(`{"statusCode":200,`)}, wantErr: proxyevent.ErrMalformedResponse},
		{name: "status out of range", req: connectReq(), result: &lambda.Result{Payload: []byte(`{"statusCode":1000}`)}, wantErr: proxyevent.ErrMalformedResponse},
		{name: "function not found", req: messageReq("hi"), err: lambda.ErrFunctionNotFound, wantErr: lambda.ErrFunctionNotFound},
		{name: "disconnect result ignored", req: disconnectReq(), result: &lambda.Result{Payload: []byte(`not json`)}, status: 200},
		{name: "disconnect function error reported", req: disconnectReq(), result: &lambda.Result{FunctionError: "Unhandled", Payload: []byte(`{}`)}, wantErr: ErrFunctionError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeLambda{answer: func(context.Context, string, []byte) (*lambda.Result, error) { return tc.result, tc.err }}
			resp, err := New(fake).Invoke(context.Background(), defaultInteg(), tc.req)
			fake.only(t)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || errors.Is(err, integration.ErrTimeout) {
					t.Fatalf("err = %v, want %v and not a timeout", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if resp.StatusCode != tc.status || string(resp.Body) != tc.body {
				t.Errorf("response = %d %.80q, want %d %.80q", resp.StatusCode, resp.Body, tc.status, tc.body)
			}
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != tc.header.Get("Sec-WebSocket-Protocol") {
				t.Errorf("Sec-WebSocket-Protocol = %q, want %q", got, tc.header.Get("Sec-WebSocket-Protocol"))
			}
		})
	}
}

func TestInvokeTimeout(t *testing.T) {
	waitForDeadline := func(ctx context.Context, _ string, _ []byte) (*lambda.Result, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	// An invoker that ignores its context and answers only once the deadline has passed.
	lateAnswer := func(ctx context.Context, _ string, _ []byte) (*lambda.Result, error) {
		<-ctx.Done()
		return &lambda.Result{Payload: []byte(`{"statusCode":200}`)}, nil
	}
	tests := []struct {
		name        string
		answer      func(context.Context, string, []byte) (*lambda.Result, error)
		cancel      bool // the caller's context ends first
		wantTimeout bool
	}{
		{name: "integration timeout", answer: waitForDeadline, wantTimeout: true},
		{name: "late answer is still a timeout", answer: lateAnswer, wantTimeout: true},
		{name: "caller gone is not a timeout", answer: waitForDeadline, cancel: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			fake := &fakeLambda{answer: tc.answer}
			timeout := 50 * time.Millisecond
			if tc.cancel {
				timeout = time.Hour
			}
			_, err := New(fake).Invoke(ctx, integ(testARN, timeout), messageReq("hi"))
			if got := errors.Is(err, integration.ErrTimeout); got != tc.wantTimeout || err == nil {
				t.Fatalf("err = %v, want timeout %v", err, tc.wantTimeout)
			}
		})
	}
}

func TestInvokeDefaultTimeout(t *testing.T) {
	fake := &fakeLambda{}
	start := time.Now()
	if _, err := New(fake).Invoke(context.Background(), integ("chat", 0), messageReq("hi")); err != nil {
		t.Fatal(err)
	}
	if c := fake.only(t); !c.hasDeadline || c.deadline.Before(start.Add(DefaultTimeout)) {
		t.Errorf("deadline = %v, want %v from the call", c.deadline, DefaultTimeout)
	}
}

func TestInvokeBadRequests(t *testing.T) {
	tests := []struct {
		name string
		req  *integration.Request
	}{
		{name: "no requestContext", req: &integration.Request{Body: []byte("x")}},
		{name: "unknown event type", req: &integration.Request{Context: rc("PING", "$default")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeLambda{}
			if _, err := New(fake).Invoke(context.Background(), defaultInteg(), tc.req); err == nil {
				t.Fatal("no error")
			}
			if len(fake.calls) != 0 {
				t.Error("function invoked")
			}
		})
	}
}

func TestErrorSummary(t *testing.T) {
	tests := []struct{ name, payload, want string }{
		{name: "error document", payload: `{"errorMessage":"boom","errorType":"Error","trace":[]}`, want: "Error: boom"},
		{name: "not a document", payload: ` oops `, want: "oops"},
		{name: "long message", payload: `{"errorType":"E","errorMessage":"` + strings.Repeat("é", 200) + `"}`, want: "E: " + strings.Repeat("é", 128) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorSummary([]byte(tc.payload)); got != tc.want {
				t.Errorf("errorSummary = %q, want %q", got, tc.want)
			}
		})
	}
}
