package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// clusterAPI answers $connect through be, which records the connection ID, and $disconnect with its
// status code and the authorizer-free identity.
func clusterAPI(be *gatewaytest.Backend) string {
	return fmt.Sprintf(`
apis:
  - name: c
    apiId: c
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: con
        integrationType: HTTP_PROXY
        integrationUri: "%[1]s/connect"
        requestParameters: {integration.request.header.connectionId: context.connectionId}
      - integrationId: dis
        integrationType: HTTP_PROXY
        integrationUri: "%[1]s/disconnect"
        requestParameters:
          integration.request.header.connectionId: context.connectionId
          integration.request.header.X-Status: context.disconnectStatusCode
          integration.request.header.X-Source: context.identity.sourceIp
    routes:
      - {routeKey: $connect, target: integrations/con}
      - {routeKey: $disconnect, target: integrations/dis}
    stages: [{stageName: dev}]
`, be.URL)
}

func connIDOf(t *testing.T, be *gatewaytest.Backend, seen map[string]bool) string {
	t.Helper()
	r := be.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool {
		id := r.Header.Get("connectionId")
		return strings.HasSuffix(r.Path, "/connect") && id != "" && !seen[id]
	})
	id := r.Header.Get("connectionId")
	seen[id] = true
	return id
}

func post(t *testing.T, base, id, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/c/dev/@connections/"+strings.ReplaceAll(id, "=", "%3D"), "application/octet-stream", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClusterPostFromAnyNode: three nodes with embedded NATS servers joined by routes; a POST to a
// connection made on any node reaches it, whichever node it is sent to.
func TestClusterPostFromAnyNode(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	nodes := gatewaytest.StartCluster(t, clusterAPI(be), gatewaytest.ClusterAddrs(t, 3))
	seen := map[string]bool{}
	type conn struct {
		c  *gatewaytest.Client
		id string
	}
	var conns []conn
	for _, n := range nodes {
		c := gatewaytest.Dial(t, n.WSURL+"/c/dev", nil)
		conns = append(conns, conn{c, connIDOf(t, be, seen)})
	}
	for i, target := range conns {
		for j, via := range nodes {
			msg := fmt.Sprintf("to %d via %d", i+1, j+1)
			if code, body := post(t, via.HTTPURL, target.id, msg); code != http.StatusOK {
				t.Fatalf("%s: %d %s", msg, code, body)
			}
			if got := target.c.Read(); got != msg {
				t.Fatalf("%s: read %q", msg, got)
			}
		}
	}
}
