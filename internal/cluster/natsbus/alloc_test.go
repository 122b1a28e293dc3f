package natsbus

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/racebuild"
)

// maxAllocsPerRequest bounds the heap allocations of one forwarded call between two nodes on one
// embedded server, counted over the whole process: both buses, both nats.go connections and the
// server. A call made 37 (33 with a deadline) before the bus stopped deriving a context and a timer
// for every request and every answer, reused its reply channels and timers, cached its subjects and
// dropped the in-process pipe's write deadlines; 22–23 after.
const maxAllocsPerRequest = 28

// TestRequestAllocations holds the allocations of one forwarded call under maxAllocsPerRequest, with
// a requester context that has no deadline (an @connections call's, bounded by DefaultTimeout) and one
// that has.
func TestRequestAllocations(t *testing.T) {
	c := &natsCluster{servers: []*server.Server{startServer(t, EmbeddedConfig{Name: "solo"})}, live: map[cluster.NodeID]bool{}}
	bus, _ := c.Attach(t, 1, func(context.Context, []byte) ([]byte, error) { return nil, nil })
	c.Attach(t, 2, func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	req := make([]byte, 200)
	dctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"no deadline", context.Background()},
		{"a deadline", dctx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(2000, func() {
				if _, e := bus.(*Bus).Request(tc.ctx, 2, req); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			limit := float64(maxAllocsPerRequest)
			if racebuild.Enabled {
				limit += 3
			}
			t.Logf("%.1f allocations per forwarded call", allocs)
			if allocs > limit {
				t.Errorf("%.1f allocations per forwarded call, want at most %v", allocs, limit)
			}
		})
	}
}

// TestAnswerContext checks the forwarded request's context against context.WithTimeout's behaviour:
// no error while the handler runs, Done closed with context.Canceled once it has returned, and
// context.DeadlineExceeded at DefaultTimeout, whether Done was asked for before or after.
func TestAnswerContext(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, c *answerCtx) error // what the handler does; returns the error it saw
		want error                                  // Err once the handler has returned
	}{
		{
			name: "handler that never looks",
			run:  func(*testing.T, *answerCtx) error { return nil },
			want: context.Canceled,
		},
		{
			name: "handler waiting for its deadline",
			run: func(_ *testing.T, c *answerCtx) error {
				<-c.Done()
				return c.Err()
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "handler that asks for Done after the deadline",
			run: func(_ *testing.T, c *answerCtx) error {
				time.Sleep(DefaultTimeout)
				err := c.Err()
				<-c.Done()
				return err
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "handler that leaves a goroutine waiting on Done",
			run: func(t *testing.T, c *answerCtx) error {
				go func() { <-c.Done() }() // released by the cancel after the handler returns
				if err := c.Err(); err != nil {
					t.Errorf("Err while the handler runs: %v", err)
				}
				return nil
			},
			want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := &answerCtx{deadline: time.Now().Add(DefaultTimeout)}
				if d, ok := c.Deadline(); !ok || !d.Equal(time.Now().Add(DefaultTimeout)) {
					t.Errorf("Deadline %v, %v", d, ok)
				}
				seen := tt.run(t, c)
				c.cancel()
				if tt.want == context.DeadlineExceeded && seen != tt.want {
					t.Errorf("the handler saw %v, want %v", seen, tt.want)
				}
				select {
				case <-c.Done():
				default:
					t.Fatal("Done not closed after the handler returned")
				}
				if err := c.Err(); err != tt.want {
					t.Errorf("Err %v, want %v", err, tt.want)
				}
				synctest.Wait() // a goroutine left waiting on Done has returned
			})
		})
	}
}
