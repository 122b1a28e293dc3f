package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestClusterNATSReturnsWithoutItsStore: two nodes on an external NATS server that restarts without its
// JetStream data (no persistent volume). The nodes create the store's buckets and streams again and
// recover by themselves: handshakes work again on both, and @connections calls through one node reach
// the other's connection opened before the loss.
func TestClusterNATSReturnsWithoutItsStore(t *testing.T) {
	addr := gatewaytest.ClusterAddrs(t, 1)[0]
	startNATS := func() *server.Server {
		s, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "external", ClientListen: addr, StoreDir: t.TempDir()})
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
			// Long heartbeats: the restart below must stay shorter than three of them.
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
	ns = startNATS() // the same address, an empty store
	for _, n := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return n.ClusterStatus() == "" && len(n.ClusterNodes()) == 2 }, "a node did not come back")
	}
	for i, n := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool {
			_, err := gatewaytest.TryDial(t, n.WSURL+"/c/dev", nil) // closed when the test ends
			return err == nil
		}, "handshakes are still refused on node "+string(rune('1'+i)))
	}
	for _, tc := range []struct {
		via  *gatewaytest.Gateway
		id   string
		c    *gatewaytest.Client
		what string
	}{{nodes[0], id2, c2, "1 to 2"}, {nodes[1], id1, c1, "2 to 1"}} {
		var code int
		var body string
		gatewaytest.Eventually(t, 30*time.Second, func() bool {
			code, body = post(t, tc.via.HTTPURL, tc.id, "back "+tc.what)
			return code == http.StatusOK
		}, "a POST "+tc.what+" after the store loss is not delivered")
		if got := tc.c.Read(); got != "back "+tc.what {
			t.Fatalf("read %q (last POST %d %s)", got, code, body)
		}
	}
}
