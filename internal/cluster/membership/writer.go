package membership

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxBatch bounds one batch of record writes, well under nats.go's default limit of pending
// asynchronous publishes (4,000), past which a publish stalls.
const maxBatch = 256

// errWriterStopped is what a record write gets once Run has ended.
var errWriterStopped = errors.New("the node's record writer has stopped (membership ended)")

// recordWrite is one connection record waiting to be created.
type recordWrite struct {
	key  string
	data []byte
	done chan writeResult // buffered: the writer never waits for the caller
}

type writeResult struct {
	rev uint64
	err error
}

// writer creates connection records in batches. Handshakes arrive concurrently and each must wait for
// its record to be stored (replicated) before the upgrade; rather than one synchronous JetStream
// request per record, every record waiting when the previous batch is acknowledged goes out at once as
// pipelined asynchronous publishes — with the same compare-and-set as KeyValue.Create, an expected last
// subject sequence of 0 — and their acknowledgements are awaited together. The server sees the same
// messages; the node spends less per record (one wake-up per batch instead of per record) and the
// stream's leader gets them back to back. A handshake still gets its answer only once its own record
// is acknowledged, so every connection a client sees open has a record.
type writer struct {
	js      jetstream.JetStream
	subject string // the bucket's subject prefix, "$KV.<bucket>."
	q       chan recordWrite
	stopped chan struct{} // closed when run returns
}

func newWriter(js jetstream.JetStream, bucket string) *writer {
	return &writer{js: js, subject: "$KV." + bucket + ".", q: make(chan recordWrite, maxBatch), stopped: make(chan struct{})}
}

// create stores data under key if the key does not exist, and returns the entry's revision.
func (w *writer) create(ctx context.Context, key string, data []byte) (uint64, error) {
	wr := recordWrite{key: key, data: data, done: make(chan writeResult, 1)}
	select {
	case w.q <- wr:
	case <-w.stopped:
		return 0, errWriterStopped
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case r := <-wr.done:
		return r.rev, r.err
	case <-w.stopped:
		return 0, errWriterStopped
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run writes batches until ctx ends.
func (w *writer) run(ctx context.Context) {
	defer close(w.stopped)
	batch := make([]recordWrite, 0, maxBatch)
	futures := make([]jetstream.PubAckFuture, 0, maxBatch)
	for {
		batch, futures = batch[:0], futures[:0]
		select {
		case <-ctx.Done():
			return
		case wr := <-w.q:
			batch = append(batch, wr)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case wr := <-w.q:
				batch = append(batch, wr)
			default:
				break fill
			}
		}
		for _, wr := range batch {
			m := nats.NewMsg(w.subject + wr.key)
			m.Data = wr.data
			f, err := w.js.PublishMsgAsync(m, jetstream.WithExpectLastSequencePerSubject(0))
			if err != nil {
				wr.done <- writeResult{err: fmt.Errorf("publish: %w", err)}
			}
			futures = append(futures, f)
		}
		timeout := time.NewTimer(opTimeout)
		late := fmt.Errorf("no acknowledgement within %v", opTimeout)
		expired := false
		for i, f := range futures {
			if f == nil {
				continue
			}
			if expired { // the batch's deadline has passed: what is not acknowledged yet is late
				select {
				case ack := <-f.Ok():
					batch[i].done <- writeResult{rev: ack.Sequence}
				case err := <-f.Err():
					batch[i].done <- writeResult{err: err}
				default:
					batch[i].done <- writeResult{err: late}
				}
				continue
			}
			select {
			case ack := <-f.Ok():
				batch[i].done <- writeResult{rev: ack.Sequence}
			case err := <-f.Err():
				batch[i].done <- writeResult{err: err}
			case <-timeout.C:
				expired = true
				batch[i].done <- writeResult{err: late}
			case <-ctx.Done():
				timeout.Stop()
				return
			}
		}
		timeout.Stop()
	}
}
