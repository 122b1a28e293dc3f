package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestClusterClaimerDiesMidClaim: node 1 dies with five connections; the survivor that claims its log
// runs their $disconnects at once, and is cut off from NATS for good while the backend holds the third
// to arrive, once the store has the claim's progress for the four others; the other survivor takes the
// claim over and runs the rest. Each connection gets exactly one $disconnect with 1006, but the one held
// when the claimer died, which may get two.
func TestClusterClaimerDiesMidClaim(t *testing.T) {
	const lostConns, heldAt = 5, 3
	release := make(chan struct{})
	var arrived atomic.Int32
	be := gatewaytest.NewBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/disconnect") && arrived.Add(1) == heldAt {
			select { // a slow backend: held until the test releases it or the caller gives up
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	defer close(release)
	cl := startClusterWith(t, be, clusterWith{logs: true, debug: true}) // the claim's progress is at debug level
	nodes, logs := cl.nodes, cl.logs
	_, lost := cl.dialN(t, nodes[0], lostConns)
	nodes[0].NATS().Close() // node 1 dies
	gatewaytest.Eventually(t, 20*time.Second, func() bool { return arrived.Load() >= heldAt }, "no survivor ran node 1's $disconnects")
	claimer := -1
	for i := 1; i < 3; i++ {
		if strings.Contains(logs[i].String(), "running the $disconnect of a dead node's connection") {
			claimer = i
		}
	}
	if claimer < 0 {
		t.Fatal("the $disconnects were held but no node logs running them")
	}
	other := 3 - claimer
	gatewaytest.Eventually(t, 20*time.Second, func() bool {
		return arrived.Load() == lostConns && strings.Contains(logs[claimer].String(), fmt.Sprintf("done=%d left=1", lostConns-1))
	}, "node %d did not run and record the $disconnects beside the held one", claimer+1)
	nodes[claimer].NATS().Close() // the claimer dies while the backend holds a $disconnect
	gatewaytest.Eventually(t, 30*time.Second, func() bool {
		return allDisconnected(be, lost) && strings.Contains(logs[other].String(), "claimed a dead node's connections")
	}, "node %d did not take node %d's claim over and run the remaining $disconnects (the backend has %v; node %d's log:\n%s)",
		other+1, claimer+1, lazy(func() string { return fmt.Sprint(disconnects(be)) }), other+1, logs[other])
	got := disconnects(be)
	twice := 0
	for _, id := range lost {
		for _, ev := range got[id] {
			if ev != "1006 127.0.0.1" {
				t.Errorf("connection %s: $disconnect event %q, want \"1006 127.0.0.1\"", id, ev)
			}
		}
		switch len(got[id]) {
		case 1:
		case 2:
			twice++
		default:
			t.Errorf("connection %s: %d $disconnect events", id, len(got[id]))
		}
	}
	if twice > 1 {
		t.Errorf("%d connections got two $disconnects; only the one in flight when the claimer died may", twice)
	}
	if !strings.Contains(logs[other].String(), "taking over a claim whose node is gone") {
		t.Errorf("node %d does not log the takeover", other+1)
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
