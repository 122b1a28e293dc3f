package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestClusterDuplicateNodeID starts a fourth node with node 1's ID (and its own embedded server routed
// to the others): it never becomes a member and says why, and the three nodes keep serving each
// other's connections, node 1's included.
func TestClusterDuplicateNodeID(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	addrs := gatewaytest.ClusterAddrs(t, 4)
	nodes := gatewaytest.StartCluster(t, clusterAPI(be), addrs[:3])
	seen := map[string]bool{}
	var clients []*gatewaytest.Client
	var ids []string
	for _, n := range nodes {
		clients = append(clients, gatewaytest.Dial(t, n.WSURL+"/c/dev", nil))
		ids = append(ids, connIDOf(t, be, seen))
	}
	dup := gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
		o.Node = 1
		o.Cluster = gatewaytest.EmbeddedCluster(t, addrs, 3)
	})
	for i, id := range ids {
		for j, via := range nodes {
			if code, body := post(t, via.HTTPURL, id, "still one node 1"); code != http.StatusOK {
				t.Fatalf("POST via node %d to node %d's connection with a duplicate of node 1 around: %d %s", j+1, i+1, code, body)
			}
			if got := clients[i].Read(); got != "still one node 1" {
				t.Fatalf("client of node %d: read %q", i+1, got)
			}
		}
	}
	for i, n := range nodes {
		if why := n.ClusterStatus(); why != "" || len(n.ClusterNodes()) != 3 {
			t.Errorf("node %d with a duplicate of node 1 around: status %q, members %v", i+1, why, n.ClusterNodes())
		}
	}
	// The duplicate must say why it is not a member; poll until it has had time to try.
	gatewaytest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(dup.ClusterStatus(), "switchboard-node-1") }, "the duplicate node's status never names the taken ID: %q", dup.ClusterStatus())
	if _, err := gatewaytest.TryDial(t, dup.WSURL+"/c/dev", nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("handshake on the duplicate node: %v, want a 503 refusal", err)
	}
	if got := disconnects(be); len(got) != 0 {
		t.Fatalf("$disconnect ran for live connections when a duplicate of node 1 started: %q", got)
	}
}

// TestClusterNATSDownAtStart starts a node whose external NATS does not answer yet: it runs, says so
// on /readyz, refuses handshakes with 503 and answers @connections to another node's connection with
// a 500 at once; when NATS comes up it joins without a restart.
func TestClusterNATSDownAtStart(t *testing.T) {
	addr := gatewaytest.ClusterAddrs(t, 1)[0]
	be := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
		o.Node = 1
		o.MetricsListen = "127.0.0.1:0"
		o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr}
	})
	if why := g.ClusterStatus(); !strings.Contains(why, "NATS") {
		t.Errorf("status with NATS down at start: %q, want it to name NATS", why)
	}
	resp, err := http.Get("http://" + g.MetricsAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "NATS") {
		t.Errorf("/readyz with NATS down at start: %d %q", resp.StatusCode, body)
	}
	if _, err := gatewaytest.TryDial(t, g.WSURL+"/c/dev", nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("handshake with NATS down at start: %v, want a 503 refusal", err)
	}
	remote := awsid.NewConnectionID(2)
	if code, body := post(t, g.HTTPURL, remote, "x"); code != http.StatusInternalServerError || !strings.Contains(body, "message") {
		t.Errorf("POST to another node's connection with NATS down at start: %d %s, want an AWS-shaped 500", code, body)
	}

	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "external", ClientListen: addr, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return g.ClusterStatus() == "" }, "the node did not join once NATS came up: %q", g.ClusterStatus())
	other := gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
		o.Node = 2
		o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr}
	})
	gatewaytest.Eventually(t, 30*time.Second, func() bool { return other.ClusterStatus() == "" && len(g.ClusterNodes()) == 2 }, "the second node did not join")
	seen := map[string]bool{}
	c := gatewaytest.Dial(t, other.WSURL+"/c/dev", nil)
	id := connIDOf(t, be, seen)
	if code, body := post(t, g.HTTPURL, id, "joined"); code != http.StatusOK {
		t.Fatalf("POST through the node that started without NATS: %d %s", code, body)
	}
	if got := c.Read(); got != "joined" {
		t.Fatalf("read %q", got)
	}
}
