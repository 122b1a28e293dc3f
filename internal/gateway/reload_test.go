package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// reloadConfig is an API "file" whose ping route answers reply, on stage dev.
func reloadConfig(reply string) string {
	return `
apis:
  - name: file
    apiId: file
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: pong
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": '` + reply + `'}}]
    routes:
      - {routeKey: ping, target: integrations/pong, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
`
}

// Reload serves the file's new APIs while an open connection keeps working, keeps what the control plane
// made, and leaves everything as it was when the new configuration does not compile.
func TestReload(t *testing.T) {
	ctx := context.Background()
	g := gatewaytest.Start(t, reloadConfig("one"), gatewaytest.WithControlPlane)
	cp := controlClient(g.ControlURL)
	apiID, endpoint, _, _ := buildEchoAPI(ctx, t, cp, "made through the control plane")
	if _, err := cp.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: aws.String(apiID), StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	open := gatewaytest.Dial(t, g.WSURL+"/file/dev", nil)
	open.Send(`{"action":"ping"}`)
	if got := open.Read(); got != "one" {
		t.Fatalf("before: %q", got)
	}

	steps := []struct {
		name    string
		config  string
		wantErr string // empty: the reload succeeds
		want    string // what the open connection's ping answers afterwards
	}{
		{"a changed answer", reloadConfig("two"), "", "two"},
		{"a stage name AWS refuses", strings.Replace(reloadConfig("three"), "stageName: dev", `stageName: "a b"`, 1), "stageName", "two"},
		{"a route without its integration", strings.Replace(reloadConfig("four"), "target: integrations/pong", "target: integrations/nope", 1), "integrations/nope", "two"},
		{"fixed again", reloadConfig("five"), "", "five"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f, err := configfile.Parse("reload.yaml", []byte(s.config))
			if err == nil {
				err = g.Reload(ctx, f.Bundle)
			}
			if s.wantErr == "" && err != nil || s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)) {
				t.Fatalf("err = %v, want %q", err, s.wantErr)
			}
			open.Send(`{"action":"ping"}`)
			if got := open.Read(); got != s.want {
				t.Fatalf("open connection: %q, want %q", got, s.want)
			}
			if got := ping(t, endpoint+"/dev"); got != "made through the control plane" {
				t.Fatalf("control-plane API after the reload: %q", got)
			}
		})
	}
}

// A reload that adds a local function and a route to it serves both at once.
func TestReloadFunctions(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g := gatewaytest.Start(t, reloadConfig("one"))
	withFunction := strings.Replace(reloadConfig("one"), "    routes:\n", `      - {integrationId: fn, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:main"}
    routes:
      - {routeKey: hello, target: integrations/fn, routeResponses: [{routeResponseKey: $default}]}
`, 1) + fmt.Sprintf("functions:\n  - {functionName: main, handler: %q}\n", bin)
	f, err := configfile.Parse("reload.yaml", []byte(withFunction))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(ctx, f.Bundle); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	c := gatewaytest.Dial(t, g.WSURL+"/file/dev", nil)
	c.Send(`{"action":"hello"}`)
	if got := c.Read(); !strings.Contains(got, `"routeKey":"hello"`) {
		t.Fatalf("the function added by the reload answered %q", got)
	}
	c.Send(`{"action":"ping"}`)
	if got := c.Read(); got != "one" {
		t.Fatalf("ping: %q", got)
	}
}
