package membership

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// subjectState is the number of messages on subject and its first and last sequence.
func subjectState(t *testing.T, st jetstream.Stream, subject string) (msgs, first, last uint64) {
	t.Helper()
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	first = ^uint64(0)
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq != 0; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if err != nil || m.Subject != subject {
			continue
		}
		first, last = min(first, seq), max(last, seq)
	}
	return info.State.Subjects[subject], first, last
}

// replay is the connections subject's log holds open, as a survivor claiming it would read them. A
// claim only lands when the log did not move on while it was read (its compare-and-set), so a replay
// the owner's writer overtook — a refresh appended past the end it read, then a purge of the copy it
// had not reached yet — is made again, as the claim would be.
func replay(t *testing.T, n *node, subject string) []string {
	t.Helper()
	var live []logEntry
	for deadline := time.Now().Add(20 * time.Second); ; {
		last, err := n.m.connlog.GetLastMsgForSubject(context.Background(), subject)
		if err != nil {
			t.Fatal(err)
		}
		live, err = n.m.readLog(context.Background(), subject, last.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		after, err := n.m.connlog.GetLastMsgForSubject(context.Background(), subject)
		if err != nil {
			t.Fatal(err)
		}
		if after.Sequence == last.Sequence {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log moved on during every replay for 20s")
		}
	}
	var ids []string
	for _, e := range live {
		ids = append(ids, e.id+"="+string(e.record))
	}
	slices.Sort(ids)
	return ids
}

// Concurrent handshakes' records share log messages: each Record returns once its own record is
// stored, the log holds fewer messages than records, a survivor replaying it finds every record, and
// Forget removes each (running $disconnect once) so that the replay then finds none. A second record
// for an open connection is refused.
func TestConcurrentRecordsShareLogMessages(t *testing.T) {
	s := startServer(t)
	n := runNode(t, s, 1)
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	ctx := context.Background()
	const count = 300
	ids := make([]string, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = fmt.Sprintf("id%013d=", i)
		wg.Go(func() { errs[i] = n.m.Record(ctx, ids[i], []byte("rec")) })
	}
	wg.Wait()
	var want []string
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("Record %s: %v", id, errs[i])
		}
		want = append(want, id+"=rec")
	}
	subject := n.m.logSubjectNow()
	if got := replay(t, n, subject); !slices.Equal(got, want) {
		t.Fatalf("the log holds %d records, want %d", len(got), len(want))
	}
	msgs, _, _ := subjectState(t, n.m.connlog, subject)
	t.Logf("%d records in %d messages", count, msgs)
	if msgs >= count {
		t.Fatalf("%d records took %d messages: not batched", count, msgs)
	}
	if err := n.m.Record(ctx, ids[0], []byte("again")); err == nil {
		t.Fatal("a second record for an open connection was accepted")
	}
	var ran sync.WaitGroup
	var mu sync.Mutex
	runs := 0
	for _, id := range ids {
		ran.Go(func() { n.m.Forget(ctx, id, func() { mu.Lock(); runs++; mu.Unlock() }) })
	}
	ran.Wait()
	if runs != count {
		t.Fatalf("$disconnect ran %d times for %d forgotten records", runs, count)
	}
	if got := replay(t, n, subject); len(got) != 0 {
		t.Fatalf("the log still holds %d records after every connection closed", len(got))
	}
}

// Two survivors claiming a dead node's log at once: one wins and runs every connection's $disconnect,
// the other none; the owner closing a connection afterwards does not run it again, and its next record
// is refused.
func TestClaimRunsEachDisconnectOnce(t *testing.T) {
	s := startServer(t)
	a, b, c := runNode(t, s, 1), runNode(t, s, 2), runNode(t, s, 3)
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && c.m.Status() == "" }, "nodes did not join")
	ctx := context.Background()
	const count = 50
	for i := range count {
		if err := a.m.Record(ctx, fmt.Sprintf("id%013d=", i), []byte("rec")); err != nil {
			t.Fatal(err)
		}
	}
	inc := a.m.incarnationNow()
	var wg sync.WaitGroup
	for _, n := range []*node{b, c} {
		wg.Go(func() {
			if err := n.m.reap(ctx, 1, inc); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, n := range []*node{b, c} {
		for len(n.reaped) > 0 {
			seen[<-n.reaped]++
		}
	}
	if len(seen) != count {
		t.Fatalf("%d connections' $disconnect ran, want %d", len(seen), count)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("%s: $disconnect ran %d times", id, k)
		}
	}
	ran := false
	a.m.Forget(ctx, "id0000000000000=", func() { ran = true })
	if ran {
		t.Fatal("the owner ran the $disconnect of a connection of its claimed log")
	}
	if err := a.m.Record(ctx, "late00000000000=", []byte("rec")); err == nil {
		t.Fatal("a record on a claimed log was accepted")
	}
}

// An open connection's record is appended again before it grows stale, and the log's old messages are
// purged: the log stays short, and a replay still finds the open connection and not the closed one.
func TestOldRecordsAreRefreshedAndPurged(t *testing.T) {
	s := startServer(t)
	n := runNodeWith(t, s, 1, func(m *Members) {
		m.writer.refreshAge, m.writer.purgeAge, m.writer.maintainEvery = 100*time.Millisecond, 400*time.Millisecond, 50*time.Millisecond
	})
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	ctx := context.Background()
	if err := n.m.Record(ctx, "open00000000000=", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	if err := n.m.Record(ctx, "closed000000000=", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	subject := n.m.logSubjectNow()
	_, first, _ := subjectState(t, n.m.connlog, subject)
	n.m.Forget(ctx, "closed000000000=", nil)
	// Other connections come and go meanwhile, so that the writer is seldom idle.
	churnCtx, stopChurn := context.WithCancel(ctx)
	var churn sync.WaitGroup
	for w := range 4 {
		churn.Go(func() {
			for i := 0; churnCtx.Err() == nil; i++ {
				id := fmt.Sprintf("churn%d-%09d=", w, i)
				if n.m.Record(churnCtx, id, []byte("rec")) == nil {
					n.m.Forget(ctx, id, nil)
				}
			}
		})
	}
	defer func() { stopChurn(); churn.Wait() }()
	eventually(t, func() bool {
		_, f, _ := subjectState(t, n.m.connlog, subject)
		return f > first+2
	}, "the log's old messages were not purged")
	stopChurn()
	churn.Wait()
	if err := n.m.writer.flush(ctx); err != nil { // a churn record whose Record gave up is removed by then
		t.Fatal(err)
	}
	if got := replay(t, n, subject); !slices.Equal(got, []string{"open00000000000==rec"}) {
		t.Fatalf("replay after purging: %q", got)
	}
}

// Once the membership has stopped, Record fails at once instead of waiting.
func TestRecordAfterStopFails(t *testing.T) {
	s := startServer(t)
	n := runNode(t, s, 1)
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	n.stop()
	if err := n.m.Record(context.Background(), "DDDDDDDDDDDDDDD=", []byte("rec")); err == nil {
		t.Fatal("Record after the membership stopped succeeded")
	}
}

// A removal that waits for NATS (gone for good here) is answered when the membership stops: Run
// returns, and the connection's $disconnect does not run on this node (whoever claims the log runs it).
func TestWaitingRemovalEndsWithTheMembership(t *testing.T) {
	s := startServer(t)
	n := runNode(t, s, 1)
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	const id = "EEEEEEEEEEEEEEE="
	if err := n.m.Record(context.Background(), id, []byte("rec")); err != nil {
		t.Fatal(err)
	}
	n.m.nc.Close()
	ran := make(chan struct{}, 1)
	n.m.Forget(context.Background(), id, func() { ran <- struct{}{} }) // returns after opTimeout, still waiting
	stopped := make(chan struct{})
	go func() { n.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("the membership did not stop while a removal waited for NATS")
	}
	select {
	case <-ran:
		t.Fatal("the $disconnect of a connection whose record was never removed ran")
	default:
	}
	if !strings.Contains(n.log.String(), "was not removed") {
		t.Errorf("the unremoved record is not logged:\n%s", n.log.String())
	}
}

// A NATS server with a small max_payload: batches are cut to fit, so concurrent records still get
// stored rather than failing as one message too large.
func TestBatchesFitASmallMaxPayload(t *testing.T) {
	s := startServerWithMaxPayload(t, 4096)
	n := runNode(t, s, 1)
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	record := []byte(strings.Repeat("r", 300))
	errs := make([]error, 40)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = n.m.Record(context.Background(), fmt.Sprintf("id%013d=", i), record) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if got := replay(t, n, n.m.logSubjectNow()); len(got) != len(errs) {
		t.Fatalf("the log holds %d records, want %d", len(got), len(errs))
	}
}

// A purge of the log's prefix in the middle of a replay (its owner alive after all) must not make a
// closed connection look open: the replay that counted a create whose removal the purge took is made
// again.
func TestReplayOvertakenByAPurge(t *testing.T) {
	s := startServer(t)
	n := runNode(t, s, 1)
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	subject, last := closedThenOpen(t, n, n.m.connlog)
	purged := purgeDuringReplay(t, n, n.m.connlog, subject, last)
	if got := replay(t, n, subject); !slices.Equal(got, []string{"open00000000000==rec"}) {
		t.Fatalf("replay overtaken by a purge: %q, want only the open connection", got)
	}
	if !purged() {
		t.Fatal("the purge did not happen during the replay")
	}
}

// closedThenOpen records a connection on n and removes it, then records one left open; it returns n's
// log subject and the sequence of its last message, as st holds them.
func closedThenOpen(t *testing.T, n *node, st jetstream.Stream) (subject string, last uint64) {
	t.Helper()
	ctx := context.Background()
	if err := n.m.Record(ctx, "closed000000000=", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	n.m.Forget(ctx, "closed000000000=", nil)
	if err := n.m.Record(ctx, "open00000000000=", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	subject = n.m.logSubjectNow()
	msg, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	return subject, msg.Sequence
}

// purgeDuringReplay makes n's next replay purge subject up to last in st once it has read the first
// message (the closed connection's create, whose removal the purge takes); purged reports whether it did.
func purgeDuringReplay(t *testing.T, n *node, st jetstream.Stream, subject string, last uint64) (purged func() bool) {
	done := false
	n.m.replayRead = func(uint64) {
		if !done {
			done = true
			if err := st.Purge(context.Background(), jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(last)); err != nil {
				t.Error(err)
			}
		}
	}
	return func() bool { return done }
}

// A subject found empty is the log claimed and purged — unless the whole stream was lost and created
// again (NATS restarted without its JetStream data): its creation time tells the two apart. In a stream
// created again, the node's next record is stored and every open record is appended again; in the same
// stream, the node's log stays claimed and the record is refused.
func TestEmptiedSubjectClaimedOnlyInTheSameStream(t *testing.T) {
	for _, tc := range []struct {
		name    string
		empty   func(t *testing.T, js jetstream.JetStream, st jetstream.Stream, subject string)
		claimed bool
	}{
		{"stream created again", func(t *testing.T, js jetstream.JetStream, _ jetstream.Stream, _ string) {
			if err := js.DeleteStream(context.Background(), LogStream); err != nil {
				t.Fatal(err)
			}
			if _, err := js.CreateStream(context.Background(), logStreamConfig(1)); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"subject purged in the same stream", func(t *testing.T, _ jetstream.JetStream, st jetstream.Stream, subject string) {
			if err := st.Purge(context.Background(), jetstream.WithPurgeSubject(subject)); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			n := runNode(t, s, 1)
			eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
			ctx := context.Background()
			for _, id := range []string{"AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="} {
				if err := n.m.Record(ctx, id, []byte("rec")); err != nil {
					t.Fatal(err)
				}
			}
			subject := n.m.logSubjectNow()
			js, st := logStream(t, s)
			tc.empty(t, js, st, subject)
			err := n.m.Record(ctx, "CCCCCCCCCCCCCCC=", []byte("rec"))
			if tc.claimed {
				if err == nil || !strings.Contains(err.Error(), "claimed") {
					t.Fatalf("a record on a purged subject: %v, want the log claimed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("a record after the stream was created again: %v", err)
			}
			want := []string{"AAAAAAAAAAAAAAA==rec", "BBBBBBBBBBBBBBB==rec", "CCCCCCCCCCCCCCC==rec"}
			eventually(t, func() bool { return slices.Equal(logHolds(n, subject), want) }, "the open records were not appended again")
			if !strings.Contains(n.log.String(), "connection log stream was created again") {
				t.Errorf("the writer did not say the stream was created again:\n%s", n.log.String())
			}
		})
	}
}

// A writer under load — its last append carried at least busyBatch ops — holds the next batch for the
// ops that arrive within busyHold, so that they share one message of the log (one replicated append)
// instead of going out one batch after another; the hold ends early once the message is full, or when
// a caller waits for every op before it (a barrier).
func TestBusyWriterHoldsABatchForMore(t *testing.T) {
	s := startServerWithMaxPayload(t, 8192) // a message holds up to 4096 bytes of records
	n := runNodeWith(t, s, 1, func(m *Members) {
		m.writer.busyBatch, m.writer.busyHold = 1, time.Hour // busy from the first op on, held until full
		m.writer.lastBatch = 1
	})
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	w := n.m.writer
	subject := n.m.logSubjectNow()
	record := []byte(strings.Repeat("r", 500)) // 521 bytes an op: seven fill a message, the eighth does not fit
	ops := []*logOp{w.start(subject, "id0", record)}
	eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.queue) == 0
	}, "the writer did not take the first record")
	for i := 1; i < 8; i++ {
		ops = append(ops, w.start(subject, fmt.Sprintf("id%d", i), record))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, op := range ops[:7] {
		if err := w.wait(ctx, op); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	_, st := logStream(t, s)
	if msgs, _, _ := subjectState(t, st, subject); msgs != 1 {
		t.Fatalf("the seven records that fill a message went out in %d messages, want 1", msgs)
	}
	select {
	case <-ops[7].done:
		t.Fatal("the record that did not fit was not held for more")
	default:
	}
	if err := w.flush(ctx); err != nil { // a barrier ends the hold
		t.Fatal(err)
	}
	if err := w.wait(ctx, ops[7]); err != nil {
		t.Fatal(err)
	}
	if msgs, _, _ := subjectState(t, st, subject); msgs != 2 {
		t.Fatalf("the log holds %d messages, want 2", msgs)
	}
}
