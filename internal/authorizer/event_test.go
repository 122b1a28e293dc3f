package authorizer

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	testDomain    = "abcdef1234.execute-api.us-east-1.amazonaws.com"
	testConnID    = "R1kmxc2VNjMCFIA="
	testMethodARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/default/$connect"
)

// testRC is the requestContext of a $connect as dispatch makes it, with fixed values.
func testRC() *proxyevent.RequestContext {
	rc := &proxyevent.RequestContext{
		RouteKey:          "$connect",
		EventType:         proxyevent.EventConnect,
		ExtendedRequestID: "R1kmxHb2tjMFa1Q=",
		RequestID:         "R1kmxHb2tjMFa1Q=",
		MessageDirection:  "IN",
		Stage:             "default",
		ConnectedAt:       1674162806344,
		Identity:          proxyevent.Identity{SourceIP: "198.51.100.7", UserAgent: "wscat/5.2"},
		DomainName:        testDomain,
		ConnectionID:      testConnID,
		APIID:             "abcdef1234",
		TraceID:           "Root=1-63c9b276-0123456789abcdef01234567",
	}
	rc.SetRequestTime(time.Date(2023, 1, 19, 21, 13, 26, 345e6, time.UTC))
	return rc
}

// handshake is a handshake's headers as net/http hands them over (canonical names), plus Host.
func handshake() http.Header {
	return http.Header{
		"Host":                     {testDomain},
		"Connection":               {"Upgrade"},
		"Upgrade":                  {"websocket"},
		"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		"Sec-Websocket-Key":        {"3Jk0q9c1m3k0d2hK8Pq0Ww=="},
		"Sec-Websocket-Version":    {"13"},
		"User-Agent":               {"wscat/5.2"},
		"Headerauth1":              {"headerValue1"},
	}
}

func testRequest() *Request {
	return &Request{Header: handshake(), Context: testRC(), MethodARN: testMethodARN}
}

type eventCase struct {
	name string
	req  func() *Request
	keys []string // top-level keys, in order
}

func eventCases() []eventCase {
	return []eventCase{
		{
			name: "event",
			req:  testRequest,
			keys: []string{"type", "methodArn", "headers", "multiValueHeaders", "stageVariables", "requestContext"},
		},
		{
			name: "event-query-stagevars",
			req: func() *Request {
				r := testRequest()
				r.Header["X-Forwarded-For"] = []string{"203.0.113.9"}
				r.Header["Accept-Language"] = []string{"en", "fr;q=0.8"}
				r.Header["Content-Length"] = []string{"12"}
				r.Header["Keep-Alive"] = []string{"timeout=5"}
				r.Header["X-Amzn-Trace-Id"] = []string{"Root=1-client-supplied"}
				r.Header["Origin"] = []string{"https://example.com/<a&b>"}
				r.Query = url.Values{"QueryString1": {"queryValue1"}, "tag": {"x", "y"}}
				r.StageVariables = map[string]string{"StageVar1": "stageValue1"}
				r.Context.ForwardedPort, r.Context.ForwardedProto = "8080", "http"
				r.Context.MessageID = "ignored on CONNECT"
				return r
			},
			keys: []string{"type", "methodArn", "headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "stageVariables", "requestContext"},
		},
	}
}

func TestEventGolden(t *testing.T) {
	for _, tc := range eventCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := Event(tc.req())
			path := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("event differs from %s:\n got %s\nwant %s", path, got, want)
			}
		})
	}
}

// TestEventShape checks the top-level keys and their order, and that the request's context is not
// modified.
func TestEventShape(t *testing.T) {
	for _, tc := range eventCases() {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			before := *req.Context
			dec := json.NewDecoder(bytes.NewReader(Event(req)))
			if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
				t.Fatalf("event does not start with an object: %v %v", tok, err)
			}
			var keys []string
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, tok.(string))
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					t.Fatal(err)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tc.keys, ",") {
				t.Errorf("top-level keys = %v, want %v", keys, tc.keys)
			}
			if !reflect.DeepEqual(*req.Context, before) {
				t.Error("Event modified the request's context")
			}
		})
	}
}

// TestEventDecode reads the events the way a Go authorizer does, with aws-lambda-go's type.
func TestEventDecode(t *testing.T) {
	tests := []struct {
		name  string
		check func(t *testing.T, ev *events.APIGatewayCustomAuthorizerRequestTypeRequest, raw map[string]json.RawMessage)
	}{
		{
			name: "event",
			check: func(t *testing.T, ev *events.APIGatewayCustomAuthorizerRequestTypeRequest, raw map[string]json.RawMessage) {
				want := map[string]string{
					"Connection":               "upgrade",
					"content-length":           "0",
					"Headerauth1":              "headerValue1", // net/http canonicalized the client's HeaderAuth1
					"Host":                     testDomain,
					"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
					"Sec-WebSocket-Key":        "3Jk0q9c1m3k0d2hK8Pq0Ww==",
					"Sec-WebSocket-Version":    "13",
					"Upgrade":                  "websocket",
					"User-Agent":               "wscat/5.2",
					"X-Amzn-Trace-Id":          "Root=1-63c9b276-0123456789abcdef01234567",
					"X-Forwarded-For":          "198.51.100.7",
					"X-Forwarded-Port":         "443",
					"X-Forwarded-Proto":        "https",
				}
				if len(ev.Headers) != len(want) {
					t.Errorf("headers = %v, want %v", ev.Headers, want)
				}
				for k, v := range want {
					if ev.Headers[k] != v {
						t.Errorf("headers[%q] = %q, want %q", k, ev.Headers[k], v)
					}
					if mv := ev.MultiValueHeaders[k]; len(mv) != 1 || mv[0] != v {
						t.Errorf("multiValueHeaders[%q] = %q, want [%q]", k, mv, v)
					}
				}
				if ev.QueryStringParameters != nil || ev.MultiValueQueryStringParameters != nil {
					t.Errorf("query maps present without a query string: %v %v", ev.QueryStringParameters, ev.MultiValueQueryStringParameters)
				}
				if ev.StageVariables == nil || len(ev.StageVariables) != 0 || string(raw["stageVariables"]) != "{}" {
					t.Errorf("stageVariables = %s, want {}", raw["stageVariables"])
				}
			},
		},
		{
			name: "event-query-stagevars",
			check: func(t *testing.T, ev *events.APIGatewayCustomAuthorizerRequestTypeRequest, raw map[string]json.RawMessage) {
				for k, v := range map[string]string{
					"Connection": "upgrade", "content-length": "0", "Upgrade": "websocket",
					"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Port": "8080", "X-Forwarded-Proto": "http",
					"Accept-Language": "fr;q=0.8", "X-Amzn-Trace-Id": "Root=1-client-supplied", "Origin": "https://example.com/<a&b>",
				} {
					if ev.Headers[k] != v {
						t.Errorf("headers[%q] = %q, want %q", k, ev.Headers[k], v)
					}
				}
				if _, ok := ev.Headers["Keep-Alive"]; ok {
					t.Error("hop-by-hop Keep-Alive passed on")
				}
				if got := ev.MultiValueHeaders["Accept-Language"]; strings.Join(got, "|") != "en|fr;q=0.8" {
					t.Errorf("multiValueHeaders[Accept-Language] = %q", got)
				}
				if ev.QueryStringParameters["QueryString1"] != "queryValue1" || ev.QueryStringParameters["tag"] != "y" {
					t.Errorf("queryStringParameters = %v", ev.QueryStringParameters)
				}
				if got := ev.MultiValueQueryStringParameters["tag"]; strings.Join(got, "|") != "x|y" {
					t.Errorf("multiValueQueryStringParameters[tag] = %q", got)
				}
				if ev.StageVariables["StageVar1"] != "stageValue1" || len(ev.StageVariables) != 1 {
					t.Errorf("stageVariables = %v", ev.StageVariables)
				}
			},
		},
	}
	cases := map[string]eventCase{}
	for _, c := range eventCases() {
		cases[c.name] = c
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := Event(cases[tc.name].req())
			var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatalf("decode: %v\n%s", err, b)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			if ev.Type != "REQUEST" || ev.MethodArn != testMethodARN {
				t.Errorf("type, methodArn = %q, %q", ev.Type, ev.MethodArn)
			}
			if ev.Resource != "" || ev.Path != "" || ev.HTTPMethod != "" || ev.PathParameters != nil {
				t.Error("REST-only keys present")
			}
			// The WebSocket requestContext, which aws-lambda-go's REST-shaped type only partly reads.
			var rc events.APIGatewayWebsocketProxyRequestContext
			if err := json.Unmarshal(raw["requestContext"], &rc); err != nil {
				t.Fatal(err)
			}
			if rc.RouteKey != "$connect" || rc.EventType != "CONNECT" || rc.ConnectionID != testConnID || rc.Stage != "default" ||
				rc.APIID != "abcdef1234" || rc.DomainName != testDomain || rc.MessageID != nil || rc.MessageDirection != "IN" ||
				rc.Identity.SourceIP != "198.51.100.7" || rc.ConnectedAt != 1674162806344 || rc.RequestTime != "19/Jan/2023:21:13:26 +0000" {
				t.Errorf("requestContext = %+v", rc)
			}
			tc.check(t, &ev, raw)
		})
	}
}

// TestEventNewTraceID checks that a requestContext without TraceID still gets a trace header.
func TestEventNewTraceID(t *testing.T) {
	req := testRequest()
	req.Context.TraceID = ""
	var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal(Event(req), &ev); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ev.Headers["X-Amzn-Trace-Id"], "Root=1-63c9b276-") {
		t.Errorf("X-Amzn-Trace-Id = %q", ev.Headers["X-Amzn-Trace-Id"])
	}
}
