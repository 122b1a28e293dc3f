package gatewaytest

import (
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// ClusterAddrs reserves n loopback addresses for embedded NATS servers' cluster ports.
func ClusterAddrs(t testing.TB, n int) []string {
	t.Helper()
	out, err := loopbackport.Reserve(n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EmbeddedCluster returns the ClusterOptions of node i (0-based) of a cluster whose embedded NATS
// servers listen on addrs and route to each other.
func EmbeddedCluster(t testing.TB, addrs []string, i int) *gateway.ClusterOptions {
	var routes []string
	for j, a := range addrs {
		if j != i {
			routes = append(routes, a)
		}
	}
	return &gateway.ClusterOptions{NATS: gateway.EmbeddedNATS, Listen: addrs[i], Routes: routes, StoreDir: t.TempDir()}
}

// StartCluster runs one gateway per address of addrs, node IDs 1…n, each with an embedded NATS server
// routed to the others, and waits until every node answers /readyz-ready (joined the cluster).
func StartCluster(t testing.TB, yamlConfig string, addrs []string, opts ...func(*gateway.Options)) []*Gateway {
	t.Helper()
	var out []*Gateway
	for i := range addrs {
		o := append([]func(*gateway.Options){func(o *gateway.Options) {
			o.Node = cluster.NodeID(i + 1)
			o.Cluster = EmbeddedCluster(t, addrs, i)
		}}, opts...)
		out = append(out, Start(t, yamlConfig, o...))
	}
	for _, g := range out {
		Eventually(t, 30*time.Second, func() bool { return g.ClusterStatus() == "" && len(g.ClusterNodes()) == len(addrs) },
			"a node did not join the cluster or does not see every node")
	}
	return out
}
