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
	"strings"
	"sync"
	"sync/atomic"
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

// ErrNoAnswer is returned by a Handler to leave a request unanswered: another subscriber of the subject
// answers it, or the requester's deadline passes.
var ErrNoAnswer = errors.New("natsbus: request left unanswered")

// Subject is the subject node answers on.
func Subject(node cluster.NodeID) string { return SubjectPrefix + strconv.Itoa(int(node)) }

// Liveness tells the bus which nodes the cluster believes are alive (package membership). Alive of the
// bus's own node says whether this node's view is current: it is a member whose heartbeat is stored.
// False answers 410 GoneException for the node's connections, so a node whose membership the store
// cannot tell counts alive: its requests are tried, and fail with ErrUnavailable when nobody answers.
type Liveness interface {
	Alive(node cluster.NodeID) bool
}

// Workers is how many forwarded requests a node answers at once. Most are answered in microseconds
// (a message queued for a socket), but some take long (a broadcast's sendall over thousands of
// connections, a handler waiting for its context): with one request at a time, as nats.go delivers a
// subscription's messages, every request behind them would wait. 32 leaves most workers free while a
// few are busy, and bounds the goroutines a burst can occupy; BenchmarkRequest measured 1, 4, 8 and 32
// alike on two cores when no request is slow.
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
	left     atomic.Bool // set by Detach: this node's own requests fail at once
	err      error       // Detach's

	// This node's own requests: replies come to inbox + a token (the inbox is "_INBOX.<unique>.", or
	// the connection's custom prefix, distinct from nats.go's own), on one subscription, and deliver
	// hands each to the request waiting for it.
	inbox   string
	replies chan *nats.Msg
	rsub    *nats.Subscription
	tokens  atomic.Uint64
	mu      sync.Mutex
	waiting map[uint64]chan *nats.Msg // token → the waiting request's channel
	status  chan nats.Status          // the connection's losses: every waiting request ends at once

	subjects sync.Map  // cluster.NodeID → its subject, made once
	chans    sync.Pool // reply channels that delivered their one reply, for later requests
	timers   sync.Pool // stopped timers bounding requests whose context has no deadline
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
	b := &Bus{nc: nc, node: node, alive: alive, msgs: make(chan *nats.Msg, QueueLen), stop: make(chan struct{}),
		inbox: nc.NewInbox() + ".", replies: make(chan *nats.Msg, QueueLen), waiting: map[uint64]chan *nats.Msg{}}
	// A channel subscription: nats.go's read loop hands each request straight to a waiting worker,
	// instead of to the subscription's single callback goroutine.
	sub, err := nc.ChanSubscribe(Subject(node), b.msgs)
	if err != nil {
		return nil, fmt.Errorf("natsbus: subscribe %s: %w", Subject(node), err)
	}
	b.sub = sub
	if b.rsub, err = nc.ChanSubscribe(b.inbox+"*", b.replies); err != nil {
		_ = b.Detach()
		return nil, fmt.Errorf("natsbus: subscribe %s*: %w", b.inbox, err)
	}
	for range Workers {
		b.workers.Go(func() { b.serve(handler) })
	}
	b.status = nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	b.workers.Go(b.deliver)
	fctx, cancel := context.WithTimeout(ctx, timeout(ctx))
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		_ = b.Detach()
		return nil, fmt.Errorf("natsbus: confirm subscription %s: %w", Subject(node), err)
	}
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
	hctx := &answerCtx{deadline: time.Now().Add(DefaultTimeout)}
	out, herr := handler(hctx, m.Data)
	hctx.cancel()
	if errors.Is(herr, ErrNoAnswer) {
		return
	}
	// A requester that went away has nothing to read: a failed reply is not an error here.
	if herr == nil {
		_ = m.Respond(out) // no header: the common answer costs one message and no map
		return
	}
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set(errHeader, herr.Error())
	_ = m.RespondMsg(reply)
}

// answerCtx is a forwarded request's context: it ends DefaultTimeout after the request arrived, or when
// its handler has returned, as context.WithTimeout's would. Its Done channel and timer are made only
// when the handler asks for Done (the registry's handler never does), so an answer costs no timer.
type answerCtx struct {
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{} // made by the first Done
	timer *time.Timer   // closes done at the deadline
	err   error         // set when done is closed, or by cancel before any Done
}

// Deadline is DefaultTimeout after the request arrived.
func (c *answerCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done is closed at the deadline or when the handler has returned.
func (c *answerCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		switch wait := time.Until(c.deadline); {
		case c.err != nil:
			close(c.done)
		case wait <= 0:
			c.err = context.DeadlineExceeded
			close(c.done)
		default:
			c.timer = time.AfterFunc(wait, func() { c.end(context.DeadlineExceeded) })
		}
	}
	return c.done
}

// Err is nil until Done is closed (or, when nobody asked for Done, until the deadline or cancel).
func (c *answerCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.done == nil && !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
	}
	return c.err
}

// Value has no values.
func (c *answerCtx) Value(any) any { return nil }

// cancel ends the context once its handler has returned.
func (c *answerCtx) cancel() { c.end(context.Canceled) }

// end closes Done (when made) with err, unless the context has ended already.
func (c *answerCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil && (c.done == nil || isClosed(c.done)) {
		return
	}
	if c.err == nil {
		c.err = err
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.done != nil {
		close(c.done)
	}
}

// isClosed reports whether ch is closed (it is never sent on).
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Detach stops answering: requests to this node get "no responders" from then on. It returns once the
// requests already received are answered and the workers have returned. Later calls do nothing.
func (b *Bus) Detach() error {
	b.detached.Do(func() {
		b.left.Store(true)
		if err := b.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			b.err = fmt.Errorf("natsbus: unsubscribe %s: %w", Subject(b.node), err)
		}
		if b.rsub != nil {
			_ = b.rsub.Unsubscribe() // this node's own requests end with their contexts
		}
		if b.status != nil {
			b.nc.RemoveStatusListener(b.status)
		}
		close(b.stop)
		b.workers.Wait()
	})
	return b.err
}

// Request sends req to node's subject and waits for the reply, for ctx's deadline or DefaultTimeout.
func (b *Bus) Request(ctx context.Context, node cluster.NodeID, req []byte) ([]byte, error) {
	// An ended context sends nothing: otherwise a reply fast enough to be ready with ctx.Done() could be
	// picked by request's select, and a cancelled call would succeed.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("request node %d: %w: %w", node, ErrUnavailable, err)
	}
	// Cut off first: a node without NATS hears no heartbeats, so every other node soon looks dead to
	// it, which says nothing about them; their connections are unreachable (5xx), not gone (410).
	if !b.nc.IsConnected() {
		return nil, fmt.Errorf("request node %d: %w (NATS connection %s)", node, ErrUnavailable, b.nc.Status())
	}
	if b.left.Load() {
		return nil, fmt.Errorf("request node %d: %w: this node has left the bus", node, ErrUnavailable)
	}
	if err := b.unknown(node); err != nil {
		return nil, err
	}
	// A context without a deadline is bounded by DefaultTimeout through a reused timer rather than a
	// derived context: deriving one cost every call five allocations, one of them registering it with
	// the caller's context.
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		t := b.timer()
		defer b.timers.Put(t)
		defer t.Stop()
		timeout = t.C
	}
	subject := b.subject(node)
	var giveUp time.Time
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		m, err := b.request(ctx, timeout, subject, req)
		switch {
		case err == nil:
			if e := m.Header.Get(errHeader); e != "" {
				return nil, fmt.Errorf("node %d: %s", node, e)
			}
			return m.Data, nil
		case errors.Is(err, nats.ErrNoResponders):
			if b.alive == nil {
				return nil, fmt.Errorf("request node %d: %w", node, cluster.ErrNoNode)
			}
			if err := b.unknown(node); err != nil {
				return nil, err
			}
			// Alive by the membership but not subscribed: just joined (its interest still spreading
			// between servers) or just died (not declared yet). Try again for a moment, then answer
			// 5xx rather than make the caller wait for the membership to decide.
			if giveUp.IsZero() {
				giveUp = time.Now().Add(NoResponderWait)
			}
			if time.Now().After(giveUp) {
				return nil, fmt.Errorf("request node %d: %w: it has no subscriber on %s", node, ErrUnavailable, subject)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("request node %d: %w: it has no subscriber on %s", node, ErrUnavailable, subject)
			case <-timeout:
				t.Stop()
				return nil, fmt.Errorf("request node %d: %w: it has no subscriber on %s", node, ErrUnavailable, subject)
			case <-t.C:
			}
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, errTimeout):
			return nil, fmt.Errorf("request node %d: %w: no reply in time: %w", node, ErrUnavailable, err)
		default:
			return nil, fmt.Errorf("request node %d: %w: %w", node, ErrUnavailable, err)
		}
	}
}

// unknown is the error for a request to node when the membership does not count it alive, nil when it
// does (or there is no membership). The node is gone (cluster.ErrNoNode, 410) only if this node's own
// view is current — it is a member whose heartbeat is stored (Alive of its own ID). A node whose
// heartbeats are not stored (NATS unreachable, cut off from the servers that hold the quorum, not
// joined yet) stops hearing the others' too, so they look dead to it: it answers ErrUnavailable.
func (b *Bus) unknown(node cluster.NodeID) error {
	if b.alive == nil || b.alive.Alive(node) {
		return nil
	}
	if !b.alive.Alive(b.node) {
		return fmt.Errorf("request node %d: %w: this node is not a current member of the cluster and cannot tell whether node %d is alive", node, ErrUnavailable, node)
	}
	return fmt.Errorf("request node %d: %w", node, cluster.ErrNoNode)
}

// errTimeout is a request without a deadline of its own that waited DefaultTimeout.
var errTimeout = fmt.Errorf("no reply within %v", DefaultTimeout)

// ErrConnectionLost ends a request that was waiting for its reply when this node's NATS connection was
// lost: the reply would come to a subscription the server no longer has, so the request fails at once
// (wrapped in ErrUnavailable) instead of at its deadline. Whether the owner acted on it is unknown.
var ErrConnectionLost = errors.New("the NATS connection was lost while the request waited for its reply")

// lost is what deliver hands a waiting request when the connection is lost.
var lost = &nats.Msg{}

// request publishes req to subject with a reply subject of this bus's inbox and waits for the reply,
// ctx's end or timeout (nil: none). It does what nats.go's RequestWithContext does, "no responders"
// included, but with the replies routed by the bus's own subscription and lock: nats.go routes every
// reply of the connection through one callback goroutine that takes the connection's lock, which its
// flusher holds while the in-process server reads, so under load a reply waited for requests being
// sent.
func (b *Bus) request(ctx context.Context, timeout <-chan time.Time, subject string, req []byte) (*nats.Msg, error) {
	token := b.tokens.Add(1)
	reply, _ := b.chans.Get().(chan *nats.Msg)
	if reply == nil {
		reply = make(chan *nats.Msg, 1)
	}
	b.mu.Lock()
	b.waiting[token] = reply
	b.mu.Unlock()
	forget := func() {
		b.mu.Lock()
		delete(b.waiting, token)
		b.mu.Unlock()
		// reply is not reused: deliver may have taken it from the map already and be about to send.
	}
	// Lost before the request was waiting (deliver has ended the requests waiting then, this one not
	// among them): nats.go would buffer the publish for a reconnection and the request would wait for
	// its deadline. Lost from here on, deliver ends it.
	if !b.nc.IsConnected() {
		forget()
		return nil, ErrConnectionLost
	}
	var buf [24]byte
	if err := b.nc.PublishRequest(subject, b.inbox+string(strconv.AppendUint(buf[:0], token, 36)), req); err != nil {
		forget()
		return nil, err
	}
	select {
	case m := <-reply:
		// deliver took reply out of the map before sending its one reply: nothing else can reach it.
		b.chans.Put(reply)
		if m == lost {
			return nil, ErrConnectionLost
		}
		if len(m.Data) == 0 && m.Header.Get(statusHeader) == noResponders {
			return nil, nats.ErrNoResponders
		}
		return m, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	case <-timeout:
		forget()
		return nil, errTimeout
	}
}

// timer returns a stopped timer's successor running for DefaultTimeout.
func (b *Bus) timer() *time.Timer {
	if t, ok := b.timers.Get().(*time.Timer); ok {
		t.Reset(DefaultTimeout) // stopped before it was put back: its channel holds nothing (Go ≥ 1.23)
		return t
	}
	return time.NewTimer(DefaultTimeout)
}

// subject is node's subject, made once per node.
func (b *Bus) subject(node cluster.NodeID) string {
	if s, ok := b.subjects.Load(node); ok {
		return s.(string)
	}
	s, _ := b.subjects.LoadOrStore(node, Subject(node))
	return s.(string)
}

// deliver hands each reply to the request waiting for it, until Detach. A reply nobody waits for any
// more (its request's context ended) is dropped. When the connection is lost, every waiting request
// gets lost.
func (b *Bus) deliver() {
	status := b.status
	for {
		select {
		case _, ok := <-status:
			if !ok {
				status = nil // removed by Detach: a nil channel is never ready
				continue
			}
			b.mu.Lock()
			ended := b.waiting
			b.waiting = map[uint64]chan *nats.Msg{}
			b.mu.Unlock()
			for _, reply := range ended {
				reply <- lost // buffered for its one reply
			}
		case m := <-b.replies:
			token, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, b.inbox), 36, 64)
			if err != nil {
				continue // not a token of this bus: nobody waits for it
			}
			b.mu.Lock()
			reply := b.waiting[token]
			delete(b.waiting, token)
			b.mu.Unlock()
			if reply != nil {
				reply <- m // buffered for its one reply
			}
		case <-b.stop:
			return
		}
	}
}

// The status NATS answers a request with when the subject has no subscriber.
const (
	statusHeader = "Status"
	noResponders = "503"
)

// timeout is what is left of ctx's deadline, or DefaultTimeout.
func timeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return DefaultTimeout
}
