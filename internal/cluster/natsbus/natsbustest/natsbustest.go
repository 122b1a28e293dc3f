// Package natsbustest starts embedded NATS servers for tests and benchmarks: several joined by routes
// into one cluster, as the embedded servers of as many Switchboard nodes are.
package natsbustest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// StartRouted starts n embedded NATS servers with JetStream (named s1, s2, …), each with its store in a
// directory of its own and routes to every other one, and waits up to 20 s until each is routed to
// every other (natsbus.RoutedPeers). They are shut down when the test ends. (natsbus's own tests, which this
// package's import of natsbus keeps from using it, start theirs the same way.)
func StartRouted(tb testing.TB, n int) []*server.Server {
	tb.Helper()
	addrs, err := loopbackport.Reserve(n)
	if err != nil {
		tb.Fatal(err)
	}
	servers := make([]*server.Server, 0, n)
	for i, a := range addrs {
		routes := slices.Delete(slices.Clone(addrs), i, i+1)
		s, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: fmt.Sprintf("s%d", i+1), ClusterListen: a, Routes: routes, StoreDir: tb.TempDir()})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range servers {
		for natsbus.RoutedPeers(s) < n-1 {
			if time.Now().After(deadline) {
				tb.Fatalf("server %s is routed to %d other servers of %d after 20s", s.Name(), natsbus.RoutedPeers(s), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return servers
}
