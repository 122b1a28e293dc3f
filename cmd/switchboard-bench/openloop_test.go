package main

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestOpenLoopLatencyFromDueTime runs the fixed-rate scheduler in a synctest bubble (its clock moves
// only when every goroutine waits, so the figures are exact) against requests that take a known time,
// and checks each latency against the schedule: a request that waited for a busy worker counts the
// wait from its due time, not from when it was sent.
func TestOpenLoopLatencyFromDueTime(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		workers int
		service time.Duration // how long each request takes
		warmup  time.Duration // from − start
		fail    func(i int) bool
		want    []time.Duration
		lag     []time.Duration // from due to sent
		failed  int
	}{
		{
			// One request a millisecond, each taking 3 ms on one worker: request i is answered at
			// 3(i+1) ms, i ms after it was due. Measured from when each was sent, all would be 3 ms.
			name: "one worker falling behind", workers: 1, service: 3 * ms,
			want: []time.Duration{3 * ms, 5 * ms, 7 * ms, 9 * ms, 11 * ms, 13 * ms, 15 * ms, 17 * ms, 19 * ms, 21 * ms},
			lag:  []time.Duration{0, 2 * ms, 4 * ms, 6 * ms, 8 * ms, 10 * ms, 12 * ms, 14 * ms, 16 * ms, 18 * ms},
		},
		{
			name: "enough workers keep up", workers: 4, service: 3 * ms,
			want: slices.Repeat([]time.Duration{3 * ms}, 10), lag: make([]time.Duration, 10),
		},
		{
			name: "requests faster than the schedule", workers: 1, service: ms / 2,
			want: slices.Repeat([]time.Duration{ms / 2}, 10), lag: make([]time.Duration, 10),
		},
		{
			// The warm-up's requests are sent (and delay the later ones) but not counted.
			name: "warm-up left out", workers: 1, service: 3 * ms, warmup: 5 * ms,
			want: []time.Duration{13 * ms, 15 * ms, 17 * ms, 19 * ms, 21 * ms},
			lag:  []time.Duration{10 * ms, 12 * ms, 14 * ms, 16 * ms, 18 * ms},
		},
		{
			name: "failures counted apart", workers: 4, service: 3 * ms, fail: func(i int) bool { return i%2 == 1 },
			want: slices.Repeat([]time.Duration{3 * ms}, 5), lag: make([]time.Duration, 5), failed: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				do := func(ctx context.Context, i int) bool {
					time.Sleep(tt.service)
					return tt.fail == nil || !tt.fail(i)
				}
				res, err := openLoop(t.Context(), 1000, start, start.Add(tt.warmup), start.Add(10*ms), tt.workers, do)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(res.Lat, tt.want) {
					t.Errorf("latencies %v, want %v", res.Lat, tt.want)
				}
				if !slices.Equal(res.Lag, tt.lag) {
					t.Errorf("lags %v, want %v", res.Lag, tt.lag)
				}
				if wantDue := len(tt.want) + tt.failed; res.Due != wantDue || res.Failed != tt.failed {
					t.Errorf("due %d, failed %d; want %d, %d", res.Due, res.Failed, wantDue, tt.failed)
				}
			})
		})
	}
}

// TestOpenLoopStopsWithItsContext checks that a run whose context ends returns its error instead of
// waiting out the schedule.
func TestOpenLoopStopsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		calls := 0
		do := func(context.Context, int) bool {
			calls++
			if calls == 3 {
				cancel()
			}
			return true
		}
		res, err := openLoop(ctx, 1000, start, start, start.Add(time.Hour), 1, do)
		if err != context.Canceled {
			t.Fatalf("err %v, want context.Canceled", err)
		}
		if res.Due != 3 {
			t.Errorf("%d requests counted after the context ended at the third, want 3", res.Due)
		}
	})
}
