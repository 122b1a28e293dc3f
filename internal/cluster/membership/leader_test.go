package membership

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster"
)

// replicaLog is a connection log stream whose last-message reads (direct gets) a replica answers: msg,
// or err.
type replicaLog struct {
	jetstream.Stream
	msg  *jetstream.RawStreamMsg
	err  error
	msgs []*jetstream.RawStreamMsg // what GetMsg finds, in sequence order
}

func (s replicaLog) GetLastMsgForSubject(context.Context, string) (*jetstream.RawStreamMsg, error) {
	return s.msg, s.err
}

// GetMsg answers the first of msgs at seq or after it (the replay's next-by-subject get).
func (s replicaLog) GetMsg(_ context.Context, seq uint64, _ ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	for _, m := range s.msgs {
		if m.Sequence >= seq {
			return m, nil
		}
	}
	return nil, jetstream.ErrMsgNotFound
}

// replicaMembers is a members bucket whose Get (a direct get) a replica answers: e, or err.
type replicaMembers struct {
	jetstream.KeyValue
	e   jetstream.KeyValueEntry
	err error
}

func (kv replicaMembers) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return kv.e, kv.err
}

// fakeLeader answers reads of a subject's last message from a stream's leader with msg, or err, and of
// its first message with first, or firstErr; it counts them.
type fakeLeader struct {
	msg      *jetstream.RawStreamMsg
	err      error
	first    *jetstream.RawStreamMsg
	firstErr error
	reads    int
}

func (l *fakeLeader) LastMsg(context.Context, string, string) (*jetstream.RawStreamMsg, error) {
	l.reads++
	return l.msg, l.err
}

func (l *fakeLeader) FirstMsg(context.Context, string, string) (*jetstream.RawStreamMsg, error) {
	l.reads++
	return l.first, l.firstErr
}

// TestSettleAsksTheLeader: an append to this node's connection log got no answer, and the read of the
// subject's last message that settles it was answered by a replica behind this writer's own appends.
// Taking that older message for someone else's (a claim) gave the node's own log up; the stream's leader
// decides instead, and a real claim it holds is still honoured.
func TestSettleAsksTheLeader(t *testing.T) {
	subject := logSubject(1, "inc")
	mine := func(seq, batch uint64) *jetstream.RawStreamMsg {
		return &jetstream.RawStreamMsg{Subject: subject, Sequence: seq, Data: encodeBatch(batch, []logEntry{{create: true, id: "c1", record: []byte("r")}})}
	}
	for _, tc := range []struct {
		name        string
		replica     replicaLog
		leader      fakeLeader
		wantStored  bool
		wantLast    uint64
		wantClaimed bool
		wantErr     bool
		wantAsked   bool
	}{{
		name:       "a replica one append behind; the leader has it",
		replica:    replicaLog{msg: mine(7, 3)},
		leader:     fakeLeader{msg: mine(9, 4)},
		wantStored: true, wantLast: 9, wantAsked: true,
	}, {
		name:       "a replica without the subject; the leader has it",
		replica:    replicaLog{err: jetstream.ErrMsgNotFound},
		leader:     fakeLeader{msg: mine(9, 4)},
		wantStored: true, wantLast: 9, wantAsked: true,
	}, {
		name:    "a replica behind; the leader holds another node's claim",
		replica: replicaLog{msg: mine(7, 3)},
		leader: fakeLeader{msg: &jetstream.RawStreamMsg{Subject: subject, Sequence: 9,
			Data: encodeClaim(2, "other")}},
		wantClaimed: true, wantAsked: true,
	}, {
		name:    "a replica behind; the leader does not answer",
		replica: replicaLog{msg: mine(7, 3)},
		leader:  fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)},
		wantErr: true, wantAsked: true,
	}, {
		name:       "a replica up to date, the append stored",
		replica:    replicaLog{msg: mine(9, 4)},
		wantStored: true, wantLast: 9,
	}, {
		name:       "a replica at this writer's last append, not the new one: not stored yet, appended again",
		replica:    replicaLog{msg: mine(8, 3)},
		wantStored: false,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			leader := tc.leader
			w := newWriter(nil, &leader, slog.New(slog.DiscardHandler))
			w.stream = tc.replica
			st := &logState{lastSeq: 8, batch: 3, live: map[string]liveRecord{}}
			stored, last, err := w.settle(t.Context(), subject, st, 4)
			if (err != nil) != tc.wantErr {
				t.Fatalf("settle: err = %v, want an error: %t", err, tc.wantErr)
			}
			if stored != tc.wantStored || last != tc.wantLast || st.claimed != tc.wantClaimed {
				t.Errorf("settle = stored %t at %d, claimed %t; want stored %t at %d, claimed %t",
					stored, last, st.claimed, tc.wantStored, tc.wantLast, tc.wantClaimed)
			}
			if asked := leader.reads > 0; asked != tc.wantAsked {
				t.Errorf("the stream's leader was asked: %t, want %t", asked, tc.wantAsked)
			}
		})
	}
}

// memberMsg is the members stream's message holding node's entry for incarnation inc.
func memberMsg(t *testing.T, node cluster.NodeID, inc string) *jetstream.RawStreamMsg {
	t.Helper()
	data, err := json.Marshal(member{Node: node, Incarnation: inc})
	if err != nil {
		t.Fatal(err)
	}
	return &jetstream.RawStreamMsg{Subject: "$KV." + MembersBucket + "." + memberKey(node), Sequence: 5, Data: data}
}

// TestNotAMemberAsksTheLeader: before a node claims a connection log (its owner's incarnation not a
// member) or takes over a claim (its claimer's not a member), the members bucket is read; a replica that
// has not applied the owner's entry yet answered "not a member", and the node claimed the log of a node
// alive, running $disconnects for connections still open. The stream's leader decides; a leader that
// does not answer leaves the log alone for now.
func TestNotAMemberAsksTheLeader(t *testing.T) {
	deleted := memberMsg(t, 2, "")
	deleted.Data, deleted.Header = nil, nats.Header{"KV-Operation": []string{"DEL"}}
	for _, tc := range []struct {
		name      string
		replica   replicaMembers
		leader    fakeLeader
		wantAlive bool // what aliveInStore says, and claimerAlive
		wantErr   bool // from claimerAlive (aliveInStore then says alive, not known: not claiming now)
	}{{
		name:      "a replica without the entry; the leader has it",
		replica:   replicaMembers{err: jetstream.ErrKeyNotFound},
		leader:    fakeLeader{msg: memberMsg(t, 2, "now")},
		wantAlive: true,
	}, {
		name:      "a replica with the entry deleted (an earlier incarnation declared dead); the leader has this one",
		replica:   replicaMembers{err: jetstream.ErrKeyDeleted},
		leader:    fakeLeader{msg: memberMsg(t, 2, "now")},
		wantAlive: true,
	}, {
		name:    "gone for the leader too",
		replica: replicaMembers{err: jetstream.ErrKeyNotFound},
		leader:  fakeLeader{err: fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)},
	}, {
		name:    "deleted for the leader",
		replica: replicaMembers{err: jetstream.ErrKeyNotFound},
		leader:  fakeLeader{msg: deleted},
	}, {
		name:    "another incarnation for the leader",
		replica: replicaMembers{err: jetstream.ErrKeyNotFound},
		leader:  fakeLeader{msg: memberMsg(t, 2, "next")},
	}, {
		name:      "the leader does not answer",
		replica:   replicaMembers{err: jetstream.ErrKeyNotFound},
		leader:    fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)},
		wantAlive: true, wantErr: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			leader := tc.leader
			m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), members: tc.replica, leader: &leader}
			if got, known := m.aliveInStore(t.Context(), 2, "now"); got != tc.wantAlive || known == tc.wantErr {
				t.Errorf("aliveInStore = %t, known %t; want %t, known %t", got, known, tc.wantAlive, !tc.wantErr)
			}
			alive, err := m.claimerAlive(t.Context(), 2, "now")
			if (err != nil) != tc.wantErr || !tc.wantErr && alive != tc.wantAlive {
				t.Errorf("claimerAlive = %t, %v; want %t (an error: %t)", alive, err, tc.wantAlive, tc.wantErr)
			}
			if leader.reads == 0 {
				t.Error("the stream's leader was not asked")
			}
		})
	}
}

// TestReapAsksTheLeaderForAnEmptyLog: the read of a dead node's connection log found nothing, as a
// replica that has not applied its first messages answers; taken as an empty log, the node's
// connections never got their $disconnect. The stream's leader decides, and when it does not answer the
// reap fails, to run again.
func TestReapAsksTheLeaderForAnEmptyLog(t *testing.T) {
	leader := &fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)}
	m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler),
		connlog: replicaLog{err: jetstream.ErrMsgNotFound}, leader: leader}
	if err := m.reap(t.Context(), 2, "dead"); err == nil || !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("reap with a replica that has no log and no leader answering: err = %v, want the leader's error (run again)", err)
	}
	leader.err = fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)
	if err := m.reap(t.Context(), 2, "dead"); err != nil {
		t.Fatalf("reap of a log the leader has no message of: %v, want nothing to do", err)
	}
	if leader.reads != 2 {
		t.Errorf("the stream's leader was asked %d times, want 2", leader.reads)
	}
}

// streamLeaders answers reads from each stream's leader (by stream name), and counts them.
type streamLeaders struct {
	answers map[string]fakeLeader
	reads   int
}

func (l *streamLeaders) LastMsg(_ context.Context, stream, _ string) (*jetstream.RawStreamMsg, error) {
	l.reads++
	a, ok := l.answers[stream]
	if !ok {
		return nil, fmt.Errorf("no answer for stream %s in the test", stream)
	}
	return a.msg, a.err
}

func (l *streamLeaders) FirstMsg(_ context.Context, stream, _ string) (*jetstream.RawStreamMsg, error) {
	l.reads++
	return nil, fmt.Errorf("no answer for a first message of stream %s in the test", stream)
}

// creatingMembers is a members bucket whose Get a replica behind answers (not found) and whose Create
// counts the entries made.
type creatingMembers struct {
	jetstream.KeyValue
	creates int
}

func (kv *creatingMembers) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return nil, jetstream.ErrKeyNotFound
}

func (kv *creatingMembers) Create(context.Context, string, []byte, ...jetstream.KVCreateOpt) (uint64, error) {
	kv.creates++
	return 42, nil
}

// TestReannounceAsksTheLeaders: a node whose entry expired while the store did not answer announces
// itself again, keeping its connections, only when no node declared it dead (its entry deleted) and its
// connection log is not claimed. Replicas that had not applied the deletion or the claim yet answered
// "not there" and "not claimed", and the node kept connections whose $disconnect another node ran; the
// streams' leaders decide.
func TestReannounceAsksTheLeaders(t *testing.T) {
	none := fakeLeader{err: fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)}
	deleted := memberMsg(t, 1, "")
	deleted.Data, deleted.Header = nil, nats.Header{"KV-Operation": []string{"DEL"}}
	for _, tc := range []struct {
		name    string
		members fakeLeader
		log     fakeLeader
		want    bool
	}{{
		name: "expired and not claimed", members: none, log: none, want: true,
	}, {
		name: "expired, and the log claimed", members: none,
		log: fakeLeader{msg: &jetstream.RawStreamMsg{Sequence: 9, Data: encodeClaim(2, "other")}},
	}, {
		name: "deleted by a node that declared this one dead", members: fakeLeader{msg: deleted}, log: none,
	}, {
		name: "there", members: fakeLeader{msg: memberMsg(t, 1, "inc")}, log: none,
	}, {
		name: "the members stream's leader does not answer", members: fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)}, log: none,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			kv := &creatingMembers{}
			leaders := &streamLeaders{answers: map[string]fakeLeader{membersStream: tc.members, LogStream: tc.log}}
			m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), incarnation: "inc", members: kv,
				connlog: replicaLog{err: jetstream.ErrMsgNotFound}, leader: leaders}
			if got := m.reannounce(t.Context(), []byte(`{}`), time.Now()); got != tc.want {
				t.Errorf("reannounce = %t, want %t", got, tc.want)
			}
			if made := kv.creates > 0; made != tc.want {
				t.Errorf("the entry was made again: %t, want %t", made, tc.want)
			}
		})
	}
}

// TestAliveAsksTheLeader: a node this one does not know yet (its watch has not delivered the node's
// entry) is looked up in the members bucket when a call names one of its connections. A replica that
// had not applied the node's first entry answered "not there", and the call answered 410 GoneException
// for a connection that was open; the stream's leader decides.
func TestAliveAsksTheLeader(t *testing.T) {
	nc := connect(t, startServer(t))
	for _, tc := range []struct {
		name   string
		leader fakeLeader
		want   bool
	}{
		{name: "the leader has the entry", leader: fakeLeader{msg: memberMsg(t, 2, "now")}, want: true},
		{name: "the leader has none", leader: fakeLeader{err: fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)}},
		// Cannot tell: routed, 5xx if nobody answers (TestAliveWhenTheStoreCannotTell).
		{name: "the leader does not answer", leader: fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader := tc.leader
			m := &Members{cfg: Config{Node: 1, Heartbeat: time.Second}, nc: nc, log: slog.New(slog.DiscardHandler),
				members: replicaMembers{err: jetstream.ErrKeyNotFound}, leader: &leader,
				peers: map[cluster.NodeID]peer{}, dead: map[cluster.NodeID]string{}, unknown: map[cluster.NodeID]time.Time{},
				unsure: map[cluster.NodeID]time.Time{}}
			if got := m.Alive(2); got != tc.want {
				t.Errorf("Alive = %t, want %t", got, tc.want)
			}
			if leader.reads != 1 {
				t.Errorf("the stream's leader was asked %d times, want once", leader.reads)
			}
		})
	}
}

// TestReplayOnAReplicaBehind: a survivor replays a dead node's connection log up to its last message, one
// direct get per message, which any replica answers. A replica that had not applied the last messages
// ended the replay early, and the claim ran without the connections opened (or closed) last: $disconnects
// lost, or run for connections already gone. A replay that ends short of the last message is an error,
// and the reap reads the log again.
func TestReplayOnAReplicaBehind(t *testing.T) {
	subject := logSubject(2, "dead")
	batch := func(seq, n uint64, id string) *jetstream.RawStreamMsg {
		return &jetstream.RawStreamMsg{Subject: subject, Sequence: seq, Time: time.Now(),
			Data: encodeBatch(n, []logEntry{{create: true, id: id, record: []byte(id)}})}
	}
	full := []*jetstream.RawStreamMsg{batch(1, 1, "a"), batch(3, 2, "b"), batch(5, 3, "c")}
	m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), connlog: replicaLog{msgs: full[:2]},
		leader: &fakeLeader{first: full[0]}}
	if live, err := m.readLog(t.Context(), subject, 5); !errors.Is(err, errReplicaBehind) {
		t.Fatalf("readLog up to 5 on a replica that has up to 3 = %d connections, %v; want errReplicaBehind", len(live), err)
	}
	m.connlog = replicaLog{msgs: full}
	live, err := m.readLog(t.Context(), subject, 5)
	if err != nil || len(live) != 3 {
		t.Fatalf("readLog up to 5 on a replica up to date = %d connections, %v; want 3", len(live), err)
	}
}

// TestPurgeCheckAsksTheLeader: a replay of a dead node's connection log is made again when the subject's
// first message is gone by its end (its owner, alive after all, purged a prefix meanwhile: the replay
// may have counted a create whose removal the purge took). That first message was a direct get's, and a
// replica that had not applied the purge answered the first message the replay had read: the check
// passed, and a claim ran the $disconnect of a connection its owner had closed and run it for. The
// stream's leader answers; one that does not answer fails the read (the claim reads the log again
// later). The replay made again begins at the leader's first message: begun at the start, it was
// answered by the same replica behind the purge each time, and the last of them, purged messages
// included, was used.
func TestPurgeCheckAsksTheLeader(t *testing.T) {
	subject := logSubject(2, "dead")
	batch := func(seq, n uint64, id string) *jetstream.RawStreamMsg {
		return &jetstream.RawStreamMsg{Subject: subject, Sequence: seq, Time: time.Now(),
			Data: encodeBatch(n, []logEntry{{create: true, id: id, record: []byte(id)}})}
	}
	msgs := []*jetstream.RawStreamMsg{batch(1, 1, "a"), batch(3, 2, "b")} // what a replica behind the purge holds
	for _, tc := range []struct {
		name        string
		leader      fakeLeader
		wantReplays int      // one read of the leader's first message each
		wantStarts  []uint64 // the sequence each replay read first
		wantLive    []string
		wantErr     error
	}{
		{name: "the leader's first message is the replay's", leader: fakeLeader{first: msgs[0]},
			wantReplays: 1, wantStarts: []uint64{1}, wantLive: []string{"a", "b"}},
		{name: "the leader holds none (claimed and purged whole)", leader: fakeLeader{firstErr: fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)},
			wantReplays: 1, wantStarts: []uint64{1}, wantLive: []string{"a", "b"}},
		// The replica stays behind here: the replay made again reads from the leader's first message.
		{name: "the leader's first message is past the replay's (purged meanwhile)", leader: fakeLeader{first: msgs[1]},
			wantReplays: 2, wantStarts: []uint64{1, 3}, wantLive: []string{"b"}},
		{name: "the leader does not answer", leader: fakeLeader{firstErr: fmt.Errorf("no leader: %w", nats.ErrTimeout)},
			wantReplays: 1, wantStarts: []uint64{1}, wantErr: nats.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader := tc.leader
			var starts []uint64
			m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), connlog: replicaLog{msgs: msgs}, leader: &leader,
				replayRead: func(seq uint64) {
					if len(starts) == leader.reads { // the first message of a replay: the leader not asked yet
						starts = append(starts, seq)
					}
				}}
			live, err := m.readLog(t.Context(), subject, 3)
			var ids []string
			for _, e := range live {
				ids = append(ids, e.id)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || live != nil {
					t.Fatalf("readLog = %q, %v; want none and the leader's error", ids, err)
				}
			} else if err != nil || !slices.Equal(ids, tc.wantLive) {
				t.Fatalf("readLog = %q, %v; want %q", ids, err, tc.wantLive)
			}
			if leader.reads != tc.wantReplays {
				t.Errorf("the stream's leader was asked for the first message %d times, want %d (once per replay)", leader.reads, tc.wantReplays)
			}
			if !slices.Equal(starts, tc.wantStarts) {
				t.Errorf("the replays began at sequences %v, want %v", starts, tc.wantStarts)
			}
		})
	}
}

// conflictingMembers is a members bucket whose compare-and-set delete loses (the entry changed since the
// revision given) and whose Get a replica that has not applied the change answers: not found.
type conflictingMembers struct {
	jetstream.KeyValue
}

func (conflictingMembers) Delete(context.Context, string, ...jetstream.KVDeleteOpt) error {
	return &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence"}
}

func (conflictingMembers) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return nil, jetstream.ErrKeyNotFound
}

// TestSweepAsksTheLeader: a node whose heartbeats this one has not seen for a TTL is declared dead with a
// delete at the revision last seen; when the entry changed meanwhile, the bucket is read again. A replica
// that had not applied the node's last heartbeats (and had expired its older entry by age) answered "not
// there", and a live node was declared dead and its log claimed. The stream's leader decides.
func TestSweepAsksTheLeader(t *testing.T) {
	for _, tc := range []struct {
		name     string
		leader   fakeLeader
		wantDead bool
	}{
		{name: "the leader has its newer heartbeat", leader: fakeLeader{msg: memberMsg(t, 2, "now")}},
		{name: "the leader has none", leader: fakeLeader{err: fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)}, wantDead: true},
		{name: "the leader has a deletion", leader: fakeLeader{msg: &jetstream.RawStreamMsg{Sequence: 6, Header: nats.Header{"KV-Operation": []string{"DEL"}}}}, wantDead: true},
		{name: "the leader has another incarnation", leader: fakeLeader{msg: memberMsg(t, 2, "next")}, wantDead: true},
		{name: "the leader does not answer", leader: fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader := tc.leader
			now := time.Now()
			marks := &markRecorder{}
			m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), ttl: time.Second,
				members: conflictingMembers{}, leader: &leader, js: marks,
				peers: map[cluster.NodeID]peer{2: {incarnation: "now", rev: 3, seen: now.Add(-time.Minute)}},
				dead:  map[cluster.NodeID]string{}, reaping: map[string]bool{},
				leaving: true, // startReap records the declaration and claims nothing
			}
			m.sweep(t.Context(), now)
			_, dead := m.dead[2]
			_, known := m.peers[2]
			if dead != tc.wantDead || known == tc.wantDead {
				t.Errorf("after the sweep: declared dead %t, still a peer %t; want declared dead %t", dead, known, tc.wantDead)
			}
			if leader.reads != 1 {
				t.Errorf("the stream's leader was asked %d times, want once", leader.reads)
			}
			marks.check(t, tc.leader.err != nil && tc.wantDead) // expired: the leader holds none
		})
	}
}

// markRecorder is a JetStream that stores every publish (the sweep's deletion marks) and records them.
type markRecorder struct {
	jetstream.JetStream
	msgs []*nats.Msg
	opts int
}

func (js *markRecorder) PublishMsg(_ context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	js.msgs, js.opts = append(js.msgs, msg), len(opts)
	return &jetstream.PubAck{Stream: membersStream, Sequence: 7}, nil
}

// check says whether one deletion mark of node 2's entry, written only while the key holds nothing, was
// published (want) or none was: a sweep that declares dead an entry the leader holds nothing of (expired)
// leaves the mark its delete would have left.
func (js *markRecorder) check(t *testing.T, want bool) {
	t.Helper()
	if !want {
		if len(js.msgs) != 0 {
			t.Errorf("%d deletion marks published, want none", len(js.msgs))
		}
		return
	}
	if len(js.msgs) != 1 {
		t.Fatalf("%d deletion marks published, want one", len(js.msgs))
	}
	m := js.msgs[0]
	if m.Subject != "$KV."+MembersBucket+"."+memberKey(2) || m.Header.Get("KV-Operation") != "DEL" || js.opts != 1 {
		t.Errorf("published %s %v with %d options, want a deletion of node 2's entry expecting none", m.Subject, m.Header, js.opts)
	}
}

// unansweredPublish is a JetStream whose first publish gets no answer (it was stored, its ack lost) and
// whose later ones are refused as the subject having moved on (it was stored).
type unansweredPublish struct {
	jetstream.JetStream
	publishes int
}

func (js *unansweredPublish) PublishMsg(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	js.publishes++
	if js.publishes == 1 {
		return nil, nats.ErrTimeout
	}
	return nil, &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence"}
}

// TestAppendClaimAsksTheLeader: a claim's append got no answer although it was stored. The subject's last
// message settles it; a replica that had not applied the append answered the message before it, the
// append was made again and refused (the subject had moved on: by this very claim), and the node took
// its own claim for someone else's and left it unrun. The stream's leader answers instead.
func TestAppendClaimAsksTheLeader(t *testing.T) {
	subject := logSubject(2, "dead")
	claim := encodeClaimStarted(1, "inc")
	leader := &fakeLeader{msg: &jetstream.RawStreamMsg{Subject: subject, Sequence: 8, Data: claim}}
	js := &unansweredPublish{}
	m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), js: js, leader: leader,
		connlog: replicaLog{msg: &jetstream.RawStreamMsg{Subject: subject, Sequence: 7, Data: encodeBatch(3, nil)}}}
	seq, err := m.appendClaim(t.Context(), subject, 7, claim)
	if err != nil || seq != 8 {
		t.Fatalf("appendClaim = %d, %v; want the claim stored at 8", seq, err)
	}
	if js.publishes != 1 || leader.reads != 1 {
		t.Errorf("appended %d times and asked the leader %d times, want once each", js.publishes, leader.reads)
	}
}

// recreatedStream is a JetStream whose connection log stream was created at created (Stream's cached
// info), as one the store lost and another node made again.
type recreatedStream struct {
	jetstream.JetStream
	created time.Time
}

func (js recreatedStream) Stream(context.Context, string) (jetstream.Stream, error) {
	return streamCreatedAt{created: js.created}, nil
}

// streamCreatedAt is a stream handle whose cached info says when it was created.
type streamCreatedAt struct {
	jetstream.Stream
	created time.Time
}

func (s streamCreatedAt) CachedInfo() *jetstream.StreamInfo {
	return &jetstream.StreamInfo{Created: s.created}
}

// TestRecreatedAsksTheLeader: when the connection log stream's creation time changes, the writer starts
// over only the subjects the stream holds nothing of, and appends their open records again from sequence
// 0. A replica that had not applied this writer's appends yet answered "nothing" for a subject that does
// hold them; the writer reset it, its next append (expecting an empty subject) was refused, and once the
// replica caught up its own earlier message looked like someone else's: the node gave up its own log.
// The stream's leader decides.
func TestRecreatedAsksTheLeader(t *testing.T) {
	subject := logSubject(1, "inc")
	mine := &jetstream.RawStreamMsg{Subject: subject, Sequence: 9,
		Data: encodeBatch(4, []logEntry{{create: true, id: "c1", record: []byte("r")}})}
	for _, tc := range []struct {
		name      string
		leader    fakeLeader
		wantReset bool
		wantErr   bool
	}{
		{name: "the leader holds the subject's messages", leader: fakeLeader{msg: mine}},
		{name: "the leader holds nothing either", leader: fakeLeader{err: fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)}, wantReset: true},
		{name: "the leader does not answer", leader: fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			then := time.Now()
			leader := tc.leader
			w := newWriter(recreatedStream{created: then.Add(time.Minute)}, &leader, slog.New(slog.DiscardHandler))
			w.created = then
			w.stream = replicaLog{err: jetstream.ErrMsgNotFound}
			st := &logState{lastSeq: 9, batch: 4, live: map[string]liveRecord{"c1": {data: []byte("r")}}}
			w.states[subject] = st
			again, err := w.recreated(t.Context())
			if (err != nil) != tc.wantErr {
				t.Fatalf("recreated = %t, %v; want an error: %t", again, err, tc.wantErr)
			}
			if reset := st.lastSeq == 0; reset != tc.wantReset || st.restore != tc.wantReset {
				t.Errorf("after recreated: last sequence %d, restore %t; want the subject started over: %t", st.lastSeq, st.restore, tc.wantReset)
			}
			if leader.reads != 1 {
				t.Errorf("the stream's leader was asked %d times, want once", leader.reads)
			}
		})
	}
}

// electingLeaders answers reads from the members stream's leader with an error for its first silent
// reads (a leader being elected), then "none"; the connection log's leader holds nothing. Reads may come
// from the claims' goroutines.
type electingLeaders struct {
	mu     sync.Mutex
	silent int
}

func (l *electingLeaders) LastMsg(_ context.Context, stream, _ string) (*jetstream.RawStreamMsg, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if stream == membersStream && l.silent > 0 {
		l.silent--
		return nil, fmt.Errorf("no leader: %w", nats.ErrTimeout)
	}
	return nil, fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)
}

func (l *electingLeaders) FirstMsg(context.Context, string, string) (*jetstream.RawStreamMsg, error) {
	return nil, fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)
}

// listedLog is a connection log that lists subjects and whose direct gets find nothing.
type listedLog struct {
	replicaLog
	subjects map[string]uint64
}

func (s listedLog) Info(context.Context, ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error) {
	return &jetstream.StreamInfo{State: jetstream.StreamState{Subjects: s.subjects}}, nil
}

// TestUndecidedLogsAreScannedAgain: a node scans the connection logs for those of node incarnations that
// are not members when it joins or rejoins, and when another node is lost. A log whose node a replica
// says is not a member and whose members stream's leader does not answer (one is being elected) is left
// alone for now; nothing scanned again, its connections' $disconnect waited for the next node lost. The
// scan runs again, backing off, until it has told every log's node alive or dead.
func TestUndecidedLogsAreScannedAgain(t *testing.T) {
	nc := connect(t, startServer(t))
	dead := logSubject(2, "dead")
	for _, tc := range []struct {
		name string
		scan func(m *Members)
	}{
		{name: "another node is lost", scan: func(m *Members) { m.startReap(3, "lost", true) }},
		{name: "this node rejoins", scan: func(m *Members) { m.rejoin(t.Context()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Members{cfg: Config{Node: 1, Heartbeat: 10 * time.Millisecond}, nc: nc, log: slog.New(slog.DiscardHandler),
				incarnation: "inc", members: &creatingMembers{}, leader: &electingLeaders{silent: 2},
				connlog: listedLog{replicaLog: replicaLog{err: jetstream.ErrMsgNotFound}, subjects: map[string]uint64{dead: 1}},
				peers:   map[cluster.NodeID]peer{}, dead: map[cluster.NodeID]string{}, unknown: map[cluster.NodeID]time.Time{},
				reaping: map[string]bool{}}
			m.reapCtx, m.stopReaping = context.WithCancel(t.Context())
			defer m.stopReaping()
			tc.scan(m)
			done := make(chan struct{})
			go func() {
				m.reapWG.Wait()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				m.stopReaping()
				<-done
				t.Fatal("the scans and claims did not end in 10 s")
			}
			m.mu.Lock()
			inc, claimed := m.dead[2]
			m.mu.Unlock()
			if !claimed || inc != "dead" {
				t.Errorf("node 2's log %s was not claimed (declared dead: %q); the scan that could not tell its node alive or dead was not made again", dead, inc)
			}
		})
	}
}

// countingMembers is a members bucket whose Get (a direct get) answers err, and counts the reads.
type countingMembers struct {
	jetstream.KeyValue
	err   error
	reads int
}

func (kv *countingMembers) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	kv.reads++
	return nil, kv.err
}

// TestAliveWhenTheStoreCannotTell: a node this one does not know yet is looked up when a call names one
// of its connections. When the lookup gets no answer — the members stream's leader being elected (the
// node that led it just died), or the store not answering at all — Alive said "not a member", and the
// bus answered 410 GoneException: the caller (a Lambda handler) deletes a connection that may be open on
// a node that just joined. It cannot tell, so the call is routed (the bus answers 5xx when nobody
// answers, the owner answers when it is there), and the store is not asked again for a heartbeat.
func TestAliveWhenTheStoreCannotTell(t *testing.T) {
	nc := connect(t, startServer(t))
	for _, tc := range []struct {
		name    string
		replica error
		leader  fakeLeader
	}{
		{name: "a replica says not there, the leader does not answer",
			replica: jetstream.ErrKeyNotFound, leader: fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)}},
		{name: "the store does not answer", replica: fmt.Errorf("direct get: %w", context.DeadlineExceeded)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			leader := tc.leader
			kv := &countingMembers{err: tc.replica}
			m := &Members{cfg: Config{Node: 1, Heartbeat: time.Hour}, nc: nc, log: slog.New(slog.NewTextHandler(&out, nil)),
				members: kv, leader: &leader,
				peers: map[cluster.NodeID]peer{}, dead: map[cluster.NodeID]string{}, unknown: map[cluster.NodeID]time.Time{},
				unsure: map[cluster.NodeID]time.Time{}}
			for call := 1; call <= 2; call++ {
				if !m.Alive(2) {
					t.Fatalf("call %d: Alive = false (410 GoneException) when the store could not tell", call)
				}
			}
			if kv.reads != 1 {
				t.Errorf("the members bucket was read %d times for two calls within a heartbeat, want once", kv.reads)
			}
			if !strings.Contains(out.String(), "node=2") {
				t.Errorf("no log line names the node the store could not tell about:\n%s", out.String())
			}
		})
	}
}

// memberEntry is a members bucket entry: node's, for incarnation inc, at revision rev.
type memberEntry struct {
	jetstream.KeyValueEntry
	node cluster.NodeID
	inc  string
	rev  uint64
}

func (e memberEntry) Key() string      { return memberKey(e.node) }
func (e memberEntry) Revision() uint64 { return e.rev }
func (e memberEntry) Operation() jetstream.KeyValueOp {
	return jetstream.KeyValuePut
}

func (e memberEntry) Value() []byte {
	data, _ := json.Marshal(member{Node: e.node, Incarnation: e.inc})
	return data
}

// staleMembers is a members bucket whose compare-and-set delete loses (the store's leader no longer holds
// the revision given) and whose Get a replica answers with the entry at that very revision: it has not
// applied what the leader holds instead.
type staleMembers struct {
	jetstream.KeyValue
	e jetstream.KeyValueEntry
}

func (staleMembers) Delete(context.Context, string, ...jetstream.KVDeleteOpt) error {
	return &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence"}
}

func (kv staleMembers) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return kv.e, nil
}

// TestSweepWithAReplicaAtTheRevisionLastSeen: a node silent for a TTL is declared dead with a delete at
// the revision last seen, which lost: the leader holds another revision (a newer heartbeat) or none (the
// entry expired, as a dead node's does about when the sweep comes). A replica that had not applied the
// expiry answered the entry at the revision last seen, which the sweep took for a sign of life: the dead
// node counted alive for one more TTL, its connections answering 5xx, not 410, past point 5's 5 s. An
// entry at the revision the delete named is not a change; the stream's leader decides.
func TestSweepWithAReplicaAtTheRevisionLastSeen(t *testing.T) {
	for _, tc := range []struct {
		name      string
		replica   jetstream.KeyValueEntry
		leader    fakeLeader
		wantDead  bool
		wantAsked bool
	}{
		{name: "the leader holds none (expired)", replica: memberEntry{node: 2, inc: "now", rev: 3},
			leader: fakeLeader{err: fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)}, wantDead: true, wantAsked: true},
		{name: "the leader holds a newer heartbeat", replica: memberEntry{node: 2, inc: "now", rev: 3},
			leader: fakeLeader{msg: memberMsg(t, 2, "now")}, wantAsked: true},
		{name: "the leader does not answer", replica: memberEntry{node: 2, inc: "now", rev: 3},
			leader: fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)}, wantAsked: true},
		{name: "a replica with a newer heartbeat", replica: memberEntry{node: 2, inc: "now", rev: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader := tc.leader
			now := time.Now()
			marks := &markRecorder{}
			m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), ttl: time.Second,
				members: staleMembers{e: tc.replica}, leader: &leader, js: marks,
				peers: map[cluster.NodeID]peer{2: {incarnation: "now", rev: 3, seen: now.Add(-time.Minute)}},
				dead:  map[cluster.NodeID]string{}, reaping: map[string]bool{},
				leaving: true, // startReap records the declaration and claims nothing
			}
			m.sweep(t.Context(), now)
			_, dead := m.dead[2]
			if dead != tc.wantDead {
				t.Errorf("after the sweep: declared dead %t, want %t", dead, tc.wantDead)
			}
			if asked := leader.reads > 0; asked != tc.wantAsked {
				t.Errorf("the stream's leader was asked: %t, want %t", asked, tc.wantAsked)
			}
			marks.check(t, tc.wantDead) // expired: the leader holds none
		})
	}
}

// TestClaimerAliveOnAReplicaBehind: a claim left unfinished is taken over only when its claimer is not a
// member. A node that declares the claimer dead (its sweep's delete) scans the logs at once, and reads the
// claimer's entry from a replica that may not have applied that delete yet: "alive", said the replica,
// and the claim was left to a dead node, its remaining $disconnects never run (nothing scans again). An
// answer that would leave a claim alone is the stream's leader's too.
func TestClaimerAliveOnAReplicaBehind(t *testing.T) {
	for _, tc := range []struct {
		name      string
		leader    fakeLeader
		wantAlive bool
		wantErr   bool
	}{
		{name: "the leader holds none (declared dead)", leader: fakeLeader{err: fmt.Errorf("none: %w", jetstream.ErrMsgNotFound)}},
		{name: "the leader holds its entry", leader: fakeLeader{msg: memberMsg(t, 2, "now")}, wantAlive: true},
		{name: "the leader does not answer", leader: fakeLeader{err: fmt.Errorf("no leader: %w", nats.ErrTimeout)}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader := tc.leader
			m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), leader: &leader,
				members: replicaMembers{e: memberEntry{node: 2, inc: "now", rev: 3}}}
			alive, err := m.claimerAlive(t.Context(), 2, "now")
			if (err != nil) != tc.wantErr || !tc.wantErr && alive != tc.wantAlive {
				t.Errorf("claimerAlive = %t, %v; want %t (an error: %t)", alive, err, tc.wantAlive, tc.wantErr)
			}
			if leader.reads != 1 {
				t.Errorf("the stream's leader was asked %d times, want once", leader.reads)
			}
		})
	}
}

// refusingPublish is a JetStream whose every publish is refused as the subject having moved on (until
// ctx ends).
type refusingPublish struct {
	jetstream.JetStream
	mu        sync.Mutex
	publishes int
}

func (js *refusingPublish) PublishMsg(ctx context.Context, _ *nats.Msg, _ ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	js.mu.Lock()
	js.publishes++
	js.mu.Unlock()
	return nil, &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence"}
}

// TestReapAfterAConflictOnAReplicaBehind: a claim's append at the sequence a direct get read was refused
// (the log had moved on), and the log was read again from the same replica, still behind: the same
// replay, the same refused append, over and over as fast as NATS answers, a whole replay each time, for
// as long as the replica lagged. After a conflict the log's last message is the leader's; a replica
// behind it ends the replay (errReplicaBehind) and the reap runs again later, backing off.
func TestReapAfterAConflictOnAReplicaBehind(t *testing.T) {
	subject := logSubject(2, "dead")
	stale := &jetstream.RawStreamMsg{Subject: subject, Sequence: 7, Time: time.Now(),
		Data: encodeBatch(3, []logEntry{{create: true, id: "a", record: []byte("a")}})}
	leader := &fakeLeader{msg: &jetstream.RawStreamMsg{Subject: subject, Sequence: 9, Time: time.Now(),
		Data: encodeBatch(4, []logEntry{{id: "a"}})}, first: stale}
	js := &refusingPublish{}
	m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), js: js, leader: leader, incarnation: "inc",
		connlog: replicaLog{msg: stale, msgs: []*jetstream.RawStreamMsg{stale}}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := m.reap(ctx, 2, "dead")
	if !errors.Is(err, errReplicaBehind) {
		t.Errorf("reap = %v, want errReplicaBehind (run again later)", err)
	}
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.publishes != 1 {
		t.Errorf("the claim was appended %d times, want once: the refused append was not made again on the same replica's answer", js.publishes)
	}
}

// scriptedPublish is a JetStream whose publishes get the errors of errs in turn (nil: stored at seq),
// the last one repeated.
type scriptedPublish struct {
	jetstream.JetStream
	errs      []error
	publishes int
}

func (js *scriptedPublish) PublishMsg(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	err := js.errs[min(js.publishes, len(js.errs)-1)]
	js.publishes++
	if err != nil {
		return nil, err
	}
	return &jetstream.PubAck{Stream: LogStream, Sequence: 8}, nil
}

// scriptedLeader is a stream leader whose answers to LastMsg come from msgs and errs in turn, the last
// ones repeated.
type scriptedLeader struct {
	msgs  []*jetstream.RawStreamMsg
	errs  []error
	reads int
}

func (l *scriptedLeader) LastMsg(context.Context, string, string) (*jetstream.RawStreamMsg, error) {
	i := min(l.reads, len(l.msgs)-1)
	l.reads++
	return l.msgs[i], l.errs[i]
}

func (l *scriptedLeader) FirstMsg(context.Context, string, string) (*jetstream.RawStreamMsg, error) {
	return nil, errors.New("not asked")
}

// TestAppendClaimRefusalNeedsTheLeader: a claim's append is refused as a conflict (the subject moved on)
// when an earlier try stored it and its answer was lost, as when another node appended first. Only the
// leader's last message tells the two apart; a refusal read while the leader did not answer was taken for
// another node's, and the node left its own claim unrun — for good, since nobody takes over the claim of
// a claimer that is alive. The refusal now waits for the leader's answer.
func TestAppendClaimRefusalNeedsTheLeader(t *testing.T) {
	subject := logSubject(2, "dead")
	claim := encodeClaimStarted(1, "inc")
	other := encodeClaimStarted(3, "other")
	at := func(seq uint64, data []byte) *jetstream.RawStreamMsg {
		return &jetstream.RawStreamMsg{Subject: subject, Sequence: seq, Data: data}
	}
	conflict := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence"}
	silent := errors.New("no answer from the stream's leader")
	for _, tc := range []struct {
		name       string
		publishes  []error
		leader     scriptedLeader
		wantSeq    uint64
		wantMoved  bool
		publishing int // publishes made
	}{
		{"stored, its answer lost, the leader silent at the refusal", []error{nats.ErrTimeout, conflict},
			scriptedLeader{msgs: []*jetstream.RawStreamMsg{nil, nil, at(8, claim)}, errs: []error{silent, silent, nil}}, 8, false, 3},
		{"another node appended first", []error{conflict},
			scriptedLeader{msgs: []*jetstream.RawStreamMsg{at(8, other)}, errs: []error{nil}}, 0, true, 1},
		{"another node appended first, the leader silent at first", []error{conflict},
			scriptedLeader{msgs: []*jetstream.RawStreamMsg{nil, at(8, other)}, errs: []error{silent, nil}}, 0, true, 2},
		{"the log purged whole: claimed and done", []error{conflict},
			scriptedLeader{msgs: []*jetstream.RawStreamMsg{nil}, errs: []error{fmt.Errorf("%w (the stream's leader answered)", jetstream.ErrMsgNotFound)}}, 0, true, 1},
		{"stored at once", []error{nil}, scriptedLeader{msgs: []*jetstream.RawStreamMsg{nil}, errs: []error{silent}}, 8, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := &scriptedPublish{errs: tc.publishes}
			leader := tc.leader
			m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), js: js, leader: &leader}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			seq, err := m.appendClaim(ctx, subject, 7, claim)
			if tc.wantMoved {
				if !errors.Is(err, errLogMovedOn) {
					t.Fatalf("appendClaim = %d, %v; want the log moved on", seq, err)
				}
			} else if err != nil || seq != tc.wantSeq {
				t.Fatalf("appendClaim = %d, %v; want the claim stored at %d", seq, err, tc.wantSeq)
			}
			if js.publishes != tc.publishing {
				t.Errorf("appended %d times, want %d", js.publishes, tc.publishing)
			}
		})
	}
}

// TestLatePeerAfterThisNodeCameBack: a node cut off from the store and back hears the others again
// through its watch, which may lag by more than a TTL; a peer late only for want of news since then was
// counted gone, and a call through this node to a live node's connection answered 410 GoneException
// (gateway's TestClusterCutOffNodeComesBack, once in a fresh-clone run). It counts alive for a second
// TTL after the store came back, while the sweep asks the store; a peer heard of since, and silent for a
// TTL, is late as before.
func TestLatePeerAfterThisNodeCameBack(t *testing.T) {
	const ttl = 3 * time.Second
	now := time.Now()
	for _, tc := range []struct {
		name      string
		seen      time.Time
		storeBack time.Time
		want      bool
	}{
		{"heard of within a TTL", now.Add(-time.Second), now.Add(-10 * time.Second), true},
		{"silent for a TTL since it was heard of", now.Add(-4 * time.Second), now.Add(-10 * time.Second), false},
		{"not heard of since the store came back, a TTL ago", now.Add(-20 * time.Second), now.Add(-4 * time.Second), true},
		{"not heard of since the store came back, two TTLs ago", now.Add(-20 * time.Second), now.Add(-7 * time.Second), false},
		{"the store back within a TTL", now.Add(-20 * time.Second), now.Add(-time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Members{ttl: ttl, storeBack: tc.storeBack}
			if got := m.aliveLocked(peer{incarnation: "x", seen: tc.seen}, now); got != tc.want {
				t.Errorf("aliveLocked = %t, want %t", got, tc.want)
			}
		})
	}
}
