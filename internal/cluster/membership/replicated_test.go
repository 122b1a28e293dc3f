package membership

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The tests in this file give one node the answers a replicated store gives under load, which a
// single test server never does: an append refused while the stream's leader still applies the
// previous one to the subject, and a key-value get answered by a replica behind the leader.

// errInFlight is the refusal JetStream answers a compare-and-set append to a replicated stream while
// another write to the subject is still in flight on its leader.
var errInFlight = &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant, Description: "wrong last sequence"}

// inFlightOnce refuses the first try of every claim message a node appends to another node's log with
// errInFlight, without storing it, as a replicated stream's leader does when the node appends again as
// soon as its previous append is acknowledged and the leader has not cleared that one yet.
type inFlightOnce struct {
	jetstream.JetStream
	own string // the node's own log subjects' prefix: its records are left alone

	mu      sync.Mutex
	refused map[string]bool // the claim messages refused once, by content
}

func (j *inFlightOnce) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if strings.HasPrefix(msg.Subject, logSubjectPfx) && !strings.HasPrefix(msg.Subject, j.own) {
		if lm, err := decodeLogMsg(msg.Data); err == nil && lm.claim {
			j.mu.Lock()
			first := !j.refused[string(msg.Data)]
			j.refused[string(msg.Data)] = true
			j.mu.Unlock()
			if first {
				return nil, errInFlight
			}
		}
	}
	return j.JetStream.PublishMsg(ctx, msg, opts...)
}

func (j *inFlightOnce) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.refused)
}

// A claim whose appends are refused while the leader still applies the previous one tries them again:
// it runs every $disconnect once and completes. It stopped at the first refusal of its progress, as if
// another node had taken the claim over, and no node did, its claimer being alive: the $disconnects
// left never ran (gateway's TestClusterClaimerDiesMidClaim, once in about twenty runs on a loaded
// machine, the claim's end refused that way).
func TestClaimRetriesAnAppendRefusedInFlight(t *testing.T) {
	s := startServer(t)
	_, st := logStream(t, s)
	a := runNode(t, s, 1)
	bReap := newReapCounter(0)
	var js *inFlightOnce
	b := runNodeWith(t, s, 2, func(m *Members) {
		withReap(bReap)(m)
		js = &inFlightOnce{JetStream: m.js, own: logSubjectPfx + "2.", refused: map[string]bool{}}
		m.js = js
	})
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes 1 and 2 did not join")
	ids := recordConns(t, a, 3)
	subject := a.m.logSubjectNow()
	defer logOnFailure(t, "node 2", b)
	crash(a)
	eventually(t, func() bool {
		lm, msgs := lastLogMsg(t, st, subject)
		return lm.complete() && lm.node == 2 && msgs == 1
	}, "node 2 did not complete its claim of node 1's log")
	runs := bReap.snapshot()
	for _, id := range ids {
		if runs[id] != 1 {
			t.Errorf("connection %s: %d $disconnects, want 1", id, runs[id])
		}
	}
	// The claim's start, its progress and its end were each refused once.
	if n := js.count(); n < 3 {
		t.Errorf("%d of node 2's claim messages were refused in flight, want its start, progress and end", n)
	}
	if !strings.Contains(b.log.String(), "while the stream's leader applies the previous one") {
		t.Errorf("node 2 does not log the refusals:\n%s", b.log)
	}
}

// staleMember answers a get of key, once the key is deleted, with the entry it last answered: a replica
// of the members bucket behind the stream's leader, which has not applied the delete yet.
type staleMember struct {
	jetstream.KeyValue
	key string

	mu   sync.Mutex
	last jetstream.KeyValueEntry
}

func (kv *staleMember) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	e, err := kv.KeyValue.Get(ctx, key)
	if key != kv.key {
		return e, err
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	switch {
	case err == nil:
		kv.last = e
	case (errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)) && kv.last != nil:
		return kv.last, nil
	}
	return e, err
}

// A node that sees a claimer gone (declared dead, or here leaving mid-claim) takes its claim over even
// when the store still shows the claimer's entry (the get answered by a replica behind the leader): it
// had read the entry while the claimer lived and left the claim to it, and when the claimer was gone, it
// read it alive again and ended its reap for good, the $disconnects left never running (gateway's TestClusterClaimerDiesMidClaim, once
// in about twenty runs on a loaded machine: the survivor logged the claimer gone and nothing more).
func TestTakeoverTrustsTheDeathItSawOverTheStore(t *testing.T) {
	s := startServer(t)
	_, st := logStream(t, s)
	a := runNode(t, s, 1)
	bReap, cReap := newReapCounter(1), newReapCounter(0)
	b := runNodeWith(t, s, 2, withReap(bReap))
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes 1 and 2 did not join")
	ids := recordConns(t, a, 3)
	subject := a.m.logSubjectNow()
	crash(a)
	<-bReap.held // node 2 claimed node 1's log, ran one $disconnect and holds the next
	eventually(t, func() bool { return len(progressIn(t, st, subject)) == 1 }, "node 1's log does not record the $disconnect node 2 ran")
	stale := &staleMember{key: memberKey(2)}
	c := runNodeWith(t, s, 3, func(m *Members) {
		withReap(cReap)(m)
		m.wrapMembers = func(kv jetstream.KeyValue) jetstream.KeyValue { stale.KeyValue = kv; return stale }
	})
	// Node 3 finds node 1's log claimed by node 2 when it joins and leaves it the claim, node 2 being
	// alive (the members stream's leader says so: claimerAlive asks it both ways). Any get of node 2's
	// entry a path makes, then or later, is answered with that entry once it is deleted.
	eventually(t, func() bool {
		select {
		case <-c.m.scanned:
			return c.m.Status() == ""
		default:
			return false
		}
	}, "node 3 did not join or did not scan the logs")
	defer logOnFailure(t, "node 3", c)
	// Node 2 leaves with too little time to finish its claim: node 3 sees its entry deleted. (A crash
	// would do as well, but node 3's sweep reads the entry too, and this store's answer stays stale for
	// good where a replica's catches up.)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout+300*time.Millisecond)
	defer cancel()
	if err := b.m.Leave(ctx); err != nil {
		t.Fatalf("node 2 did not leave: %v", err)
	}
	b.stop()
	eventually(t, func() bool {
		lm, msgs := lastLogMsg(t, st, subject)
		return lm.complete() && lm.node == 3 && msgs == 1
	}, "node 3 did not take node 2's claim over")
	bRuns, cRuns := bReap.snapshot(), cReap.snapshot()
	for _, id := range ids {
		if got := bRuns[id] + cRuns[id]; got != 1 {
			t.Errorf("connection %s: %d $disconnects (node 2: %d, node 3: %d), want exactly 1", id, got, bRuns[id], cRuns[id])
		}
	}
}

// logOnFailure logs n's log lines when the test has failed; name says which node it is.
func logOnFailure(t *testing.T, name string, n *node) {
	if t.Failed() {
		t.Logf("%s's log:\n%s", name, n.log)
	}
}

// beatInFlight refuses one heartbeat, once armed, as a replicated members bucket refuses an update
// while another write to the key is in flight on its leader (nats.go wraps it as a revision mismatch).
type beatInFlight struct {
	jetstream.KeyValue
	armed, refused atomic.Bool
}

func (kv *beatInFlight) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	if kv.armed.Load() && kv.refused.CompareAndSwap(false, true) {
		return 0, fmt.Errorf("%w: %w", errInFlight, jetstream.ErrKeyRevisionMismatch)
	}
	return kv.KeyValue.Update(ctx, key, value, revision)
}

// A heartbeat refused while another write to the node's entry is in flight is a heartbeat that failed,
// tried again at the next one; it is not the cluster declaring the node dead. The node used to take it
// for that, drop every connection and rejoin as a new incarnation.
func TestHeartbeatRefusedInFlightIsNotAnExpulsion(t *testing.T) {
	s := startServer(t)
	beat := &beatInFlight{}
	a := runNodeWith(t, s, 1, func(m *Members) {
		m.wrapMembers = func(kv jetstream.KeyValue) jetstream.KeyValue { beat.KeyValue = kv; return beat }
	})
	eventually(t, func() bool { return a.m.Status() == "" }, "node 1 did not join")
	defer logOnFailure(t, "node 1", a)
	beat.armed.Store(true)
	eventually(t, beat.refused.Load, "no heartbeat of node 1 was refused")
	refusedAt := time.Now()
	eventually(t, func() bool {
		a.m.mu.Lock()
		defer a.m.mu.Unlock()
		return a.m.lastBeat.After(refusedAt) || !a.m.member
	}, "node 1 stored no heartbeat after the refused one")
	if n := a.expelled.Load(); n != 0 {
		t.Errorf("node 1 dropped its connections %d times after one heartbeat was refused in flight", n)
	}
	if why := a.m.Status(); why != "" {
		t.Errorf("node 1 after one heartbeat was refused in flight: %q, want a member", why)
	}
}

// refuseNext refuses the next append to subject, once armed, with errInFlight, without storing it.
type refuseNext struct {
	jetstream.JetStream
	subject string
	armed   atomic.Bool
}

func (j *refuseNext) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if msg.Subject == j.subject && j.armed.CompareAndSwap(true, false) {
		return nil, errInFlight
	}
	return j.JetStream.PublishMsg(ctx, msg, opts...)
}

// behindLeader answers the next read of subject's last message, once armed, as a replica behind the
// stream's leader would: with the message at sequence stale, or none when stale is 0.
type behindLeader struct {
	jetstream.Stream
	subject string
	stale   uint64
	armed   atomic.Bool
}

func (s *behindLeader) GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	if subject == s.subject && s.armed.CompareAndSwap(true, false) {
		if s.stale == 0 {
			return nil, jetstream.ErrMsgNotFound
		}
		return s.Stream.GetMsg(ctx, s.stale)
	}
	return s.Stream.GetLastMsgForSubject(ctx, subject)
}

// A node whose append is refused in flight looks at its log's last message to settle it; answered by
// a replica behind the stream's leader (a message before its last append, or none), it tries the append
// again, and the record is stored. It used to take either answer for its log claimed by another node:
// every record it had was given up (their $disconnects left to a claim that never comes), every later
// handshake refused.
func TestRecordSettledFromAReplicaBehindTheLeaderIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stale func(first uint64) uint64 // the sequence the replica answers, from the log's first
	}{
		{"an earlier message", func(first uint64) uint64 { return first }},
		{"no message", func(uint64) uint64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			var (
				js   *refuseNext
				read *behindLeader
			)
			a := runNodeWith(t, s, 1, func(m *Members) {
				js = &refuseNext{JetStream: m.writer.js}
				m.writer.js = js
				m.wrapLog = func(st jetstream.Stream) jetstream.Stream { read = &behindLeader{Stream: st}; return read }
			})
			eventually(t, func() bool { return a.m.Status() == "" }, "node 1 did not join")
			defer logOnFailure(t, "node 1", a)
			ctx := context.Background()
			subject := a.m.logSubjectNow()
			for _, id := range []string{"CONN00000000000=", "CONN00000000001="} {
				if err := a.m.Record(ctx, id, []byte("rec")); err != nil {
					t.Fatal(err)
				}
			}
			_, first, _ := subjectState(t, read.Stream, subject)
			js.subject, read.subject, read.stale = subject, subject, tc.stale(first)
			js.armed.Store(true)
			read.armed.Store(true)
			if err := a.m.Record(ctx, "CONN00000000002=", []byte("rec")); err != nil {
				t.Fatalf("record after an append refused in flight and settled from a replica behind the leader: %v", err)
			}
			if js.armed.Load() || read.armed.Load() {
				t.Fatal("the append was not refused, or its settling did not read the log")
			}
			if got, want := replay(t, a, subject), []string{"CONN00000000000==rec", "CONN00000000001==rec", "CONN00000000002==rec"}; !slices.Equal(got, want) {
				t.Errorf("node 1's log holds %q, want %q", got, want)
			}
			if strings.Contains(a.log.String(), "giving it up") || a.m.Status() != "" {
				t.Errorf("node 1 gave its log up: status %q", a.m.Status())
			}
		})
	}
}

// missingAfter answers the next get of a message after sequence after, once armed, as a replica behind
// the stream's leader that does not have it yet: with none.
type missingAfter struct {
	jetstream.Stream
	after uint64
	armed atomic.Bool
}

func (s *missingAfter) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	if seq > s.after && s.armed.CompareAndSwap(true, false) {
		return nil, jetstream.ErrMsgNotFound
	}
	return s.Stream.GetMsg(ctx, seq, opts...)
}

// A claim's replay of the log that a replica behind the stream's leader answers short of the last
// message read is made again: the claim runs the $disconnect of the open connection alone. The replay
// used to end there, and it ran the $disconnect of a connection whose removal it had not reached, which
// its node had already run.
func TestReplayAnsweredShortByAReplicaBehindTheLeaderIsMadeAgain(t *testing.T) {
	s := startServer(t)
	_, st := logStream(t, s)
	a := runNode(t, s, 1)
	var read *missingAfter
	b := runNodeWith(t, s, 2, func(m *Members) {
		m.wrapLog = func(st jetstream.Stream) jetstream.Stream { read = &missingAfter{Stream: st}; return read }
	})
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes 1 and 2 did not join")
	defer logOnFailure(t, "node 2", b)
	ctx := context.Background()
	for _, id := range []string{"OPEN00000000000=", "GONE00000000000="} {
		if err := a.m.Record(ctx, id, []byte("rec")); err != nil {
			t.Fatal(err)
		}
	}
	subject := a.m.logSubjectNow()
	_, _, created := subjectState(t, st, subject)
	ran := make(chan struct{})
	a.m.Forget(ctx, "GONE00000000000=", func() { close(ran) })
	select {
	case <-ran: // its removal is stored after the creates, and node 1 ran its $disconnect
	default:
		t.Fatal("node 1 did not run the $disconnect of the connection it removed")
	}
	read.after = created // the replica has the creates, not the removal
	read.armed.Store(true)
	crash(a)
	if got := b.nextReap(t, "node 2 ran no $disconnect of node 1's connections"); got != "OPEN00000000000==rec" {
		t.Errorf("node 2 ran the $disconnect of %s, want only OPEN00000000000=", got)
	}
	eventually(t, func() bool {
		lm, _ := lastLogMsg(t, st, subject)
		return lm.complete() && lm.node == 2
	}, "node 2 did not complete its claim of node 1's log")
	if read.armed.Load() {
		t.Fatal("node 2's replay did not read past the creates")
	}
	select {
	case got := <-b.reaped:
		t.Errorf("node 2 also ran the $disconnect of %s", got)
	default:
	}
}

// What counts as a compare-and-set conflict: a refusal in flight does not, unless the log was seen to
// have moved on since.
func TestIsConflict(t *testing.T) {
	wrong := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence: 7"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"wrong last sequence", wrong, true},
		{"a key-value update at an old revision", fmt.Errorf("%w: %w", wrong, jetstream.ErrKeyRevisionMismatch), true},
		{"a key that exists", jetstream.ErrKeyExists, true},
		{"refused in flight", errInFlight, false},
		{"a key-value update refused in flight", fmt.Errorf("%w: %w", errInFlight, jetstream.ErrKeyRevisionMismatch), false},
		{"refused in flight, the log moved on since", fmt.Errorf("%w: %w", errLogMovedOn, errInFlight), true},
		{"no answer", context.DeadlineExceeded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isConflict(tc.err); got != tc.want {
				t.Errorf("isConflict(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// behindThePurge answers, once armed, every get of subject from a sequence at or before stale's that
// follows the read of its message at sequence last with stale, the subject's first message before a
// purge: as a replica that has not applied the purge, and stays behind it, answers the check a replay
// that read up to last makes for one, and the replays made again from the start.
type behindThePurge struct {
	jetstream.Stream
	subject string
	last    uint64
	stale   *jetstream.RawStreamMsg

	armed, readLast atomic.Bool
	staleReads      atomic.Int64 // gets answered with stale
}

func (s *behindThePurge) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	if s.armed.Load() && s.readLast.Load() && seq <= s.stale.Sequence {
		s.staleReads.Add(1)
		return s.stale, nil
	}
	msg, err := s.Stream.GetMsg(ctx, seq, opts...)
	if err == nil && s.armed.Load() && msg.Subject == s.subject && msg.Sequence == s.last {
		s.readLast.Store(true)
	}
	return msg, err
}

// A replay of the log that a purge overtook (it counted a closed connection's create, and the purge
// took its removal) is made again even when a replica that has not applied the purge answers the check
// for one: the subject's first message is the stream's leader's. The replica's answer, the first
// message the replay had read, passed the check, and the closed connection's $disconnect would run a
// second time on the node that claimed the log.
func TestReplayOvertakenByAPurgeOnAReplicaBehind(t *testing.T) {
	s := startServer(t)
	var read *behindThePurge
	n := runNodeWith(t, s, 1, func(m *Members) {
		m.wrapLog = func(st jetstream.Stream) jetstream.Stream { read = &behindThePurge{Stream: st}; return read }
	})
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	defer logOnFailure(t, "node 1", n)
	subject, last := closedThenOpen(t, n, read.Stream)
	first, err := read.Stream.GetMsg(context.Background(), 1, jetstream.WithGetMsgSubject(subject))
	if err != nil {
		t.Fatal(err)
	}
	read.subject, read.last, read.stale = subject, last, first
	read.armed.Store(true)
	purged := purgeDuringReplay(t, n, read.Stream, subject, last)
	if got := replay(t, n, subject); !slices.Equal(got, []string{"open00000000000==rec"}) {
		t.Fatalf("replay overtaken by a purge, checked on a replica behind it: %q, want only the open connection", got)
	}
	if !purged() {
		t.Fatal("the purge did not happen during the replay")
	}
	t.Logf("gets answered by the replica behind the purge: %d", read.staleReads.Load())
}
