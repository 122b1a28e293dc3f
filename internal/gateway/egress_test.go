package gateway_test

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// A Go handler that builds https://{apiId}.execute-api.{region}.amazonaws.com/{stage} itself, as AWS's
// samples do, reaches this gateway through the egress proxy, over TLS its SDK verifies against the local CA.
func TestHandlersReachTheGatewayByTheDefaultHostname(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	hosts := append([]string{"*.execute-api.us-east-1.amazonaws.com"}, localca.DefaultHosts...)
	ca, err := localca.Ensure(filepath.Join(t.TempDir(), "tls"), hosts)
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: cb
    apiId: cbapi12345
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - {integrationId: main, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:main"}
    routes:
      - {routeKey: $default, target: integrations/main, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
functions:
  - {functionName: main, handler: %q, timeout: 10}
`, bin), func(o *gateway.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Certificate}}
		o.CABundle = ca.CertFile
	})
	c := gatewaytest.Dial(t, g.WSURL+"/cbapi12345/dev", nil)
	c.Send(`{"action":"callback"}`)
	got := []string{c.Read(), c.Read()}
	want := "posted through https://cbapi12345.execute-api.us-east-1.amazonaws.com/dev"
	if got[0] != want || got[1] != "callback done" {
		t.Fatalf("got %q, want %q then %q", got, want, "callback done")
	}
}
