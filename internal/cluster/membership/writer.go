package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxBatchBytes bounds one message of the log, well under NATS's default maximum payload (1 MB).
const maxBatchBytes = 256 << 10

// The log's time windows. A create older than staleWindow when the log's last message was written is
// not trusted when the log is claimed — its removal may have been purged already — so the owner appends
// every open connection's record again once its last append is refreshAge old (checked every
// maintainEvery), and purges its subject's messages older than purgeAge.
const (
	staleWindow   = 10 * time.Minute
	refreshAge    = staleWindow / 4
	purgeAge      = 2 * staleWindow
	maintainEvery = 15 * time.Second
	// removalDelay is how long removals alone wait for a record to share a message with.
	removalDelay = 5 * time.Millisecond
	// A batch that follows one of at least busyBatch ops waits up to busyHold for more to travel with it
	// (group commit): many handshakes arrive at once, each message of the log costs a replicated append
	// on three servers, and one more millisecond of a handshake's wait is cheaper than a message.
	busyBatch = 16
	busyHold  = 2 * time.Millisecond
)

var (
	errWriterStopped = errors.New("the node's connection log writer has stopped (membership ended)")
	// errClaimed: another node has claimed the log (it declared this incarnation dead); it runs the
	// $disconnect of every connection the log still held.
	errClaimed = errors.New("another node has claimed this node's connection log")
	errExists  = errors.New("the connection already has a record")
)

// Op states: the writer resolves an op, or its caller abandons it first (a handshake that gave up).
const (
	opPending int32 = iota
	opResolved
	opAbandoned
)

// logOp is one record to create or remove, or a barrier (no subject) that resolves once every op queued
// before it has.
type logOp struct {
	subject string
	entry   logEntry
	done    chan error // buffered; nil when nobody waits
	state   atomic.Int32
}

func (op *logOp) resolve(err error) bool {
	if !op.state.CompareAndSwap(opPending, opResolved) {
		return false
	}
	if op.done != nil {
		op.done <- err
	}
	return true
}

// liveRecord is an open connection's record as the log holds it.
type liveRecord struct {
	data    []byte
	written time.Time // of its last append
}

// logState is the writer's view of one incarnation's subject.
type logState struct {
	lastSeq uint64 // the subject's last sequence, as appended by this writer
	batch   uint64 // the last batch number appended
	claimed bool
	// restore: the stream was created again (the store lost it) since this subject's records were
	// appended; every open record is appended again.
	restore bool
	live    map[string]liveRecord
	writes  []seqTime // this writer's appends, oldest first, for purging
}

type seqTime struct {
	seq uint64
	at  time.Time
}

// writer appends this node's connection records to its log: every op waiting when the previous append
// is acknowledged goes out as one message, and each caller gets its answer once that message is stored
// (replicated), so every connection a client sees open has its record stored.
type writer struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	leader lastReader // decides where a direct get says a subject holds less than this writer appended (settle, recreated)
	log    *slog.Logger

	// now and the windows are fields so that tests can shorten them.
	now                                               func() time.Time
	refreshAge, purgeAge, maintainEvery, removalDelay time.Duration
	busyBatch                                         int
	busyHold                                          time.Duration
	// lastBatch is how many ops the last append carried (owned by run).
	lastBatch int

	mu     sync.Mutex
	queue  []*logOp
	closed bool
	wake   chan struct{}
	// recheck asks run to look whether the stream was created again (storeChanged).
	recheck chan struct{}
	// troubled is set while appends fail without an answer that settles them (the stream may be gone);
	// the heartbeat then looks at the store.
	troubled atomic.Bool

	states map[string]*logState // owned by run
	// created is the stream's creation time as this writer last saw it (set before run starts, then
	// owned by run): a stream created again has a new one, a purge keeps it. It tells a subject emptied
	// by the loss of the whole stream (its records are appended again) from one claimed and purged.
	created time.Time
}

// newWriter prepares a writer that checks with leader what a direct get says its subject lacks; its
// stream is set before run starts.
func newWriter(js jetstream.JetStream, leader lastReader, log *slog.Logger) *writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &writer{js: js, leader: leader, log: log, wake: make(chan struct{}, 1), recheck: make(chan struct{}, 1),
		now: time.Now, refreshAge: refreshAge, purgeAge: purgeAge, maintainEvery: maintainEvery, removalDelay: removalDelay,
		busyBatch: busyBatch, busyHold: busyHold,
		states: map[string]*logState{}}
}

// enqueue hands op to the writer; false once the writer has stopped.
func (w *writer) enqueue(op *logOp) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.queue = append(w.queue, op)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

// create appends id's record to subject and returns once it is stored. A caller that gives up (ctx) gets
// ctx's error; if the record was stored meanwhile, the writer removes it again.
func (w *writer) create(ctx context.Context, subject, id string, data []byte) error {
	return w.wait(ctx, w.start(subject, id, data))
}

// start queues the creation of id's record on subject; wait waits for it.
func (w *writer) start(subject, id string, data []byte) *logOp {
	op := &logOp{subject: subject, entry: logEntry{create: true, id: id, record: data}, done: make(chan error, 1)}
	if !w.enqueue(op) {
		op.resolve(errWriterStopped)
	}
	return op
}

// wait waits for op, started by start.
func (w *writer) wait(ctx context.Context, op *logOp) error {
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		if op.state.CompareAndSwap(opPending, opAbandoned) {
			return ctx.Err()
		}
		return <-op.done // resolved just now
	}
}

// remove appends the removal of id's record to subject; the returned channel says whether it was
// stored (nil: this node runs the connection's $disconnect) or not (errClaimed, errWriterStopped).
func (w *writer) remove(subject, id string) <-chan error {
	op := &logOp{subject: subject, entry: logEntry{id: id}, done: make(chan error, 1)}
	if !w.enqueue(op) {
		op.done <- errWriterStopped
	}
	return op.done
}

// flush returns once every op queued before it is resolved, or ctx ends.
func (w *writer) flush(ctx context.Context) error {
	op := &logOp{done: make(chan error, 1)}
	if !w.enqueue(op) {
		return nil
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run appends batches until ctx ends; then every op not yet resolved gets errWriterStopped.
func (w *writer) run(ctx context.Context) {
	var pending []*logOp
	defer func() {
		w.mu.Lock()
		w.closed = true
		pending = append(pending, w.queue...)
		w.queue = nil
		w.mu.Unlock()
		for _, op := range pending {
			op.resolve(errWriterStopped)
		}
	}()
	tick := time.NewTicker(w.maintainEvery)
	defer tick.Stop()
	for {
		if len(pending) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			case <-tick.C:
				w.maintain(ctx)
			case <-w.recheck:
				w.checkRecreated(ctx)
			}
		} else {
			select { // a writer that is never idle still refreshes and purges
			case <-tick.C:
				w.maintain(ctx)
			case <-w.recheck:
				w.checkRecreated(ctx)
			default:
			}
		}
		pending = w.take(pending)
		if onlyRemovals(pending) {
			// Removals are nobody's handshake: they wait a little for a record to travel with, so that a
			// handshake does not wait behind a message of removals, and the store gets fewer messages.
			t := time.NewTimer(w.removalDelay)
		wait:
			for {
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
					break wait
				case <-w.wake:
					if pending = w.take(pending); !onlyRemovals(pending) {
						t.Stop()
						break wait
					}
				}
			}
		}
		if pending = w.holdBusy(ctx, pending); ctx.Err() != nil {
			return
		}
		pending = w.step(ctx, pending)
		if ctx.Err() != nil {
			return
		}
	}
}

// holdBusy lets the ops that arrive within busyHold join pending when the last append carried at least
// busyBatch ops: many handshakes are arriving, and each message of the log costs a replicated append on
// three servers, where a millisecond more of their wait costs nobody any work. It returns early when
// pending fills a message, holds a barrier (a caller waits for everything before it) or ctx ends.
func (w *writer) holdBusy(ctx context.Context, pending []*logOp) []*logOp {
	if w.busyHold <= 0 || w.lastBatch < w.busyBatch || len(pending) == 0 {
		return pending
	}
	limit := w.batchLimit()
	var t *time.Timer
	size, counted := 0, 0 // the size of pending[:counted]
	for {
		for _, op := range pending[counted:] {
			if op.subject == "" {
				return pending // a barrier: somebody waits for every op before it
			}
			size += op.entry.size()
		}
		counted = len(pending)
		if size >= limit {
			return pending
		}
		if t == nil {
			t = time.NewTimer(w.busyHold)
			defer t.Stop()
		}
		select {
		case <-ctx.Done():
			return pending
		case <-t.C:
			return pending
		case <-w.wake:
			pending = w.take(pending)
		}
	}
}

// batchLimit is the most one message of the log carries: maxBatchBytes, or half the NATS server's
// maximum payload when that is smaller (a server configured with a small max_payload).
func (w *writer) batchLimit() int {
	limit := maxBatchBytes
	if mp := w.js.Conn().MaxPayload(); mp > 0 && int(mp)/2 < limit {
		limit = int(mp) / 2
	}
	return limit
}

// take moves the queued ops to pending.
func (w *writer) take(pending []*logOp) []*logOp {
	w.mu.Lock()
	pending = append(pending, w.queue...)
	w.queue = w.queue[:0]
	w.mu.Unlock()
	return pending
}

// onlyRemovals reports whether ops holds removals and nothing else.
func onlyRemovals(ops []*logOp) bool {
	for _, op := range ops {
		if op.subject == "" || op.entry.create {
			return false
		}
	}
	return len(ops) > 0
}

// step appends one batch: the ops of the first pending op's subject that fit in one message (barriers
// resolve once everything before them has); it returns what is left.
func (w *writer) step(ctx context.Context, pending []*logOp) []*logOp {
	for len(pending) > 0 && pending[0].subject == "" {
		pending[0].resolve(nil)
		pending = pending[1:]
	}
	if len(pending) == 0 {
		return pending
	}
	subject := pending[0].subject
	st := w.state(subject)
	var batch []*logOp
	rest := pending[:0:0]
	size, blocked, limit := 0, false, w.batchLimit()
	for _, op := range pending {
		// Ops stay in order: a barrier, another subject's op or a full message ends this batch.
		if blocked || op.subject != subject || size+op.entry.size() > limit && len(batch) > 0 {
			blocked = true
			rest = append(rest, op)
			continue
		}
		switch {
		case op.state.Load() != opPending:
			continue // a handshake that gave up before its record went out
		case st.claimed:
			op.resolve(errClaimed)
			continue
		case op.entry.create:
			if _, ok := st.live[op.entry.id]; ok {
				op.resolve(errExists)
				continue
			}
		default:
			if _, ok := st.live[op.entry.id]; !ok {
				op.resolve(nil) // nothing stored for it: nothing to remove
				continue
			}
		}
		batch = append(batch, op)
		size += op.entry.size()
	}
	if len(batch) > 0 {
		// Removals of records stored after their handshake gave up go first, before any barrier.
		rest = append(w.append(ctx, subject, st, batch, nil), rest...)
	}
	if st.restore && !st.claimed {
		w.restore(ctx, subject, st) // the stream was created again while this batch was appended
	}
	return rest
}

// storeChanged asks the writer to look whether its stream was created again (the membership saw the
// store lose its data); it does so between two appends.
func (w *writer) storeChanged() {
	select {
	case w.recheck <- struct{}{}:
	default:
	}
}

// checkRecreated appends every open record again when the stream was created again.
func (w *writer) checkRecreated(ctx context.Context) {
	again, err := w.recreated(ctx)
	if err != nil {
		w.log.Warn("cluster: look at the connection log stream", "stream", LogStream, "err", err)
		return
	}
	if !again {
		return
	}
	for subject, st := range w.states {
		if st.restore && !st.claimed {
			w.restore(ctx, subject, st)
		}
	}
}

// recreated reports whether the stream has been created again since the writer last looked (its
// creation time changed): the store lost it, and every subject's chain starts over. It then resets every
// subject's state, marked to have its open records appended again (restore). A writer that never saw the
// stream's creation time records it and reports false. Only the subjects the new stream holds nothing of
// are reset.
func (w *writer) recreated(ctx context.Context) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	s, err := w.js.Stream(cctx, LogStream)
	if err != nil {
		return false, err
	}
	created := s.CachedInfo().Created
	if w.created.IsZero() || created.Equal(w.created) {
		w.created = created
		return false, nil
	}
	// Only the subjects the new stream holds nothing of start over: one that holds messages was appended
	// to since (its chain goes on), so a creation time that changed for another reason empties nothing.
	var emptied []*logState
	for subject, st := range w.states {
		if st.claimed || st.lastSeq == 0 {
			continue
		}
		_, err := w.stream.GetLastMsgForSubject(cctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			// Nothing, says a direct get, which a replica that has not applied this writer's appends yet
			// answers too; started over, the subject's next append (expecting it empty) is refused and
			// this writer's own message then looks like another node's claim. The leader decides.
			_, err = w.leader.LastMsg(cctx, LogStream, subject)
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			emptied = append(emptied, st)
		} else if err != nil {
			return false, err
		}
	}
	w.created = created
	open := 0
	for _, st := range emptied {
		st.lastSeq, st.writes, st.restore = 0, nil, true
		open += len(st.live)
	}
	w.log.Warn("cluster: the connection log stream was created again (the store lost it: NATS restarted without its JetStream data?); appending this node's open connection records again",
		"stream", LogStream, "created", created, "records", open)
	return true, nil
}

// restore appends every open record of subject again, in messages that fit the batch limit, after the
// stream was created again.
func (w *writer) restore(ctx context.Context, subject string, st *logState) {
	st.restore = false
	all := make([]logEntry, 0, len(st.live))
	for id, r := range st.live {
		all = append(all, logEntry{create: true, id: id, record: r.data})
	}
	var chunk []logEntry
	size := 0
	for _, e := range all {
		chunk = append(chunk, e)
		size += e.size()
		if size > w.batchLimit() {
			w.append(ctx, subject, st, nil, chunk)
			chunk, size = nil, 0
		}
	}
	if len(chunk) > 0 {
		w.append(ctx, subject, st, nil, chunk)
	}
}

// state is subject's state, created empty on first use.
func (w *writer) state(subject string) *logState {
	st, ok := w.states[subject]
	if !ok {
		st = &logState{live: map[string]liveRecord{}}
		w.states[subject] = st
	}
	return st
}

// append stores ops (and refreshed records) as one message on subject, retrying while NATS does not
// answer; it resolves every op, and returns the removals of records stored after their handshake gave
// up (503), to be appended next.
func (w *writer) append(ctx context.Context, subject string, st *logState, ops []*logOp, refresh []logEntry) (undo []*logOp) {
	defer func() {
		if ctx.Err() != nil { // stopping: what was not stored is answered so
			for _, op := range ops {
				op.resolve(errWriterStopped)
			}
		}
	}()
	wait := 100 * time.Millisecond
	for {
		var entries []logEntry
		for _, op := range ops {
			if op.state.Load() == opPending { // a create whose handshake gave up is not written
				entries = append(entries, op.entry)
			}
		}
		entries = append(entries, refresh...)
		if len(entries) == 0 {
			return
		}
		n := st.batch + 1
		msg := nats.NewMsg(subject)
		msg.Data = encodeBatch(n, entries)
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		ack, err := w.js.PublishMsg(cctx, msg, jetstream.WithExpectLastSequencePerSubject(st.lastSeq))
		cancel()
		var seq uint64
		if err == nil {
			seq = ack.Sequence
		} else {
			// Either refused (the subject moved on: claimed) or no answer: the subject's last message says
			// which, and whether this append was stored after all.
			stored, last, ferr := w.settle(ctx, subject, st, n)
			switch {
			case ferr != nil:
				if ctx.Err() != nil {
					return
				}
				w.troubled.Store(true)
				w.log.Warn("cluster: append to the connection log; retrying", "subject", subject, "err", err, "check", ferr)
				if !sleep(ctx, wait) {
					return
				}
				wait = min(2*wait, time.Second)
				continue
			case st.claimed:
				w.log.Warn("cluster: this node's connection log was claimed by another node", "subject", subject)
				for _, op := range ops {
					op.resolve(errClaimed)
				}
				return
			case !stored:
				w.log.Warn("cluster: append to the connection log not stored; retrying", "subject", subject, "err", err)
				if !sleep(ctx, wait) {
					return
				}
				wait = min(2*wait, time.Second)
				continue
			}
			seq = last
		}
		w.troubled.Store(false)
		if len(ops) > 0 {
			w.lastBatch = len(entries) - len(refresh)
		}
		now := w.now()
		st.lastSeq, st.batch = seq, n
		st.writes = append(st.writes, seqTime{seq: seq, at: now})
		for _, e := range entries {
			if e.create {
				st.live[e.id] = liveRecord{data: e.record, written: now}
			} else {
				delete(st.live, e.id)
			}
		}
		for _, op := range ops {
			if !op.resolve(nil) && op.entry.create {
				undo = append(undo, &logOp{subject: subject, entry: logEntry{id: op.entry.id}})
			}
		}
		return undo
	}
}

// settle looks at subject's last message after an append failed: stored reports that batch n is there
// (at sequence last); st.claimed is set when another node has claimed the subject.
func (w *writer) settle(ctx context.Context, subject string, st *logState, n uint64) (stored bool, last uint64, err error) {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	m, err := w.stream.GetLastMsgForSubject(cctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) && st.lastSeq != 0 || err == nil && m.Sequence < st.lastSeq {
		// A direct get, which any replica answers, says the subject holds less than this writer appended:
		// a replica behind, or a log claimed and purged, or a stream lost. Only the leader can tell, and
		// taking a replica behind for a claim gave the node's own log up.
		m, err = w.leader.LastMsg(cctx, LogStream, subject)
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		if st.lastSeq == 0 {
			return false, 0, nil
		}
		// Empty: claimed and purged, or the whole stream was lost and created again (its creation time
		// tells; recreated then resets st, whose open records are appended again).
		again, err := w.recreated(ctx)
		if err != nil {
			return false, 0, err
		}
		if !again {
			st.claimed = true // the leader's answer: no replica behind answered it
		}
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	dm, derr := decodeLogMsg(m.Data)
	switch {
	case derr == nil && dm.claim:
		st.claimed = true
	case derr == nil && dm.batch == n && m.Sequence > st.lastSeq:
		return true, m.Sequence, nil
	case m.Sequence < st.lastSeq:
		// Only a replica behind the stream's leader answers a message before this node's last append
		// (any replica answers a get): nothing is settled, the append is tried again.
		return false, 0, fmt.Errorf("the subject's last message read is at sequence %d, before this node's last append at %d: a replica behind the stream's leader answered", m.Sequence, st.lastSeq)
	case m.Sequence != st.lastSeq:
		// Someone else appended to this node's subject: only a claim may; treat it as one.
		w.log.Error("cluster: unexpected message on this node's connection log; giving it up", "subject", subject, "sequence", m.Sequence, "err", derr)
		st.claimed = true
	}
	return false, 0, nil
}

// maintain appends again the records whose last append is refreshAge old (so that a claim trusts them)
// and purges this writer's messages older than purgeAge.
func (w *writer) maintain(ctx context.Context) {
	now := w.now()
	for subject, st := range w.states {
		if st.claimed {
			delete(w.states, subject)
			continue
		}
		if st.restore {
			w.restore(ctx, subject, st)
		}
		var refresh []logEntry
		size := 0
		for id, r := range st.live {
			if now.Sub(r.written) < w.refreshAge {
				continue
			}
			e := logEntry{create: true, id: id, record: r.data}
			refresh = append(refresh, e)
			size += e.size()
			if size > w.batchLimit() {
				w.append(ctx, subject, st, nil, refresh)
				refresh, size = nil, 0
			}
		}
		if len(refresh) > 0 {
			w.append(ctx, subject, st, nil, refresh)
		}
		w.purge(ctx, subject, st, now)
	}
}

// purge removes subject's messages older than purgeAge: the records they created are either removed or
// appended again since.
func (w *writer) purge(ctx context.Context, subject string, st *logState, now time.Time) {
	i := 0
	for i < len(st.writes) && now.Sub(st.writes[i].at) >= w.purgeAge {
		i++
	}
	if i == 0 || i == 1 && len(st.writes) == 1 {
		return
	}
	keep := i // the first write kept
	if i == len(st.writes) {
		keep = i - 1 // keep the last message: it holds the subject's sequence
	}
	below := st.writes[keep].seq // purge every message of the subject before this sequence
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := w.stream.Purge(cctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(below)); err != nil {
		w.log.Warn("cluster: purge the connection log's old messages", "subject", subject, "err", err)
		return
	}
	st.writes = append(st.writes[:0], st.writes[keep:]...)
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
