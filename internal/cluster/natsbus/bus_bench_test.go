package natsbus

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cluster"
)

// BenchmarkRequest is one forwarded @connections call between two nodes on two routed servers (the
// cluster scenario's remote path without HTTP): one requester at a time, and 64 at once on this
// machine's cores. It reports the p50 and p99 of the round trip and the process's CPU per request
// (both nodes, both servers).
func BenchmarkRequest(b *testing.B) {
	servers := startRouted(b)
	c := &natsCluster{servers: servers, live: map[cluster.NodeID]bool{}}
	var buses []*Bus
	for _, node := range []cluster.NodeID{1, 2} {
		nc, err := Connect(ClientConfig{Embedded: servers[int(node)%len(servers)], Name: fmt.Sprintf("node-%d", node)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		bus, err := Attach(context.Background(), nc, node, func(_ context.Context, req []byte) ([]byte, error) {
			return req[:min(len(req), 16)], nil
		}, c)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = bus.Detach() })
		c.live[node] = true
		buses = append(buses, bus)
	}
	req := make([]byte, 200) // an @connections POST of a short message, as forwarded
	for _, bc := range []struct {
		name       string
		requesters int
	}{
		{"one requester", 1},
		{"64 requesters", 64},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lat := make([][]time.Duration, bc.requesters)
			var next sync.Mutex
			n := 0
			cpu0 := processCPU()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range bc.requesters {
				wg.Go(func() {
					for {
						next.Lock()
						if n == b.N {
							next.Unlock()
							return
						}
						n++
						next.Unlock()
						t0 := time.Now()
						if _, err := buses[0].Request(context.Background(), 2, req); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// processCPU returns the CPU time (user + system) the test process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
