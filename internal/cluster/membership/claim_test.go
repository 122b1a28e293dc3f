package membership

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// reapCounter is a Reap hook that counts the $disconnects run per connection. With hold > 0, the first
// hold calls run at once and every later one is held (a slow backend) until its ctx ends, not counting
// it, or until release is closed, counting it; held names each held call as it begins.
type reapCounter struct {
	hold    int
	held    chan string // the connections held, as their calls begin
	release chan struct{}

	mu    sync.Mutex
	calls int            // calls begun
	runs  map[string]int // the $disconnects run (calls that returned nil)
	cut   []string       // held calls that ended with their ctx
}

func newReapCounter(hold int) *reapCounter {
	return &reapCounter{hold: hold, held: make(chan string, 1000), release: make(chan struct{}), runs: map[string]int{}}
}

func (r *reapCounter) reap(ctx context.Context, id string, _ []byte) error {
	r.mu.Lock()
	r.calls++
	if r.hold == 0 || r.calls <= r.hold {
		r.runs[id]++
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	r.held <- id
	select {
	case <-ctx.Done():
		r.mu.Lock()
		r.cut = append(r.cut, id)
		r.mu.Unlock()
		return ctx.Err()
	case <-r.release:
		r.mu.Lock()
		r.runs[id]++
		r.hold = 0
		r.mu.Unlock()
		return nil
	}
}

func (r *reapCounter) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.runs)
}

// heldCalls is the number of calls held (begun past hold), and those of them that ended with their ctx.
func (r *reapCounter) heldCalls() (held int, cut []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(0, r.calls-r.hold), slices.Clone(r.cut)
}

// withReap makes a node's Reap hook r's.
func withReap(r *reapCounter) func(*Members) {
	return func(m *Members) { m.cfg.Reap = r.reap }
}

// lastLogMsg is subject's last message, decoded, and the number of messages the subject holds.
func lastLogMsg(t *testing.T, st jetstream.Stream, subject string) (logMsg, uint64) {
	t.Helper()
	ctx := context.Background()
	last, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("%s's last message: %v", subject, err)
	}
	lm, err := decodeLogMsg(last.Data)
	if err != nil {
		t.Fatalf("%s's last message: %v", subject, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return lm, info.State.Subjects[subject]
}

// progressIn is every connection the progress messages in subject name, with the number of times named.
func progressIn(t *testing.T, st jetstream.Stream, subject string) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	for seq := uint64(1); ; {
		msg, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			t.Fatalf("%s at sequence %d: %v", subject, seq, err)
		}
		seq = msg.Sequence + 1
		if lm, err := decodeLogMsg(msg.Data); err == nil && lm.kind == kindProgress {
			for _, e := range lm.entries {
				out[e.id]++
			}
		}
	}
}

// claimerStops runs the scenario of the claim tests: node 1 records n connections and dies; node 2
// claims its log, runs the first k $disconnects and holds every later one it begins (as many as its
// workers and its window let it: up to n-k); once the log's progress names the k it ran, node 3 joins,
// then stop ends node 2 mid-claim. Every held call must see its ctx end; node 3 must run each remaining
// $disconnect once, the held ones included, none of the k again, and leave the log purged to its
// complete claim.
func claimerStops(t *testing.T, n, k int, stop func(b *node)) {
	s := startServer(t)
	_, st := logStream(t, s)
	a := runNode(t, s, 1)
	bReap, cReap := newReapCounter(k), newReapCounter(0)
	b := runNodeWith(t, s, 2, withReap(bReap))
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes 1 and 2 did not join")
	ids := recordConns(t, a, n)
	subject := a.m.logSubjectNow()
	crash(a)
	select {
	case <-bReap.held:
	case <-time.After(20 * time.Second):
		t.Fatalf("node 2 did not claim node 1's log (it ran %d $disconnects)", len(bReap.snapshot()))
	}
	// The k ran at once, but their progress is appended as they finish: stop node 2 once it is stored.
	eventually(t, func() bool { return maps.Equal(progressIn(t, st, subject), bReap.snapshot()) },
		fmt.Sprintf("node 1's log does not record the %d $disconnects node 2 ran", k))
	c := runNodeWith(t, s, 3, withReap(cReap))
	eventually(t, func() bool { return c.m.Status() == "" && c.m.Alive(2) }, "node 3 did not join")
	// Node 3's scan at join has read node 1's log and left its claim to node 2, alive: no claim of its
	// own runs (checked before this, the log's last message said nothing of node 3's decision).
	eventually(t, func() bool {
		select {
		case <-c.m.scanned:
		default:
			return false
		}
		c.m.mu.Lock()
		defer c.m.mu.Unlock()
		return len(c.m.reaping) == 0
	}, "node 3 did not finish its scan at join")
	if lm, _ := lastLogMsg(t, st, subject); lm.kind != kindProgress || lm.node != 2 {
		t.Fatalf("node 1's log ends with %+v, not node 2's progress", lm)
	}
	stop(b)
	held, cut := bReap.heldCalls()
	if held == 0 || len(cut) != held {
		t.Errorf("node 2 held %d $disconnects and %d of them saw their ctx end (%q), want all", held, len(cut), cut)
	}
	if b.m.claimGoroutines.Load() != 0 {
		t.Errorf("%d of node 2's claim workers outlived it", b.m.claimGoroutines.Load())
	}
	eventually(t, func() bool {
		lm, msgs := lastLogMsg(t, st, subject)
		return lm.complete() && lm.node == 3 && msgs == 1
	}, "node 3 did not complete node 2's claim and purge the log to it")
	bRuns, cRuns := bReap.snapshot(), cReap.snapshot()
	if len(bRuns) != k {
		t.Fatalf("node 2 ran %d $disconnects before it stopped, want %d", len(bRuns), k)
	}
	for _, id := range cut {
		if _, ok := cRuns[id]; !ok {
			t.Errorf("the $disconnect node 2 held when it stopped (%s) did not run on node 3", id)
		}
	}
	for _, id := range ids {
		if got := bRuns[id] + cRuns[id]; got != 1 {
			t.Errorf("connection %s: %d $disconnects (node 2: %d, node 3: %d), want exactly 1", id, got, bRuns[id], cRuns[id])
		}
	}
	if len(cRuns) != n-k {
		t.Errorf("node 3 ran %d $disconnects, want the %d node 2 had not run", len(cRuns), n-k)
	}
	if !strings.Contains(c.log.String(), "taking over a claim whose node is gone") {
		t.Errorf("node 3 does not log the takeover:\n%s", c.log.String())
	}
}

// crash ends a node as a SIGKILL would: its NATS connection goes first, so it writes nothing more, and
// its member entry is left to expire.
func crash(n *node) {
	n.m.nc.Close()
	n.stop()
}

// A claimer that dies mid-claim (SIGKILL: nothing more written, its member entry left to expire) leaves
// the $disconnects it had not run to the node that declares it dead: each runs once.
func TestUnfinishedClaimIsTakenOverWhenTheClaimerDies(t *testing.T) {
	claimerStops(t, 8, 3, crash)
}

// A claimer that leaves gracefully with too little time to finish its claim stops it between two
// $disconnects; the node that sees it leave takes the claim over.
func TestUnfinishedClaimIsTakenOverWhenTheClaimerLeaves(t *testing.T) {
	claimerStops(t, 8, 3, func(b *node) {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout+300*time.Millisecond)
		defer cancel()
		if err := b.m.Leave(ctx); err != nil {
			t.Errorf("node 2 did not leave: %v", err)
		}
		if !strings.Contains(b.log.String(), "did not finish in time; stopping them") {
			t.Errorf("node 2 does not say it stopped its claim:\n%s", b.log.String())
		}
		b.stop()
	})
}

// A claimer that leaves gracefully with time enough finishes its claim before it leaves: nobody else
// runs any of its $disconnects, and the log ends with its complete claim.
func TestClaimerThatLeavesFinishesItsClaimInTime(t *testing.T) {
	s := startServer(t)
	_, st := logStream(t, s)
	a := runNode(t, s, 1)
	bReap := newReapCounter(2)
	b := runNodeWith(t, s, 2, withReap(bReap))
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes did not join")
	for i := range 5 {
		if err := a.m.Record(context.Background(), fmt.Sprintf("CONN%011d=", i), []byte("rec")); err != nil {
			t.Fatal(err)
		}
	}
	subject := a.m.logSubjectNow()
	crash(a)
	select {
	case <-bReap.held:
	case <-time.After(20 * time.Second):
		t.Fatal("node 2 did not claim node 1's log")
	}
	left := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		left <- b.m.Leave(ctx)
	}()
	eventually(t, func() bool {
		b.m.mu.Lock()
		defer b.m.mu.Unlock()
		return b.m.leaving
	}, "node 2 did not start leaving")
	close(bReap.release) // the backend answers while node 2 leaves
	if err := <-left; err != nil {
		t.Fatal(err)
	}
	runs := bReap.snapshot()
	if len(runs) != 5 {
		t.Fatalf("node 2 left after running %d of the 5 $disconnects: %v", len(runs), runs)
	}
	if lm, msgs := lastLogMsg(t, st, subject); !lm.complete() || lm.node != 2 || msgs != 1 {
		t.Fatalf("node 1's log ends with %+v (%d messages), not node 2's complete claim alone", lm, msgs)
	}
	if strings.Contains(b.log.String(), "stopping them") {
		t.Fatalf("node 2 stopped its claim:\n%s", b.log.String())
	}
}

// The claim messages a node finds when it joins: a claim whose claimer is a member is left to it; a
// complete claim, or one written by a version that appended it before running the $disconnects, is
// finished; a claim whose claimer is gone is taken over, skipping the connections its progress says
// are done; a claim message that does not decode is logged with its subject and sequence and skipped.
func TestClaimsFoundAtJoin(t *testing.T) {
	s := startServer(t)
	js, st := logStream(t, s)
	b := runNode(t, s, 2)
	// Node 2 looks for logs to claim when it joins, after it is a member: the logs below are written
	// once it has, or it may claim them before node 3 joins.
	select {
	case <-b.m.scanned:
	case <-time.After(20 * time.Second):
		t.Fatal("node 2 did not join")
	}
	b.m.reapWG.Wait()
	live := b.m.incarnationNow()
	create := func(ids ...string) []byte {
		var es []logEntry
		for _, id := range ids {
			es = append(es, logEntry{create: true, id: id, record: []byte("rec")})
		}
		return encodeBatch(1, es)
	}
	logs := []struct {
		subject string
		msgs    [][]byte
	}{
		{"switchboard.connlog.9.aaaa", [][]byte{create("LIVE000000000A=", "LIVE000000000B="), encodeClaimStarted(2, live), encodeProgress(2, live, []string{"LIVE000000000A="})}},
		{"switchboard.connlog.8.bbbb", [][]byte{create("OLDC00000000000="), encodeClaim(7, "gone")}},
		{"switchboard.connlog.6.cccc", [][]byte{create("CORR00000000000="), []byte("SBL\x02P\x04\x04gone\x09")}},
		{"switchboard.connlog.5.dddd", [][]byte{create("GONE000000000A=", "GONE000000000B=", "GONE000000000C="), encodeClaimStarted(4, "gone"),
			encodeProgress(4, "gone", []string{"GONE000000000A="}), []byte("SBL\x02S"), encodeProgress(4, "gone", []string{"GONE000000000C="})}},
	}
	var corrupted []string // subject sequence=N of the messages that do not decode
	for _, l := range logs {
		for _, data := range l.msgs {
			ack, err := js.Publish(context.Background(), l.subject, data)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeLogMsg(data); err != nil {
				corrupted = append(corrupted, fmt.Sprintf("%s sequence=%d", l.subject, ack.Sequence))
			}
		}
	}
	if len(corrupted) != 2 {
		t.Fatalf("the test's corrupted claim messages are %q, want two", corrupted)
	}
	c := runNode(t, s, 3)
	select {
	case <-c.m.scanned:
	case <-time.After(20 * time.Second):
		t.Fatal("node 3 did not join")
	}
	c.m.reapWG.Wait() // every claim node 3 started when it joined has ended
	var got []string
	for len(c.reaped) > 0 {
		got = append(got, <-c.reaped)
	}
	sort.Strings(got)
	if want := []string{"CORR00000000000==rec", "GONE000000000B==rec"}; !slices.Equal(got, want) {
		t.Fatalf("node 3 ran the $disconnects %q, want %q; node 3's log:\n%s\nnode 2's log:\n%s", got, want, c.log, b.log)
	}
	for _, key := range corrupted {
		if !strings.Contains(c.log.String(), "key="+key) {
			t.Errorf("no log line names %s:\n%s", key, c.log.String())
		}
	}
	if lm, msgs := lastLogMsg(t, st, "switchboard.connlog.9.aaaa"); lm.kind != kindProgress || msgs != 3 {
		t.Errorf("live node 2's claim was touched: the log ends with %+v (%d messages)", lm, msgs)
	}
	for _, subject := range []string{"switchboard.connlog.6.cccc", "switchboard.connlog.5.dddd"} {
		if lm, msgs := lastLogMsg(t, st, subject); !lm.complete() || lm.node != 3 || msgs != 1 {
			t.Errorf("%s ends with %+v (%d messages), not node 3's complete claim alone", subject, lm, msgs)
		}
	}
	if lm, msgs := lastLogMsg(t, st, "switchboard.connlog.8.bbbb"); lm.node != 7 || msgs != 2 {
		t.Errorf("the old complete claim was claimed again: the log ends with %+v (%d messages)", lm, msgs)
	}
}

// A $disconnect that Reap says was cut short (the node is stopping) is not recorded as done: the claim
// stops there (the first call runs, every later one is cut short, however many run at once), and the
// node that takes it over once the claimer has left runs them and the rest.
func TestCutShortDisconnectIsNotRecordedAsDone(t *testing.T) {
	s := startServer(t)
	_, st := logStream(t, s)
	a := runNode(t, s, 1)
	var (
		mu    sync.Mutex
		bRuns []string
	)
	b := runNodeWith(t, s, 2, func(m *Members) {
		m.cfg.Reap = func(_ context.Context, id string, _ []byte) error {
			mu.Lock()
			defer mu.Unlock()
			if len(bRuns) == 1 {
				return fmt.Errorf("the $disconnect of %s was cut short", id)
			}
			bRuns = append(bRuns, id)
			return nil
		}
	})
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes 1 and 2 did not join")
	ids := recordConns(t, a, 4)
	subject := a.m.logSubjectNow()
	crash(a)
	eventually(t, func() bool { return strings.Contains(b.log.String(), "this node stops claiming") }, "node 2 did not stop its claim at the cut-short $disconnect")
	mu.Lock()
	ran := slices.Clone(bRuns)
	mu.Unlock()
	if len(ran) != 1 {
		t.Fatalf("node 2 ran the $disconnects of %q, want one", ran)
	}
	if got := progressIn(t, st, subject); !maps.Equal(got, map[string]int{ran[0]: 1}) {
		t.Fatalf("node 1's log records %v, not the $disconnect node 2 ran (%s) alone", got, ran[0])
	}
	cReap := newReapCounter(0)
	c := runNodeWith(t, s, 3, withReap(cReap))
	eventually(t, func() bool { return c.m.Status() == "" && c.m.Alive(2) }, "node 3 did not join")
	if err := b.m.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		lm, msgs := lastLogMsg(t, st, subject)
		return lm.complete() && lm.node == 3 && msgs == 1
	}, "node 3 did not take node 2's claim over once it left")
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(bRuns, ran) {
		t.Errorf("node 2 ran the $disconnects of %q, want %q", bRuns, ran)
	}
	want := map[string]int{}
	for _, id := range ids {
		if id != ran[0] {
			want[id] = 1
		}
	}
	if got := cReap.snapshot(); !maps.Equal(got, want) {
		t.Errorf("node 3 ran the $disconnects %v, want %v (the cut-short ones included, node 2's not again)", got, want)
	}
}

// recordConns records n connections on node a, with the IDs CONN00000000000= and on, and returns them.
func recordConns(t *testing.T, a *node, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("CONN%011d=", i)
		if err := a.m.Record(context.Background(), ids[i], []byte("rec")); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}
