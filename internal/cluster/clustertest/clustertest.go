// Package clustertest is the conformance suite every cluster.Bus implementation passes: the same
// tests run against membus and natsbus, so the gateway can count on one behaviour from either.
package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cluster"
)

// Cluster is one fresh cluster of an implementation under test.
type Cluster interface {
	// Attach joins node to the cluster with handler; it returns the node's bus and a function that
	// detaches it. The node must be reachable from every other attached node when Attach returns.
	Attach(t *testing.T, node cluster.NodeID, handler cluster.Handler) (cluster.Bus, func())
}

// Run runs the conformance suite; newCluster makes a fresh, empty cluster for each test.
func Run(t *testing.T, newCluster func(t *testing.T) Cluster) {
	echo := func(name string) cluster.Handler {
		return func(_ context.Context, req []byte) ([]byte, error) {
			return append([]byte(name+":"), req...), nil
		}
	}
	t.Run("request reaches the owner and returns its reply", func(t *testing.T) {
		c := newCluster(t)
		bus1, _ := c.Attach(t, 1, echo("n1"))
		bus2, _ := c.Attach(t, 2, echo("n2"))
		for _, tc := range []struct {
			name string
			bus  cluster.Bus
			to   cluster.NodeID
			want string
		}{
			{"1 to 2", bus1, 2, "n2:hi"},
			{"2 to 1", bus2, 1, "n1:hi"},
			{"1 to itself", bus1, 1, "n1:hi"},
		} {
			got, err := tc.bus.Request(ctx(t), tc.to, []byte("hi"))
			if err != nil || string(got) != tc.want {
				t.Errorf("%s: Request = %q, %v; want %q", tc.name, got, err, tc.want)
			}
		}
	})
	t.Run("payloads up to 128 KiB of any bytes arrive intact", func(t *testing.T) {
		c := newCluster(t)
		bus, _ := c.Attach(t, 1, echo("n1"))
		c.Attach(t, 2, func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
		for _, size := range []int{0, 1, 4096, 128 << 10} {
			req := make([]byte, size)
			for i := range req {
				req[i] = byte(i * 7)
			}
			got, err := bus.Request(ctx(t), 2, req)
			if err != nil || !bytes.Equal(got, req) {
				t.Errorf("size %d: got %d bytes, err %v", size, len(got), err)
			}
		}
	})
	t.Run("a node nobody attached answers ErrNoNode", func(t *testing.T) {
		c := newCluster(t)
		bus, _ := c.Attach(t, 1, echo("n1"))
		if _, err := bus.Request(ctx(t), 9, []byte("x")); !errors.Is(err, cluster.ErrNoNode) {
			t.Fatalf("err = %v, want ErrNoNode", err)
		}
	})
	t.Run("a detached node answers ErrNoNode", func(t *testing.T) {
		c := newCluster(t)
		bus, _ := c.Attach(t, 1, echo("n1"))
		_, detach := c.Attach(t, 2, echo("n2"))
		if _, err := bus.Request(ctx(t), 2, nil); err != nil {
			t.Fatalf("before detach: %v", err)
		}
		detach()
		if _, err := bus.Request(ctx(t), 2, nil); !errors.Is(err, cluster.ErrNoNode) {
			t.Fatalf("after detach: err = %v, want ErrNoNode", err)
		}
	})
	t.Run("a handler's error reaches the caller and is not ErrNoNode", func(t *testing.T) {
		c := newCluster(t)
		bus, _ := c.Attach(t, 1, echo("n1"))
		c.Attach(t, 2, func(context.Context, []byte) ([]byte, error) { return nil, errors.New("bad request body") })
		_, err := bus.Request(ctx(t), 2, []byte("x"))
		if err == nil || errors.Is(err, cluster.ErrNoNode) || !bytes.Contains([]byte(err.Error()), []byte("bad request body")) {
			t.Fatalf("err = %v, want the handler's error", err)
		}
	})
	t.Run("an ended context ends the request", func(t *testing.T) {
		c := newCluster(t)
		bus, _ := c.Attach(t, 1, echo("n1"))
		c.Attach(t, 2, echo("n2"))
		cctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := bus.Request(cctx, 2, []byte("x")); err == nil {
			t.Fatal("a request with a cancelled context succeeded")
		}
	})
	t.Run("concurrent requests each get their own reply", func(t *testing.T) {
		c := newCluster(t)
		bus, _ := c.Attach(t, 1, echo("n1"))
		c.Attach(t, 2, echo("n2"))
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Go(func() {
				msg := fmt.Sprintf("m%d", i)
				got, err := bus.Request(ctx(t), 2, []byte(msg))
				if err != nil || string(got) != "n2:"+msg {
					errs <- fmt.Errorf("request %d: %q, %v", i, got, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("a request being answered slowly holds up no other request to the same node", func(t *testing.T) {
		c := newCluster(t)
		bus, _ := c.Attach(t, 1, echo("n1"))
		started, release := make(chan struct{}), make(chan struct{})
		c.Attach(t, 2, func(_ context.Context, req []byte) ([]byte, error) {
			if string(req) != "slow" {
				return append([]byte("n2:"), req...), nil
			}
			close(started)
			<-release // the test releases it once the quick requests are done, answered or not
			return []byte("n2:slow"), nil
		})
		slow := make(chan error, 1)
		go func() {
			got, err := bus.Request(ctx(t), 2, []byte("slow"))
			if err == nil && string(got) != "n2:slow" {
				err = fmt.Errorf("reply %q", got)
			}
			slow <- err
		}()
		<-started
		// Every quick request must be answered while the slow one is still held: with one request
		// answered at a time they would wait for it until their context ends.
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Go(func() {
				msg := fmt.Sprintf("q%d", i)
				if got, err := bus.Request(ctx(t), 2, []byte(msg)); err != nil || string(got) != "n2:"+msg {
					errs <- fmt.Errorf("quick request %d while another is held: %q, %v", i, got, err)
				}
			})
		}
		wg.Wait()
		close(release)
		if err := <-slow; err != nil {
			t.Errorf("the slow request: %v", err)
		}
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}
