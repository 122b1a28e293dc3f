package main

// A fixed-rate (open-loop) load generator. A closed loop of N clients sends the next request when the
// previous one is answered, so each path runs at its own saturation and a slow answer delays the
// requests behind it without their latency showing it (coordinated omission). Here request i is due at
// start + i/rate whatever happened before, and a request that had to wait for a free worker counts
// the wait in its latency, from its due time.

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// openLoopResult is what one fixed-rate run measured.
type openLoopResult struct {
	// Lat are the latencies, sorted, of the requests due in the measured interval that succeeded, each
	// to its answer from its due time if every worker was busy then, from its sending otherwise.
	Lat []time.Duration
	// Lag are the same requests' waits, sorted, from their due time to their sending: every worker busy
	// (counted in Lat) or the client's timer waking late (not counted).
	Lag []time.Duration
	// Due is how many requests were due in the measured interval; Failed how many of them did not
	// succeed.
	Due, Failed int
}

// openLoop calls do for requests due at start + i/rate (i = 0, 1, …) until end, on at most workers
// goroutines at once (each request to the first free one, in order), and measures those due at or
// after from (the ones before are the warm-up). A request waits for a free worker when all are busy,
// so when the answers fall behind the schedule the wait shows in the latencies instead of slowing the
// schedule down. It returns once every request due before end is answered, or ctx ends (then the
// figures are incomplete and ctx's error is returned).
func openLoop(ctx context.Context, rate float64, start, from, end time.Time, workers int, do func(ctx context.Context, i int) bool) (*openLoopResult, error) {
	period := time.Duration(float64(time.Second) / rate)
	// Each worker takes the next request in the schedule and sends it at its due time (or at once, when
	// it is already late): no goroutine hands requests over, so the client adds one timer's wake-up.
	var next atomic.Int64
	type tally struct {
		lat, lag    []time.Duration
		due, failed int
	}
	out := make([]tally, workers)
	var wg sync.WaitGroup
	for w := range out {
		wg.Go(func() {
			t := &out[w]
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				due := start.Add(time.Duration(i) * period)
				if !due.Before(end) {
					return
				}
				// A request taken before it is due is measured from when it is sent: the timer waking
				// late (on an idle Go process, by up to a millisecond) is the client's doing. One taken
				// late, because every worker was busy until then, is measured from its due time.
				measureFrom := due
				if wait := time.Until(due); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
					measureFrom = time.Now()
				}
				lag := time.Since(due)
				ok := do(ctx, i)
				lat := time.Since(measureFrom)
				if due.Before(from) {
					continue
				}
				t.due++
				if !ok {
					t.failed++
					continue
				}
				t.lat, t.lag = append(t.lat, lat), append(t.lag, lag)
			}
		})
	}
	wg.Wait()
	res := &openLoopResult{}
	for _, t := range out {
		res.Lat, res.Lag = append(res.Lat, t.lat...), append(res.Lag, t.lag...)
		res.Due += t.due
		res.Failed += t.failed
	}
	slices.Sort(res.Lat)
	slices.Sort(res.Lag)
	return res, ctx.Err()
}
