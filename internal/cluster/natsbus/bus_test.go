package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/clustertest"
	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// natsCluster attaches each node with its own connection, to servers in turn (one server, or three
// joined by routes), and tells the buses which nodes are attached.
type natsCluster struct {
	servers []*server.Server
	mu      sync.Mutex
	live    map[cluster.NodeID]bool
}

func (c *natsCluster) Alive(n cluster.NodeID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live[n]
}

func (c *natsCluster) Attach(t *testing.T, node cluster.NodeID, h cluster.Handler) (cluster.Bus, func()) {
	t.Helper()
	srv := c.servers[int(node)%len(c.servers)]
	nc, err := Connect(ClientConfig{Embedded: srv, Name: fmt.Sprintf("node-%d", node)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := Attach(context.Background(), nc, node, h, c)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.live[node] = true
	c.mu.Unlock()
	return bus, func() {
		c.mu.Lock()
		delete(c.live, node)
		c.mu.Unlock()
		if err := bus.Detach(); err != nil {
			t.Error(err)
		}
	}
}

// idle is the handler of a node that is only asked, never answers anything of note.
func idle(context.Context, []byte) ([]byte, error) { return nil, nil }

// attach attaches node's bus to nc, detached when the test ends.
func attach(t *testing.T, nc *nats.Conn, node cluster.NodeID, h cluster.Handler, alive Liveness) *Bus {
	t.Helper()
	bus, err := Attach(context.Background(), nc, node, h, alive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Detach() })
	return bus
}

// stopAndWaitDisconnected stops s and waits up to 10 s until nc says it is not connected; false if it
// still says so.
func stopAndWaitDisconnected(s *server.Server, nc *nats.Conn) bool {
	s.Shutdown()
	s.WaitForShutdown()
	deadline := time.Now().Add(10 * time.Second)
	for nc.IsConnected() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func startServer(t testing.TB, cfg EmbeddedConfig) *server.Server {
	t.Helper()
	cfg.StoreDir = t.TempDir()
	s, err := StartEmbedded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// freeAddrs reserves n loopback ports for cluster routes.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	out, err := loopbackport.Reserve(n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// startRouted starts three embedded servers joined by routes and waits until each is routed to the
// other two (natsbustest.StartRouted's twin, which imports this package).
func startRouted(t testing.TB) []*server.Server {
	t.Helper()
	addrs := freeAddrs(t, 3)
	var out []*server.Server
	for i, a := range addrs {
		var routes []string
		for j, b := range addrs {
			if j != i {
				routes = append(routes, b)
			}
		}
		out = append(out, startServer(t, EmbeddedConfig{Name: fmt.Sprintf("s%d", i+1), ClusterListen: a, Routes: routes}))
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range out {
		for RoutedPeers(s) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("server %s is routed to %d other servers after 20s", s.Name(), RoutedPeers(s))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

func TestConformanceOneServer(t *testing.T) {
	clustertest.Run(t, func(t *testing.T) clustertest.Cluster {
		return &natsCluster{servers: []*server.Server{startServer(t, EmbeddedConfig{Name: "solo"})}, live: map[cluster.NodeID]bool{}}
	})
}

// RoutedPeers counts the other servers a server is routed to, not its route connections, of which
// there are several per peer: three routed servers each have two peers, and more route connections.
func TestRoutedPeersCountsServers(t *testing.T) {
	for _, s := range startRouted(t) {
		if got := RoutedPeers(s); got != 2 {
			t.Errorf("server %s: RoutedPeers = %d, want 2 (route connections: %d)", s.Name(), got, s.NumRoutes())
		}
	}
}

func TestConformanceThreeRoutedServers(t *testing.T) {
	clustertest.Run(t, func(t *testing.T) clustertest.Cluster {
		return &natsCluster{servers: startRouted(t), live: map[cluster.NodeID]bool{}}
	})
}

// A node cut off from NATS answers at once with ErrUnavailable, never waits, and never says the
// connection is gone.
func TestDisconnectedNodeFailsFast(t *testing.T) {
	s := startServer(t, EmbeddedConfig{Name: "solo"})
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	alive := &natsCluster{live: map[cluster.NodeID]bool{2: true}}
	bus := attach(t, nc, 1, idle, alive)
	if !stopAndWaitDisconnected(s, nc) {
		t.Fatal("the client still says it is connected 10s after the server stopped")
	}
	// Node 3 is not listed, as every node soon is not for a node that hears no heartbeats: still
	// unreachable, not gone.
	for _, node := range []cluster.NodeID{2, 3} {
		_, err = bus.Request(context.Background(), node, []byte("x"))
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, cluster.ErrNoNode) {
			t.Fatalf("request node %d: err = %v, want ErrUnavailable", node, err)
		}
	}
}

// A node the membership does not list is gone (ErrNoNode) only when this node's own view is current
// (Alive of its own ID): a node whose heartbeats are not stored hears nobody's and answers
// ErrUnavailable.
func TestUnlistedNodeIsGoneOnlyToACurrentMember(t *testing.T) {
	s := startServer(t, EmbeddedConfig{Name: "solo"})
	nc, err := Connect(ClientConfig{Embedded: s})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, tc := range []struct {
		name string
		live map[cluster.NodeID]bool
		want error
	}{
		{"this node a current member", map[cluster.NodeID]bool{1: true}, cluster.ErrNoNode},
		{"this node not a current member", map[cluster.NodeID]bool{}, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus, err := Attach(context.Background(), nc, 1, func(context.Context, []byte) ([]byte, error) { return nil, nil }, &natsCluster{live: tc.live})
			if err != nil {
				t.Fatal(err)
			}
			defer bus.Detach()
			if _, err := bus.Request(context.Background(), 3, []byte("x")); !errors.Is(err, tc.want) {
				t.Fatalf("request an unlisted node: err = %v, want %v", err, tc.want)
			}
		})
	}
}

// A node the membership believes alive but that has no subscriber is retried until the deadline, then
// ErrUnavailable: not 410, since its connections may exist.
func TestAliveWithoutSubscriberIsUnavailable(t *testing.T) {
	s := startServer(t, EmbeddedConfig{Name: "solo"})
	nc, err := Connect(ClientConfig{Embedded: s})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	alive := &natsCluster{live: map[cluster.NodeID]bool{2: true}}
	bus := attach(t, nc, 1, idle, alive)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = bus.Request(ctx, 2, []byte("x"))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"URL without scheme", func() error { _, err := Connect(ClientConfig{URLs: "localhost:4222"}); return err }},
		{"empty URL list", func() error { _, err := Connect(ClientConfig{URLs: " "}); return err }},
		{"certificate without key", func() error {
			_, err := Connect(ClientConfig{URLs: "nats://127.0.0.1:1", CertFile: "c.pem"})
			return err
		}},
		{"missing nkey seed file", func() error {
			_, err := Connect(ClientConfig{URLs: "nats://127.0.0.1:1", NKeySeedFile: "/nonexistent/seed"})
			return err
		}},
		{"routes without a cluster listen address", func() error {
			_, err := StartEmbedded(EmbeddedConfig{Name: "x", Routes: []string{"127.0.0.1:1"}})
			return err
		}},
		{"bad cluster listen address", func() error {
			_, err := StartEmbedded(EmbeddedConfig{Name: "x", ClusterListen: "nohostport"})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.err(); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// A node that leaves answers the requests it has already taken before its connection closes: Detach
// waits for them, so the gateway's close (Detach, then close the connection) loses no reply.
func TestDetachAnswersTheRequestsInFlight(t *testing.T) {
	servers := startRouted(t)
	c := &natsCluster{servers: servers, live: map[cluster.NodeID]bool{}}
	bus1, _ := c.Attach(t, 1, func(context.Context, []byte) ([]byte, error) { return nil, nil })
	nc2, err := Connect(ClientConfig{Embedded: servers[2], Name: "node-2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	started, release := make(chan struct{}), make(chan struct{})
	bus2, err := Attach(context.Background(), nc2, 2, func(context.Context, []byte) ([]byte, error) {
		close(started)
		<-release
		return []byte("answered"), nil
	}, c)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.live[2] = true
	c.mu.Unlock()
	reply := make(chan error, 1)
	go func() {
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err := bus1.Request(rctx, 2, []byte("x"))
		if err == nil && string(got) != "answered" {
			err = fmt.Errorf("reply %q", got)
		}
		reply <- err
	}()
	<-started
	left := make(chan error, 1)
	go func() {
		err := bus2.Detach()
		nc2.Close() // what the gateway does next
		left <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for bus2.sub.IsValid() {
		if time.Now().After(deadline) {
			t.Fatal("still subscribed 10s after Detach was called")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-reply; err != nil {
		t.Errorf("the request in flight when the node left: %v", err)
	}
	if err := <-left; err != nil {
		t.Errorf("Detach: %v", err)
	}
}

// A request waiting for its reply when the requester's own NATS connection is lost ends at once with
// ErrUnavailable (ErrConnectionLost), not at its deadline: the reply would go to a subscription the
// server no longer has.
func TestRequestInFlightEndsWhenTheConnectionIsLost(t *testing.T) {
	servers := startRouted(t)
	c := &natsCluster{servers: servers, live: map[cluster.NodeID]bool{}}
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	c.Attach(t, 2, func(context.Context, []byte) ([]byte, error) {
		close(started)
		<-release
		return []byte("answered"), nil
	})
	// Node 1 on servers[0], which is shut down below; node 2 is on servers[2].
	nc1, err := Connect(ClientConfig{Embedded: servers[0], Name: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc1.Close)
	bus1 := attach(t, nc1, 1, idle, c)
	reply := make(chan error, 1)
	go func() {
		// No deadline of its own: before, it waited DefaultTimeout and failed with errTimeout.
		_, err := bus1.Request(context.Background(), 2, []byte("x"))
		reply <- err
	}()
	<-started
	servers[0].Shutdown()
	err = <-reply
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("the request in flight when the connection was lost: err = %v, want ErrUnavailable and ErrConnectionLost", err)
	}
	// A later request fails at once too (not connected), and never says the node is gone.
	if _, err := bus1.Request(context.Background(), 2, []byte("y")); !errors.Is(err, ErrUnavailable) || errors.Is(err, cluster.ErrNoNode) {
		t.Fatalf("a request while disconnected: err = %v, want ErrUnavailable", err)
	}
}

// A reply that arrives after its request gave up is dropped: it never answers a later request, and the
// requests after it get their own replies.
func TestLateReplyAnswersNoOtherRequest(t *testing.T) {
	c := &natsCluster{servers: startRouted(t), live: map[cluster.NodeID]bool{}}
	bus, _ := c.Attach(t, 1, func(context.Context, []byte) ([]byte, error) { return nil, nil })
	started, release := make(chan struct{}), make(chan struct{})
	c.Attach(t, 2, func(_ context.Context, req []byte) ([]byte, error) {
		if string(req) == "late" {
			close(started)
			<-release
		}
		return append([]byte("n2:"), req...), nil
	})
	lctx, cancel := context.WithCancel(context.Background())
	late := make(chan error, 1)
	go func() {
		got, err := bus.Request(lctx, 2, []byte("late"))
		if err == nil && string(got) != "n2:late" {
			err = fmt.Errorf("the late request got %q", got)
		} else {
			err = nil // gave up, or its reply came first: both are right
		}
		late <- err
	}()
	<-started
	cancel()
	close(release)
	if err := <-late; err != nil {
		t.Error(err)
	}
	for i := range 20 {
		msg := fmt.Sprintf("next%d", i)
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := bus.Request(rctx, 2, []byte(msg))
		rcancel()
		if err != nil || string(got) != "n2:"+msg {
			t.Fatalf("request %q after a late reply: %q, %v", msg, got, err)
		}
	}
}

// A handler that returns ErrNoAnswer sends nothing: the other subscriber of the subject answers every
// request, and a request nobody else answers ends at its deadline with ErrUnavailable.
func TestNoAnswerLeavesTheRequestToOthers(t *testing.T) {
	s := startServer(t, EmbeddedConfig{Name: "solo"})
	connect := func() *nats.Conn {
		nc, err := Connect(ClientConfig{Embedded: s})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	silent := func(context.Context, []byte) ([]byte, error) { return nil, ErrNoAnswer }
	quiet, err := Attach(context.Background(), connect(), 1, silent, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Detach()
	requester, err := Attach(context.Background(), connect(), 2, silent, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer requester.Detach()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = requester.Request(ctx, 1, []byte("x"))
	cancel()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("request only a silent node could answer: err = %v, want ErrUnavailable", err)
	}
	owner, err := Attach(context.Background(), connect(), 1, func(context.Context, []byte) ([]byte, error) { return []byte("owner"), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Detach()
	for i := range 20 {
		got, err := requester.Request(context.Background(), 1, []byte("x"))
		if err != nil || string(got) != "owner" {
			t.Fatalf("request %d with a silent second subscriber: %q, %v; want the owner's answer", i, got, err)
		}
	}
}

// A node whose NATS connection is lost and comes back (to another server of the cluster) serves
// requests again, each answered with its own reply — the reply channels that carried the loss to the
// requests waiting then are reused — and a request waiting when the connection is lost a second time
// ends at once again: the bus still hears the connection's losses after the first.
func TestRequestsAfterTheConnectionReturns(t *testing.T) {
	servers := startRouted(t)
	c := &natsCluster{servers: servers, live: map[cluster.NodeID]bool{}}
	var held atomic.Int32 // requests the owner holds (fewer than Workers)
	release := make(chan struct{})
	defer close(release)
	c.Attach(t, 2, func(_ context.Context, req []byte) ([]byte, error) { // node 2 is on servers[2]
		if string(req) == "hold" {
			held.Add(1)
			<-release
		}
		return append([]byte("n2:"), req...), nil
	})
	// Node 1 on servers[0], then servers[1] when servers[0] goes, then servers[2].
	nc1, err := nats.Connect(servers[0].ClientURL()+","+servers[1].ClientURL()+","+servers[2].ClientURL(),
		nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.Name("node-1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc1.Close)
	bus1 := attach(t, nc1, 1, idle, c)

	for loss, s := range servers[:2] {
		// Several requests wait when the connection is lost: each channel that carries the loss goes
		// back to the pool, for the requests below.
		const waiting = 8
		reply := make(chan error, waiting)
		for range waiting {
			go func() {
				_, err := bus1.Request(context.Background(), 2, []byte("hold")) // no deadline of its own
				reply <- err
			}()
		}
		deadline := time.Now().Add(10 * time.Second)
		for held.Load() < int32((loss+1)*waiting) { // every one has reached the owner: node 1 waits for its reply
			if time.Now().After(deadline) {
				t.Fatalf("loss %d: the owner holds %d requests after 10s, want %d", loss+1, held.Load(), (loss+1)*waiting)
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.Shutdown()
		for range waiting {
			if err := <-reply; !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrConnectionLost) {
				t.Fatalf("loss %d: a request waiting when the connection was lost: err = %v, want ErrConnectionLost", loss+1, err)
			}
		}
		deadline = time.Now().Add(10 * time.Second)
		for !nc1.IsConnected() || nc1.ConnectedUrl() == s.ClientURL() {
			if time.Now().After(deadline) {
				t.Fatalf("loss %d: node 1 did not reconnect within 10s (status %v)", loss+1, nc1.Status())
			}
			time.Sleep(5 * time.Millisecond)
		}
		for i := range 20 {
			msg := fmt.Sprintf("after%d.%d", loss+1, i)
			var got []byte
			for {
				rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
				got, err = bus1.Request(rctx, 2, []byte(msg))
				rcancel()
				// The reply subscription is made again on reconnection: until the server has it, a
				// request may go unanswered.
				if err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil || string(got) != "n2:"+msg {
				t.Fatalf("loss %d: request %q after reconnecting: %q, %v", loss+1, msg, got, err)
			}
		}
	}
}

// livenessHook is a Liveness that counts every node alive and calls hook on each Alive call of node.
type livenessHook struct {
	node  cluster.NodeID
	calls atomic.Int32
	hook  func(call int32)
}

func (l *livenessHook) Alive(n cluster.NodeID) bool {
	if n == l.node {
		l.hook(l.calls.Add(1))
	}
	return true
}

// A request sent once the connection is already lost — it passed Request's check just before the loss,
// or it is a retry of a request to a node with no subscriber yet — ends at once with ErrConnectionLost:
// nats.go would buffer it for a reconnection and the request would wait for its deadline. Here the
// loss comes while Request retries "no responders" (node 2 is alive by the membership, not subscribed):
// the Liveness check of its first retry shuts the server down and waits until the client knows.
func TestRequestSentWhileTheConnectionIsLostEndsAtOnce(t *testing.T) {
	s := startServer(t, EmbeddedConfig{Name: "solo"})
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	alive := &livenessHook{node: 2}
	alive.hook = func(call int32) {
		if call != 2 { // 1: before the first try; 2: after its "no responders"
			return
		}
		if !stopAndWaitDisconnected(s, nc) {
			t.Error("the client still says it is connected 10s after the server stopped")
		}
	}
	bus := attach(t, nc, 1, idle, alive)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = bus.Request(ctx, 2, []byte("x"))
	if alive.calls.Load() < 2 {
		t.Fatalf("the request did not retry after \"no responders\" (err = %v): the test did not reach its case", err)
	}
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("a request retried after the connection was lost: err = %v, want ErrUnavailable and ErrConnectionLost", err)
	}
}
