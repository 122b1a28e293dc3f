package membership

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishHook wraps a node's JetStream (what its claims append with): before runs ahead of each
// publish and may hold it or refuse it; after sees each publish the store acknowledged.
type publishHook struct {
	jetstream.JetStream
	before func(ctx context.Context, msg *nats.Msg) error
	after  func(msg *nats.Msg)
}

// lostNodeProgress decodes msg if it is a claim's progress in node 1's log (the lost node of lostNode).
func lostNodeProgress(msg *nats.Msg) (logMsg, bool) {
	lm, err := decodeLogMsg(msg.Data)
	return lm, err == nil && lm.kind == kindProgress && strings.HasPrefix(msg.Subject, logSubjectPfx+"1.")
}

// holdProgress is a publishHook.before that holds the lost node's progress appends until full is
// closed (or the append's context ends).
func holdProgress(full <-chan struct{}) func(context.Context, *nats.Msg) error {
	return func(ctx context.Context, msg *nats.Msg) error {
		if _, ok := lostNodeProgress(msg); !ok {
			return nil
		}
		select {
		case <-full:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *publishHook) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if p.before != nil {
		if err := p.before(ctx, msg); err != nil {
			return nil, err
		}
	}
	ack, err := p.JetStream.PublishMsg(ctx, msg, opts...)
	if err == nil && p.after != nil {
		p.after(msg)
	}
	return ack, err
}

// lostNode records n connections on node 1 and kills it, node 2 (adjusted by prepare) running: node 2
// claims node 1's log. It returns node 2, the connections and node 1's log subject.
func lostNode(t *testing.T, s *server.Server, n int, prepare func(*Members)) (b *node, ids []string, subject string) {
	t.Helper()
	a := runNode(t, s, 1)
	b = runNodeWith(t, s, 2, prepare)
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes 1 and 2 did not join")
	ids = recordConns(t, a, n)
	subject = a.m.logSubjectNow()
	crash(a)
	return b, ids, subject
}

// claimedBy waits until subject ends with node's complete claim alone.
func claimedBy(t *testing.T, st jetstream.Stream, subject string, node int) {
	t.Helper()
	eventually(t, func() bool {
		lm, msgs := lastLogMsg(t, st, subject)
		return lm.complete() && int(lm.node) == node && msgs == 1
	}, fmt.Sprintf("node %d did not complete the claim of %s", node, subject))
}

// onceEach checks that runs holds every one of ids once, and nothing else.
func onceEach(t *testing.T, who string, runs map[string]int, ids []string) {
	t.Helper()
	want := map[string]int{}
	for _, id := range ids {
		want[id] = 1
	}
	if !maps.Equal(runs, want) {
		t.Errorf("%s ran the $disconnects %v, want each of the %d connections once", who, runs, len(ids))
	}
}

// A claim runs its $disconnects ClaimWorkers at once, never more: the Reap hook holds every call until
// as many run at once as the default allows, and counts the most it saw. One at a time (as claims ran
// before), the second never comes.
func TestClaimRunsUpToClaimWorkersAtOnce(t *testing.T) {
	s := startServer(t)
	_, st := logStream(t, s)
	release := make(chan struct{})
	var (
		mu                sync.Mutex
		active, maxActive int
		runs              = map[string]int{}
	)
	reap := func(ctx context.Context, id string, _ []byte) error {
		mu.Lock()
		active++
		maxActive = max(maxActive, active)
		mu.Unlock()
		defer func() {
			mu.Lock()
			active--
			mu.Unlock()
		}()
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		runs[id]++
		mu.Unlock()
		return nil
	}
	b, ids, subject := lostNode(t, s, 100, func(m *Members) { m.cfg.Reap = reap })
	eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return active == DefaultClaimWorkers
	}, fmt.Sprintf("node 2 never ran %d $disconnects at once", DefaultClaimWorkers))
	close(release)
	claimedBy(t, st, subject, 2)
	mu.Lock()
	defer mu.Unlock()
	if maxActive != DefaultClaimWorkers {
		t.Errorf("node 2 ran up to %d $disconnects at once, want %d (ClaimWorkers)", maxActive, DefaultClaimWorkers)
	}
	onceEach(t, "node 2", runs, ids)
	if n := b.m.claimGoroutines.Load(); n != 0 {
		t.Errorf("%d claim workers outlived the claim", n)
	}
}

// A claim appends its progress in batches, and lets no more $disconnects run ahead of it than twice its
// workers: the first progress append is held until that many have begun (none may begin past it), and
// the $disconnects that finished meanwhile are recorded together. Every connection is recorded once.
func TestClaimProgressIsBatchedWithinItsWindow(t *testing.T) {
	const workers, conns = 4, 40
	s := startServer(t)
	_, st := logStream(t, s)
	var (
		mu          sync.Mutex
		calls       int
		runs        = map[string]int{}
		firstStored bool
		past        []int // calls begun past the window while the first progress was held
		batches     [][]string
	)
	full := make(chan struct{}) // closed when the window is full
	reap := func(_ context.Context, id string, _ []byte) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		runs[id]++
		switch {
		case calls == 2*workers:
			close(full)
		case calls > 2*workers && !firstStored:
			past = append(past, calls)
		}
		return nil
	}
	b, ids, subject := lostNode(t, s, conns, func(m *Members) {
		m.cfg.ClaimWorkers, m.cfg.Reap = workers, reap
		m.js = &publishHook{JetStream: m.js,
			before: holdProgress(full),
			after: func(msg *nats.Msg) {
				lm, ok := lostNodeProgress(msg)
				if !ok {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				firstStored = true
				var batch []string
				for _, e := range lm.entries {
					batch = append(batch, e.id)
				}
				batches = append(batches, batch)
			}}
	})
	claimedBy(t, st, subject, 2)
	mu.Lock()
	defer mu.Unlock()
	if len(past) > 0 {
		t.Errorf("$disconnects %v began while %d had begun and none was recorded: the window is twice the %d workers", past, 2*workers, workers)
	}
	onceEach(t, "node 2", runs, ids)
	recorded := map[string]int{}
	largest := 0
	for _, batch := range batches {
		largest = max(largest, len(batch))
		for _, id := range batch {
			recorded[id]++
		}
	}
	onceEach(t, "node 2's progress", recorded, ids)
	if largest < 2 || len(batches) >= conns {
		t.Errorf("%d progress messages for %d connections, the largest naming %d: the $disconnects that finished during an append were not batched (%v)",
			len(batches), conns, largest, batches)
	}
	if n := b.m.claimGoroutines.Load(); n != 0 {
		t.Errorf("%d claim workers outlived the claim", n)
	}
}

// A $disconnect whose integration is slow holds up none of the others: while the first connection's
// call is held, every other one runs and is recorded in the log.
func TestSlowDisconnectDoesNotHoldUpTheOthers(t *testing.T) {
	s := startServer(t)
	_, st := logStream(t, s)
	release := make(chan struct{})
	var (
		mu   sync.Mutex
		runs = map[string]int{}
		slow string
	)
	reap := func(ctx context.Context, id string, _ []byte) error {
		if id == slow {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		mu.Lock()
		defer mu.Unlock()
		runs[id]++
		return nil
	}
	slow = fmt.Sprintf("CONN%011d=", 0) // the first connection the claim takes
	b, ids, subject := lostNode(t, s, 50, func(m *Members) { m.cfg.Reap = reap })
	eventually(t, func() bool {
		got := progressIn(t, st, subject)
		for _, id := range ids[1:] {
			if got[id] != 1 {
				return false
			}
		}
		return got[slow] == 0
	}, "the others' $disconnects were not all run and recorded while the slow one was held")
	mu.Lock()
	onceEach(t, "node 2 while the slow one was held", runs, ids[1:])
	mu.Unlock()
	close(release)
	claimedBy(t, st, subject, 2)
	mu.Lock()
	defer mu.Unlock()
	onceEach(t, "node 2", runs, ids)
	if n := b.m.claimGoroutines.Load(); n != 0 {
		t.Errorf("%d claim workers outlived the claim", n)
	}
}

// A claimer that dies in the middle of a concurrent batch: node 2 runs 4 $disconnects, the store stops
// taking its progress from the 4th on, and it holds every later call while its window fills; then it
// dies. Node 3 takes the claim over: what node 2's progress recorded runs nowhere else; what node 2
// ran without recording it runs again (twice in all); what it held (cut short) and what it never
// began runs once, on node 3. No more than twice node 2's workers run twice or were in flight.
func TestClaimerDiesInTheMiddleOfABatch(t *testing.T) {
	const workers, conns, ran = 4, 40, 4
	s := startServer(t)
	_, st := logStream(t, s)
	bReap, cReap := newReapCounter(ran), newReapCounter(0)
	b, ids, subject := lostNode(t, s, conns, func(m *Members) {
		m.cfg.ClaimWorkers, m.cfg.Reap = workers, bReap.reap
		m.js = &publishHook{JetStream: m.js, before: func(ctx context.Context, msg *nats.Msg) error {
			if lm, err := decodeLogMsg(msg.Data); err != nil || lm.kind != kindProgress || len(bReap.snapshot()) < ran {
				return nil
			}
			<-ctx.Done() // the store does not answer
			return ctx.Err()
		}}
	})
	eventually(t, func() bool {
		bReap.mu.Lock()
		calls := bReap.calls
		bReap.mu.Unlock()
		return calls-len(progressIn(t, st, subject)) == 2*workers
	}, "node 2's window did not fill")
	c := runNodeWith(t, s, 3, withReap(cReap)) // once node 2 has claimed the log: node 3 leaves it to node 2
	eventually(t, func() bool { return c.m.Status() == "" && c.m.Alive(2) }, "node 3 did not join")
	crash(b)
	recorded := progressIn(t, st, subject) // node 2 writes nothing more
	held, cut := bReap.heldCalls()
	if len(cut) != held {
		t.Errorf("node 2 held %d $disconnects and %d of them saw their ctx end (%q), want all", held, len(cut), cut)
	}
	if n := b.m.claimGoroutines.Load(); n != 0 {
		t.Errorf("%d of node 2's claim workers outlived it", n)
	}
	claimedBy(t, st, subject, 3)
	bRuns, cRuns := bReap.snapshot(), cReap.snapshot()
	if len(bRuns) != ran {
		t.Fatalf("node 2 ran %d $disconnects, want %d", len(bRuns), ran)
	}
	twice := 0
	for _, id := range ids {
		switch {
		case recorded[id] > 0:
			if recorded[id] != 1 || bRuns[id] != 1 || cRuns[id] != 0 {
				t.Errorf("connection %s, recorded as done by node 2: recorded %d times, run %d times on node 2 and %d on node 3, want 1, 1, 0",
					id, recorded[id], bRuns[id], cRuns[id])
			}
		case bRuns[id] > 0:
			twice++
			if cRuns[id] != 1 {
				t.Errorf("connection %s, run by node 2 but not recorded: %d $disconnects on node 3, want 1", id, cRuns[id])
			}
		case cRuns[id] != 1:
			t.Errorf("connection %s, not run by node 2: %d $disconnects on node 3, want 1", id, cRuns[id])
		}
	}
	if twice == 0 || held == 0 {
		t.Errorf("node 2 died with %d $disconnects run and not recorded and %d in flight: the test wants both", twice, held)
	}
	if twice+held > 2*workers {
		t.Errorf("node 2 died with %d $disconnects run and not recorded and %d in flight, more than twice its %d workers", twice, held, workers)
	}
}

// A claim that another node took over (its next append conflicts) starts no more $disconnects and
// ends the ones running: each of them sees its ctx end before runClaim returns, and so has every
// worker.
func TestClaimTakenOverEndsItsRunningDisconnects(t *testing.T) {
	const workers = 4
	s := startServer(t)
	js, st := logStream(t, s)
	var (
		mu    sync.Mutex
		calls int
		cut   []string
	)
	allIn := make(chan struct{}) // closed when every worker is in a call
	first := fmt.Sprintf("CONN%011d=", 0)
	reap := func(ctx context.Context, id string, _ []byte) error {
		mu.Lock()
		calls++
		if calls == workers {
			close(allIn)
		}
		mu.Unlock()
		if id == first { // returns once the others run, so its progress append meets the takeover
			select {
			case <-allIn:
			case <-time.After(20 * time.Second): // never all in: fail, not hang
			}
			return nil
		}
		<-ctx.Done()
		mu.Lock()
		cut = append(cut, id)
		mu.Unlock()
		return ctx.Err()
	}
	b := runNodeWith(t, s, 2, func(m *Members) { m.cfg.ClaimWorkers, m.cfg.Reap = workers, reap })
	// Node 2 looks for logs to claim when it joins, beside its heartbeats: the log below is written once
	// that scan is done, or node 2 may take node 7's claim over itself (node 7 is no member) and append
	// after it — a second claim of the log, besides the one this test runs.
	select {
	case <-b.m.scanned:
	case <-time.After(20 * time.Second):
		t.Fatal("node 2 did not join")
	}
	b.m.reapWG.Wait()
	subject := logSubject(9, "gone")
	var live []logEntry
	for i := range 10 {
		live = append(live, logEntry{create: true, id: fmt.Sprintf("CONN%011d=", i), record: []byte("rec")})
	}
	me := b.m.incarnationNow()
	var seq uint64
	for _, data := range [][]byte{encodeBatch(1, live), encodeClaimStarted(2, me), encodeClaimStarted(7, "other")} {
		ack, err := js.Publish(context.Background(), subject, data)
		if err != nil {
			t.Fatal(err)
		}
		seq = ack.Sequence
	}
	if b.m.runClaim(context.Background(), subject, seq-1, me, live) {
		t.Fatal("the claim completed though another node had taken it over")
	}
	if n := b.m.claimGoroutines.Load(); n != 0 {
		t.Errorf("%d claim workers outlived runClaim", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls < workers || calls > 2*workers {
		t.Errorf("%d $disconnects began, want from %d (the workers, at once) to %d (the window)", calls, workers, 2*workers)
	}
	if len(cut) != calls-1 || slices.Contains(cut, first) {
		t.Errorf("of %d $disconnects begun, %q saw their ctx end; want every one but %s", calls, cut, first)
	}
	if lm, msgs := lastLogMsg(t, st, subject); lm.kind != kindClaimed || lm.node != 7 || msgs != 3 {
		t.Errorf("the log ends with %+v (%d messages), not node 7's claim: node 2 appended after it", lm, msgs)
	}
	if !strings.Contains(b.log.String(), "the progress of a claim was not stored") {
		t.Errorf("node 2 does not log why it stopped:\n%s", b.log.String())
	}
}

// progressFits cuts a batch of finished $disconnects into messages that fit the log's limit, each naming
// at least one connection.
func TestProgressFits(t *testing.T) {
	id := "CONN0000000000A="
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = id
	}
	for _, tc := range []struct {
		name  string
		ids   []string
		limit int
		want  int
	}{
		{"all fit", ids, maxBatchBytes, 100},
		{"one", ids[:1], maxBatchBytes, 1},
		{"a limit below one still takes one", ids, 10, 1},
		{"a small max_payload", ids, 2048 / 2, 38},
		{"none", nil, maxBatchBytes, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := progressFits(2, "0123456789abcdef", tc.ids, tc.limit)
			if n != tc.want {
				t.Errorf("progressFits = %d, want %d", n, tc.want)
			}
			if size := len(encodeProgress(2, "0123456789abcdef", tc.ids[:n])); n > 1 && size > tc.limit {
				t.Errorf("%d connections make a message of %d bytes, over the limit %d", n, size, tc.limit)
			}
		})
	}
}

// On a NATS server with a small max_payload, a claim's batch of finished $disconnects that does not fit
// one message is appended as several, each within the log's message limit (half the max_payload), one
// after the other: every connection is recorded once and the claim completes. The first progress
// append is held until the window is full, so the next batch names nearly twice the workers.
func TestClaimProgressSplitsToFitASmallMaxPayload(t *testing.T) {
	s := startServerWithMaxPayload(t, 1024)
	_, st := logStream(t, s)
	const conns = 100
	var (
		mu       sync.Mutex
		calls    int
		runs     = map[string]int{}
		limit    int
		messages [][]byte // the progress messages node 2's claim appended, as stored
	)
	full := make(chan struct{}) // closed when the window is full
	reap := func(_ context.Context, id string, _ []byte) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		runs[id]++
		if calls == 2*DefaultClaimWorkers {
			close(full)
		}
		return nil
	}
	b, ids, subject := lostNode(t, s, conns, func(m *Members) {
		m.cfg.Reap = reap
		limit = m.writer.batchLimit()
		m.js = &publishHook{JetStream: m.js,
			before: holdProgress(full),
			after: func(msg *nats.Msg) {
				if _, ok := lostNodeProgress(msg); ok {
					mu.Lock()
					defer mu.Unlock()
					messages = append(messages, msg.Data)
				}
			}}
	})
	if fits := progressFits(2, newIncarnation(), ids[:2*DefaultClaimWorkers-1], limit); fits >= 2*DefaultClaimWorkers-1 {
		t.Fatalf("a batch of %d fits one message of %d bytes: the test does not split", fits, limit)
	}
	claimedBy(t, st, subject, 2)
	mu.Lock()
	defer mu.Unlock()
	onceEach(t, "node 2", runs, ids)
	recorded := map[string]int{}
	largest := 0
	for _, data := range messages {
		if len(data) > limit {
			t.Errorf("a progress message of %d bytes, over the log's limit of %d", len(data), limit)
		}
		lm, err := decodeLogMsg(data)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(lm.entries))
		for _, e := range lm.entries {
			recorded[e.id]++
		}
	}
	onceEach(t, "node 2's progress", recorded, ids)
	if largest < DefaultClaimWorkers {
		t.Errorf("the largest progress message names %d connections: the held append's batch (up to %d) never came to be split", largest, 2*DefaultClaimWorkers-1)
	}
	if n := b.m.claimGoroutines.Load(); n != 0 {
		t.Errorf("%d claim workers outlived the claim", n)
	}
}
