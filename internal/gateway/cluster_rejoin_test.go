package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestClusterNodeRestartLeavesOthersConnections: node 3 restarts (SIGTERM, then started again, as in a
// rolling upgrade) while nodes 1 and 2 hold connections. Joining again, it must not take their
// connection logs for a dead node's: no $disconnect runs for them, and they keep being served from every
// node, the restarted one included.
func TestClusterNodeRestartLeavesOthersConnections(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	addrs := gatewaytest.ClusterAddrs(t, 3)
	opts := make([]*gateway.ClusterOptions, len(addrs))
	start := func(i int) *gatewaytest.Gateway {
		return gatewaytest.Start(t, clusterAPI(be), func(o *gateway.Options) {
			o.Node = cluster.NodeID(i + 1)
			o.Cluster = opts[i]
		})
	}
	var nodes []*gatewaytest.Gateway
	for i := range addrs {
		opts[i] = gatewaytest.EmbeddedCluster(t, addrs, i)
		nodes = append(nodes, start(i))
	}
	for _, g := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return g.ClusterStatus() == "" && len(g.ClusterNodes()) == 3 },
			"a node did not join the cluster or does not see every node")
	}
	seen := map[string]bool{}
	var clients []*gatewaytest.Client
	var ids []string
	for _, n := range nodes[:2] {
		clients = append(clients, gatewaytest.Dial(t, n.WSURL+"/c/dev", nil))
		ids = append(ids, connIDOf(t, be, seen))
	}
	if err := nodes[2].Stop(); err != nil {
		t.Fatalf("stop node 3: %v", err)
	}
	nodes[2] = start(2) // the same node ID, cluster address and store: a new incarnation
	for _, g := range nodes {
		gatewaytest.Eventually(t, 30*time.Second, func() bool { return g.ClusterStatus() == "" && len(g.ClusterNodes()) == 3 },
			"the restarted node did not join again, or a node does not see it")
	}
	for i, id := range ids {
		for j, via := range nodes {
			if code, body := post(t, via.HTTPURL, id, "after the restart"); code != http.StatusOK {
				t.Fatalf("POST via node %d to node %d's connection after node 3 restarted: %d %s", j+1, i+1, code, body)
			}
			if got := clients[i].Read(); got != "after the restart" {
				t.Fatalf("client of node %d: read %q", i+1, got)
			}
		}
	}
	if got := disconnects(be); len(got) != 0 {
		t.Fatalf("$disconnect ran for live connections when node 3 joined again: %q", got)
	}
}
