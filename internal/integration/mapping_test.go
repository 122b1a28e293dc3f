package integration_test

import (
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/vtl"
)

func templates(t testing.TB, src map[string]string) map[string]*vtl.Template {
	out := make(map[string]*vtl.Template, len(src))
	for k, s := range src {
		tp, err := vtl.Parse(s)
		if err != nil {
			t.Fatalf("template %q: %v", k, err)
		}
		out[k] = tp
	}
	return out
}

func message(body string) *integration.Request {
	return &integration.Request{Body: []byte(body), Context: &proxyevent.RequestContext{
		EventType: proxyevent.EventMessage, RouteKey: "send", ConnectionID: "L0SM9cOFvHcCIhw=", Stage: "dev",
		Authorizer: map[string]any{"principalId": "me", "key": "value", "numKey": 1, "boolKey": true}}}
}

// TestContentHandling: CONVERT_TO_TEXT encodes the (rendered or passed-through) payload as base64,
// CONVERT_TO_BINARY decodes it (AWS's WebSocket binary media guide).
func TestContentHandling(t *testing.T) {
	cases := []struct {
		name, strategy, body, want string
		err                        bool
	}{
		{"to text", "CONVERT_TO_TEXT", "hi", "aGk=", false},
		{"to binary", "CONVERT_TO_BINARY", "aGk=", "hi", false},
		{"to binary, not base64", "CONVERT_TO_BINARY", "hi!", "", true},
		{"unset passes through", "", "hi", "hi", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &snapshot.Integration{Type: "HTTP", ContentHandling: tc.strategy}
			out, err := integration.MapRequest(in, message(tc.body))
			if tc.err {
				if err == nil {
					t.Fatalf("MapRequest = %q, want an error", out.Body)
				}
				return
			}
			if err != nil || string(out.Body) != tc.want {
				t.Fatalf("MapRequest = %v %v, want %q", out, err, tc.want)
			}
		})
	}
}

// TestContextInTemplates: $context has the event's variables, and authorizer values as strings — the
// example of https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-mapping-template-reference.html:
// a context {"key": "value", "numKey": 1, "boolKey": true} gives "value", "1" and "true". Body parameters
// keep reading the client's message after rendering.
func TestContextInTemplates(t *testing.T) {
	in := &snapshot.Integration{Type: "HTTP", Templates: templates(t, map[string]string{
		"$default": `$context.routeKey $context.connectionId $context.authorizer.principalId $context.authorizer.key $context.authorizer.numKey $context.authorizer.boolKey [$context.nothing] $context.stage`})}
	req := message(`{"room": "r1"}`)
	out, err := integration.MapRequest(in, req)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out.Body), "send L0SM9cOFvHcCIhw= me value 1 true [] dev"; got != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
	v, ok := out.ParameterValue(snapshot.ParameterSource{Kind: snapshot.SourceBody, Path: selexpr.MustParse("$request.body.room").Vars()[0].Path})
	if !ok || v != "r1" {
		t.Errorf("body parameter after rendering = %q %v", v, ok)
	}
}

// TestResponseSelectionByHeader: the integration response's template selection can name a header of the
// answer, and the integration response selection the answer's body.
func TestResponseSelectionByHeader(t *testing.T) {
	ir := &snapshot.IntegrationResponse{Key: "$default", Pattern: mustKey(t, "$default"),
		TemplateSelection: selexpr.MustParse("$integration.response.header.X-Kind"),
		Compiled:          templates(t, map[string]string{"a": "A:$input.path('$.v')", "$default": "other"})}
	in := &snapshot.Integration{Type: "HTTP", ResponseSelection: selexpr.MustParse("$integration.response.body.kind"),
		Responses: []*snapshot.IntegrationResponse{
			{Key: "/bad/", Pattern: mustKey(t, "/bad/"), Compiled: templates(t, map[string]string{"$default": "BAD"})}, ir}}
	resp := &integration.Response{StatusCode: 200, Header: http.Header{"X-Kind": {"a"}}, Body: []byte(`{"v": 7, "kind": "good"}`)}
	out, err := integration.MapResponse(in, message(`{}`), resp)
	if err != nil || string(out.Body) != "A:7" {
		t.Fatalf("MapResponse = %v %v", out, err)
	}
	resp.Body = []byte(`{"kind": "bad"}`)
	out, err = integration.MapResponse(in, message(`{}`), resp)
	if err != nil || string(out.Body) != "BAD" {
		t.Fatalf("MapResponse = %v %v", out, err)
	}
}

func mustKey(t testing.TB, k string) *selexpr.KeyPattern {
	p, err := selexpr.ParseKeyPattern(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzTemplateSelection runs arbitrary selection expressions and messages through MapRequest: the
// chosen template is the expression's key when it has one, else $default; nothing panics.
func FuzzTemplateSelection(f *testing.F) {
	for _, s := range []struct{ expr, body string }{
		{"$request.body.kind", `{"kind": "a"}`}, {`\$default`, `{}`}, {"${request.body.k}-${request.body.v}", `{"k": "a", "v": 1}`},
		{"$context.routeKey", `x`}, {"b", `[]`}, {"$request.body['a b'][0]", `{"a b": ["a"]}`},
	} {
		f.Add(s.expr, s.body)
	}
	tpl := templates(f, map[string]string{"a": "A", "b": "B", "send": "S", "$default": "D"})
	f.Fuzz(func(t *testing.T, expr, body string) {
		sel, err := selexpr.Parse(expr)
		if err != nil {
			return
		}
		in := &snapshot.Integration{Type: "MOCK", Templates: tpl, TemplateSelection: sel}
		req := message(body)
		out, err := integration.MapRequest(in, req)
		if err != nil {
			if errors.Is(err, integration.ErrUnsupportedMediaType) {
				t.Fatalf("WHEN_NO_MATCH refused %q", body)
			}
			return
		}
		want := map[string]string{"a": "A", "b": "B", "send": "S"}[sel.Eval(req.Env())]
		if want == "" {
			want = "D"
		}
		if string(out.Body) != want {
			t.Fatalf("expr %q body %q: rendered %q, want %q", expr, body, out.Body, want)
		}
	})
}

// TestResponseParameters: an integration response's responseParameters set the answer's headers from a
// static value, a header of the backend's answer or a member of its body (the $connect handshake takes
// Sec-WebSocket-Protocol from them).
func TestResponseParameters(t *testing.T) {
	in := &snapshot.Integration{Type: "HTTP", Responses: []*snapshot.IntegrationResponse{{Key: "$default", Pattern: mustKey(t, "$default"),
		ResponseParameters: []snapshot.ResponseParameter{
			{Header: "Sec-WebSocket-Protocol", Source: snapshot.ParameterSource{Kind: snapshot.SourceStatic, Value: "chat"}},
			{Header: "X-From-Header", Source: snapshot.ParameterSource{Kind: snapshot.SourceResponseHeader, Name: "X-Backend"}},
			{Header: "X-From-Body", Source: snapshot.ParameterSource{Kind: snapshot.SourceResponseBody, Path: selexpr.MustParse("$integration.response.body.user.id").Vars()[0].Path}},
			{Header: "X-Missing", Source: snapshot.ParameterSource{Kind: snapshot.SourceResponseHeader, Name: "X-None"}},
		}}}}
	resp := &integration.Response{StatusCode: 200, Header: http.Header{"X-Backend": {"b1"}}, Body: []byte(`{"user": {"id": 42}}`)}
	out, err := integration.MapResponse(in, message(`{}`), resp)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{"Sec-Websocket-Protocol": {"chat"}, "X-Backend": {"b1"}, "X-From-Header": {"b1"}, "X-From-Body": {"42"}}
	if !reflect.DeepEqual(out.Header, want) {
		t.Errorf("headers = %v, want %v", out.Header, want)
	}
	if resp.Header.Get("X-From-Header") != "" {
		t.Error("the backend's answer was changed")
	}
}
