package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/gateway"
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
	for i, target := range conns {
		if got := target.c.Read(); got != "to all" {
			t.Fatalf("client of node %d: read %q", i+1, got)
		}
	}
	// GetConnection and DeleteConnection reach the owner too.
	url := nodes[0].HTTPURL + "/c/dev/@connections/" + strings.ReplaceAll(conns[2].id, "=", "%3D")
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"sourceIp":"127.0.0.1"`) {
		t.Fatalf("GET via node 1 of node 3's connection: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, strings.Replace(url, nodes[0].HTTPURL, nodes[1].HTTPURL, 1), nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE via node 2 of node 3's connection: %d", resp.StatusCode)
	}
	if code := conns[2].c.ExpectClose(); code != 1000 {
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
	// Registered first, so it runs after every node has stopped: a second claim would be in by then.
	t.Cleanup(func() {
		got := disconnects(be)
		for _, id := range lost {
			if len(got[id]) != 1 || got[id][0] != "1006 127.0.0.1" {
				t.Errorf("connection %s: $disconnect events %q, want exactly one \"1006 127.0.0.1\"", id, got[id])
			}
		}
	})
	nodes := gatewaytest.StartCluster(t, clusterAPI(be), gatewaytest.ClusterAddrs(t, 3))
	seen := map[string]bool{}
	var clients []*gatewaytest.Client
	for range 3 {
		clients = append(clients, gatewaytest.Dial(t, nodes[2].WSURL+"/c/dev", nil))
		lost = append(lost, connIDOf(t, be, seen))
	}
	keep := gatewaytest.Dial(t, nodes[0].WSURL+"/c/dev", nil)
	keepID := connIDOf(t, be, seen)
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
	for _, n := range nodes {
		for _, id := range lost {
			gatewaytest.Eventually(t, 15*time.Second, func() bool {
				code, _ := post(t, n.HTTPURL, id, "after")
				return code == http.StatusGone
			}, "POST to a lost connection never answered 410")
		}
	}
	t.Logf("410 on every node %s after the loss", time.Since(start).Round(time.Millisecond))
	gatewaytest.Eventually(t, 15*time.Second, func() bool {
		got := disconnects(be)
		for _, id := range lost {
			if len(got[id]) == 0 {
				return false
			}
		}
		return true
	}, "the lost connections' $disconnect did not run")
	for _, c := range clients {
		if code := c.ExpectClose(); code != 1001 {
			t.Errorf("a client of the lost node: close %d, want 1001", code)
		}
	}
	// The survivors still serve each other.
	if code, body := post(t, nodes[1].HTTPURL, keepID, "still here"); code != http.StatusOK {
		t.Fatalf("POST to a surviving node's connection: %d %s", code, body)
	}
	if got := keep.Read(); got != "still here" {
		t.Fatalf("read %q", got)
	}
}

// TestClusterGracefulLeave: node 3 stops as on SIGTERM. Its clients are closed with 1001, each
// connection's $disconnect runs once (on node 3, with 1001), the others answer 410 for them at once
// (node 3 said it left) and keep serving.
func TestClusterGracefulLeave(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	nodes := gatewaytest.StartCluster(t, clusterAPI(be), gatewaytest.ClusterAddrs(t, 3))
	seen := map[string]bool{}
	var clients []*gatewaytest.Client
	var ids []string
	for range 2 {
		clients = append(clients, gatewaytest.Dial(t, nodes[2].WSURL+"/c/dev", nil))
		ids = append(ids, connIDOf(t, be, seen))
	}
	keep := gatewaytest.Dial(t, nodes[1].WSURL+"/c/dev", nil)
	keepID := connIDOf(t, be, seen)
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
	if code, body := post(t, nodes[0].HTTPURL, keepID, "still here"); code != http.StatusOK {
		t.Fatalf("POST across the remaining nodes: %d %s", code, body)
	}
	if got := keep.Read(); got != "still here" {
		t.Fatalf("read %q", got)
	}
}

// TestClusterNATSGoesAwayAndReturns: two nodes on an external NATS server that stops and starts again.
// While it is away, /readyz says why, handshakes get 503, @connections to the other node's connection
// get a 500 at once (never a hang) and to a local one still work; when it is back, the nodes serve each
// other again with the same connections.
func TestClusterNATSGoesAwayAndReturns(t *testing.T) {
	addr := gatewaytest.ClusterAddrs(t, 1)[0]
	store := t.TempDir()
	startNATS := func() *server.Server {
		s, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "external", ClientListen: addr, StoreDir: store})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ns := startNATS()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	be := gatewaytest.NewBackend(t, nil)
	var nodes []*gatewaytest.Gateway
	for i := range 2 {
		nodes = append(nodes, gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
			o.Node = cluster.NodeID(i + 1)
			o.MetricsListen = "127.0.0.1:0"
			// Long heartbeats: the outage below must stay shorter than three of them.
			o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr, Heartbeat: 5 * time.Second}
		}))
	}
	for _, n := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return n.ClusterStatus() == "" && len(n.ClusterNodes()) == 2 }, "nodes did not join")
	}
	seen := map[string]bool{}
	c1 := gatewaytest.Dial(t, nodes[0].WSURL+"/c/dev", nil)
	id1 := connIDOf(t, be, seen)
	c2 := gatewaytest.Dial(t, nodes[1].WSURL+"/c/dev", nil)
	id2 := connIDOf(t, be, seen)

	ns.Shutdown()
	ns.WaitForShutdown()
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(nodes[0].ClusterStatus(), "NATS") }, "node 1 does not notice NATS is gone")
	resp, err := http.Get("http://" + nodes[0].MetricsAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "NATS") {
		t.Errorf("/readyz without NATS: %d %q", resp.StatusCode, body)
	}
	if _, err := gatewaytest.TryDial(t, nodes[0].WSURL+"/c/dev", nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("handshake without NATS: %v, want a 503 refusal", err)
	}
	if code, body := post(t, nodes[0].HTTPURL, id2, "unroutable"); code != http.StatusInternalServerError {
		t.Errorf("POST to the other node's connection without NATS: %d %s, want 500", code, body)
	}
	if code, body := post(t, nodes[0].HTTPURL, id1, "local"); code != http.StatusOK {
		t.Errorf("POST to a local connection without NATS: %d %s", code, body)
	} else if got := c1.Read(); got != "local" {
		t.Errorf("read %q", got)
	}

	ns = startNATS()
	for _, n := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return n.ClusterStatus() == "" && len(n.ClusterNodes()) == 2 }, "a node did not come back")
	}
	for _, tc := range []struct {
		via  *gatewaytest.Gateway
		id   string
		c    *gatewaytest.Client
		what string
	}{{nodes[0], id2, c2, "1 to 2"}, {nodes[1], id1, c1, "2 to 1"}} {
		if code, body := post(t, tc.via.HTTPURL, tc.id, "back "+tc.what); code != http.StatusOK {
			t.Fatalf("POST %s after NATS returned: %d %s", tc.what, code, body)
		}
		if got := tc.c.Read(); got != "back "+tc.what {
			t.Fatalf("read %q", got)
		}
	}
}
