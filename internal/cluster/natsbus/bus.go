// Package natsbus is the cluster.Bus over NATS: each node answers requests on its own subject
// (switchboard.node.<id>) with NATS request/reply, so an @connections call made on any node reaches the
// connection's owner and carries its answer back. It also starts the NATS server embedded in the
// Switchboard process (--cluster embedded) and opens the client connection (--cluster nats://…), so
// that every part of a node that needs NATS shares one connection.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-gw/switchboard/internal/cluster"
)

// SubjectPrefix is the subject every node's requests are sent under: SubjectPrefix + "<node id>".
const SubjectPrefix = "switchboard.node."

// errHeader carries a handler's error back to the requester.
const errHeader = "Switchboard-Error"

// DefaultTimeout bounds a request whose context has no deadline, so that a call never waits for ever.
const DefaultTimeout = 5 * time.Second

// NoResponderWait is how long a request to a node the membership believes alive, but that has no
// subscriber, is retried before it fails with ErrUnavailable.
const NoResponderWait = 500 * time.Millisecond

// ErrUnavailable is returned by Request when the request cannot be routed now: this node is not connected
// to NATS, or the owner is alive but does not answer. It is not cluster.ErrNoNode: the connection may
// well exist, so the caller answers 5xx rather than 410.
var ErrUnavailable = errors.New("natsbus: the cluster is unreachable")

// Subject is the subject node answers on.
func Subject(node cluster.NodeID) string { return SubjectPrefix + strconv.Itoa(int(node)) }

// Liveness tells the bus which nodes the cluster believes are alive (package membership).
type Liveness interface {
	Alive(node cluster.NodeID) bool
}

// Workers is how many forwarded requests a node answers at once. Most are answered in microseconds
// (a message queued for a socket), but some take long (a broadcast's sendall over thousands of
// connections, a handler waiting for its context): with one request at a time, as nats.go delivers a
// subscription's messages, every request behind them would wait. 32 leaves most workers free while a
// few are busy, and bounds the goroutines a burst can occupy.
const Workers = 32

// QueueLen bounds the forwarded requests waiting for a worker. Past it NATS drops the request as a
// slow consumer (the connection's error handler logs it) and its requester answers 5xx when its
// deadline passes; at tens of thousands of requests per second it is seconds of backlog, longer than
// any requester waits.
const QueueLen = 1 << 16

// Bus is one node's attachment to the NATS bus.
type Bus struct {
	nc    *nats.Conn
	node  cluster.NodeID
	alive Liveness
	sub   *nats.Subscription

	msgs     chan *nats.Msg // forwarded requests, filled by nats.go's read loop
	stop     chan struct{}  // closed by Detach: the workers answer what is queued and return
	workers  sync.WaitGroup
	detached sync.Once
	err      error // Detach's
}

var _ cluster.Bus = (*Bus)(nil)

// Attach subscribes node's handler to its subject and returns once the NATS server has confirmed the
// subscription (a flush round trip), so a node may accept connections as soon as Attach returns. Up to
// Workers requests are answered at once, by goroutines that live until Detach. alive, when not nil,
// decides which nodes exist: a request to a node it does not know answers cluster.ErrNoNode at once,
// and one to a node it knows but that has no subscriber (interest still spreading between NATS
// servers, or the node just died) is retried for NoResponderWait, then fails with ErrUnavailable.
// Without it, "no responders" means cluster.ErrNoNode.
func Attach(ctx context.Context, nc *nats.Conn, node cluster.NodeID, handler cluster.Handler, alive Liveness) (*Bus, error) {
	b := &Bus{nc: nc, node: node, alive: alive, msgs: make(chan *nats.Msg, QueueLen), stop: make(chan struct{})}
	// A channel subscription: nats.go's read loop hands each request straight to a waiting worker,
	// instead of to the subscription's single callback goroutine.
	sub, err := nc.ChanSubscribe(Subject(node), b.msgs)
	if err != nil {
		return nil, fmt.Errorf("natsbus: subscribe %s: %w", Subject(node), err)
	}
	for range Workers {
		b.workers.Go(func() { b.serve(handler) })
	}
	fctx, cancel := context.WithTimeout(ctx, timeout(ctx))
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		b.sub = sub
		_ = b.Detach()
		return nil, fmt.Errorf("natsbus: confirm subscription %s: %w", Subject(node), err)
	}
	b.sub = sub
	return b, nil
}

// serve is one worker: it answers forwarded requests until Detach, then those still queued.
func (b *Bus) serve(handler cluster.Handler) {
	for {
		select {
		case m := <-b.msgs:
			answer(handler, m)
		case <-b.stop:
			for {
				select {
				case m := <-b.msgs:
					answer(handler, m)
				default:
					return
				}
			}
		}
	}
}

// answer runs handler on one forwarded request and sends its reply.
func answer(handler cluster.Handler, m *nats.Msg) {
	if m.Reply == "" {
		return // not a request: nothing to answer
	}
	hctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	out, herr := handler(hctx, m.Data)
	// A requester that went away has nothing to read: a failed reply is not an error here.
	if herr == nil {
		_ = m.Respond(out) // no header: the common answer costs one message and no map
		return
	}
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set(errHeader, herr.Error())
	_ = m.RespondMsg(reply)
}

// Detach stops answering: requests to this node get "no responders" from then on. It returns once the
// requests already received are answered and the workers have returned. Later calls do nothing.
func (b *Bus) Detach() error {
	b.detached.Do(func() {
		if err := b.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			b.err = fmt.Errorf("natsbus: unsubscribe %s: %w", Subject(b.node), err)
		}
		close(b.stop)
		b.workers.Wait()
	})
	return b.err
}

// Request sends req to node's subject and waits for the reply, for ctx's deadline or DefaultTimeout.
func (b *Bus) Request(ctx context.Context, node cluster.NodeID, req []byte) ([]byte, error) {
	if b.alive != nil && !b.alive.Alive(node) {
		return nil, fmt.Errorf("request node %d: %w", node, cluster.ErrNoNode)
	}
	if !b.nc.IsConnected() {
		return nil, fmt.Errorf("request node %d: %w (NATS connection %s)", node, ErrUnavailable, b.nc.Status())
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	giveUp := time.Now().Add(NoResponderWait)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		m, err := b.nc.RequestWithContext(ctx, Subject(node), req)
		switch {
		case err == nil:
			if e := m.Header.Get(errHeader); e != "" {
				return nil, fmt.Errorf("node %d: %s", node, e)
			}
			return m.Data, nil
		case errors.Is(err, nats.ErrNoResponders):
			if b.alive == nil || !b.alive.Alive(node) {
				return nil, fmt.Errorf("request node %d: %w", node, cluster.ErrNoNode)
			}
			// Alive by the membership but not subscribed: just joined (its interest still spreading
			// between servers) or just died (not declared yet). Try again for a moment, then answer
			// 5xx rather than make the caller wait for the membership to decide.
			if time.Now().After(giveUp) {
				return nil, fmt.Errorf("request node %d: %w: it has no subscriber on %s", node, ErrUnavailable, Subject(node))
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("request node %d: %w: it has no subscriber on %s", node, ErrUnavailable, Subject(node))
			case <-t.C:
			}
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			return nil, fmt.Errorf("request node %d: %w: no reply in time: %w", node, ErrUnavailable, err)
		default:
			return nil, fmt.Errorf("request node %d: %w: %w", node, ErrUnavailable, err)
		}
	}
}

// timeout is what is left of ctx's deadline, or DefaultTimeout.
func timeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return DefaultTimeout
}
