package proxyevent

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	testDomain = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
	testConnID = "R1kmxc2VNjMCFIA="
)

// testRC is a requestContext as dispatch makes it, with fixed values.
func testRC(routeKey, eventType, requestID string, at time.Time) *RequestContext {
	rc := &RequestContext{
		RouteKey:          routeKey,
		EventType:         eventType,
		ExtendedRequestID: requestID,
		RequestID:         requestID,
		MessageDirection:  "IN",
		Stage:             "prod",
		ConnectedAt:       1705751697419,
		Identity:          Identity{SourceIP: "198.51.100.7", UserAgent: "example-client/1.0"},
		DomainName:        testDomain,
		ConnectionID:      testConnID,
		APIID:             "a1b2c3d4e5",
	}
	rc.SetRequestTime(at)
	return rc
}

// handshake is a handshake's headers as net/http hands them over: canonical names, no Host.
func handshake() http.Header {
	return http.Header{
		"Connection":               {"Upgrade"},
		"Upgrade":                  {"websocket"},
		"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		"Sec-Websocket-Key":        {"3Jk0q9c1m3k0d2hK8Pq0Ww=="},
		"Sec-Websocket-Protocol":   {"chat.v1, chat.v2"},
		"Sec-Websocket-Version":    {"13"},
		"User-Agent":               {"example-client/1.0"},
	}
}

type eventCase struct {
	name  string
	event func() []byte
	check func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest)
}

func eventCases() []eventCase {
	connectAt := time.Date(2024, 1, 20, 11, 54, 57, 420e6, time.UTC)
	messageAt := time.Date(2024, 1, 20, 11, 55, 0, 453e6, time.UTC)
	disconnectAt := time.Date(2024, 1, 20, 11, 55, 8, 326e6, time.UTC)
	stageVars := map[string]string{"lambdaAlias": "live", "env": "<prod & co>"}
	reason := "Going away"

	connectRC := func() *RequestContext {
		rc := testRC("$connect", EventConnect, "R1kmxHb2tjMFa1Q=", connectAt)
		rc.TraceID = "Root=1-65abb491-0123456789abcdef01234567"
		return rc
	}
	return []eventCase{
		{
			name: "connect",
			event: func() []byte {
				return ConnectEvent(connectRC(), handshake(), url.Values{}, nil)
			},
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				wantHeaders := map[string]string{
					"Host":                     testDomain,
					"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
					"Sec-WebSocket-Key":        "3Jk0q9c1m3k0d2hK8Pq0Ww==",
					"Sec-WebSocket-Protocol":   "chat.v1, chat.v2",
					"Sec-WebSocket-Version":    "13",
					"User-Agent":               "example-client/1.0",
					"X-Amzn-Trace-Id":          "Root=1-65abb491-0123456789abcdef01234567",
					"X-Forwarded-For":          "198.51.100.7",
					"X-Forwarded-Port":         "443",
					"X-Forwarded-Proto":        "https",
				}
				eqMap(t, "headers", ev.Headers, wantHeaders)
				for k, v := range wantHeaders {
					if got := ev.MultiValueHeaders[k]; len(got) != 1 || got[0] != v {
						t.Errorf("multiValueHeaders[%q] = %q, want [%q]", k, got, v)
					}
				}
				if len(ev.MultiValueHeaders) != len(wantHeaders) {
					t.Errorf("multiValueHeaders has %d names, want %d", len(ev.MultiValueHeaders), len(wantHeaders))
				}
				if ev.QueryStringParameters != nil || ev.MultiValueQueryStringParameters != nil || ev.StageVariables != nil {
					t.Errorf("query %v / %v, stage variables %v: want none", ev.QueryStringParameters, ev.MultiValueQueryStringParameters, ev.StageVariables)
				}
				if ev.Body != "" {
					t.Errorf("body = %q, want none", ev.Body)
				}
			},
		},
		{
			name: "connect-query-stagevars",
			event: func() []byte {
				h := handshake()
				h["X-Forwarded-For"] = []string{"203.0.113.9"}
				h["X-Forwarded-Port"] = []string{"1234"}
				h["Accept-Language"] = []string{"en", "fr;q=0.8"}
				h["Cookie"] = []string{"a=1"}
				h["Content-Length"] = []string{"0"}
				h["Origin"] = []string{"https://example.com"}
				rc := connectRC()
				rc.ForwardedPort, rc.ForwardedProto = "8080", "http"
				return ConnectEvent(rc, h, url.Values{"token": {"abc"}, "tag": {"x", "y"}, "empty": {""}}, stageVars)
			},
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				for k, want := range map[string]string{
					"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Port": "8080", "X-Forwarded-Proto": "http",
					"Accept-Language": "fr;q=0.8", "Cookie": "a=1", "Origin": "https://example.com",
				} {
					if got := ev.Headers[k]; got != want {
						t.Errorf("headers[%q] = %q, want %q", k, got, want)
					}
				}
				for _, k := range []string{"Connection", "Upgrade", "Content-Length"} {
					if _, ok := ev.Headers[k]; ok {
						t.Errorf("hop-by-hop header %s is in the event", k)
					}
				}
				if got := ev.MultiValueHeaders["Accept-Language"]; strings.Join(got, "|") != "en|fr;q=0.8" {
					t.Errorf("multiValueHeaders[Accept-Language] = %q", got)
				}
				eqMap(t, "queryStringParameters", ev.QueryStringParameters, map[string]string{"token": "abc", "tag": "y", "empty": ""})
				if got := ev.MultiValueQueryStringParameters["tag"]; strings.Join(got, "|") != "x|y" {
					t.Errorf("multiValueQueryStringParameters[tag] = %q", got)
				}
				eqMap(t, "stageVariables", ev.StageVariables, stageVars)
			},
		},
		{
			name: "message",
			event: func() []byte {
				rc := testRC("sendmessage", EventMessage, "R1knPH17NjMFftw=", messageAt)
				rc.MessageID = "R1knPc2ntjMCFIA="
				return MessageEvent(rc, []byte(`{"action":"sendmessage","data":"<b>hi</b> & \"bye\""}`+"\r\n\t\x01é"), nil)
			},
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				if want := `{"action":"sendmessage","data":"<b>hi</b> & \"bye\""}` + "\r\n\t\x01é"; ev.Body != want {
					t.Errorf("body = %q, want %q", ev.Body, want)
				}
				if ev.Headers != nil || ev.MultiValueHeaders != nil || ev.StageVariables != nil {
					t.Errorf("headers %v, %v, stage variables %v: want none", ev.Headers, ev.MultiValueHeaders, ev.StageVariables)
				}
			},
		},
		{
			name: "message-stagevars",
			event: func() []byte {
				rc := testRC("$default", EventMessage, "R1knPH17NjMFftw=", messageAt)
				rc.MessageID = "R1knPc2ntjMCFIA="
				rc.Identity.UserAgent = "" // a handshake without User-Agent
				return MessageEvent(rc, []byte(""), stageVars)
			},
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				eqMap(t, "stageVariables", ev.StageVariables, stageVars)
			},
		},
		{
			name: "message-authorizer",
			event: func() []byte {
				rc := testRC("sendmessage", EventMessage, "R1knPH17NjMFftw=", messageAt)
				rc.MessageID = "R1knPc2ntjMCFIA="
				rc.Authorizer = authorizerOutput()
				rc.Identity.APIKey, rc.Identity.APIKeyID = "partner-key-0123456789abcdef", "k1a2b3c4d5"
				return MessageEvent(rc, []byte(`{"action":"sendmessage"}`), nil)
			},
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				checkAuthorizer(t, ev)
				if id := ev.RequestContext.Identity; id.APIKey != "partner-key-0123456789abcdef" || id.APIKeyID != "k1a2b3c4d5" {
					t.Errorf("identity apiKey %q apiKeyId %q", id.APIKey, id.APIKeyID)
				}
			},
		},
		{
			name: "disconnect-authorizer",
			event: func() []byte {
				rc := testRC("$disconnect", EventDisconnect, "R1koeHsUtjMFbRw=", disconnectAt)
				rc.DisconnectStatusCode = 1001
				rc.DisconnectReason = &reason
				rc.Authorizer = authorizerOutput()
				return DisconnectEvent(rc, nil)
			},
			check: checkAuthorizer,
		},
		{
			name: "disconnect",
			event: func() []byte {
				rc := testRC("$disconnect", EventDisconnect, "R1koeHsUtjMFbRw=", disconnectAt)
				rc.DisconnectStatusCode = 1001
				rc.MessageID = "ignored on DISCONNECT"
				return DisconnectEvent(rc, nil)
			},
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				eqMap(t, "headers", ev.Headers, map[string]string{"Host": testDomain, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""})
				if got := ev.MultiValueHeaders["x-restapi"]; len(got) != 1 || got[0] != "" {
					t.Errorf("multiValueHeaders[x-restapi] = %q", got)
				}
			},
		},
		{
			name: "disconnect-stagevars",
			event: func() []byte {
				rc := testRC("$disconnect", EventDisconnect, "R1koeHsUtjMFbRw=", disconnectAt)
				rc.DisconnectStatusCode = 1001
				rc.DisconnectReason = &reason
				return DisconnectEvent(rc, stageVars)
			},
			check: func(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
				eqMap(t, "stageVariables", ev.StageVariables, stageVars)
				if ev.RequestContext.DisconnectReason == nil || *ev.RequestContext.DisconnectReason != reason {
					t.Errorf("disconnectReason = %v, want %q", ev.RequestContext.DisconnectReason, reason)
				}
			},
		},
	}
}

// authorizerOutput is requestContext.authorizer as authorizer.Decision.RequestContextAuthorizer makes it:
// principalId, integrationLatency in milliseconds, and the context keys with their JSON types.
func authorizerOutput() map[string]any {
	return map[string]any{"principalId": "user-123", "integrationLatency": int64(142),
		"tier": "gold", "n": json.Number("7"), "admin": false}
}

// checkAuthorizer reads requestContext.authorizer as a Go handler does: aws-lambda-go declares it
// interface{}, so it arrives as a map with JSON numbers as float64.
func checkAuthorizer(t *testing.T, ev *events.APIGatewayWebsocketProxyRequest) {
	t.Helper()
	m, ok := ev.RequestContext.Authorizer.(map[string]any)
	if !ok {
		t.Fatalf("requestContext.authorizer = %#v, want an object", ev.RequestContext.Authorizer)
	}
	want := map[string]any{"principalId": "user-123", "integrationLatency": float64(142), "tier": "gold", "n": float64(7), "admin": false}
	if len(m) != len(want) {
		t.Errorf("requestContext.authorizer = %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("requestContext.authorizer[%q] = %#v, want %#v", k, m[k], v)
		}
	}
}

func TestEventsGolden(t *testing.T) {
	for _, tc := range eventCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.event()
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

// TestEventsDecode reads every event the way a Go handler does, with aws-lambda-go's type.
func TestEventsDecode(t *testing.T) {
	requestTime := regexp.MustCompile(`^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$`)
	for _, tc := range eventCases() {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.event()
			var ev events.APIGatewayWebsocketProxyRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("decode: %v\n%s", err, raw)
			}
			rc := ev.RequestContext
			eventType := map[string]string{"connect": EventConnect, "message": EventMessage, "disconnect": EventDisconnect}[strings.Split(tc.name, "-")[0]]
			if rc.EventType != eventType {
				t.Errorf("eventType = %q, want %q", rc.EventType, eventType)
			}
			if rc.ConnectionID != testConnID || rc.APIID != "a1b2c3d4e5" || rc.Stage != "prod" || rc.DomainName != testDomain || rc.MessageDirection != "IN" {
				t.Errorf("connectionId/apiId/stage/domainName/messageDirection = %q/%q/%q/%q/%q", rc.ConnectionID, rc.APIID, rc.Stage, rc.DomainName, rc.MessageDirection)
			}
			wantRoute := map[string]string{EventConnect: "$connect", EventDisconnect: "$disconnect"}[eventType]
			if wantRoute != "" && rc.RouteKey != wantRoute {
				t.Errorf("routeKey = %q, want %q", rc.RouteKey, wantRoute)
			}
			if eventType == EventMessage && rc.RouteKey != "sendmessage" && rc.RouteKey != "$default" {
				t.Errorf("routeKey = %q", rc.RouteKey)
			}
			if !requestTime.MatchString(rc.RequestTime) {
				t.Errorf("requestTime = %q, not dd/Mon/yyyy:HH:mm:ss +0000", rc.RequestTime)
			}
			if parsed, err := time.Parse("02/Jan/2006:15:04:05 +0000", rc.RequestTime); err != nil || parsed.Unix() != rc.RequestTimeEpoch/1000 {
				t.Errorf("requestTime %q does not match requestTimeEpoch %d (%v)", rc.RequestTime, rc.RequestTimeEpoch, err)
			}
			if rc.ConnectedAt != 1705751697419 || rc.RequestTimeEpoch < rc.ConnectedAt {
				t.Errorf("connectedAt = %d, requestTimeEpoch = %d", rc.ConnectedAt, rc.RequestTimeEpoch)
			}
			if rc.RequestID == "" || rc.RequestID != rc.ExtendedRequestID {
				t.Errorf("requestId %q != extendedRequestId %q", rc.RequestID, rc.ExtendedRequestID)
			}
			if eventType == EventMessage {
				if rc.MessageID != "R1knPc2ntjMCFIA=" {
					t.Errorf("messageId = %v, want R1knPc2ntjMCFIA=", rc.MessageID)
				}
			} else if rc.MessageID != nil {
				t.Errorf("messageId = %v on %s", rc.MessageID, eventType)
			}
			if eventType == EventDisconnect {
				if rc.DisconnectStatusCode != 1001 || rc.DisconnectReason == nil {
					t.Errorf("disconnectStatusCode/Reason = %d/%v, want 1001 and a reason", rc.DisconnectStatusCode, rc.DisconnectReason)
				}
			} else if rc.DisconnectStatusCode != 0 || rc.DisconnectReason != nil {
				t.Errorf("disconnectStatusCode/Reason = %d/%v on %s", rc.DisconnectStatusCode, rc.DisconnectReason, eventType)
			}
			if rc.Identity.SourceIP != "198.51.100.7" {
				t.Errorf("identity.sourceIp = %q", rc.Identity.SourceIP)
			}
			if tc.name != "message-stagevars" && rc.Identity.UserAgent != "example-client/1.0" {
				t.Errorf("identity.userAgent = %q", rc.Identity.UserAgent)
			}
			if ev.IsBase64Encoded {
				t.Error("isBase64Encoded = true")
			}
			if ev.Resource != "" || ev.Path != "" || ev.HTTPMethod != "" || ev.PathParameters != nil {
				t.Error("REST-only keys are present")
			}
			tc.check(t, &ev)
		})
	}
}

// TestEventShape checks what the decode test cannot see: which keys are present, and in what order.
func TestEventShape(t *testing.T) {
	for _, tc := range eventCases() {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.event()
			keys := topLevelKeys(t, raw)
			var want []string
			switch {
			case strings.HasPrefix(tc.name, "connect-query"):
				want = []string{"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "stageVariables", "requestContext", "isBase64Encoded"}
			case strings.HasPrefix(tc.name, "connect"), tc.name == "disconnect":
				want = []string{"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}
			case tc.name == "disconnect-authorizer":
				want = []string{"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}
			case tc.name == "message-authorizer":
				want = []string{"requestContext", "body", "isBase64Encoded"}
			case tc.name == "disconnect-stagevars":
				want = []string{"headers", "multiValueHeaders", "stageVariables", "requestContext", "isBase64Encoded"}
			case tc.name == "message":
				want = []string{"requestContext", "body", "isBase64Encoded"}
			case tc.name == "message-stagevars":
				want = []string{"stageVariables", "requestContext", "body", "isBase64Encoded"}
			}
			if strings.Join(keys, ",") != strings.Join(want, ",") {
				t.Errorf("top-level keys = %v, want %v", keys, want)
			}
			if bytes.Contains(raw, []byte(`\u003c`)) || bytes.Contains(raw, []byte(`\u0026`)) {
				t.Errorf("event HTML-escapes: %s", raw)
			}
		})
	}
}

func topLevelKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("event is not an object: %v %v", tok, err)
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
	return keys
}

func eqMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Errorf("%s[%q] = %q (present %v), want %q", what, k, gv, ok, v)
		}
	}
}

func TestConnectEventTraceID(t *testing.T) {
	at := time.Date(2024, 1, 20, 11, 54, 57, 420e6, time.UTC)
	format := regexp.MustCompile(`^Root=1-65abb491-[0-9a-f]{24}$`)
	tests := []struct {
		name   string
		header http.Header
		rcID   string
		want   string // "" means a new ID in AWS's format
	}{
		{name: "generated from the request time", header: http.Header{}},
		{name: "the gateway's", header: http.Header{}, rcID: "Root=1-65abb491-aaaaaaaaaaaaaaaaaaaaaaaa", want: "Root=1-65abb491-aaaaaaaaaaaaaaaaaaaaaaaa"},
		{name: "the client's wins", header: http.Header{"X-Amzn-Trace-Id": {"Root=1-5759e988-bd862e3fe1be46a994272793"}}, rcID: "Root=1-x", want: "Root=1-5759e988-bd862e3fe1be46a994272793"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := testRC("$connect", EventConnect, "R1kmxHb2tjMFa1Q=", at)
			rc.TraceID = tc.rcID
			var ev events.APIGatewayWebsocketProxyRequest
			if err := json.Unmarshal(ConnectEvent(rc, tc.header, nil, nil), &ev); err != nil {
				t.Fatal(err)
			}
			got := ev.Headers["X-Amzn-Trace-Id"]
			if tc.want == "" && !format.MatchString(got) || tc.want != "" && got != tc.want {
				t.Errorf("X-Amzn-Trace-Id = %q, want %q", got, tc.want)
			}
			if mv := ev.MultiValueHeaders["X-Amzn-Trace-Id"]; len(mv) != 1 || mv[0] != got {
				t.Errorf("multiValueHeaders[X-Amzn-Trace-Id] = %q", mv)
			}
		})
	}
	if a, b := NewTraceID(at), NewTraceID(at); a == b || !format.MatchString(a) {
		t.Errorf("NewTraceID gave %q and %q", a, b)
	}
}

func TestConnectEventHost(t *testing.T) {
	rc := testRC("$connect", EventConnect, "R1kmxHb2tjMFa1Q=", time.Unix(1705751697, 0))
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{name: "domain name when net/http kept Host out", header: http.Header{}, want: testDomain},
		{name: "the handshake's Host", header: http.Header{"Host": {"ws.example.com:8443"}}, want: "ws.example.com:8443"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ev events.APIGatewayWebsocketProxyRequest
			if err := json.Unmarshal(ConnectEvent(rc, tc.header, nil, nil), &ev); err != nil {
				t.Fatal(err)
			}
			if got := ev.Headers["Host"]; got != tc.want {
				t.Errorf("Host = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "abc", want: `"abc"`},
		{name: "quotes and backslash", in: `a"b\c`, want: `"a\"b\\c"`},
		{name: "short escapes", in: "\b\f\n\r\t", want: `"\b\f\n\r\t"`},
		{name: "other controls", in: "\x00\x1f", want: `"\u0000\u001f"`},
		{name: "html is not escaped", in: "<a href='x'>&</a>", want: `"<a href='x'>&</a>"`},
		{name: "utf-8 is kept", in: "é😀", want: `"é😀"`},
		{name: "invalid utf-8", in: "a\xffb", want: `"a\ufffdb"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendString(nil, tc.in))
			if got != tc.want {
				t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Errorf("not JSON: %v", err)
			}
		})
	}
}

func BenchmarkMessageEvent(b *testing.B) {
	rc := testRC("sendmessage", EventMessage, "R1knPH17NjMFftw=", time.Now())
	rc.MessageID = "R1knPc2ntjMCFIA="
	body := []byte(`{"action":"sendmessage","data":"hello, world"}`)
	b.ReportAllocs()
	for b.Loop() {
		MessageEvent(rc, body, nil)
	}
}

// connectEventAllocs bounds ConnectEvent's allocations for a typical handshake (handshake(), a trace ID,
// no query string, no stage variables): every $connect routed to a function builds one.
const connectEventAllocs = 5

// TestConnectEventAllocations guards the $connect hot path against allocations coming back unnoticed.
func TestConnectEventAllocations(t *testing.T) {
	rc := testRC("$connect", EventConnect, "R1kmxHb2tjMFa1Q=", time.Now())
	rc.TraceID = "Root=1-65abb491-0123456789abcdef01234567"
	h := handshake()
	if n := testing.AllocsPerRun(200, func() { ConnectEvent(rc, h, nil, nil) }); n > connectEventAllocs {
		t.Errorf("ConnectEvent allocates %v times per event, want at most %d", n, connectEventAllocs)
	}
}

func BenchmarkConnectEvent(b *testing.B) {
	rc := testRC("$connect", EventConnect, "R1kmxHb2tjMFa1Q=", time.Now())
	rc.TraceID = "Root=1-65abb491-0123456789abcdef01234567"
	h := handshake()
	b.ReportAllocs()
	for b.Loop() {
		ConnectEvent(rc, h, nil, nil)
	}
}
