package integration

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

func TestParameterValue(t *testing.T) {
	reason := ""
	req := &Request{
		Context: &proxyevent.RequestContext{
			ConnectionID: "R1kmxc2VNjMCFIA=", Stage: "dev", DisconnectStatusCode: 1000, DisconnectReason: &reason,
			Identity: proxyevent.Identity{SourceIP: "198.51.100.7"},
		},
		Body:   []byte(`{"user":{"id":"u-1","tags":["a","b"]},"n":3,"empty":"","nil":null}`),
		Header: http.Header{"X-One": {"1"}, "X-Two": {"a", "b"}, "X-Empty": {""}},
		Query:  url.Values{"q": {"1"}, "m": {"x", "y"}},
	}
	path := func(p string) []selexpr.Step { return selexpr.MustParse("$request.body." + p).Vars()[0].Path }
	tests := []struct {
		name   string
		src    snapshot.ParameterSource
		want   string
		wantOK bool
	}{
		{"static", snapshot.ParameterSource{Kind: snapshot.SourceStatic, Value: "v"}, "v", true},
		{"empty static", snapshot.ParameterSource{Kind: snapshot.SourceStatic}, "", true},
		{"context", snapshot.ParameterSource{Kind: snapshot.SourceContext, Name: "connectionId"}, "R1kmxc2VNjMCFIA=", true},
		{"context status code", snapshot.ParameterSource{Kind: snapshot.SourceContext, Name: "disconnectStatusCode"}, "1000", true},
		{"context, empty", snapshot.ParameterSource{Kind: snapshot.SourceContext, Name: "messageId"}, "", false},
		{"context, empty reason", snapshot.ParameterSource{Kind: snapshot.SourceContext, Name: "disconnectReason"}, "", false},
		{"context, unknown", snapshot.ParameterSource{Kind: snapshot.SourceContext, Name: "nope"}, "", false},
		{"header", snapshot.ParameterSource{Kind: snapshot.SourceHeader, Name: "x-one"}, "1", true},
		{"header, last of several", snapshot.ParameterSource{Kind: snapshot.SourceHeader, Name: "X-Two"}, "b", true},
		{"multivalue header", snapshot.ParameterSource{Kind: snapshot.SourceMultiHeader, Name: "X-Two"}, "a,b", true},
		{"header, absent", snapshot.ParameterSource{Kind: snapshot.SourceHeader, Name: "X-None"}, "", false},
		{"header, sent empty", snapshot.ParameterSource{Kind: snapshot.SourceHeader, Name: "X-Empty"}, "", true},
		{"query", snapshot.ParameterSource{Kind: snapshot.SourceQuery, Name: "q"}, "1", true},
		{"query, last of several", snapshot.ParameterSource{Kind: snapshot.SourceQuery, Name: "m"}, "y", true},
		{"multivalue query", snapshot.ParameterSource{Kind: snapshot.SourceMultiQuery, Name: "m"}, "x,y", true},
		{"query, absent", snapshot.ParameterSource{Kind: snapshot.SourceQuery, Name: "Q"}, "", false},
		{"body", snapshot.ParameterSource{Kind: snapshot.SourceBody, Path: path("user.id")}, "u-1", true},
		{"body number", snapshot.ParameterSource{Kind: snapshot.SourceBody, Path: path("n")}, "3", true},
		{"body array", snapshot.ParameterSource{Kind: snapshot.SourceBody, Path: path("user.tags")}, "[a, b]", true},
		{"body, absent", snapshot.ParameterSource{Kind: snapshot.SourceBody, Path: path("user.name")}, "", false},
		{"body, empty string", snapshot.ParameterSource{Kind: snapshot.SourceBody, Path: path("empty")}, "", false},
		{"body, null", snapshot.ParameterSource{Kind: snapshot.SourceBody, Path: path("nil")}, "", false},
		{"unknown kind", snapshot.ParameterSource{Kind: "stageVariables", Name: "x"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := req.ParameterValue(tc.src)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ParameterValue = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}

	t.Run("no context, header or query", func(t *testing.T) {
		empty := &Request{Body: []byte("not json")}
		for _, src := range []snapshot.ParameterSource{
			{Kind: snapshot.SourceContext, Name: "connectionId"},
			{Kind: snapshot.SourceHeader, Name: "X-One"},
			{Kind: snapshot.SourceQuery, Name: "q"},
			{Kind: snapshot.SourceBody, Path: path("user")},
		} {
			if v, ok := empty.ParameterValue(src); ok {
				t.Errorf("%+v: got %q, want no value", src, v)
			}
		}
	})
}

func TestSelectTemplate(t *testing.T) {
	env := (&Request{Body: []byte(`{"type":"b"}`)}).Env()
	tests := []struct {
		name      string
		templates map[string]string
		sel       string
		want      string
		wantOK    bool
	}{
		{"selected key", map[string]string{"a": "A", "b": "B", "$default": "D"}, "$request.body.type", "B", true},
		{"fallback to $default", map[string]string{"a": "A", "$default": "D"}, "$request.body.type", "D", true},
		{"no match, no $default", map[string]string{"a": "A"}, "$request.body.type", "", false},
		{"no match, single template is not a fallback", map[string]string{"a": "A"}, "$request.body.nothing", "", false},
		{"escaped $default", map[string]string{"b": "B", "$default": "D"}, `\$default`, "D", true},
		{"no expression: $default", map[string]string{"b": "B", "$default": "D"}, "", "D", true},
		{"no expression: the only template", map[string]string{"b": "B"}, "", "B", true},
		{"no expression: several, no $default", map[string]string{"a": "A", "b": "B"}, "", "", false},
		{"no templates", nil, "$request.body.type", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sel *selexpr.Expr
			if tc.sel != "" {
				sel = selexpr.MustParse(tc.sel)
			}
			got, ok := SelectTemplate(tc.templates, sel, env)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("SelectTemplate = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	req := &Request{
		Context:        &proxyevent.RequestContext{RouteKey: "$connect", Stage: "dev"},
		Body:           []byte(`{"a":{"b":"c"}}`),
		Header:         http.Header{"X-Api-Key": {"k"}},
		Query:          url.Values{"token": {"t"}},
		StageVariables: map[string]string{"v": "1"},
	}
	e := selexpr.MustParse("${request.body.a.b}|$request.header.x-api-key|$request.querystring.token|$context.routeKey|$stageVariables.v")
	if got, want := e.Eval(req.Env()), "c|k|t|$connect|1"; got != want {
		t.Errorf("Eval = %q, want %q", got, want)
	}
	// A bare Request resolves everything to "".
	if got := e.Eval((&Request{}).Env()); got != "||||" {
		t.Errorf("Eval on an empty request = %q, want %q", got, "||||")
	}
}
