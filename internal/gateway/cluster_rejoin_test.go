package gateway_test

import (
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestClusterNodeRestartLeavesOthersConnections: node 3 restarts (SIGTERM, then started again, as in a
// rolling upgrade) while nodes 1 and 2 hold connections. Joining again, it must not take their
// connection logs for a dead node's: no $disconnect runs for them, and they keep being served from every
// node, the restarted one included.
func TestClusterNodeRestartLeavesOthersConnections(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	cl := startClusterWith(t, be, clusterWith{})
	clients, ids := cl.dialEach(t, cl.nodes[:2])
	cl.restart(t, 2) // the same node ID, cluster address and store: a new incarnation
	cl.waitJoined(t, "the restarted node did not join again, or a node does not see it")
	postEveryWay(t, cl.nodes, clients, ids, "after node 3 restarted")
	if got := disconnects(be); len(got) != 0 {
		t.Fatalf("$disconnect ran for live connections when node 3 joined again: %q", got)
	}
}
