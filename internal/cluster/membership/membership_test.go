package membership

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
)

// testHeartbeat is the nodes' heartbeat in these tests: short, yet long enough that a loaded machine
// running them under -race does not miss three in a row.
const testHeartbeat = 500 * time.Millisecond

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: "solo", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// startServerWithMaxPayload starts a JetStream server on a free loopback port whose max_payload is n
// bytes, stopped when the test ends.
func startServerWithMaxPayload(t *testing.T, n int32) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), MaxPayload: n, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return s
}

func connect(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := natsbus.Connect(natsbus.ClientConfig{Embedded: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// node is one Members running until the test ends (or stop).
type node struct {
	m        *Members
	log      *syncBuffer
	reaped   chan string
	expelled atomic.Int32
	stop     func()
}

// nextReap waits up to 30 s for the next $disconnect n runs, "ID=record", and fails the test with
// missing and n's log if none runs.
func (n *node) nextReap(t *testing.T, missing string) string {
	t.Helper()
	select {
	case got := <-n.reaped:
		return got
	case <-time.After(30 * time.Second):
		t.Fatalf("%s (no $disconnect within 30s)\n%s", missing, n.log.String())
		return ""
	}
}

func runNode(t *testing.T, s *server.Server, id cluster.NodeID) *node {
	t.Helper()
	return runNodeWith(t, s, id, nil)
}

// runNodeWith runs a node after prepare (when not nil) has adjusted its Members.
func runNodeWith(t *testing.T, s *server.Server, id cluster.NodeID, prepare func(*Members)) *node {
	t.Helper()
	return runNodeOn(t, connect(t, s), id, testHeartbeat, prepare)
}

// runNodeOn runs a node over nc with heartbeat, after prepare (when not nil) has adjusted its Members.
func runNodeOn(t *testing.T, nc *nats.Conn, id cluster.NodeID, heartbeat time.Duration, prepare func(*Members)) *node {
	t.Helper()
	n := &node{log: &syncBuffer{}, reaped: make(chan string, 100)}
	m, err := New(nc, Config{Node: id, Heartbeat: heartbeat, Replicas: 1,
		Logger: slog.New(slog.NewTextHandler(n.log, nil)),
		Attach: func(context.Context) error { return nil },
		Reap: func(_ context.Context, id string, record []byte) error {
			n.reaped <- id + "=" + string(record)
			return nil
		},
		Expelled: func() { n.expelled.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	n.m = m
	if prepare != nil {
		prepare(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = m.Run(ctx)
	}()
	var once sync.Once
	n.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(n.stop)
	return n
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func kv(t *testing.T, s *server.Server, bucket string) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(connect(t, s))
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsbus.KeyValue(context.Background(), js, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Replicas: 1,
		TTL: map[string]time.Duration{MembersBucket: MissedHeartbeats * testHeartbeat}[bucket], Storage: jetstream.FileStorage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Two nodes never share an ID: the second waits, saying why, and joins once the first has left.
func TestNodeIDIsNeverShared(t *testing.T) {
	s := startServer(t)
	a := runNode(t, s, 4)
	eventually(t, func() bool { return a.m.Status() == "" }, "the first node 4 did not join")
	b := runNode(t, s, 4)
	eventually(t, func() bool { return strings.Contains(b.m.Status(), "node ID 4 is held by another live node") }, "the second node 4 does not say why it waits")
	if !strings.Contains(b.log.String(), "node ID 4 is held") {
		t.Errorf("the refusal is not logged:\n%s", b.log.String())
	}
	if err := a.m.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.stop()
	eventually(t, func() bool { return b.m.Status() == "" }, "the second node 4 did not join once the first left")
}

// A node whose entry the cluster deleted (declared dead) is expelled — it drops its connections — and
// rejoins as a new incarnation; the others then see it alive again.
func TestDeclaredDeadNodeIsExpelledAndRejoins(t *testing.T) {
	s := startServer(t)
	a, b := runNode(t, s, 1), runNode(t, s, 2)
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes did not join")
	if err := a.m.Record(context.Background(), "AAAAAAAAAAAAAAA=", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	old := a.m.incarnationNow()
	if err := kv(t, s, MembersBucket).Delete(context.Background(), memberKey(1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return a.expelled.Load() >= 1 }, "node 1 was not expelled")
	// Node 2 claims node 1's old incarnation's record and runs its $disconnect, once.
	if got := b.nextReap(t, "node 2 did not claim the record of node 1's previous incarnation"); got != "AAAAAAAAAAAAAAA==rec" {
		t.Fatalf("reaped %q", got)
	}
	eventually(t, func() bool { return a.m.Status() == "" && a.m.incarnationNow() != old && b.m.Alive(1) }, "node 1 did not rejoin as a new incarnation")
	// Node 1 closing that connection now does not run its $disconnect again.
	ran := false
	a.m.Forget(context.Background(), "AAAAAAAAAAAAAAA=", func() { ran = true })
	if ran {
		t.Fatal("the $disconnect of a connection another node claimed ran again")
	}
	if n := len(a.reaped) + len(b.reaped); n != 0 {
		t.Fatalf("%d more claims", n)
	}
}

// logStream opens the connection log's stream on s.
func logStream(t *testing.T, s *server.Server) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	js, err := jetstream.New(connect(t, s))
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStream(context.Background(), js, logStreamConfig(1), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return js, st
}

// Corrupted and foreign entries in the members bucket and the connection log are logged with their key
// and skipped; the node joins, and a dead node's corrupted record still reaches Reap once (the gateway
// reports it).
func TestCorruptedAndForeignEntriesAreSkipped(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	members := kv(t, s, MembersBucket)
	for key, val := range map[string]string{"m.5": "not json", "m.6": `{"node":7,"incarnation":"x"}`, "weird.key": "x"} {
		if _, err := members.Put(ctx, key, []byte(val)); err != nil {
			t.Fatal(err)
		}
	}
	js, _ := logStream(t, s)
	for _, m := range []struct{ subject, data string }{
		{"switchboard.connlog.9.deadbeef", "\x00garbage"},
		{"switchboard.connlog.9.deadbeef", string(encodeBatch(1, []logEntry{{create: true, id: "BBBBBBBBBBBBBBB=", record: []byte("\x00garbage")}}))},
		{"switchboard.connlog.notanode.x", "x"},
	} {
		if _, err := js.Publish(ctx, m.subject, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	n := runNode(t, s, 1)
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	if got := n.nextReap(t, "the dead node's record was not claimed"); got != "BBBBBBBBBBBBBBB==\x00garbage" {
		t.Fatalf("reaped %q", got)
	}
	for _, key := range []string{"m.5", "m.6", "weird.key", "switchboard.connlog.notanode.x", "switchboard.connlog.9.deadbeef sequence=1"} {
		eventually(t, func() bool { return strings.Contains(n.log.String(), "key="+key) }, "no log line names "+key)
	}
	if n.m.Alive(5) || n.m.Alive(6) || n.m.Alive(7) {
		t.Fatal("a corrupted member entry made a node alive")
	}
}

// A node that joins a running cluster leaves the live nodes' connections alone: the logs it finds at
// join belong to nodes it has not heard of yet only until the members bucket's current entries are read.
func TestJoiningNodeLeavesLiveNodesConnections(t *testing.T) {
	s := startServer(t)
	a := runNode(t, s, 1)
	eventually(t, func() bool { return a.m.Status() == "" }, "node 1 did not join")
	if err := a.m.Record(context.Background(), "AAAAAAAAAAAAAAA=", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	b := runNode(t, s, 2)
	select {
	case <-b.m.scanned:
	case <-time.After(20 * time.Second):
		t.Fatal("node 2 did not join")
	}
	b.m.reapWG.Wait() // every claim node 2 started when it joined has ended
	if n := len(b.reaped); n != 0 {
		t.Fatalf("node 2 ran the $disconnect of %d of live node 1's connections: %q", n, <-b.reaped)
	}
	// Node 1's log is still its own: it records another connection and forgets the first.
	if err := a.m.Record(context.Background(), "BBBBBBBBBBBBBBB=", []byte("rec")); err != nil {
		t.Fatalf("node 1 cannot write its log after node 2 joined: %v", err)
	}
	ran := make(chan struct{})
	a.m.Forget(context.Background(), "AAAAAAAAAAAAAAA=", func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(20 * time.Second):
		t.Fatal("node 1's $disconnect did not run")
	}
	if n := a.expelled.Load(); n != 0 {
		t.Fatalf("node 1 was expelled %d times", n)
	}
}

// The claims made at join or rejoin look a log's node up in the store when the node is not among the
// peers this node knows (they lag the store while its watch is down): a live node's log is not claimed.
func TestClaimsCheckTheStoreForUnknownNodes(t *testing.T) {
	s := startServer(t)
	a, b := runNode(t, s, 1), runNode(t, s, 2)
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes did not join")
	if err := a.m.Record(context.Background(), "AAAAAAAAAAAAAAA=", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	b.m.mu.Lock()
	delete(b.m.peers, 1) // as if node 1 had joined while node 2's watch was down
	b.m.mu.Unlock()
	b.m.reapStale(context.Background())
	b.m.reapWG.Wait()
	if n := len(b.reaped); n != 0 {
		t.Fatalf("node 2 ran the $disconnect of %d of live node 1's connections: %q", n, <-b.reaped)
	}
	if !b.m.Alive(1) {
		t.Fatal("node 2 does not know node 1 is alive after looking it up")
	}
	if err := a.m.Record(context.Background(), "BBBBBBBBBBBBBBB=", []byte("rec")); err != nil {
		t.Fatalf("node 1 cannot write its log: %v", err)
	}
}

// silentStore is a members bucket that does not answer writes or reads while down is set, as a
// replicated stream without a leader does ("no response from stream"); its watch simply delivers nothing.
type silentStore struct {
	jetstream.KeyValue
	down *atomic.Bool
}

func (s silentStore) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if s.down.Load() {
		return 0, jetstream.ErrNoStreamResponse
	}
	return s.KeyValue.Update(ctx, key, value, rev)
}

func (s silentStore) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	if s.down.Load() {
		return jetstream.ErrNoStreamResponse
	}
	return s.KeyValue.Delete(ctx, key, opts...)
}

func (s silentStore) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if s.down.Load() {
		return nil, jetstream.ErrNoStreamResponse
	}
	return s.KeyValue.Get(ctx, key)
}

// A store that stops answering for longer than the TTL silences every node alike: when it answers again,
// the nodes that lived through it must not declare one another dead (their entries are unchanged at the
// revisions last seen, so a compare-and-delete succeeds) and expel one another.
func TestStoreOutageDeclaresNobodyDead(t *testing.T) {
	s := startServer(t)
	var down atomic.Bool
	silent := func(m *Members) {
		m.wrapMembers = func(kv jetstream.KeyValue) jetstream.KeyValue { return silentStore{KeyValue: kv, down: &down} }
	}
	a, b := runNodeWith(t, s, 1, silent), runNodeWith(t, s, 2, silent)
	for _, n := range []*node{a, b} {
		eventually(t, func() bool { return len(n.m.Nodes()) == 2 }, "the two nodes did not see each other")
	}
	down.Store(true)
	for _, n := range []*node{a, b} {
		eventually(t, func() bool { return strings.Contains(n.log.String(), "heartbeat failed") }, "a heartbeat did not fail with the store silent")
	}
	// The outage lasts until the middle of the span from the moment both entries have expired (a TTL
	// after the later of the two nodes' last stored heartbeats) to the moment the earlier one would take
	// itself for cut off (two TTLs after its own): every heartbeat in it fails on both nodes, and neither
	// has failed long enough. Counted from the heartbeats themselves, not from when the test saw the
	// first failure, which a loaded machine delays by as much as the span's margins.
	var first, last time.Time
	for i, n := range []*node{a, b} {
		n.m.mu.Lock()
		beat := n.m.lastBeat
		n.m.mu.Unlock()
		if i == 0 || beat.Before(first) {
			first = beat
		}
		if beat.After(last) {
			last = beat
		}
	}
	ttl := MissedHeartbeats * testHeartbeat
	expired, cutOff := last.Add(ttl), first.Add(2*ttl)
	if !cutOff.After(expired) {
		t.Fatalf("the nodes' last heartbeats before the outage are %v apart, a TTL or more: no outage lets both entries expire before either node takes itself for cut off", last.Sub(first))
	}
	outage := expired.Add(cutOff.Sub(expired) / 2)
	eventually(t, func() bool { return time.Now().After(outage) }, "the outage did not last")
	down.Store(false)
	// Each node's heartbeat is stored again; then a TTL and more passes, long enough for a sweep to
	// declare the other dead if it counted the outage as the other's silence.
	for _, n := range []*node{a, b} {
		eventually(t, func() bool {
			n.m.mu.Lock()
			defer n.m.mu.Unlock()
			return !n.m.beatFailed && !n.m.storeBack.IsZero()
		}, "a node's heartbeat was not stored again")
	}
	after := time.Now().Add(2 * MissedHeartbeats * testHeartbeat)
	eventually(t, func() bool { return time.Now().After(after) }, "time did not pass")
	for i, n := range []*node{a, b} {
		// The outage this test is about: the store let the node's entry expire, and the node announced
		// itself again rather than taking the missing entry for its death. An outage too short for the
		// entries to expire would leave that path untried and the test passing for nothing.
		if !strings.Contains(n.log.String(), "entry expired while the store did not answer; announced again") {
			t.Errorf("node %d's entry did not expire in the outage (or the node did not announce itself again):\n%s", i+1, n.log.String())
		}
		if got := n.expelled.Load(); got != 0 {
			t.Errorf("node %d was expelled %d times after the store came back:\n%s", i+1, got, n.log.String())
		}
		if strings.Contains(n.log.String(), "declared gone") {
			t.Errorf("node %d declared the other gone:\n%s", i+1, n.log.String())
		}
		if got := len(n.m.Nodes()); got != 2 {
			t.Errorf("node %d lists %d nodes, want 2", i+1, got)
		}
	}
}

// A node whose NATS server is cut off from the servers that hold the store's quorum stays connected, but
// its heartbeats fail while the others' are stored: they declare it dead and run its connections'
// $disconnect. Past twice the TTL it must drop its connections without waiting for the store to
// answer again, rather than keep serving connections the cluster has given up.
func TestNodeCutOffFromTheQuorumExpelsItself(t *testing.T) {
	s := startServer(t)
	var down atomic.Bool
	a := runNodeWith(t, s, 1, func(m *Members) {
		m.wrapMembers = func(kv jetstream.KeyValue) jetstream.KeyValue { return silentStore{KeyValue: kv, down: &down} }
	})
	b := runNode(t, s, 2)
	for _, n := range []*node{a, b} {
		eventually(t, func() bool { return len(n.m.Nodes()) == 2 }, "the two nodes did not see each other")
	}
	down.Store(true)
	eventually(t, func() bool { return strings.Contains(b.log.String(), "declared gone") }, "node 2 did not declare node 1 gone")
	eventually(t, func() bool { return a.expelled.Load() > 0 }, "node 1 kept its connections with the store silent")
	if !strings.Contains(a.log.String(), "with NATS connected") {
		t.Errorf("node 1's log does not say why it dropped its connections:\n%s", a.log.String())
	}
	if !down.Load() {
		t.Fatal("the store answered again before node 1 acted")
	}
}

// slowListing holds every listing of the connection log's subjects until release is closed, whatever
// its ctx says: a store slow to answer under load.
type slowListing struct {
	jetstream.Stream
	release chan struct{}
}

func (s *slowListing) Info(ctx context.Context, opts ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error) {
	<-s.release
	return s.Stream.Info(ctx, opts...)
}

// runNodeWithHeldListing runs node 1 on s with its connection log's listing held until the test ends.
func runNodeWithHeldListing(t *testing.T, s *server.Server) *node {
	slow := &slowListing{release: make(chan struct{})}
	a := runNodeWith(t, s, 1, func(m *Members) {
		m.wrapLog = func(st jetstream.Stream) jetstream.Stream { slow.Stream = st; return slow }
	})
	t.Cleanup(func() { close(slow.release) })
	return a
}

// A node has joined (its bus answers for its connections) once it holds its ID, without waiting for the
// logs of dead nodes to be listed and claimed: it used to be a member, ready and taking handshakes
// while its bus left every request unanswered until that scan was done, so under load a call for a
// connection it had just accepted waited out the caller's timeout and failed (gateway's
// TestClusterNATSDownAtStart: 500 after 5 s, 1 run in 30 beside a CPU hog, 2 in 5 beside other cluster
// tests).
func TestJoinedBeforeTheClaimsFoundAtJoin(t *testing.T) {
	s := startServer(t)
	a := runNodeWithHeldListing(t, s)
	eventually(t, func() bool { return a.m.Status() == "" }, "node 1 did not become a member")
	eventually(t, func() bool {
		select {
		case <-a.m.Joined():
			return true
		default:
			return false
		}
	}, "node 1 is a member but has not joined while the logs to claim are being listed")
	select {
	case <-a.m.scanned:
		t.Fatal("the logs to claim were listed while the store held the listing")
	default:
	}
}

// A node's heartbeats go on while its scan at join for the logs dead nodes left is held up: the scan
// lists the logs and asks about each one's node, up to opTimeout per read while a stream elects a
// leader, and a node that scanned before its first heartbeat (and a rejoin, inside the heartbeat) could
// be declared dead by the time it was done. The store holds the listing here.
func TestHeartbeatsGoOnWhileTheScanAtJoinIsHeld(t *testing.T) {
	s := startServer(t)
	a := runNodeWithHeldListing(t, s)
	eventually(t, func() bool { return a.m.Status() == "" }, "node 1 did not become a member")
	a.m.mu.Lock()
	announced := a.m.lastBeat
	a.m.mu.Unlock()
	eventually(t, func() bool {
		a.m.mu.Lock()
		defer a.m.mu.Unlock()
		return a.m.lastBeat.After(announced.Add(a.m.cfg.Heartbeat))
	}, "node 1 stored no heartbeat while its scan at join was held")
	select {
	case <-a.m.scanned:
		t.Fatal("the logs to claim were listed while the store held the listing")
	default:
	}
}

// heldDeletes holds every delete of another node's entry (a sweep declaring that node dead) while
// armed, until its ctx ends, and names the keys held: a store that answers slowly, as while a stream
// elects a leader after a node died.
type heldDeletes struct {
	jetstream.KeyValue
	own   string // this node's key: its own deletes (Leave) are left alone
	armed atomic.Bool

	mu   sync.Mutex
	held map[string]int
}

func (kv *heldDeletes) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	if key == kv.own || !kv.armed.Load() {
		return kv.KeyValue.Delete(ctx, key, opts...)
	}
	kv.mu.Lock()
	kv.held[key]++
	kv.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

// heldKeys is how many different keys have had a delete held.
func (kv *heldDeletes) heldKeys() int {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return len(kv.held)
}

// A node's heartbeats keep their period while its sweep cannot declare the nodes that went silent dead:
// the sweep ran before the heartbeat and took the late nodes one after the other, each for up to
// opTimeout when the store answered slowly, so with two of them the heartbeat waited four seconds, past
// the TTL, and the node could be declared dead for being busy declaring others dead. Once the store
// answers, each silent node is declared dead, once.
func TestHeartbeatsKeepTheirPeriodWhileTheSweepIsHeld(t *testing.T) {
	s := startServer(t)
	held := &heldDeletes{own: memberKey(1), held: map[string]int{}}
	held.armed.Store(true)
	a := runNodeWith(t, s, 1, func(m *Members) {
		m.wrapMembers = func(kv jetstream.KeyValue) jetstream.KeyValue { held.KeyValue = kv; return held }
	})
	eventually(t, func() bool { return a.m.Status() == "" }, "node 1 did not join")
	defer logOnFailure(t, "node 1", a)
	ctx := context.Background()
	members := kv(t, s, MembersBucket)
	for _, n := range []cluster.NodeID{2, 3} { // announced once, then silent
		val, err := json.Marshal(member{Node: n, Incarnation: "silent"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := members.Create(ctx, memberKey(n), val); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return len(a.m.Nodes()) == 3 }, "node 1 did not see nodes 2 and 3")
	eventually(t, func() bool { return held.heldKeys() > 0 }, "node 1's sweep did not try to declare a silent node dead")
	revision := func() uint64 {
		e, err := members.Get(ctx, memberKey(1))
		if err != nil {
			t.Fatalf("node 1's entry (expired when no heartbeat was stored for a TTL): %v", err)
		}
		return e.Revision()
	}
	// Node 1's entry is stored again within a TTL each time, as the other nodes require, for a few TTLs.
	rev := revision()
	for range 2 * MissedHeartbeats {
		deadline := time.Now().Add(a.m.TTL())
		for next := revision(); next == rev; next = revision() {
			if time.Now().After(deadline) {
				t.Fatalf("node 1 stored no heartbeat for a TTL (%v) while its sweep's deletes were held", a.m.TTL())
			}
			time.Sleep(10 * time.Millisecond)
		}
		rev = revision()
	}
	if n := held.heldKeys(); n != 2 {
		t.Errorf("the sweep's deletes of %d silent nodes' entries were held, want both nodes'", n)
	}
	held.armed.Store(false)
	eventually(t, func() bool { return a.m.declaredDead(2, "silent") && a.m.declaredDead(3, "silent") },
		"node 1 did not declare nodes 2 and 3 dead once its store answered")
	if n := strings.Count(a.log.String(), "node declared gone"); n != 2 {
		t.Errorf("%d declarations of a node gone, want one for each silent node", n)
	}
	if n := a.expelled.Load(); n != 0 || a.m.Status() != "" {
		t.Errorf("node 1 was expelled %d times (status %q)", n, a.m.Status())
	}
}

// cuttingMembers is a members bucket whose every delete ends the sweep's ctx (cut: this node's next
// heartbeat is due) and then answers: stored for the keys in ok, else the ctx's end. It records the keys.
type cuttingMembers struct {
	jetstream.KeyValue
	cut  func()
	ok   map[string]bool
	keys []string
}

func (kv *cuttingMembers) Delete(ctx context.Context, key string, _ ...jetstream.KVDeleteOpt) error {
	kv.keys = append(kv.keys, key)
	kv.cut()
	if kv.ok[key] {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

// A sweep that stops because this node's heartbeat is due begins the next one where it stopped, in
// node order: after the node whose declaration it cut short, at the node it did not reach. A sweep that
// began with the same late node each time kept the others waiting behind a declaration the store never
// finished in time.
func TestSweepTakesTheLateNodesInTurn(t *testing.T) {
	now := time.Now()
	kv := &cuttingMembers{ok: map[string]bool{}}
	m := &Members{cfg: Config{Node: 1}, log: slog.New(slog.DiscardHandler), ttl: time.Second, members: kv,
		peers: map[cluster.NodeID]peer{
			2: {incarnation: "two", rev: 3, seen: now.Add(-time.Minute)},
			3: {incarnation: "three", rev: 4, seen: now.Add(-time.Minute)},
			5: {incarnation: "five", rev: 5, seen: now.Add(-time.Minute)},
		},
		dead: map[cluster.NodeID]string{}, reaping: map[string]bool{},
		leaving: true, // startReap records the declaration and claims nothing
	}
	sweep := func() {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		kv.cut = cancel
		m.sweep(ctx, now)
	}
	for range 4 { // each cut short: 2, 3, 5, then 2 again
		sweep()
	}
	kv.ok[memberKey(3)] = true
	sweep() // 3 is declared dead; the heartbeat is due before 5
	sweep()
	want := []string{memberKey(2), memberKey(3), memberKey(5), memberKey(2), memberKey(3), memberKey(5)}
	if !slices.Equal(kv.keys, want) {
		t.Errorf("the sweeps' deletes: %q, want %q", kv.keys, want)
	}
	if !m.declaredDead(3, "three") || m.declaredDead(2, "two") || m.declaredDead(5, "five") {
		t.Errorf("declared dead: %v, want node 3 alone", m.dead)
	}
}

// failingListing refuses every listing of the connection log's subjects once armed, and counts them: a
// store that cannot tell which logs there are.
type failingListing struct {
	jetstream.Stream
	armed atomic.Bool
	calls atomic.Int32
}

func (s *failingListing) Info(ctx context.Context, opts ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error) {
	if s.armed.Load() {
		s.calls.Add(1)
		return nil, errors.New("listing refused (test)")
	}
	return s.Stream.Info(ctx, opts...)
}

// A node leaves (SIGTERM) without waiting for a scan of the logs that could not decide to be made
// again: the scan made after a node is lost ran again, backing off, as part of that node's claim, and
// Leave waits for the claims this node runs, so the node stayed a member, its entry undeleted, until its
// shutdown budget ran out (for ever without one), and a scan that starts no claim once Leave has begun
// has nothing to wait for. The scan is made again on its own, and ends once the node leaves.
func TestLeaveDoesNotWaitForAScanMadeAgain(t *testing.T) {
	s := startServer(t)
	listing := &failingListing{}
	a := runNodeWith(t, s, 1, func(m *Members) {
		m.wrapLog = func(st jetstream.Stream) jetstream.Stream { listing.Stream = st; return listing }
	})
	select {
	case <-a.m.scanned:
	case <-time.After(20 * time.Second):
		t.Fatal("node 1 did not scan the logs at join")
	}
	listing.armed.Store(true)
	a.m.startReap(3, "lost", true) // node 3 is lost, and the logs cannot be listed
	eventually(t, func() bool { return listing.calls.Load() >= 2 }, "the scan was not made again")
	left := make(chan error, 1)
	go func() { left <- a.m.Leave(context.Background()) }()
	select {
	case err := <-left:
		if err != nil {
			t.Fatalf("leave: %v", err)
		}
	case <-time.After(20 * time.Second):
		a.stop() // ends the scan: Leave returns
		t.Fatalf("after 20s: Leave still waited for a scan of the logs made again (%d listings)", listing.calls.Load())
	}
	if e, err := kv(t, s, MembersBucket).Get(context.Background(), memberKey(1)); err == nil {
		t.Errorf("node 1 left and its entry is still there (revision %d)", e.Revision())
	}
	eventually(t, func() bool {
		a.m.mu.Lock()
		defer a.m.mu.Unlock()
		return !a.m.rescanning
	}, "the scan went on being made again after the node left")
}

// heldLogReads holds a node's reads of the connection logs whose subjects start with prefix until
// release is closed, whatever their ctx says: a claim that has not read the log yet.
type heldLogReads struct {
	jetstream.Stream
	prefix  string
	release chan struct{}
}

func (s *heldLogReads) GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	if strings.HasPrefix(subject, s.prefix) {
		<-s.release
	}
	return s.Stream.GetLastMsgForSubject(ctx, subject)
}

// A node whose entry expired while its heartbeats were not stored, and which another node declared
// dead, does not come back as the incarnation it was: the sweep that declared it found the entry gone
// (the bucket's TTL acts before the sweep does), its delete at the revision last seen lost and left no
// trace, and the node, its store answering again before its log was claimed, took that for an expiry
// nobody declared (reannounce) and announced itself again under the same incarnation, keeping every
// connection. The other nodes held it dead (their Alive said 410 for its connections, their watch
// ignored its entry) and claimed its log, running the $disconnects of connections it kept open; its
// records were then refused for good. The sweep leaves a deletion mark where it declares an expired
// entry dead, as its delete does otherwise, and the node is expelled and rejoins as a new incarnation.
func TestDeclaredDeadAfterAnExpiryIsNotAnnouncedAgain(t *testing.T) {
	s := startServer(t)
	held := &heldLogReads{prefix: logSubject(1, ""), release: make(chan struct{})}
	defer close(held.release)
	b := runNodeWith(t, s, 2, func(m *Members) {
		m.wrapLog = func(st jetstream.Stream) jetstream.Stream { held.Stream = st; return held }
	})
	var down atomic.Bool
	// Node 1 beats when the test says so (its ticker waits an hour), and its store stops answering it.
	a := runNodeOn(t, connect(t, s), 1, time.Hour, func(m *Members) {
		m.wrapMembers = func(kv jetstream.KeyValue) jetstream.KeyValue { return silentStore{KeyValue: kv, down: &down} }
	})
	eventually(t, func() bool { return a.m.Status() == "" && b.m.Status() == "" && b.m.Alive(1) }, "nodes 1 and 2 did not see each other")
	defer logOnFailure(t, "node 1", a)
	defer logOnFailure(t, "node 2", b)
	ctx := context.Background()
	if err := a.m.Record(ctx, "CONN00000000000=", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	inc := a.m.incarnationNow()
	down.Store(true)
	a.m.heartbeat(ctx, time.Now()) // not stored
	// The entry expires as the bucket's TTL removes it: its message goes, and nothing marks it deleted.
	js, err := jetstream.New(connect(t, s))
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, membersStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject("$KV."+MembersBucket+"."+memberKey(1))); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return b.m.declaredDead(1, inc) }, "node 2 did not declare node 1 dead")
	down.Store(false)
	a.m.heartbeat(ctx, time.Now()) // its log not claimed yet: node 2's read of it is held
	if a.expelled.Load() == 0 || a.m.incarnationNow() == inc {
		t.Fatalf("node 1, declared dead by node 2, is a member again as the same incarnation (expelled %d times), keeping the connections whose $disconnect node 2 runs",
			a.expelled.Load())
	}
}

// Alive may be called from any goroutine as soon as the node's bus is wired (a call naming a connection
// of another node), before the node has joined: it read the members bucket's handle while Run set it,
// unsynchronised (the race detector's report on a call made just as the bucket was opened).
func TestAliveWhileTheNodeOpensTheBucket(t *testing.T) {
	s := startServer(t)
	opened := make(chan struct{})
	n := runNodeWith(t, s, 1, func(m *Members) {
		m.wrapMembers = func(kv jetstream.KeyValue) jetstream.KeyValue { close(opened); return kv }
	})
	<-opened
	n.m.Alive(7) // a node nobody knows: looked up in the store once the bucket is open
	eventually(t, func() bool { return n.m.Status() == "" }, "node 1 did not join")
	if n.m.Alive(7) {
		t.Error("node 7, which never joined, is alive")
	}
}
