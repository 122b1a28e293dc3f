package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestClusterNATSReturnsWithoutItsStore: two nodes on an external NATS server that restarts without its
// JetStream data (no persistent volume). The nodes create the store's buckets and streams again and
// recover by themselves: handshakes work again on both, and @connections calls through one node reach
// the other's connection opened before the loss.
func TestClusterNATSReturnsWithoutItsStore(t *testing.T) {
	ns := startNATS(t)
	// Long heartbeats: the restart below must stay shorter than three of them.
	cl := startClusterWith(t, gatewaytest.NewBackend(t, nil), clusterWith{nats: []string{ns.url(), ns.url()}, heartbeat: 5 * time.Second})
	nodes := cl.nodes
	c1, id1 := cl.dial(t, nodes[0])
	c2, id2 := cl.dial(t, nodes[1])

	ns.stop()
	ns.start(t, t.TempDir()) // the same address, an empty store
	cl.waitJoined(t, "a node did not come back")
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
