package membership

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/racebuild"
)

// maxRecordAllocs is what recording one connection and removing its record may allocate outside the
// writer (the store's own work is not counted): the create's op, its answer channel and the function
// that waits for it, the removal's op and its channel. Each clustered handshake and close pays it.
const maxRecordAllocs = 5

// A connection's record and its removal allocate no context, timer or map entry of their own: every
// clustered handshake paid a derived context with its timer and Done channel for the wait, a sync.Map
// entry for the record's subject, and its close a timer for the removal's wait.
func TestRecordAndForgetAllocations(t *testing.T) {
	m, err := New(connect(t, startServer(t)), Config{Node: 1, Heartbeat: testHeartbeat, Replicas: 1,
		Attach: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.member = true // not run: the writer's part is played below
	m.mu.Unlock()
	// The writer: every op queued is answered as stored, at once.
	w := m.writer
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ops []*logOp
		for {
			select {
			case <-stop:
				return
			case <-w.wake:
			}
			ops = w.take(ops[:0])
			for _, op := range ops {
				op.resolve(nil)
			}
		}
	})
	defer wg.Wait()
	defer close(stop)

	ctx, cancel := context.WithCancel(context.Background()) // as a request's context is
	defer cancel()
	record := make([]byte, 300)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "conn-" + strconv.Itoa(i)
	}
	i := 0
	forgotten := 0
	disconnect := func() { forgotten++ }
	cycle := func() {
		id := ids[i%len(ids)]
		i++
		if err := m.StartRecord(ctx, id, record)(); err != nil {
			t.Fatal(err)
		}
		m.Forget(ctx, id, disconnect)
	}
	cycle()
	n := testing.AllocsPerRun(500, cycle)
	limit := float64(maxRecordAllocs)
	if racebuild.Enabled {
		limit += 2 // pooled timers the race detector's sync.Pool drops
	}
	t.Logf("a record and its removal allocate %v times", n)
	if n > limit {
		t.Errorf("a record and its removal allocate %v times, want at most %v", n, limit)
	}
	if forgotten != 502 {
		t.Errorf("%d removals ran their $disconnect, want 502", forgotten)
	}
}
