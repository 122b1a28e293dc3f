package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// echoed is what the test backend answers: the request as it arrived.
type echoed struct {
	Method  string      `json:"method"`
	RawPath string      `json:"rawPath"`
	Query   string      `json:"query"`
	Host    string      `json:"host"`
	Header  http.Header `json:"header"`
	Body    string      `json:"body"`
}

// echoBackend answers every request with what it received, and with CORS headers of its own (which the
// gateway must replace when the API has a corsConfiguration). /hang waits for the client to go away;
// /status/NNN answers NNN.
func echoBackend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Access-Control-Allow-Origin", "https://backend.example")
		w.Header().Set("X-Backend", "yes")
		w.Header().Set("Content-Type", "application/json")
		if code, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
			var n int
			fmt.Sscan(code, &n)
			w.WriteHeader(n)
		}
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Host: r.Host, Header: r.Header, Body: string(body)})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func httpAPIConfig(backend, closed string) string {
	return fmt.Sprintf(`
apis:
  - name: pets
    apiId: pets
    protocolType: HTTP
    integrations:
      - {integrationId: byid, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s/pets/{id}"}
      - {integrationId: greedy, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s/any/{proxy}"}
      - {integrationId: root, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s/base"}
      - {integrationId: post, integrationType: HTTP_PROXY, integrationMethod: POST, integrationUri: "%[1]s/posted"}
      - integrationId: mapped
        integrationType: HTTP_PROXY
        integrationMethod: ANY
        integrationUri: "%[1]s/status/404"
        requestParameters:
          "append:header.x-stage": "$context.stage"
          "overwrite:header.x-account": "$context.accountId"
          "overwrite:querystring.who": "$request.header.x-user"
          "remove:header.x-secret": "''"
        responseParameters:
          "404": {"overwrite:statuscode": "410", "append:header.x-mapped": "gone ${context.routeKey}"}
      - {integrationId: hang, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s/hang", timeoutInMillis: 200}
      - {integrationId: closed, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[2]s/x"}
    routes:
      - {routeKey: "GET /pets/{id}", target: integrations/byid}
      - {routeKey: "ANY /any/{proxy+}", target: integrations/greedy}
      - {routeKey: "PUT /convert", target: integrations/post}
      - {routeKey: "GET /mapped", target: integrations/mapped}
      - {routeKey: "GET /hang", target: integrations/hang}
      - {routeKey: "GET /closed", target: integrations/closed}
      - {routeKey: "GET /nointegration"}
      - {routeKey: "OPTIONS /opts", target: integrations/byid}
      - {routeKey: $default, target: integrations/root}
    stages: [{stageName: $default}, {stageName: dev}]
  - name: cors
    apiId: cors
    protocolType: HTTP
    corsConfiguration:
      allowOrigins: [https://app.example]
      allowMethods: [GET, POST]
      allowHeaders: [authorization, content-type]
      exposeHeaders: [x-backend]
      maxAge: 600
      allowCredentials: true
    integrations:
      - {integrationId: root, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s"}
    routes:
      - {routeKey: "GET /{proxy+}", target: integrations/root}
      - {routeKey: "POST /{proxy+}", target: integrations/root}
      - {routeKey: "ANY /routed/{proxy+}", target: integrations/root}
    stages: [{stageName: $default}]
  - name: private
    apiId: private
    protocolType: HTTP
    disableExecuteApiEndpoint: true
    integrations:
      - {integrationId: root, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%[1]s"}
    routes:
      - {routeKey: $default, target: integrations/root}
    stages: [{stageName: $default}]
`, backend, closed)
}

// closedURL is the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

type httpCase struct {
	name    string
	method  string
	path    string
	host    string // Host header; "" is the gateway's address
	header  map[string]string
	body    string
	status  int
	resp    string            // exact body, when set
	echo    func(echoed) bool // a check of what the backend received, when set
	headers map[string]string // response headers that must be present ("" means absent)
	log     []string          // a log line with all of these
}

func runHTTPCases(t *testing.T, g *gatewaytest.Gateway, logs *logRecorder, cases []httpCase) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, g.HTTPURL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %.300s", resp.StatusCode, tc.status, body)
			}
			if tc.resp != "" && string(body) != tc.resp {
				t.Fatalf("body %q, want %q", body, tc.resp)
			}
			if resp.Header.Get("Apigw-Requestid") == "" {
				t.Errorf("no apigw-requestid header")
			}
			if tc.echo != nil {
				var e echoed
				if err := json.Unmarshal(body, &e); err != nil || !tc.echo(e) {
					t.Fatalf("backend received %s (%v)", body, err)
				}
			}
			for k, v := range tc.headers {
				if got := strings.Join(resp.Header.Values(k), ","); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.log != nil && !logs.has(tc.log...) {
				t.Errorf("no log line with %q", tc.log)
			}
		})
	}
}

// TestHTTPAPIProxy drives an HTTP API with HTTP_PROXY integrations with a real HTTP client: AWS's route
// precedence, stages, path and query pass-through, parameter mapping, CORS and AWS's error answers.
func TestHTTPAPIProxy(t *testing.T) {
	backend := echoBackend(t)
	logs := &logRecorder{}
	g := gatewaytest.Start(t, httpAPIConfig(backend.URL, closedURL(t)), func(o *gateway.Options) { o.Logger = slog.New(logs) })
	notFound := `{"message":"Not Found"}`
	cases := []httpCase{
		{name: "path variable into the URI", method: "GET", path: "/pets/pets/7?a=1&a=2", status: 200,
			echo: func(e echoed) bool { return e.Method == "GET" && e.RawPath == "/pets/7" && e.Query == "a=1&a=2" }},
		{name: "execute-api host, $default stage", method: "GET", path: "/pets/7", host: "pets.execute-api.us-east-1.amazonaws.com", status: 200,
			echo: func(e echoed) bool { return e.RawPath == "/pets/7" }},
		{name: "execute-api host, named stage", method: "GET", path: "/dev/pets/8", host: "pets.execute-api.us-east-1.amazonaws.com", status: 200,
			echo: func(e echoed) bool { return e.RawPath == "/pets/8" }},
		{name: "named stage", method: "GET", path: "/pets/dev/pets/9", status: 200, echo: func(e echoed) bool { return e.RawPath == "/pets/9" }},
		{name: "greedy variable keeps slashes", method: "DELETE", path: "/pets/any/a/b%20c", status: 200,
			echo: func(e echoed) bool { return e.Method == "DELETE" && e.RawPath == "/any/a/b%20c" }},
		{name: "$default sends the full path", method: "POST", path: "/pets/store/checkout", body: "hello", status: 200,
			echo: func(e echoed) bool {
				return e.Method == "POST" && e.RawPath == "/base/store/checkout" && e.Body == "hello"
			}},
		{name: "integration method replaces the client's", method: "PUT", path: "/pets/convert", status: 200,
			echo: func(e echoed) bool { return e.Method == "POST" && e.RawPath == "/posted" }},
		{name: "forwarded headers", method: "GET", path: "/pets/pets/1", header: map[string]string{"X-Forwarded-For": "10.9.8.7", "Connection": "x-hop", "X-Hop": "1"}, status: 200,
			echo: func(e echoed) bool {
				return e.Header.Get("X-Forwarded-For") == "10.9.8.7, 127.0.0.1" && e.Header.Get("X-Forwarded-Proto") == "http" &&
					strings.HasPrefix(e.Header.Get("X-Amzn-Trace-Id"), "Root=1-") && e.Header.Get("X-Hop") == "" && strings.HasPrefix(e.Host, "127.0.0.1:")
			}},
		{name: "no route: wrong method", method: "POST", path: "/pets/pets/1", status: 200,
			echo: func(e echoed) bool { return e.RawPath == "/base/pets/1" }}, // $default takes it
		{name: "route without integration", method: "GET", path: "/pets/nointegration", status: 404, resp: notFound},
		{name: "parameter mapping", method: "GET", path: "/pets/mapped?who=x", header: map[string]string{"X-User": "ann", "X-Secret": "s", "X-Stage": "client"}, status: 410,
			headers: map[string]string{"X-Mapped": "gone GET /mapped", "X-Backend": "yes"},
			echo: func(e echoed) bool {
				return e.Query == "who=ann" && e.Header.Get("X-Stage") == "client,$default" && e.Header.Get("X-Secret") == "" && e.Header.Get("X-Account") == "123456789012"
			}},
		{name: "integration timeout", method: "GET", path: "/pets/hang", status: 503, resp: `{"message":"Service Unavailable"}`,
			log: []string{"HTTP API integration failed", "integration_timeout", "route_key=GET /hang"}},
		{name: "backend unreachable", method: "GET", path: "/pets/closed", status: 500, resp: `{"message":"Internal Server Error"}`,
			log: []string{"HTTP API integration failed", "connection refused"}},
		{name: "request line and headers over 10,240 bytes", method: "GET", path: "/pets/pets/1", header: map[string]string{"X-Big": strings.Repeat("x", 10240)},
			status: 431, resp: `{"message":"Request Header Fields Too Large"}`, log: []string{"HTTP API request refused", "status=431", "over 10240 bytes"}},
		{name: "request line and headers under 10,240 bytes", method: "GET", path: "/pets/pets/1", header: map[string]string{"X-Big": strings.Repeat("x", 9000)}, status: 200,
			echo: func(e echoed) bool { return len(e.Header.Get("X-Big")) == 9000 }},
		{name: "body over 10 MB", method: "POST", path: "/pets/big", body: strings.Repeat("x", 10<<20+1), status: 413, resp: `{"message":"Request Entity Too Large"}`,
			log: []string{"HTTP API request refused", "over 10 MB"}},
		{name: "OPTIONS routed without CORS", method: "OPTIONS", path: "/pets/opts", header: map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}, status: 200,
			echo: func(e echoed) bool { return e.Method == "OPTIONS" }},
		{name: "no CORS headers touched without CORS", method: "GET", path: "/pets/pets/1", header: map[string]string{"Origin": "https://a.example"}, status: 200,
			headers: map[string]string{"Access-Control-Allow-Origin": "https://backend.example"}},
		{name: "CORS preflight answered without a route", method: "OPTIONS", path: "/cors/anything", header: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, status: 204,
			headers: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "GET,POST",
				"Access-Control-Allow-Headers": "authorization,content-type", "Access-Control-Max-Age": "600", "Access-Control-Allow-Credentials": "true"}},
		{name: "CORS preflight an ANY route takes is routed", method: "OPTIONS", path: "/cors/routed/x", header: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, status: 200,
			echo: func(e echoed) bool {
				return e.Method == "OPTIONS" && e.Header.Get("Access-Control-Request-Method") == "POST"
			},
			headers: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "", "X-Backend": "yes"}},
		{name: "CORS preflight from another origin", method: "OPTIONS", path: "/cors/anything", header: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, status: 204,
			headers: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{name: "CORS headers replace the backend's", method: "GET", path: "/cors/x", header: map[string]string{"Origin": "https://app.example"}, status: 200,
			headers: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Expose-Headers": "x-backend", "Access-Control-Allow-Credentials": "true"}},
		{name: "CORS: backend's headers dropped for other origins", method: "GET", path: "/cors/x", header: map[string]string{"Origin": "https://evil.example"}, status: 200,
			headers: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "CORS headers on the gateway's own answers", method: "GET", path: "/cors/", header: map[string]string{"Origin": "https://app.example"}, status: 404, resp: notFound,
			headers: map[string]string{"Access-Control-Allow-Origin": "https://app.example"}},
		{name: "default endpoint disabled", method: "GET", path: "/private/x", status: 403, resp: `{"message":"Forbidden"}`,
			log: []string{"request refused", "default endpoint of API private is disabled"}},
		{name: "default endpoint disabled, execute-api host", method: "GET", path: "/x", host: "private.execute-api.us-east-1.amazonaws.com", status: 403, resp: `{"message":"Forbidden"}`},
	}
	runHTTPCases(t, g, logs, cases)
}

// buildHTTPHandler compiles testdata/httphandler once per test binary.
var buildHTTPHandler = sync.OnceValues(func() (string, error) {
	dir, err := filepathTemp()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "httphandler")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/httphandler").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build httphandler: %v\n%s", err, out)
	}
	return bin, nil
})

// TestHTTPAPILambda invokes a real aws-lambda-go handler, run locally, through HTTP API Lambda
// integrations of both payload formats, and checks AWS's response rules and error answers.
func TestHTTPAPILambda(t *testing.T) {
	bin, err := buildHTTPHandler()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
apis:
  - name: fn
    apiId: fn
    protocolType: HTTP
    integrations:
      - {integrationId: v2, integrationType: AWS_PROXY, payloadFormatVersion: "2.0", integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:fn"}
      - {integrationId: v1, integrationType: AWS_PROXY, payloadFormatVersion: "1.0", integrationUri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn/invocations"}
      - {integrationId: quick, integrationType: AWS_PROXY, payloadFormatVersion: "2.0", integrationUri: fn, timeoutInMillis: 300}
      - {integrationId: missing, integrationType: AWS_PROXY, payloadFormatVersion: "2.0", integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:missing"}
    routes:
      - {routeKey: "ANY /items/{id}", target: integrations/v2}
      - {routeKey: "GET /v1/{proxy+}", target: integrations/v1}
      - {routeKey: "GET /hang", target: integrations/quick}
      - {routeKey: "GET /missing", target: integrations/missing}
      - {routeKey: $default, target: integrations/v2}
    stages: [{stageName: dev, stageVariables: {color: blue}}]
functions:
  - {functionName: fn, handler: %q, timeout: 3}
  - {functionName: missing, handler: /nonexistent/handler}
`, bin)
	logs := &logRecorder{}
	g := gatewaytest.Start(t, cfg, func(o *gateway.Options) { o.Logger = slog.New(logs); o.MetricsListen = "127.0.0.1:0" })
	internalError := `{"message":"Internal Server Error"}`
	type result struct {
		status  int
		body    string
		header  http.Header
		decoded map[string]any
	}
	do := func(t *testing.T, method, path string, header http.Header, body string) result {
		t.Helper()
		req, _ := http.NewRequest(method, g.HTTPURL+path, strings.NewReader(body))
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r := result{status: resp.StatusCode, body: string(b), header: resp.Header}
		_ = json.Unmarshal(b, &r.decoded)
		return r
	}
	t.Run("payload 2.0 event and full response", func(t *testing.T) {
		h := http.Header{"X-Multi": {"a", "b"}, "Cookie": {"c1=1; c2=2"}, "Content-Type": {"text/plain"}}
		r := do(t, "POST", "/fn/dev/items/42?q=1&q=2", h, "hi")
		want := map[string]any{"version": "2.0", "routeKey": "ANY /items/{id}", "rawPath": "/dev/items/42", "rawQueryString": "q=1&q=2",
			"cookies": []any{"c1=1", "c2=2"}, "multi": "a,b", "query": "1,2", "pathParameters": map[string]any{"id": "42"},
			"method": "POST", "path": "/dev/items/42", "stage": "dev", "stageVariables": map[string]any{"color": "blue"},
			"body": "hi", "isBase64Encoded": false, "timeEpoch": true}
		if r.status != 201 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		for k, v := range want {
			if got, _ := json.Marshal(r.decoded[k]); string(got) != mustJSON(v) {
				t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
			}
		}
		if r.decoded["requestId"] != r.header.Get("Apigw-Requestid") {
			t.Errorf("requestId %v, apigw-requestid %q", r.decoded["requestId"], r.header.Get("Apigw-Requestid"))
		}
		if got := r.header.Values("Set-Cookie"); strings.Join(got, "|") != "a=1; Path=/|b=2" {
			t.Errorf("Set-Cookie = %q", got)
		}
	})
	t.Run("payload 1.0 event", func(t *testing.T) {
		r := do(t, "GET", "/fn/dev/v1/a/b?q=1&q=2", http.Header{"X-Multi": {"a", "b"}}, "")
		want := map[string]any{"version": "1.0", "resource": "/v1/{proxy+}", "path": "/dev/v1/a/b", "httpMethod": "GET",
			"multiValueHeaders": []any{"a", "b"}, "multiValueQuery": []any{"1", "2"}, "pathParameters": map[string]any{"proxy": "a/b"}, "stage": "dev"}
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		for k, v := range want {
			if got, _ := json.Marshal(r.decoded[k]); string(got) != mustJSON(v) {
				t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
			}
		}
		if got := r.header.Values("X-Multi"); strings.Join(got, ",") != "a,b" {
			t.Errorf("X-Multi = %q", got)
		}
	})
	t.Run("event over Lambda's 6 MiB limit", func(t *testing.T) {
		// The body fits the HTTP API's 10 MB but not Lambda's event limit: the function does not run, the
		// client gets the integration failure and the operator a log line and a too_large invocation.
		r := do(t, "POST", "/fn/dev/items/big", nil, strings.Repeat("a", 7<<20))
		if r.status != 500 || r.body != internalError {
			t.Fatalf("got %d %q, want 500 %q", r.status, r.body, internalError)
		}
		if !logs.has("invocation refused: the event is over Lambda's limit") {
			t.Error("no log line for the refused invocation")
		}
		n, _ := value(scrape(t, "http://"+g.MetricsAddr()+"/metrics"), "switchboard_lambda_invocations_total",
			map[string]string{"function": "arn:aws:lambda:us-east-1:123456789012:function:fn", "outcome": "too_large"})
		if n != 1 {
			t.Errorf("too_large invocations counted %v, want 1", n)
		}
	})
	cases := []struct {
		name, path string
		status     int
		body, ct   string
		log        []string
	}{
		{name: "inferred JSON", path: "/fn/dev/infer", status: 200, body: `{"hello":"world"}`, ct: "application/json"},
		{name: "inferred string", path: "/fn/dev/string", status: 200, body: "plain text", ct: "application/json"},
		{name: "base64 body decoded", path: "/fn/dev/binary", status: 200, body: "\x00\x01\x02\xff", ct: "application/octet-stream"},
		{name: "malformed result", path: "/fn/dev/malformed", status: 500, body: internalError, log: []string{"HTTP API integration failed", "bad_response"}},
		{name: "function error", path: "/fn/dev/error", status: 500, body: internalError, log: []string{"HTTP API integration failed", "function error"}},
		{name: "integration timeout", path: "/fn/dev/hang", status: 503, body: `{"message":"Service Unavailable"}`, log: []string{"integration_timeout"}},
		{name: "missing function", path: "/fn/dev/missing", status: 500, body: internalError, log: []string{"HTTP API integration failed", "route_key=GET /missing"}},
		{name: "unknown stage, no $default stage", path: "/fn/prod/x", status: 404, body: `{"message":"Not Found"}`},
		{name: "the function still works", path: "/fn/dev/infer", status: 200, body: `{"hello":"world"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "GET", tc.path, nil, "")
			if r.status != tc.status || r.body != tc.body {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tc.status, tc.body)
			}
			if tc.ct != "" && r.header.Get("Content-Type") != tc.ct {
				t.Errorf("Content-Type %q, want %q", r.header.Get("Content-Type"), tc.ct)
			}
			if tc.log != nil && !logs.has(tc.log...) {
				t.Errorf("no log line with %q", tc.log)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestHTTPAPIThrottleMetricsAccessLog checks the machinery HTTP APIs share with WebSocket APIs: route
// throttling (429 {"message":"Too Many Requests"}), API Gateway's HTTP API metrics, and the stage's access
// log with HTTP API $context variables.
func TestHTTPAPIThrottleMetricsAccessLog(t *testing.T) {
	backend := echoBackend(t)
	cfg := fmt.Sprintf(`
apis:
  - name: limited
    apiId: limited
    protocolType: HTTP
    integrations:
      - {integrationId: root, integrationType: HTTP_PROXY, integrationMethod: ANY, integrationUri: "%s"}
    routes:
      - {routeKey: "GET /one", target: integrations/root}
      - {routeKey: "GET /free", target: integrations/root}
    stages:
      - stageName: $default
        routeSettings: {"GET /one": {throttlingBurstLimit: 1, throttlingRateLimit: 0.001}}
        accessLogSettings:
          destinationArn: arn:aws:logs:us-east-1:123456789012:log-group:/switchboard/limited
          format: '{"requestId":"$context.requestId","method":"$context.httpMethod","path":"$context.path","routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol","length":"$context.responseLength","integrationStatus":"$context.integrationStatus","error":"$context.error.message"}'
`, backend.URL)
	dir := t.TempDir()
	g := gatewaytest.Start(t, cfg, func(o *gateway.Options) { o.LogDir, o.MetricsListen = dir, "127.0.0.1:0" })
	get := func(path string) int {
		resp, err := http.Get(g.HTTPURL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 429 && string(body) != `{"message":"Too Many Requests"}` {
			t.Errorf("429 body %q", body)
		}
		return resp.StatusCode
	}
	if s := get("/limited/one"); s != 200 {
		t.Fatalf("first request: %d", s)
	}
	if s := get("/limited/one"); s != 429 {
		t.Fatalf("second request within the burst of 1: %d, want 429", s)
	}
	if s := get("/limited/free"); s != 200 {
		t.Fatalf("another route is not throttled: %d", s)
	}
	if s := get("/limited/nothing"); s != 404 {
		t.Fatalf("no route: %d", s)
	}
	var lines []map[string]string
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "_switchboard_limited.log"))
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m map[string]string
			if json.Unmarshal([]byte(l), &m) == nil {
				lines = append(lines, m)
			}
		}
		return len(lines) == 4
	}, "4 access log lines")
	want := []map[string]string{
		{"method": "GET", "path": "/one", "routeKey": "GET /one", "status": "200", "protocol": "HTTP/1.1", "integrationStatus": "200", "error": "-"},
		{"method": "GET", "path": "/one", "routeKey": "GET /one", "status": "429", "integrationStatus": "-", "error": "Too Many Requests", "length": "31"},
		{"path": "/free", "status": "200"},
		{"path": "/nothing", "routeKey": "-", "status": "404", "error": "Not Found"},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %q, want %q (%v)", i, k, lines[i][k], v, lines[i])
			}
		}
		if lines[i]["requestId"] == "-" {
			t.Errorf("line %d has no requestId", i)
		}
	}
	resp, err := http.Get("http://" + g.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{
		`apigateway_count_total{api_id="limited",route="GET /one",stage="$default"} 2`,
		`apigateway_4xx_total{api_id="limited",route="GET /one",stage="$default"} 1`,
		`apigateway_4xx_total{api_id="limited",route="",stage="$default"} 1`,
		`apigateway_integration_latency_seconds_count{api_id="limited",route="GET /free",stage="$default"} 1`,
		`apigateway_latency_seconds_count{api_id="limited",route="GET /one",stage="$default"} 2`,
	} {
		if !strings.Contains(string(text), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}
