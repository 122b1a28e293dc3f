package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

const testRouteARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request"

func httpConfig(version string, simple bool) HTTPConfig {
	return HTTPConfig{
		AuthorizerID: "au1", Name: "lambda-authorizer",
		FunctionURI:          "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + testFunctionARN + "/invocations",
		IdentitySource:       []string{"$request.header.Authorization", "$request.querystring.user"},
		PayloadFormatVersion: version, EnableSimpleResponses: simple,
	}
}

func httpAuthRequest() *HTTPRequest {
	return &HTTPRequest{
		Event: &proxyevent.HTTPRequest{
			Method: "GET", RawPath: "/test/request", Path: "/test/request", RawQuery: "user=u1&user=u2&QueryString1=queryValue1",
			Protocol: "HTTP/1.1", Header: http.Header{"Authorization": {"secretToken"}, "User-Agent": {"curl/8"}, "Cookie": {"c1=1"}},
			SourceIP: "192.0.2.1", RouteKey: "GET /request", PathParameters: map[string]string{"p": "1"},
			StageVariables: map[string]string{"StageVar1": "stageValue1"}, AccountID: "123456789012", APIID: "abcdef123",
			Stage: "test", RequestID: "id", DomainName: "abcdef123.execute-api.us-east-1.amazonaws.com", DomainPrefix: "abcdef123",
			Time: time.Date(2020, 3, 12, 19, 3, 58, 0, time.UTC),
		},
		RouteARN: testRouteARN,
		Context:  func(name string) string { return map[string]string{"routeKey": "GET /request"}[name] },
	}
}

func newHTTP(t *testing.T, inv lambda.Invoker, cfg HTTPConfig, now func() time.Time) *HTTPAuthorizer {
	t.Helper()
	a, err := NewHTTP(inv, cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestHTTPAuthorizerEvents reads both authorizer events with aws-lambda-go's types.
func TestHTTPAuthorizerEvents(t *testing.T) {
	t.Run("2.0", func(t *testing.T) {
		inv := returns(`{"isAuthorized":true}`, "")
		newHTTP(t, inv, httpConfig("2.0", true), nil).Authorize(context.Background(), httpAuthRequest())
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(inv.calls[0].payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Version != "2.0" || ev.Type != "REQUEST" || ev.RouteArn != testRouteARN ||
			!reflect.DeepEqual(ev.IdentitySource, []string{"secretToken", "u1,u2"}) || ev.RouteKey != "GET /request" ||
			ev.RawPath != "/test/request" || ev.Headers["authorization"] != "secretToken" || !reflect.DeepEqual(ev.Cookies, []string{"c1=1"}) ||
			ev.QueryStringParameters["user"] != "u1,u2" || ev.RequestContext.HTTP.Method != "GET" || ev.PathParameters["p"] != "1" ||
			ev.StageVariables["StageVar1"] != "stageValue1" || ev.RequestContext.Authorizer != nil {
			t.Errorf("event %s", inv.calls[0].payload)
		}
		var top map[string]json.RawMessage
		json.Unmarshal(inv.calls[0].payload, &top)
		for _, k := range []string{"body", "isBase64Encoded"} {
			if _, ok := top[k]; ok {
				t.Errorf("%s in an authorizer event", k)
			}
		}
	})
	t.Run("1.0", func(t *testing.T) {
		inv := returns(allowPolicy(testRouteARN), "")
		newHTTP(t, inv, httpConfig("1.0", false), nil).Authorize(context.Background(), httpAuthRequest())
		var ev events.APIGatewayV2CustomAuthorizerV1Request
		if err := json.Unmarshal(inv.calls[0].payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Version != "1.0" || ev.Type != "REQUEST" || ev.MethodArn != testRouteARN || ev.IdentitySource != "secretToken,u1,u2" ||
			ev.AuthorizationToken != "secretToken,u1,u2" || ev.Resource != "/request" || ev.Path != "/test/request" || ev.HTTPMethod != "GET" ||
			ev.Headers["Authorization"] != "secretToken" || ev.QueryStringParameters["QueryString1"] != "queryValue1" ||
			ev.RequestContext.ResourcePath != "/request" || ev.RequestContext.Identity.SourceIP != "192.0.2.1" || ev.RequestContext.APIID != "abcdef123" {
			t.Errorf("event %s", inv.calls[0].payload)
		}
	})
}

func TestHTTPAuthorizeOutcomes(t *testing.T) {
	simpleCtx := `{"isAuthorized":true,"context":{"stringKey":"value","numberKey":1,"booleanKey":true,"arrayKey":["value1","value2"],"mapKey":{"value1":"value2"}}}`
	deny := `{"principalId":"abcdef","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"` + testRouteARN + `"}]}}`
	cases := []struct {
		name    string
		version string
		simple  bool
		inv     *fakeInvoker
		mutate  func(*HTTPRequest)
		status  int
		err     error
		context map[string]any
		invoked bool
	}{
		{"simple allow with any JSON context", "2.0", true, returns(simpleCtx, ""), nil, 0, nil, map[string]any{"stringKey": "value",
			"numberKey": json.Number("1"), "booleanKey": true, "arrayKey": []any{"value1", "value2"}, "mapKey": map[string]any{"value1": "value2"}}, true},
		{"simple deny", "2.0", true, returns(`{"isAuthorized":false}`, ""), nil, 403, ErrDenied, nil, true},
		{"simple without isAuthorized", "2.0", true, returns(`{"context":{}}`, ""), nil, 500, ErrMalformed, nil, true},
		{"simple isAuthorized string", "2.0", true, returns(`{"isAuthorized":"true"}`, ""), nil, 500, ErrMalformed, nil, true},
		{"policy allow 2.0", "2.0", false, returns(allowPolicy(testRouteARN), ""), nil, 0, nil,
			map[string]any{"stringKey": "value", "numberKey": json.Number("1"), "booleanKey": true}, true},
		{"policy allow 1.0 wildcard", "1.0", false, returns(allowPolicy("arn:aws:execute-api:us-east-1:123456789012:abcdef123/*/GET/*"), ""), nil, 0, nil,
			map[string]any{"stringKey": "value", "numberKey": json.Number("1"), "booleanKey": true}, true},
		{"policy deny", "2.0", false, returns(deny, ""), nil, 403, ErrDenied, nil, true},
		{"policy for another route", "1.0", false, returns(allowPolicy("arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/POST/request"), ""), nil, 403, ErrDenied, nil, true},
		{"simple response without simple responses enabled", "2.0", false, returns(`{"isAuthorized":true}`, ""), nil, 500, ErrMalformed, nil, true},
		{"not JSON", "2.0", true, returns(`yes`, ""), nil, 500, ErrMalformed, nil, true},
		{"Unauthorized error", "2.0", true, returns(`{"errorMessage":"Unauthorized","errorType":"Error"}`, "Unhandled"), nil, 401, ErrUnauthorized, nil, true},
		{"other error", "2.0", true, returns(`{"errorMessage":"boom"}`, "Unhandled"), nil, 500, ErrFunction, nil, true},
		{"invoke fails", "2.0", true, &fakeInvoker{respond: func(context.Context) (*lambda.Result, error) { return nil, lambda.ErrFunctionNotFound }}, nil, 500, ErrFunction, nil, true},
		{"missing header identity", "2.0", true, returns(`{"isAuthorized":true}`, ""), func(r *HTTPRequest) { r.Event.Header.Del("Authorization") }, 401, ErrIdentitySource, nil, false},
		{"empty query identity", "2.0", true, returns(`{"isAuthorized":true}`, ""), func(r *HTTPRequest) { r.Event.RawQuery = "user=" }, 401, ErrIdentitySource, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httpAuthRequest()
			if tc.mutate != nil {
				tc.mutate(req)
			}
			d := newHTTP(t, tc.inv, httpConfig(tc.version, tc.simple), nil).Authorize(context.Background(), req)
			if d.Status != tc.status || (tc.err == nil) != (d.Err == nil) || (tc.err != nil && !errors.Is(d.Err, tc.err)) {
				t.Fatalf("got %d %v, want %d %v", d.Status, d.Err, tc.status, tc.err)
			}
			if (len(tc.inv.calls) > 0) != tc.invoked {
				t.Errorf("invoked %d times", len(tc.inv.calls))
			}
			wantBody := map[int]string{0: "", 401: `{"message":"Unauthorized"}`, 403: `{"message":"Forbidden"}`, 500: `{"message":"Internal Server Error"}`}[tc.status]
			if d.Body != wantBody {
				t.Errorf("body %q, want %q", d.Body, wantBody)
			}
			if tc.status == 0 {
				if !reflect.DeepEqual(d.Context, tc.context) {
					t.Errorf("context %#v\nwant %#v", d.Context, tc.context)
				}
				var ev events.APIGatewayV2HTTPRequest
				r := req.Event
				r.Authorizer = d.EventAuthorizer()
				if err := json.Unmarshal(proxyevent.HTTPEventV2(r), &ev); err != nil || ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.Lambda["stringKey"] != "value" {
					t.Errorf("integration event authorizer: %v %+v", err, ev.RequestContext.Authorizer)
				}
			}
		})
	}
}

// TestHTTPAuthorizerCache: results are cached by identity values for the TTL; a cached policy is evaluated
// again for each route.
func TestHTTPAuthorizerCache(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	inv := returns(allowPolicy(testRouteARN), "")
	cfg := httpConfig("2.0", false)
	cfg.ResultTTL = 300 * time.Second
	a := newHTTP(t, inv, cfg, now)

	for i := range 3 {
		d := a.Authorize(context.Background(), httpAuthRequest())
		if !d.Allowed() || d.Cached != (i > 0) {
			t.Fatalf("call %d: %+v", i, d)
		}
	}
	if len(inv.calls) != 1 {
		t.Fatalf("invoked %d times, want 1", len(inv.calls))
	}
	other := httpAuthRequest()
	other.RouteARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/POST/request"
	if d := a.Authorize(context.Background(), other); d.Status != 403 || !d.Cached {
		t.Fatalf("cached policy on another route: %+v", d)
	}
	changed := httpAuthRequest()
	changed.Event.Header.Set("Authorization", "another")
	if d := a.Authorize(context.Background(), changed); !d.Allowed() || d.Cached || len(inv.calls) != 2 {
		t.Fatalf("other identity: %+v, %d calls", d, len(inv.calls))
	}
	clock.Add(int64(300 * time.Second))
	if d := a.Authorize(context.Background(), httpAuthRequest()); d.Cached || len(inv.calls) != 3 {
		t.Fatalf("after the TTL: %+v, %d calls", d, len(inv.calls))
	}

	noCache := newHTTP(t, returns(`{"isAuthorized":true}`, ""), httpConfig("2.0", true), now)
	for range 2 {
		noCache.Authorize(context.Background(), httpAuthRequest())
	}
	if n := len(noCache.inv.(*fakeInvoker).calls); n != 2 {
		t.Fatalf("TTL 0 invoked %d times, want 2", n)
	}
}

func TestNewHTTPRefusesBadConfig(t *testing.T) {
	for name, mutate := range map[string]func(*HTTPConfig){
		"version":          func(c *HTTPConfig) { c.PayloadFormatVersion = "3.0" },
		"simple with 1.0":  func(c *HTTPConfig) { c.PayloadFormatVersion, c.EnableSimpleResponses = "1.0", true },
		"identity source":  func(c *HTTPConfig) { c.IdentitySource = []string{"route.request.header.Auth"} },
		"ttl over an hour": func(c *HTTPConfig) { c.ResultTTL = 2 * time.Hour },
		"ttl without sources": func(c *HTTPConfig) {
			c.ResultTTL, c.IdentitySource = time.Minute, nil
		},
		"uri": func(c *HTTPConfig) { c.FunctionURI = "arn:aws:s3:::bucket" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := httpConfig("2.0", true)
			mutate(&cfg)
			if _, err := NewHTTP(returns("{}", ""), cfg, nil); !errors.Is(err, ErrConfig) {
				t.Errorf("NewHTTP: %v", err)
			}
		})
	}
}

func TestRouteARN(t *testing.T) {
	if got := RouteARN("us-east-1", "123456789012", "abcdef123", "test", "GET", "/request"); got != testRouteARN {
		t.Errorf("RouteARN = %s", got)
	}
	if got := RouteARN("cn-north-1", "1", "a", "$default", "POST", "/"); got != "arn:aws-cn:execute-api:cn-north-1:1:a/$default/POST/" {
		t.Errorf("RouteARN = %s", got)
	}
}

// FuzzHTTPParse checks that no authorizer result panics the parser and that every refusal is ErrMalformed.
func FuzzHTTPParse(f *testing.F) {
	f.Add([]byte(`{"isAuthorized":true,"context":{"a":[1,{"b":null}]}}`), true)
	f.Add([]byte(allowPolicy(testRouteARN)), false)
	f.Add([]byte(`{"policyDocument":{"Statement":[]}}`), false)
	f.Fuzz(func(t *testing.T, payload []byte, simple bool) {
		a := &HTTPAuthorizer{cfg: HTTPConfig{EnableSimpleResponses: simple}}
		out, err := a.parse(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v", err)
			}
			return
		}
		d := a.decide(out, testRouteARN)
		if d.Status != 0 && d.Status != 403 {
			t.Fatalf("status %d", d.Status)
		}
	})
}

// TestHTTPSetKeepsCaches: the same stage and configuration give the same authorizer (and cache); a changed
// configuration, another stage or a new cache epoch a new authorizer.
func TestHTTPSetKeepsCaches(t *testing.T) {
	inv := returns(allowPolicy(testRouteARN), "")
	s := NewHTTPSet(inv, nil)
	cfg := httpConfig("2.0", false)
	cfg.ResultTTL = time.Minute
	a, err := s.Authorizer("api1", "dev", 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Authorizer("api1", "dev", 0, cfg)
	cfg2 := cfg
	cfg2.IdentitySource = []string{"$request.header.Authorization"}
	c, _ := s.Authorizer("api1", "dev", 0, cfg2)
	d, _ := s.Authorizer("api2", "dev", 0, cfg)
	if a != b || a == c || a == d {
		t.Fatalf("a %p b %p c %p d %p", a, b, c, d)
	}
	a.Authorize(context.Background(), httpAuthRequest())
	if dec := b.Authorize(context.Background(), httpAuthRequest()); !dec.Cached || len(inv.calls) != 1 {
		t.Fatalf("second snapshot's authorizer did not use the cache: %+v, %d calls", dec, len(inv.calls))
	}
	// Each stage has its own cache; a new cache epoch (ResetAuthorizersCache) empties the stage's.
	if other, _ := s.Authorizer("api1", "prod", 0, cfg); other == a {
		t.Error("two stages share an authorizer cache")
	}
	reset, _ := s.Authorizer("api1", "dev", 1, cfg)
	if reset == a {
		t.Fatal("a new cache epoch kept the authorizer")
	}
	if dec := reset.Authorize(context.Background(), httpAuthRequest()); dec.Cached || len(inv.calls) != 2 {
		t.Errorf("after the reset the result came from the cache: %+v, %d calls", dec, len(inv.calls))
	}
	if again, _ := s.Authorizer("api1", "dev", 1, cfg); again != reset {
		t.Error("the same epoch made a new authorizer")
	}
	bad := cfg
	bad.PayloadFormatVersion = "9"
	if _, err := s.Authorizer("api1", "dev", 0, bad); !errors.Is(err, ErrConfig) {
		t.Errorf("bad config: %v", err)
	}
}

// TestHTTPAuthorizerCachePerRoute: with $context.routeKey among the identity sources, as AWS advises for
// per-route caching, each route has its own cached result.
func TestHTTPAuthorizerCachePerRoute(t *testing.T) {
	inv := returns(`{"isAuthorized":true}`, "")
	cfg := httpConfig("2.0", true)
	cfg.IdentitySource = []string{"$request.header.Authorization", "$context.routeKey"}
	cfg.ResultTTL = time.Minute
	a := newHTTP(t, inv, cfg, nil)
	route := func(key string) *HTTPRequest {
		r := httpAuthRequest()
		r.Context = func(name string) string { return map[string]string{"routeKey": key}[name] }
		return r
	}
	for _, key := range []string{"GET /a", "GET /a", "GET /b", "GET /b"} {
		if d := a.Authorize(context.Background(), route(key)); !d.Allowed() {
			t.Fatalf("%s: %+v", key, d)
		}
	}
	if len(inv.calls) != 2 {
		t.Fatalf("invoked %d times for two routes, want 2", len(inv.calls))
	}
	var ev struct {
		IdentitySource []string `json:"identitySource"`
	}
	if err := json.Unmarshal(inv.calls[1].payload, &ev); err != nil || strings.Join(ev.IdentitySource, "|") != "secretToken|GET /b" {
		t.Errorf("identitySource %v (%v)", ev.IdentitySource, err)
	}
}
