package edge

import (
	"context"
	"time"
)

// Pacing of the shutdown drain. Closing every connection in the same instant sends every client back
// at once — to the other nodes, or to this one when it restarts — and runs every $disconnect together;
// the NATS server's lame-duck mode spreads its closes for the same reason. The drain closes in batches
// one drainTick apart, spread over the first half of the time left before the shutdown deadline (the
// second half is for the last batches' $disconnect events and in-flight work), but never fewer than
// minDrainBatch connections per tick, so a small gateway still stops at once.
const (
	drainTick     = 50 * time.Millisecond
	minDrainBatch = 50
)

// drainPlan says how to close n connections within window: batch of them every drainTick.
func drainPlan(n int, window time.Duration) (batch int) {
	ticks := int(window / drainTick)
	if ticks < 1 {
		return n
	}
	batch = (n + ticks - 1) / ticks
	return max(batch, minDrainBatch)
}

// closePaced calls goAway(i) for every i in [0, n), batch by batch as drainPlan says; once ctx ends, the
// rest go at once.
func closePaced(ctx context.Context, n int, window time.Duration, goAway func(i int)) {
	batch := drainPlan(n, window)
	t := time.NewTimer(drainTick)
	defer t.Stop()
	for i := range n {
		if i > 0 && i%batch == 0 && ctx.Err() == nil {
			t.Reset(drainTick)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		goAway(i)
	}
}

// goAwayPaced tells every session to go away, paced, and says how in the log.
func (e *Edge) goAwayPaced(ctx context.Context, sessions []*session) {
	if len(sessions) == 0 {
		return
	}
	window := drainWindow(ctx)
	batch := drainPlan(len(sessions), window)
	if e.log != nil {
		e.log.Info("closing connections with 1001 Going away", "connections", len(sessions), "batch", batch,
			"every", drainTick, "batches", (len(sessions)+batch-1)/batch)
	}
	closePaced(ctx, len(sessions), window, func(i int) { sessions[i].goAway() })
}

// drainWindow is the time the drain spreads its closes over: half of what is left before ctx's
// deadline, or nothing (all at once) without one.
func drainWindow(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return time.Until(deadline) / 2
}
