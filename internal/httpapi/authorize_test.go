package httpapi

import (
	"context"
	"net/http"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

func TestIdentityValue(t *testing.T) {
	ev := &proxyevent.HTTPRequest{Header: http.Header{"Authorization": {"Bearer t"}, "X-Multi": {"a", "b"}},
		RawQuery: "token=x%20y&token=z&other=1", StageVariables: map[string]string{"env": "dev"}, RouteKey: "GET /a", Stage: "dev"}
	for source, want := range map[string]string{
		"$request.header.authorization": "Bearer t",
		"$request.header.X-Multi":       "a,b",
		"$request.header.Missing":       "",
		"$request.querystring.token":    "x y,z",
		"$request.querystring.Token":    "",
		"$context.routeKey":             "GET /a",
		"$context.stage":                "dev",
		"$stageVariables.env":           "dev",
		"$stageVariables.none":          "",
		"$request.body.x":               "",
	} {
		if got := identityValue(source, ev); got != want {
			t.Errorf("identityValue(%q) = %q, want %q", source, got, want)
		}
	}
}

// TestAuthorizersRefuseWhatIsNotWired: a route whose authorizer kind has nothing to run it answers 500
// with a reason, never lets the request through.
func TestAuthorizersRefuseWhatIsNotWired(t *testing.T) {
	a := &Authorizers{}
	ev := &proxyevent.HTTPRequest{Header: http.Header{}}
	for _, route := range []*snapshot.Route{
		{AuthorizationType: "JWT"},
		{AuthorizationType: "CUSTOM"},
		{AuthorizationType: "JWT", Authorizer: &snapshot.Authorizer{Name: "x", Issuer: "https://idp.example", Audience: []string{"a"}}},
		{AuthorizationType: "SOMETHING"},
	} {
		d := a.Authorize(context.Background(), &AuthRequest{Route: route, Event: ev})
		if d.Status != http.StatusInternalServerError || d.Reason == "" || d.Authorizer != nil {
			t.Errorf("%s: %+v", route.AuthorizationType, d)
		}
	}
	if d := a.Authorize(context.Background(), &AuthRequest{Route: &snapshot.Route{AuthorizationType: "AWS_IAM"}, Event: ev}); d.Status != 0 {
		t.Errorf("AWS_IAM without enforcement: %+v", d)
	}
}
