package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-gw/switchboard/internal/lambda"
)

const testFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:auth"

// fakeInvoker is a lambda.Invoker that records its calls and answers with respond.
type fakeInvoker struct {
	respond func(ctx context.Context) (*lambda.Result, error)

	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct {
	function string
	payload  []byte
}

func (f *fakeInvoker) Invoke(ctx context.Context, function string, payload []byte) (*lambda.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{function, payload})
	f.mu.Unlock()
	return f.respond(ctx)
}

// returns answers every invocation with payload (a function error when functionError is set).
func returns(payload, functionError string) *fakeInvoker {
	return &fakeInvoker{respond: func(context.Context) (*lambda.Result, error) {
		return &lambda.Result{Payload: []byte(payload), FunctionError: functionError}, nil
	}}
}

func testConfig() Config {
	return Config{
		AuthorizerID:   "a1b2c3",
		Name:           "auth",
		FunctionURI:    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + testFunctionARN + "/invocations",
		IdentitySource: []string{"route.request.header.Auth"},
	}
}

func authRequest() *Request {
	r := testRequest()
	r.Header.Set("Auth", "secret")
	return r
}

// allowPolicy is an authorizer result allowing resource.
func allowPolicy(resource string) string {
	return `{"principalId":"user-123","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"` + resource + `"}]},"context":{"stringKey":"value","numberKey":1,"booleanKey":true},"usageIdentifierKey":"key-1"}`
}

func TestAuthorizeOutcomes(t *testing.T) {
	goResponse, err := json.Marshal(events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: "go-user",
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version:   "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{testMethodARN}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	longResource := "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/default/" + strings.Repeat("x", 500)
	tests := []struct {
		name      string
		inv       *fakeInvoker
		want      int
		wantErr   error
		principal string
	}{
		{name: "allow exact", inv: returns(allowPolicy(testMethodARN), ""), want: 0, principal: "user-123"},
		{name: "allow api wildcard", inv: returns(allowPolicy("arn:aws:execute-api:us-east-1:*:abcdef1234/*/$connect"), ""), want: 0, principal: "user-123"},
		{name: "allow star", inv: returns(allowPolicy("*"), ""), want: 0, principal: "user-123"},
		{name: "allow aws-lambda-go response", inv: returns(string(goResponse), ""), want: 0, principal: "go-user"},
		{
			name: "allow arrays",
			inv: returns(`{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[
				{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["arn:aws:execute-api:us-east-1:123456789012:other/*","`+testMethodARN+`"]}]}}`, ""),
			want: 0, principal: "u",
		},
		{name: "allow with null context value", inv: returns(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"a":null}}`, ""), want: 0, principal: "u"},
		{name: "allow with empty principalId", inv: returns(`{"principalId":"","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}}`, ""), want: 0},
		{name: "allow for another stage", inv: returns(allowPolicy("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect"), ""), want: 403, wantErr: ErrDenied, principal: "user-123"},
		{name: "allow for another action", inv: returns(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"execute-api:ManageConnections","Effect":"Allow","Resource":"*"}]}}`, ""), want: 403, wantErr: ErrDenied, principal: "u"},
		{name: "explicit deny", inv: returns(`{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"`+testMethodARN+`"}]}}`, ""), want: 403, wantErr: ErrDenied, principal: "u"},
		{
			name: "deny beats allow",
			inv: returns(`{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[
				{"Action":"execute-api:*","Effect":"Allow","Resource":"*"},
				{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"arn:aws:execute-api:*:*:abcdef1234/default/*"}]}}`, ""),
			want: 403, wantErr: ErrDenied, principal: "u",
		},
		{name: "empty statement list", inv: returns(`{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]}}`, ""), want: 403, wantErr: ErrDenied, principal: "u"},
		{name: "Unauthorized error", inv: returns(`{"errorMessage":"Unauthorized","errorType":"Error"}`, "Unhandled"), want: 401, wantErr: ErrUnauthorized},
		{name: "unauthorized lower case", inv: returns(`{"errorMessage":"unauthorized","errorType":"Error"}`, "Unhandled"), want: 500, wantErr: ErrFunction},
		{name: "Unauthorized with more text", inv: returns(`{"errorMessage":"Unauthorized: bad token"}`, "Unhandled"), want: 500, wantErr: ErrFunction},
		{name: "other function error", inv: returns(`{"errorMessage":"boom","errorType":"Error"}`, "Unhandled"), want: 500, wantErr: ErrFunction},
		{name: "function error not json", inv: returns(`Unauthorized`, "Unhandled"), want: 401, wantErr: ErrUnauthorized},
		{name: "Unauthorized returned, not thrown", inv: returns(`"Unauthorized"`, ""), want: 500, wantErr: ErrMalformed},
		{
			name: "invoke failure",
			inv: &fakeInvoker{respond: func(context.Context) (*lambda.Result, error) {
				return nil, errors.New("connection refused")
			}},
			want: 500, wantErr: ErrFunction,
		},
		{
			name: "function not found",
			inv: &fakeInvoker{respond: func(context.Context) (*lambda.Result, error) {
				return nil, lambda.ErrFunctionNotFound
			}},
			want: 500, wantErr: lambda.ErrFunctionNotFound,
		},
		{name: "proxy response instead of policy", inv: returns(`{"statusCode":401}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "not json", inv: returns(`{"principalId":`, ""), want: 500, wantErr: ErrMalformed},
		{name: "null", inv: returns(`null`, ""), want: 500, wantErr: ErrMalformed},
		{name: "array", inv: returns(`[]`, ""), want: 500, wantErr: ErrMalformed},
		{name: "no principalId", inv: returns(`{"policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "null principalId", inv: returns(`{"principalId":null,"policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "numeric principalId", inv: returns(`{"principalId":7,"policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "principalId wrong case", inv: returns(`{"principalID":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "no policy", inv: returns(`{"principalId":"u"}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "policy with lower-case keys", inv: returns(`{"principalId":"u","policyDocument":{"version":"2012-10-17","statement":[{"action":"*","effect":"Allow","resource":"*"}]}}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "policy effect lower case", inv: returns(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"allow","Resource":"*"}]}}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "context object value", inv: returns(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"a":{"b":1}}}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "context array value", inv: returns(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"a":[1]}}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "context not object", inv: returns(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":"x"}`, ""), want: 500, wantErr: ErrMalformed},
		{name: "usageIdentifierKey number", inv: returns(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"usageIdentifierKey":1}`, ""), want: 500, wantErr: ErrMalformed},
		{
			name: "result over 8 KB",
			inv:  returns(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},"context":{"big":"`+strings.Repeat("x", 8200)+`"}}`, ""),
			want: 500, wantErr: ErrMalformed,
		},
		{
			name: "whitespace does not count toward 8 KB",
			inv:  returns(`{"principalId":"u",`+strings.Repeat(" ", 9000)+`"policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}}`, ""),
			want: 0, principal: "u",
		},
		{name: "resource over 512 characters", inv: returns(allowPolicy(longResource), ""), want: 500, wantErr: ErrMalformed},
		{
			name: "timeout",
			inv: &fakeInvoker{respond: func(ctx context.Context) (*lambda.Result, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}},
			want: 500, wantErr: ErrFunction,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.name == "timeout" {
				cfg.Timeout = time.Millisecond
			}
			req := authRequest()
			d := Authorize(context.Background(), tc.inv, cfg, req)
			if d.Status != tc.want {
				t.Fatalf("Status = %d, want %d (err %v)", d.Status, tc.want, d.Err)
			}
			if tc.wantErr != nil && !errors.Is(d.Err, tc.wantErr) {
				t.Errorf("Err = %v, want %v", d.Err, tc.wantErr)
			}
			if tc.want == 0 && d.Err != nil {
				t.Errorf("allowed with Err = %v", d.Err)
			}
			if d.Allowed() != (tc.want == 0) {
				t.Errorf("Allowed() = %v", d.Allowed())
			}
			if d.PrincipalID != tc.principal {
				t.Errorf("PrincipalID = %q, want %q", d.PrincipalID, tc.principal)
			}
			if len(tc.inv.calls) != 1 {
				t.Fatalf("%d invocations, want 1", len(tc.inv.calls))
			}
			call := tc.inv.calls[0]
			if call.function != testFunctionARN {
				t.Errorf("invoked %q, want %q", call.function, testFunctionARN)
			}
			if !bytes.Equal(call.payload, Event(req)) {
				t.Errorf("payload is not the authorizer event:\n%s", call.payload)
			}
		})
	}
}

func TestAuthorizeCallerCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	inv := &fakeInvoker{respond: func(ctx context.Context) (*lambda.Result, error) { return nil, ctx.Err() }}
	d := Authorize(ctx, inv, testConfig(), authRequest())
	if d.Status != 500 || !errors.Is(d.Err, context.Canceled) {
		t.Errorf("Status, Err = %d, %v; want 500 wrapping context.Canceled", d.Status, d.Err)
	}
}

func TestIdentitySources(t *testing.T) {
	tests := []struct {
		name    string
		sources []string
		mod     func(r *Request)
		want    int // 0: the function was invoked and allowed
	}{
		{name: "none configured", sources: nil, want: 0},
		{name: "header present", sources: []string{"route.request.header.Auth"}, mod: func(r *Request) { r.Header.Set("Auth", "x") }, want: 0},
		{name: "header name case-insensitive", sources: []string{"route.request.header.auth"}, mod: func(r *Request) { r.Header.Set("AUTH", "x") }, want: 0},
		{name: "header with dollar", sources: []string{"$route.request.header.Auth"}, mod: func(r *Request) { r.Header.Set("Auth", "x") }, want: 0},
		{name: "header missing", sources: []string{"route.request.header.Auth"}, want: 401},
		{name: "header empty", sources: []string{"route.request.header.Auth"}, mod: func(r *Request) { r.Header.Set("Auth", "") }, want: 401},
		{name: "header last value empty", sources: []string{"route.request.header.Auth"}, mod: func(r *Request) { r.Header["Auth"] = []string{"x", ""} }, want: 401},
		{name: "query present", sources: []string{"route.request.querystring.token"}, mod: func(r *Request) { r.Query = url.Values{"token": {"t"}} }, want: 0},
		{name: "query missing", sources: []string{"route.request.querystring.token"}, want: 401},
		{name: "query empty", sources: []string{"route.request.querystring.token"}, mod: func(r *Request) { r.Query = url.Values{"token": {""}} }, want: 401},
		{name: "query name case-sensitive", sources: []string{"route.request.querystring.token"}, mod: func(r *Request) { r.Query = url.Values{"Token": {"t"}} }, want: 401},
		{name: "stage variable present", sources: []string{"stageVariables.env"}, mod: func(r *Request) { r.StageVariables = map[string]string{"env": "prod"} }, want: 0},
		{name: "stage variable missing", sources: []string{"stageVariables.env"}, want: 401},
		{name: "context variable present", sources: []string{"context.identity.sourceIp"}, want: 0},
		{name: "context variable connectionId", sources: []string{"$context.connectionId"}, want: 0},
		{name: "context variable empty", sources: []string{"context.messageId"}, want: 401},
		{name: "context variable unknown", sources: []string{"context.nope"}, want: 401},
		{
			name:    "all present",
			sources: []string{"route.request.header.Auth", "route.request.querystring.token", "stageVariables.env", "context.stage"},
			mod: func(r *Request) {
				r.Header.Set("Auth", "x")
				r.Query = url.Values{"token": {"t"}}
				r.StageVariables = map[string]string{"env": "prod"}
			},
			want: 0,
		},
		{
			name:    "one of several missing",
			sources: []string{"route.request.header.Auth", "route.request.querystring.token"},
			mod:     func(r *Request) { r.Header.Set("Auth", "x") },
			want:    401,
		},
		{name: "REST spelling rejected", sources: []string{"method.request.header.Auth"}, want: 500},
		{name: "no name", sources: []string{"route.request.header."}, want: 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := testRequest()
			if tc.mod != nil {
				tc.mod(req)
			}
			cfg := testConfig()
			cfg.IdentitySource = tc.sources
			inv := returns(allowPolicy("*"), "")
			d := Authorize(context.Background(), inv, cfg, req)
			if d.Status != tc.want {
				t.Fatalf("Status = %d, want %d (err %v)", d.Status, tc.want, d.Err)
			}
			invoked := len(inv.calls) > 0
			if invoked != (tc.want == 0) {
				t.Errorf("invoked = %v with status %d", invoked, d.Status)
			}
			if tc.want == 401 && !errors.Is(d.Err, ErrIdentitySource) {
				t.Errorf("Err = %v, want ErrIdentitySource", d.Err)
			}
			if tc.want == 500 && !errors.Is(d.Err, ErrConfig) {
				t.Errorf("Err = %v, want ErrConfig", d.Err)
			}
			if err := cfg.Validate(); (err != nil) != (tc.want == 500) {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func TestAuthorizeBadRequest(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(c *Config)
		req  func() *Request
	}{
		{name: "nil request", req: func() *Request { return nil }},
		{name: "no requestContext", req: func() *Request { r := authRequest(); r.Context = nil; return r }},
		{name: "no method ARN", req: func() *Request { r := authRequest(); r.MethodARN = ""; return r }},
		{name: "bad function URI", cfg: func(c *Config) { c.FunctionURI = "arn:aws:s3:::bucket" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			req := authRequest()
			if tc.req != nil {
				req = tc.req()
			}
			inv := returns(allowPolicy("*"), "")
			d := Authorize(context.Background(), inv, cfg, req)
			if d.Status != http.StatusInternalServerError || !errors.Is(d.Err, ErrConfig) {
				t.Errorf("Status, Err = %d, %v; want 500, ErrConfig", d.Status, d.Err)
			}
			if len(inv.calls) != 0 {
				t.Error("function invoked")
			}
		})
	}
}

func TestFunctionFromURI(t *testing.T) {
	tests := []struct {
		name, uri, want string
	}{
		{"invocation URI", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + testFunctionARN + "/invocations", testFunctionARN},
		{"invocation URI qualified", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + testFunctionARN + ":live/invocations", testFunctionARN + ":live"},
		{"invocation URI encoded", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aauth/invocations", testFunctionARN},
		{"invocation URI with name", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/auth/invocations", "auth"},
		{"function ARN", testFunctionARN, testFunctionARN},
		{"plain name", "auth", "auth"},
		{"empty", "", ""},
		{"s3 ARN", "arn:aws:s3:::bucket", ""},
		{"not a function", "arn:aws:lambda:us-east-1:123456789012:layer:x", ""},
		{"apigateway non-lambda", "arn:aws:apigateway:us-east-1:s3:path/x", ""},
		{"no invocations suffix", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/auth", ""},
		{"empty function", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions//invocations", ""},
		{"url", "https://example.com/auth", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := functionFromURI(tc.uri)
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrConfig) {
					t.Errorf("functionFromURI(%q) = %q, %v; want an ErrConfig error", tc.uri, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("functionFromURI(%q) = %q, %v; want %q", tc.uri, got, err, tc.want)
			}
		})
	}
}

func TestMethodARN(t *testing.T) {
	tests := []struct {
		name, region, want string
	}{
		{"aws", "us-east-1", "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/default/$connect"},
		{"china", "cn-north-1", "arn:aws-cn:execute-api:cn-north-1:123456789012:abcdef1234/default/$connect"},
		{"govcloud", "us-gov-west-1", "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:abcdef1234/default/$connect"},
		{"iso-b", "us-isob-east-1", "arn:aws-iso-b:execute-api:us-isob-east-1:123456789012:abcdef1234/default/$connect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MethodARN(tc.region, "123456789012", "abcdef1234", "default", "$connect"); got != tc.want {
				t.Errorf("MethodARN = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecisionContext(t *testing.T) {
	inv := returns(`{"principalId":"user-123","policyDocument":{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},
		"context":{"stringKey":"value","numberKey":1,"floatKey":2.50,"bigKey":12345678901234567890,"booleanKey":true,"principalId":"spoofed"},"usageIdentifierKey":"key-1"}`, "")
	d := Authorize(context.Background(), inv, testConfig(), authRequest())
	if !d.Allowed() {
		t.Fatalf("not allowed: %d %v", d.Status, d.Err)
	}
	if d.UsageIdentifierKey != "key-1" {
		t.Errorf("UsageIdentifierKey = %q", d.UsageIdentifierKey)
	}
	// The measured latency depends on the machine's load; TestIntegrationLatency checks how it is
	// measured, this test checks how the context is shaped, so it fixes the value.
	d.Latency = 900 * time.Microsecond

	got, err := json.Marshal(d.RequestContextAuthorizer())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"bigKey":12345678901234567890,"booleanKey":true,"floatKey":2.50,"integrationLatency":0,"numberKey":1,"principalId":"user-123","stringKey":"value"}`
	if string(got) != want {
		t.Errorf("requestContext.authorizer = %s, want %s", got, want)
	}

	vars := []struct {
		name, want string
	}{
		{"principalId", "user-123"},
		{"integrationLatency", "0"},
		{"usageIdentifierKey", "key-1"},
		{"stringKey", "value"},
		{"numberKey", "1"},
		{"floatKey", "2.50"},
		{"bigKey", "12345678901234567890"},
		{"booleanKey", "true"},
		{"missing", ""},
	}
	for _, v := range vars {
		t.Run(v.name, func(t *testing.T) {
			if got := d.ContextVar(v.name); got != v.want {
				t.Errorf("ContextVar(%q) = %q, want %q", v.name, got, v.want)
			}
		})
	}

	denied := Decision{Status: 403, PrincipalID: "u"}
	if denied.RequestContextAuthorizer() != nil {
		t.Error("RequestContextAuthorizer of a denied decision is not nil")
	}
	bare := Decision{PrincipalID: "u", Latency: 12*time.Millisecond + 900*time.Microsecond}
	if m := bare.RequestContextAuthorizer(); len(m) != 2 || m["principalId"] != "u" || m["integrationLatency"] != int64(12) {
		t.Errorf("RequestContextAuthorizer without context = %v", m)
	}
}

// TestIntegrationLatency checks requestContext.authorizer.integrationLatency: the function's answering
// time in whole milliseconds, a JSON number that aws-lambda-go's Authorizer (interface{}) decodes as a
// float64, and that API Gateway's value wins over a context key of the same name. The function takes
// 37.6 ms of synctest's fake time, so the figure is exact.
func TestIntegrationLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inv := &fakeInvoker{respond: func(context.Context) (*lambda.Result, error) {
			time.Sleep(37*time.Millisecond + 600*time.Microsecond)
			return &lambda.Result{Payload: []byte(`{"principalId":"u","policyDocument":{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]},` +
				`"context":{"integrationLatency":"spoofed","k":"v"}}`)}, nil
		}}
		d := Authorize(context.Background(), inv, testConfig(), authRequest())
		if !d.Allowed() {
			t.Fatalf("not allowed: %d %v", d.Status, d.Err)
		}
		if d.Latency != 37*time.Millisecond+600*time.Microsecond {
			t.Errorf("Latency = %v, want 37.6ms", d.Latency)
		}
		raw, err := json.Marshal(d.RequestContextAuthorizer())
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"integrationLatency":37,"k":"v","principalId":"u"}`; string(raw) != want {
			t.Errorf("requestContext.authorizer = %s, want %s", raw, want)
		}
		var rc events.APIGatewayWebsocketProxyRequestContext
		if err := json.Unmarshal([]byte(`{"authorizer":`+string(raw)+`}`), &rc); err != nil {
			t.Fatal(err)
		}
		if m, ok := rc.Authorizer.(map[string]any); !ok || m["integrationLatency"] != float64(37) || m["principalId"] != "u" {
			t.Errorf("aws-lambda-go reads authorizer %#v", rc.Authorizer)
		}
		if got := d.ContextVar("integrationLatency"); got != "37" {
			t.Errorf("ContextVar(integrationLatency) = %q, want 37", got)
		}
	})
}

// TestIntegrationLatencyOnRefusal: a refused handshake's decision also says how long the function took
// (for logs); one that never invoked the function says zero.
func TestIntegrationLatencyOnRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inv := &fakeInvoker{respond: func(context.Context) (*lambda.Result, error) {
			time.Sleep(5 * time.Millisecond)
			return &lambda.Result{Payload: []byte(`{"errorMessage":"Unauthorized"}`), FunctionError: "Unhandled"}, nil
		}}
		if d := Authorize(context.Background(), inv, testConfig(), authRequest()); d.Status != http.StatusUnauthorized || d.Latency != 5*time.Millisecond {
			t.Errorf("Unauthorized: status %d latency %v, want 401 after 5ms", d.Status, d.Latency)
		}
		if d := Authorize(context.Background(), inv, testConfig(), testRequest()); d.Status != http.StatusUnauthorized || d.Latency != 0 {
			t.Errorf("missing identity source: status %d latency %v, want 401 and 0", d.Status, d.Latency)
		}
	})
}

// TestAuthorizeConcurrent runs Authorize from many goroutines (for -race): it shares nothing mutable.
func TestAuthorizeConcurrent(t *testing.T) {
	inv := returns(allowPolicy(testMethodARN), "")
	cfg := testConfig()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if d := Authorize(context.Background(), inv, cfg, authRequest()); !d.Allowed() {
					t.Errorf("not allowed: %v", d.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzParseResponse checks that no function result makes the response parser panic, that its errors
// are all ErrMalformed and that accepted context values have the allowed types.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(allowPolicy(testMethodARN)))
	f.Add([]byte(`{"principalId":"u","policyDocument":{"Statement":{"Action":["*"],"Effect":"Deny","Resource":"*"}},"context":{"a":null,"b":1.5e3}}`))
	f.Add([]byte(`{"statusCode":401}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := parseResponse(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for k, v := range out.context {
			switch v.(type) {
			case string, json.Number, bool:
			default:
				t.Fatalf("context[%q] has type %T", k, v)
			}
		}
		out.policy.Evaluate(InvokeAction, testMethodARN)
	})
}
