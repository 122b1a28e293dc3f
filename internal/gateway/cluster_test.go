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

// post is POST @connections/id through base, with body.
func post(t *testing.T, base, id, body string) (int, string) {
	t.Helper()
	return atConnection(t, http.MethodPost, base, id, body)
}

// get is GET @connections/id through base.
func get(t *testing.T, base, id string) (int, string) {
	t.Helper()
	return atConnection(t, http.MethodGet, base, id, "")
}

// atConnection calls @connections/id of the stage c/dev through base with method (a POST's body sent as
// application/octet-stream) and returns the status code and the body of the answer.
func atConnection(t *testing.T, method, base, id, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/c/dev/@connections/"+strings.ReplaceAll(id, "=", "%3D"), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	return sendRequest(t, req)
}

// sendRequest sends req and returns the status code and the body of the answer.
func sendRequest(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
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
	cl := startClusterWith(t, gatewaytest.NewBackend(t, nil), clusterWith{})
	nodes := cl.nodes
	clients, ids := cl.dialEach(t, nodes)
	postEveryWay(t, nodes, clients, ids, "")
	// The management extension's Broadcast without IDs reaches the stage's connections on every node.
	resp, err := http.Post(nodes[0].HTTPURL+"/c/dev/@connections", "application/json", strings.NewReader(`{"data":"to all"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"sent":3`) {
		t.Fatalf("Broadcast via node 1: %d %s", resp.StatusCode, body)
	}
	for i, c := range clients {
		if got := c.Read(); got != "to all" {
			t.Fatalf("client of node %d: read %q", i+1, got)
		}
	}
	// GetConnection and DeleteConnection reach the owner too.
	if code, body := get(t, nodes[0].HTTPURL, ids[2]); code != http.StatusOK || !strings.Contains(body, `"sourceIp":"127.0.0.1"`) {
		t.Fatalf("GET via node 1 of node 3's connection: %d %s", code, body)
	}
	if code, _ := atConnection(t, http.MethodDelete, nodes[1].HTTPURL, ids[2], ""); code != http.StatusNoContent {
		t.Fatalf("DELETE via node 2 of node 3's connection: %d", code)
	}
	if code := clients[2].ExpectClose(); code != 1000 {
		t.Fatalf("deleted connection closed with %d, want 1000", code)
	}
}

// disconnects counts, per connection ID, the $disconnect events be received with each status code.
func disconnects(be *gatewaytest.Backend) map[string][]string {
	out := map[string][]string{}
	for _, r := range be.Requests() {
		if strings.HasSuffix(r.Path, "/disconnect") {
			id := r.Header.Get("connectionId")
			out[id] = append(out[id], r.Header.Get("X-Status")+" "+r.Header.Get("X-Source"))
		}
	}
	return out
}

// TestClusterNodeLoss: node 3 loses NATS for good. Within seconds every node answers 410 for its
// connections, a surviving node runs each one's $disconnect exactly once with 1006 and the connection's
// identity, and node 3, learning it was declared dead, drops its clients without running them again.
func TestClusterNodeLoss(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	var lost []string
	expectOneDisconnect1006(t, be, &lost)
	cl := startClusterWith(t, be, clusterWith{})
	nodes := cl.nodes
	var clients []*gatewaytest.Client
	clients, lost = cl.dialN(t, nodes[2], 3)
	keep, keepID := cl.dial(t, nodes[0])
	for _, id := range lost {
		if code, body := post(t, nodes[0].HTTPURL, id, "before"); code != http.StatusOK {
			t.Fatalf("POST before the loss: %d %s", code, body)
		}
	}
	for _, c := range clients {
		if got := c.Read(); got != "before" {
			t.Fatalf("read %q", got)
		}
	}

	start := time.Now()
	nodes[2].NATS().Close()
	waitGone(t, nodes, lost, "after", "POST to a lost connection never answered 410")
	t.Logf("410 on every node %s after the loss", time.Since(start).Round(time.Millisecond))
	gatewaytest.Eventually(t, 15*time.Second, func() bool { return allDisconnected(be, lost) }, "the lost connections' $disconnect did not run")
	for _, c := range clients {
		if code := c.ExpectClose(); code != 1001 {
			t.Errorf("a client of the lost node: close %d, want 1001", code)
		}
	}
	// The survivors still serve each other.
	postAndRead(t, nodes[1], keepID, keep, "still here", "to a surviving node's connection")
}

// TestClusterGracefulLeave: node 3 stops as on SIGTERM. Its clients are closed with 1001, each
// connection's $disconnect runs once (on node 3, with 1001), the others answer 410 for them at once
// (node 3 said it left) and keep serving.
func TestClusterGracefulLeave(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	cl := startClusterWith(t, be, clusterWith{})
	nodes := cl.nodes
	clients, ids := cl.dialN(t, nodes[2], 2)
	keep, keepID := cl.dial(t, nodes[1])
	if err := nodes[2].Stop(); err != nil {
		t.Fatalf("stop node 3: %v", err)
	}
	for _, c := range clients {
		if code := c.ExpectClose(); code != 1001 {
			t.Errorf("close %d, want 1001", code)
		}
	}
	got := disconnects(be)
	for _, id := range ids {
		if len(got[id]) != 1 || got[id][0] != "1001 127.0.0.1" {
			t.Errorf("connection %s: $disconnect events %q when node 3 had stopped, want exactly one \"1001 127.0.0.1\"", id, got[id])
		}
	}
	for _, n := range nodes[:2] {
		gatewaytest.Eventually(t, 5*time.Second, func() bool { return len(n.ClusterNodes()) == 2 }, "node 3 still seen as a member")
		for _, id := range ids {
			if code, body := post(t, n.HTTPURL, id, "x"); code != http.StatusGone {
				t.Errorf("POST to a connection of the node that left: %d %s, want 410", code, body)
			}
		}
	}
	postAndRead(t, nodes[0], keepID, keep, "still here", "across the remaining nodes")
}

// TestClusterNATSGoesAwayAndReturns: two nodes on an external NATS server that stops and starts again.
// While it is away, /readyz says why, handshakes get 503, @connections to the other node's connection
// get a 500 at once (never a hang) and to a local one still work; when it is back, the nodes serve each
// other again with the same connections.
func TestClusterNATSGoesAwayAndReturns(t *testing.T) {
	store := t.TempDir()
	ns := newNATS(t)
	ns.start(t, store)
	be := gatewaytest.NewBackend(t, nil)
	// Long heartbeats: the outage below must stay shorter than three of them.
	cl := startClusterWith(t, be, clusterWith{nats: []string{ns.url(), ns.url()}, heartbeat: 5 * time.Second, metrics: true})
	nodes := cl.nodes
	c1, id1 := cl.dial(t, nodes[0])
	c2, id2 := cl.dial(t, nodes[1])

	ns.stop()
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(nodes[0].ClusterStatus(), "NATS") }, "node 1 does not notice NATS is gone")
	expectNotReady(t, nodes[0], "without NATS")
	expectHandshake503(t, nodes[0], "without NATS")
	if code, body := post(t, nodes[0].HTTPURL, id2, "unroutable"); code != http.StatusInternalServerError {
		t.Errorf("POST to the other node's connection without NATS: %d %s, want 500", code, body)
	}
	if code, body := post(t, nodes[0].HTTPURL, id1, "local"); code != http.StatusOK {
		t.Errorf("POST to a local connection without NATS: %d %s", code, body)
	} else if got := c1.Read(); got != "local" {
		t.Errorf("read %q", got)
	}

	ns.start(t, store)
	cl.waitJoined(t, "a node did not come back")
	postAndRead(t, nodes[0], id2, c2, "back 1 to 2", "1 to 2 after NATS returned")
	postAndRead(t, nodes[1], id1, c1, "back 2 to 1", "2 to 1 after NATS returned")
}
