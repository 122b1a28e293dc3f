package edge

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// Drain closes in batches paced over the first half of the time left before the deadline, at least 50
// a tick, and the rest at once when the deadline passes. Sessions without a socket yet record the
// go-away, which is what is counted here; synctest's clock makes the schedule exact.
func TestDrainPacesCloses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		grace time.Duration
		// want is how many have been told to go away at 0, 50 ms, 100 ms, … after the drain began.
		want []int
	}{
		// 10,000 over 5 s: 100 ticks of 100.
		{"ten thousand over a 10 s grace", 10000, 10 * time.Second, []int{100, 200, 300}},
		// 2,000 over 1 s would be 100 a tick; more than 50, so 100.
		{"two thousand over a 2 s grace", 2000, 2 * time.Second, []int{100, 200, 300}},
		// 120 over 5 s would be 2 a tick: 50 a tick instead, so a small gateway stops at once.
		{"a few over a long grace", 120, 10 * time.Second, []int{50, 100, 120, 120}},
		{"fewer than a batch", 10, 10 * time.Second, []int{10, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := &Edge{live: map[*session]struct{}{}, drained: make(chan struct{})}
				sessions := make([]*session, tc.n)
				for i := range sessions {
					sessions[i] = &session{edge: e}
					e.live[sessions[i]] = struct{}{}
				}
				ctx, cancel := context.WithTimeout(context.Background(), tc.grace)
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- e.Drain(ctx) }()
				var got []int
				for range tc.want {
					synctest.Wait()
					gone := 0
					for _, s := range sessions {
						s.mu.Lock()
						if s.going {
							gone++
						}
						s.mu.Unlock()
					}
					got = append(got, gone)
					time.Sleep(drainTick)
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("told to go away at 0, 50 ms, …: %v, want %v", got, tc.want)
				}
				// Nothing untracks these sessions: the drain ends at the deadline, every one told.
				if err := <-done; err == nil {
					t.Error("Drain returned nil with sessions still open")
				}
				for i, s := range sessions {
					if !s.going {
						t.Fatalf("session %d never told to go away", i)
					}
				}
			})
		})
	}
}

// When the deadline passes mid-drain, the sessions not yet told are told at once.
func TestDrainClosesTheRestAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := &Edge{live: map[*session]struct{}{}, drained: make(chan struct{})}
		sessions := make([]*session, 10000)
		for i := range sessions {
			sessions[i] = &session{edge: e}
			e.live[sessions[i]] = struct{}{}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		done := make(chan error, 1)
		go func() { done <- e.Drain(ctx) }()
		time.Sleep(2 * drainTick)
		synctest.Wait()
		cancel()
		<-done
		for i, s := range sessions {
			if !s.going {
				t.Fatalf("session %d never told to go away", i)
			}
		}
	})
}
