package main

// The raw NATS cluster's batched peer records (?record=peerbatch): the group commit of Switchboard's
// connection log (internal/cluster/membership/writer.go) on the cheapest write there is, one core NATS
// request to another process. The first record goes out at once; those that arrive while its request is
// in flight wait for its reply and then go together, in one request; each handshake waits for the reply
// to the request that carries its own record. Removals travel the same way, in order with the records,
// and nobody waits for them.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// rawNATSMaxBatch bounds the entries of one batch: 512 records of rawNATSRecordSize bytes are about
// 160 KB, well under NATS's default maximum payload (1 MB).
const rawNATSMaxBatch = 512

// errRawNATSBatcherStopped is the answer of a record handed to a batcher that has stopped.
var errRawNATSBatcherStopped = errors.New("rawnats: the batcher of peer records has stopped")

// rawNATSBatchEntry is one entry of a batch: a record to hold, or the removal of one (no data).
type rawNATSBatchEntry struct {
	remove bool
	id     string
	data   []byte
}

// appendRawNATSBatchEntry appends e in a batch's form: rawNATSRecord or rawNATSRemove, the connection's
// ID, a newline, the data's length as a uvarint, the data.
func appendRawNATSBatchEntry(b []byte, e rawNATSBatchEntry) []byte {
	kind := byte(rawNATSRecord)
	if e.remove {
		kind = rawNATSRemove
	}
	b = append(b, kind)
	b = append(b, e.id...)
	b = append(b, '\n')
	b = binary.AppendUvarint(b, uint64(len(e.data)))
	return append(b, e.data...)
}

// parseRawNATSBatch reads a batch's entries (what follows its rawNATSBatch byte), each as
// appendRawNATSBatchEntry writes it. An entry that does not parse is an error saying which entry and at
// which byte, and no entry is returned.
func parseRawNATSBatch(data []byte) ([]rawNATSBatchEntry, error) {
	var entries []rawNATSBatchEntry
	for at := 0; at < len(data); {
		start := at
		bad := func(format string, args ...any) error {
			return fmt.Errorf("batch entry %d at byte %d: %s", len(entries)+1, start, fmt.Sprintf(format, args...))
		}
		var e rawNATSBatchEntry
		switch data[at] {
		case rawNATSRecord:
		case rawNATSRemove:
			e.remove = true
		default:
			return nil, bad("kind %q, want %q (a record) or %q (a removal)", data[at], rawNATSRecord, rawNATSRemove)
		}
		at++
		end := at
		for end < len(data) && data[end] != '\n' {
			end++
		}
		if end == len(data) {
			return nil, bad("no newline after the connection's ID")
		}
		if end == at {
			return nil, bad("an empty connection ID")
		}
		e.id = string(data[at:end])
		at = end + 1
		size, n := binary.Uvarint(data[at:])
		if n <= 0 {
			return nil, bad("the data's length is not a uvarint")
		}
		at += n
		if size > uint64(len(data)-at) {
			return nil, bad("%d bytes of data, %d left", size, len(data)-at)
		}
		if e.remove && size > 0 {
			return nil, bad("a removal with %d bytes of data", size)
		}
		if !e.remove {
			e.data = data[at : at+int(size)]
		}
		at += int(size)
		entries = append(entries, e)
	}
	return entries, nil
}

// rawNATSBatchOp is one entry handed to the batcher; done (nil for a removal: nobody waits) gets the
// answer of the request that carried it.
type rawNATSBatchOp struct {
	entry rawNATSBatchEntry
	done  chan error
}

// rawNATSBatcher sends a node's peer records and removals in batches, one request in flight at a time.
// Its goroutine runs from newRawNATSBatcher to close.
type rawNATSBatcher struct {
	send    func(ctx context.Context, batch []byte) error // one request; nil once the holder answered
	ctx     context.Context                               // ends with close: a request in flight gives up
	cancel  context.CancelFunc
	wake    chan struct{}
	stopped chan struct{} // closed when run returns

	mu     sync.Mutex
	queue  []*rawNATSBatchOp
	closed bool
}

// newRawNATSBatcher starts a batcher whose requests go through send.
func newRawNATSBatcher(send func(ctx context.Context, batch []byte) error) *rawNATSBatcher {
	ctx, cancel := context.WithCancel(context.Background())
	b := &rawNATSBatcher{send: send, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go b.run()
	return b
}

// hold hands id's record to the batcher; wait waits for it to be held.
func (b *rawNATSBatcher) hold(id string, data []byte) *rawNATSBatchOp {
	op := &rawNATSBatchOp{entry: rawNATSBatchEntry{id: id, data: data}, done: make(chan error, 1)}
	b.enqueue(op)
	return op
}

// drop hands the removal of id's record to the batcher; it follows every record handed before it.
func (b *rawNATSBatcher) drop(id string) {
	b.enqueue(&rawNATSBatchOp{entry: rawNATSBatchEntry{remove: true, id: id}})
}

func (b *rawNATSBatcher) enqueue(op *rawNATSBatchOp) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		op.resolve(errRawNATSBatcherStopped)
		return
	}
	b.queue = append(b.queue, op)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // a wake-up is already pending: run takes the whole queue
	}
}

func (op *rawNATSBatchOp) resolve(err error) {
	if op.done != nil {
		op.done <- err
	}
}

// wait waits for op's record to be held, or for ctx to end (the handshake's client left): then the
// record may still reach its holder, and the caller drops it.
func (b *rawNATSBatcher) wait(ctx context.Context, op *rawNATSBatchOp) error {
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waiting is how many entries wait for the request in flight to be answered.
func (b *rawNATSBatcher) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// run sends what waits, one batch at a time, until close.
func (b *rawNATSBatcher) run() {
	defer close(b.stopped)
	var buf []byte
	for {
		select {
		case <-b.ctx.Done():
			b.failQueued()
			return
		case <-b.wake:
		}
		for b.ctx.Err() == nil {
			b.mu.Lock()
			ops := b.queue
			if len(ops) > rawNATSMaxBatch {
				b.queue = append([]*rawNATSBatchOp(nil), ops[rawNATSMaxBatch:]...)
				ops = ops[:rawNATSMaxBatch]
			} else {
				b.queue = nil
			}
			b.mu.Unlock()
			if len(ops) == 0 {
				break
			}
			buf = append(buf[:0], rawNATSBatch)
			for _, op := range ops {
				buf = appendRawNATSBatchEntry(buf, op.entry)
			}
			err := b.send(b.ctx, buf)
			if err != nil {
				err = fmt.Errorf("a batch of %d records and removals: %w", len(ops), err)
			}
			for _, op := range ops {
				op.resolve(err)
			}
		}
	}
}

// failQueued answers every entry still queued with errRawNATSBatcherStopped.
func (b *rawNATSBatcher) failQueued() {
	b.mu.Lock()
	ops := b.queue
	b.queue = nil
	b.mu.Unlock()
	for _, op := range ops {
		op.resolve(errRawNATSBatcherStopped)
	}
}

// close stops the batcher: a request in flight gives up, what waits is answered with
// errRawNATSBatcherStopped, and nothing is taken from then on. It returns once run has.
func (b *rawNATSBatcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	<-b.stopped
}
