// Package membership keeps a cluster's nodes in JetStream: each node's member entry (its ID, checked
// unique when it joins, kept alive by a heartbeat and gone when the heartbeats stop) in a KV bucket, and
// a record of every open connection in the node's connection log, so that when a node dies one surviving
// node claims its log and runs the $disconnect of every connection the log still holds, exactly once. The
// claimer runs up to ClaimWorkers of them at once and records those that ran in the log, in batches; when
// it dies too, or leaves, before it is done, another survivor takes the claim over and runs the rest
// (those running at that moment, and those that had run but were not recorded yet, may run twice: at
// most twice ClaimWorkers).
//
// Keys: switchboard_members holds m.<node> → member (JSON), with a bucket TTL of three heartbeats; the
// stream switchboard_connlog holds one subject per node incarnation, switchboard.connlog.<node>.<inc>,
// whose messages each carry a batch of records created and removed (connlog.go). The incarnation is
// random per run, so a node that restarts with the same ID never mistakes the records of its previous
// run for its own. Claiming a log is an append at the sequence read: one node wins.
package membership

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
)

// MembersBucket is the members' KV bucket.
const MembersBucket = "switchboard_members"

// MissedHeartbeats is how many heartbeats a node may miss before the others declare it gone.
const MissedHeartbeats = 3

// opTimeout bounds every store operation on a connection's path.
const opTimeout = 2 * time.Second

// DefaultClaimWorkers is how many $disconnects of a claimed log run at once unless Config says
// otherwise. Run one after the other, a node's loss cost the claimer its connections' integration time
// in series (100,000 connections at 1 ms each: 100 s) plus one store round trip each; 16 at once cuts
// that sixteenfold while adding at most 16 invocations to the survivor's own traffic (a local function
// runs 10 at once by default, AWS Lambda 1,000 per account and Region), and bounds what a claimer that
// dies leaves to run twice to 32 (twice the workers: see runClaim).
const DefaultClaimWorkers = 16

// Config configures a node's membership.
type Config struct {
	Node cluster.NodeID
	// Name describes the node in its member entry and in other nodes' logs (host, listen address).
	Name string
	// Heartbeat is how often the node refreshes its entry (default 1s).
	Heartbeat time.Duration
	// Replicas is the buckets' replica count (natsbus.Replicas).
	Replicas int
	Logger   *slog.Logger
	// Attach subscribes the node's bus; Run calls it before the node announces itself, so that no other
	// node sees it alive before it answers.
	Attach func(ctx context.Context) error
	// Reap runs the $disconnect of connection id, whose node died; record is what Record stored. This
	// node has claimed the dead node's log: no other node runs it while this one lives. Reap returns nil
	// once the $disconnect has run (its integration answered or failed) or never can (a record that does
	// not decode, reported): the claim then records it as done in the log, so a node that takes the claim
	// over when this one dies does not run it again. It returns an error when the $disconnect was cut
	// short or not run (the node is stopping): the claim stops there, and the node that takes it over
	// runs that one again. ctx ends when this node stops claiming (it leaves past its time budget, or
	// stops, or another node took the claim over): Reap should then return soon. Up to ClaimWorkers
	// calls run at once, each for a different connection.
	Reap func(ctx context.Context, id string, record []byte) error
	// ClaimWorkers is how many $disconnects of a claimed log run at once (DefaultClaimWorkers when not
	// positive). Running and run but not yet recorded, at most twice as many are outstanding: those may
	// run twice when this node dies mid-claim.
	ClaimWorkers int
	// Expelled is called when the cluster has declared this node dead while it ran (cut off from NATS
	// for longer than MissedHeartbeats heartbeats): the node must drop its connections at once, their
	// $disconnect being run by whoever claims their records (Forget decides).
	Expelled func()
}

// member is a member entry's value.
type member struct {
	Node        cluster.NodeID `json:"node"`
	Incarnation string         `json:"incarnation"`
	Name        string         `json:"name,omitempty"`
	Started     time.Time      `json:"started"`
}

type peer struct {
	incarnation string
	rev         uint64 // of its entry, last seen
	seen        time.Time
}

// Members is one node's membership.
type Members struct {
	cfg     Config
	started time.Time
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	ttl     time.Duration

	joined  chan struct{}
	scanned chan struct{}      // closed once the claims found at join have started (reapStale)
	members jetstream.KeyValue // set (under mu: Alive reads it before joined too) before joined is closed
	connlog jetstream.Stream   // the connection log
	writer  *writer            // appends this node's records in batches; runs while Run does
	// replayRead, when set (tests), is called after each message a log replay reads.
	replayRead func(seq uint64)
	// wrapMembers, when set (tests), wraps the members bucket once it is open; wrapLog the connection
	// log's stream.
	wrapMembers func(jetstream.KeyValue) jetstream.KeyValue
	wrapLog     func(jetstream.Stream) jetstream.Stream
	// claimGoroutines counts the claims' worker goroutines running (tests: none outlives its claim).
	claimGoroutines atomic.Int32

	recorded sync.Map // connection id → the log subject its record went to

	membersCfg jetstream.KeyValueConfig // the members bucket as Run creates it
	// leader reads what a stream's leader holds, where a direct get's answer (any replica's, one behind
	// included) would decide alone that a log is to be claimed, or that a replay missed no purge.
	leader leaderReader
	// created is each stream's creation time as this node last saw it (under beatMu): a stream the store
	// lost and that was created again has a new one.
	created map[string]time.Time

	// sweepFrom is the node the next sweep begins with, in node order (sweep's alone, on Run's
	// goroutine): the one after the node whose declaration the last sweep cut short, or the first it did
	// not reach, so that a node whose declaration keeps being cut short does not keep the others waiting.
	sweepFrom cluster.NodeID

	beatMu sync.Mutex // serialises this node's writes to its own entry (heartbeat, rejoin, leave)

	mu          sync.Mutex
	incarnation string
	peers       map[cluster.NodeID]peer
	dead        map[cluster.NodeID]string    // the last incarnation of each node declared dead
	unknown     map[cluster.NodeID]time.Time // nodes looked up in the store and not found, when
	unsure      map[cluster.NodeID]time.Time // nodes looked up in the store without an answer, when
	status      string
	member      bool   // announced and not expelled
	memberRev   uint64 // revision of this node's entry
	lastBeat    time.Time
	beatFailed  bool            // this node's last heartbeat was not stored (the store did not answer)
	storeBack   time.Time       // when this node's heartbeat was stored again after failing
	rewatch     bool            // the members bucket was created again: the watch is replaced
	reaping     map[string]bool // node.incarnation being reaped
	rescanning  bool            // rescanLater's goroutine runs
	rescanAgain bool            // a scan was asked for while rescanLater's goroutine ran
	scanDone    []func()        // called after scanLoop's next scan (scanSoon's done)
	forgetting  bool            // Forget may start waiting goroutines (until Run ends)
	left        bool
	leaving     bool // Leave has begun: no new claim starts
	reapWG      sync.WaitGroup
	claims      sync.WaitGroup // the claims being run (a subset of reapWG)
	reapCtx     context.Context
	stopReaping context.CancelFunc
}

// New prepares the membership of node cfg.Node over nc; Run joins.
func New(nc *nats.Conn, cfg Config) (*Members, error) {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClaimWorkers <= 0 {
		cfg.ClaimWorkers = DefaultClaimWorkers
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: JetStream: %w", err)
	}
	m := &Members{cfg: cfg, started: time.Now().UTC().Truncate(time.Millisecond), nc: nc, js: js, log: cfg.Logger, ttl: MissedHeartbeats * cfg.Heartbeat,
		joined: make(chan struct{}), scanned: make(chan struct{}), peers: map[cluster.NodeID]peer{}, dead: map[cluster.NodeID]string{}, unknown: map[cluster.NodeID]time.Time{}, unsure: map[cluster.NodeID]time.Time{}, forgetting: true,
		reaping: map[string]bool{}, status: "waiting for JetStream", incarnation: newIncarnation(), created: map[string]time.Time{}}
	m.reapCtx, m.stopReaping = context.WithCancel(context.Background())
	m.leader = natsbus.NewLeaderReader(js)
	m.writer = newWriter(js, m.leader, cfg.Logger)
	return m, nil
}

// lastReader reads a subject's last message as the stream's leader holds it (natsbus.LeaderReader).
type lastReader interface {
	LastMsg(ctx context.Context, stream, subject string) (*jetstream.RawStreamMsg, error)
}

// leaderReader reads a subject's last or first message as the stream's leader holds it
// (natsbus.LeaderReader).
type leaderReader interface {
	lastReader
	FirstMsg(ctx context.Context, stream, subject string) (*jetstream.RawStreamMsg, error)
}

// leaderMember is node's member entry and its revision as the members stream's leader holds it; ok is
// false when the leader holds none (never made, expired, deleted). An entry that does not decode is
// returned empty (no incarnation: not a member).
func (m *Members) leaderMember(ctx context.Context, node cluster.NodeID) (v member, rev uint64, ok bool, err error) {
	msg, err := m.leader.LastMsg(ctx, membersStream, "$KV."+MembersBucket+"."+memberKey(node))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return member{}, 0, false, nil
	case err != nil:
		return member{}, 0, false, err
	case natsbus.Deletion(msg.Header):
		return member{}, msg.Sequence, false, nil
	}
	_ = json.Unmarshal(msg.Data, &v)
	return v, msg.Sequence, true, nil
}

// leaderHolds reports whether the members stream's leader holds node's entry for incarnation inc: the
// check before a decision that a direct get's "not a member" would take alone (claiming its log), since
// a replica behind may not have the entry yet.
func (m *Members) leaderHolds(ctx context.Context, node cluster.NodeID, inc string) (bool, error) {
	v, _, ok, err := m.leaderMember(ctx, node)
	return ok && v.Incarnation == inc, err
}

func newIncarnation() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// incarnationNow is this run's current incarnation (it changes when the node is expelled).
func (m *Members) incarnationNow() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.incarnation
}

// TTL is how long after its last heartbeat a node is declared gone.
func (m *Members) TTL() time.Duration { return m.ttl }

// Joined is closed once the node has announced itself for the first time: it holds its ID, and the
// claims of the logs dead nodes left start right after.
func (m *Members) Joined() <-chan struct{} { return m.joined }

// Status says why the node is not a member now, "" when it is.
func (m *Members) Status() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.member {
		return ""
	}
	return m.status
}

// Alive reports whether node is a member: it has announced itself and its heartbeat is recent. This
// node counts as alive while it is a member whose last heartbeat was stored within the TTL: one whose
// heartbeats fail (cut off from the servers that hold the store's quorum) hears nobody else's either,
// and cannot tell who is gone. A node this one has not heard of yet (it joined a moment
// ago, its entry still on the way) is looked up in the store; an incarnation declared dead stays dead.
// A lookup the store cannot answer (the members stream's leader being elected, the store away) counts
// the node alive for a heartbeat, logged: calls to it are routed, and answer 5xx when nobody answers
// (natsbus), where "not a member" would answer 410 GoneException for a connection that may be open.
func (m *Members) Alive(node cluster.NodeID) bool {
	m.mu.Lock()
	if node == m.cfg.Node {
		defer m.mu.Unlock()
		return m.member && time.Since(m.lastBeat) <= m.ttl
	}
	p, ok := m.peers[node]
	_, wasDead := m.dead[node]
	missed, looked := m.unknown[node]
	asked, unsure := m.unsure[node]
	members := m.members
	m.mu.Unlock()
	if ok {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.aliveLocked(p, time.Now())
	}
	// A node declared dead comes back through the watch (a new incarnation); one looked up in vain a
	// moment ago is not looked up again for a heartbeat: calls for a dead node's connections do not
	// each cost a store read.
	if wasDead || looked && time.Since(missed) < m.cfg.Heartbeat || members == nil || !m.nc.IsConnected() {
		return false
	}
	if unsure && time.Since(asked) < m.cfg.Heartbeat {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	e, err := members.Get(ctx, memberKey(node))
	var (
		v   member
		rev uint64
	)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		// Not there, says a direct get, which a replica that has not applied a node's first entry yet
		// answers too; believed, the node's connections would answer 410 GoneException for a heartbeat.
		// The stream's leader decides.
		var there bool
		if v, rev, there, err = m.leaderMember(ctx, node); err == nil && !there {
			err = jetstream.ErrKeyNotFound
		} else if err != nil {
			err = fmt.Errorf("a replica does not hold its entry and the members stream's leader does not answer: %w", err)
		}
	case err == nil:
		if jerr := json.Unmarshal(e.Value(), &v); jerr != nil {
			v = member{} // an answer all the same: not a member
		}
		rev = e.Revision()
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		m.log.Warn("cluster: a call names a node this one does not know and the members bucket does not say whether it is a member; it is routed (5xx if nobody answers) and looked up again in a heartbeat",
			"node", node, "err", err)
		m.mu.Lock()
		m.unsure[node] = time.Now()
		m.mu.Unlock()
		return true
	}
	if err != nil || v.Node != node || v.Incarnation == "" {
		m.mu.Lock()
		m.unknown[node] = time.Now()
		m.mu.Unlock()
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead[node] == v.Incarnation {
		return false
	}
	if _, ok := m.peers[node]; !ok {
		m.peers[node] = peer{incarnation: v.Incarnation, rev: rev, seen: time.Now()}
	}
	return true
}

// Nodes lists the alive nodes, this one included when it is a member.
func (m *Members) Nodes() []cluster.NodeID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []cluster.NodeID
	if m.member {
		out = append(out, m.cfg.Node)
	}
	now := time.Now()
	for n, p := range m.peers {
		if !m.lateLocked(p, now) {
			out = append(out, n)
		}
	}
	return out
}

// lateLocked says whether peer p has been silent for longer than the TTL as far as this node can tell.
// Its silence counts only while this node's own heartbeats are stored, and from the later of its last
// heartbeat seen and the moment this node's own heartbeat was stored again after failing: a store that
// did not answer for a while silenced every node alike, and without this the nodes that lived through
// it would declare one another dead the moment it answered again (each entry unchanged at the revision
// last seen, so the compare-and-delete succeeds) and expel one another.
func (m *Members) lateLocked(p peer, now time.Time) bool {
	if m.beatFailed {
		return false
	}
	since := p.seen
	if m.storeBack.After(since) {
		since = m.storeBack
	}
	return now.Sub(since) > m.ttl
}

// aliveLocked says whether peer p counts alive for a call to one of its connections (Alive): not late, or
// late only for want of news since this node's own heartbeats were stored again (storeBack) — a node
// back from being cut off hears the others again through its watch, which may take longer than a TTL to
// catch up, and a live node's connections answered 410 GoneException meanwhile. Such a peer counts
// alive for a second TTL, while the sweep (lateLocked) asks the store every tick and either refreshes
// it (its entry moved on) or declares it gone, which ends its connections at once.
func (m *Members) aliveLocked(p peer, now time.Time) bool {
	if !m.lateLocked(p, now) {
		return true
	}
	return p.seen.Before(m.storeBack) && now.Sub(m.storeBack) <= 2*m.ttl
}

func (m *Members) setStatus(s string) {
	m.mu.Lock()
	m.status = s
	m.mu.Unlock()
}

func memberKey(n cluster.NodeID) string { return "m." + strconv.Itoa(int(n)) }

// logSubjectNow is this incarnation's connection log subject.
func (m *Members) logSubjectNow() string {
	return logSubject(m.cfg.Node, m.incarnationNow())
}

// parseMemberKey reads m.<node>.
func parseMemberKey(key string) (cluster.NodeID, bool) {
	s, ok := strings.CutPrefix(key, "m.")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return cluster.NodeID(n), err == nil
}

// Run joins the cluster — opens the buckets (waiting for JetStream), attaches the bus, announces the
// node under its ID (waiting, with an error logged, while another node holds it) and claims what dead
// nodes left — then heartbeats, watches the other nodes and reaps those that die, until ctx ends.
// Leave first to leave cleanly.
func (m *Members) Run(ctx context.Context) error {
	defer m.reapWG.Wait()
	defer func() {
		m.mu.Lock()
		m.forgetting = false // the writer has stopped: every removal is answered
		m.mu.Unlock()
	}()
	defer m.stopReaping()
	var err error
	m.membersCfg = jetstream.KeyValueConfig{Bucket: MembersBucket, History: 1,
		TTL: m.ttl, Storage: jetstream.FileStorage, Replicas: m.cfg.Replicas,
		Description: "Switchboard cluster members: m.<node> → member, refreshed every heartbeat"}
	members, err := natsbus.KeyValue(ctx, m.js, m.membersCfg, m.log)
	if err != nil {
		return err
	}
	if m.wrapMembers != nil {
		members = m.wrapMembers(members)
	}
	m.mu.Lock()
	m.members = members // Alive reads it from its callers' goroutines, before the node has joined too
	m.mu.Unlock()
	m.connlog, err = openStream(ctx, m.js, logStreamConfig(m.cfg.Replicas), m.log)
	if err != nil {
		return err
	}
	if m.wrapLog != nil {
		m.connlog = m.wrapLog(m.connlog)
	}
	m.writer.stream = m.connlog
	m.writer.created = m.connlog.CachedInfo().Created
	m.created[LogStream] = m.writer.created
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	if s, err := m.js.Stream(cctx, membersStream); err == nil {
		m.created[membersStream] = s.CachedInfo().Created
	}
	cancel()
	writerCtx, stopWriter := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		m.writer.run(writerCtx)
	}()
	defer func() { stopWriter(); <-writerDone }()
	m.setStatus("subscribing the node's bus")
	for {
		if err := m.cfg.Attach(ctx); err == nil {
			break
		} else if !m.wait(ctx, "attach the bus", err) {
			return ctx.Err()
		}
	}
	watcher, err := m.watch(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if watcher != nil {
			_ = watcher.Stop()
		}
	}()
	if err := m.announce(ctx); err != nil {
		return err
	}
	// Joined before the claims: the node answers for its own connections as soon as it holds its ID.
	// A node that looked for dead nodes' logs first was a member, ready and admitting handshakes while
	// its bus left every request unanswered (gateway's ownerOnly), so a call for a connection it had just
	// accepted waited out the caller's timeout and answered 500 (gateway's TestClusterNATSDownAtStart,
	// under load: listing the logs is a store round trip).
	close(m.joined)
	// The scan runs beside the heartbeats: listing the logs and asking about each one's node takes a
	// store round trip or two per log, up to opTimeout each while a stream elects a leader, and a node
	// that scanned before its first heartbeat could be declared dead by the time it was done.
	m.scanSoon(func() { close(m.scanned) })
	tick := time.NewTicker(m.cfg.Heartbeat / 4)
	defer tick.Stop()
	nextBeat := time.Now().Add(m.cfg.Heartbeat)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-updates(watcher):
			if !ok {
				// The watcher ended (NATS lost): watch again at a later tick, heartbeats going on.
				m.log.Warn("cluster: the members watch ended; watching again when NATS answers")
				watcher = nil
				continue
			}
			if e != nil {
				m.observe(e)
			}
		case now := <-tick.C:
			if watcher == nil && m.nc.IsConnected() {
				if w, err := m.members.WatchAll(ctx); err == nil {
					watcher = w
				}
			}
			// The heartbeat first, and the sweep only until the next one is due: declaring a node dead
			// takes a store round trip or more, up to opTimeout while a stream elects a leader (as when a
			// node just died), and a sweep of two late nodes before the heartbeat held it up past the
			// TTL — this node declared dead for being busy declaring others dead. The late nodes the
			// sweep does not reach are reached at the next tick.
			if now.After(nextBeat) {
				nextBeat = now.Add(m.cfg.Heartbeat)
				m.heartbeat(ctx, now)
			}
			sctx, cancel := context.WithDeadline(ctx, nextBeat)
			m.sweep(sctx, now)
			cancel()
			m.mu.Lock()
			rewatch := m.rewatch
			m.rewatch = false
			m.mu.Unlock()
			if rewatch && watcher != nil {
				// A watch of the lost bucket's stream may end or may stall; the next tick watches the
				// new one, whose current entries bring the other nodes back.
				_ = watcher.Stop()
				watcher = nil
			}
		}
	}
}

// updates is w's channel, nil (never ready) without a watcher.
func updates(w jetstream.KeyWatcher) <-chan jetstream.KeyValueEntry {
	if w == nil {
		return nil
	}
	return w.Updates()
}

// wait logs a failed step and waits a heartbeat before the next try; false when ctx ended.
func (m *Members) wait(ctx context.Context, step string, err error) bool {
	m.log.Warn("cluster: "+step+"; retrying", "err", err)
	return sleep(ctx, m.cfg.Heartbeat)
}

// watch starts watching the members bucket and applies its current entries before it returns: the
// claims made at join (reapStale) take every log whose node is not among the peers for a dead node's,
// so the live nodes must be known by then.
func (m *Members) watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	for {
		w, err := m.members.WatchAll(ctx)
		if err == nil {
			if err = m.applyCurrent(ctx, w); err == nil {
				return w, nil
			}
			_ = w.Stop()
		}
		if !m.wait(ctx, "watch the cluster's members", err) {
			return nil, ctx.Err()
		}
	}
}

// applyCurrent observes the entries a new watcher delivers first, up to the nil entry that ends them.
func (m *Members) applyCurrent(ctx context.Context, w jetstream.KeyWatcher) error {
	timeout := time.NewTimer(opTimeout)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the members watch ended before it delivered the current members")
			}
			if e == nil {
				return nil
			}
			m.observe(e)
		case <-timeout.C:
			return fmt.Errorf("the members watch delivered no end of the current members in %v", opTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// announce creates this node's entry; a node ID another live node holds is waited on, never shared.
func (m *Members) announce(ctx context.Context) error {
	for {
		m.mu.Lock()
		val, _ := json.Marshal(member{Node: m.cfg.Node, Incarnation: m.incarnation, Name: m.cfg.Name, Started: m.started})
		m.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		rev, err := m.members.Create(cctx, memberKey(m.cfg.Node), val)
		cancel()
		if err == nil {
			m.mu.Lock()
			m.member, m.memberRev, m.lastBeat, m.status = true, rev, time.Now(), ""
			m.mu.Unlock()
			m.log.Info("cluster: node joined", "node", m.cfg.Node, "incarnation", m.incarnation, "ttl", m.ttl)
			return nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			holder := "another node"
			if e, gerr := m.members.Get(ctx, memberKey(m.cfg.Node)); gerr == nil {
				holder = string(e.Value())
			}
			why := fmt.Sprintf("node ID %d is held by another live node (%s); waiting for it to leave or expire (%s) — give this node another --node if both are meant to run", m.cfg.Node, holder, m.ttl)
			m.log.Error("cluster: " + why) // before the status says it, which is when a reader looks for it
			m.setStatus(why)
		} else {
			m.setStatus("cannot announce the node: " + err.Error())
		}
		if !m.wait(ctx, "announce the node", err) {
			return ctx.Err()
		}
	}
}

// heartbeat refreshes this node's entry at its revision. An entry that is gone or someone else's means
// the cluster declared this node dead: it is expelled, then announces itself again as a new incarnation.
func (m *Members) heartbeat(ctx context.Context, now time.Time) {
	m.beatMu.Lock()
	defer m.beatMu.Unlock()
	m.mu.Lock()
	isMember, rev, inc, last, left := m.member, m.memberRev, m.incarnation, m.lastBeat, m.left
	m.mu.Unlock()
	if left {
		return
	}
	if !isMember {
		m.rejoin(ctx)
		return
	}
	val, _ := json.Marshal(member{Node: m.cfg.Node, Incarnation: inc, Name: m.cfg.Name, Started: m.started})
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	next, err := m.members.Update(cctx, memberKey(m.cfg.Node), val, rev)
	cancel()
	if err == nil {
		m.mu.Lock()
		m.memberRev, m.lastBeat = next, now
		if m.beatFailed {
			m.beatFailed, m.storeBack = false, now
		}
		m.mu.Unlock()
		if m.writer.troubled.Load() {
			m.checkStore(ctx) // the log's appends fail: the store may have lost the connection log alone
		}
		return
	}
	if isConflict(err) {
		m.checkStore(ctx) // another node may have created the lost members bucket again
		m.mu.Lock()
		failing := m.beatFailed
		m.mu.Unlock()
		if failing && m.reannounce(ctx, val, now) {
			return
		}
		m.expel(fmt.Sprintf("the cluster declared this node dead (its member entry expired or changed: %v)", err))
		return
	}
	// Cut off from NATS for longer than the TTL: the others have declared this node dead. A store that
	// does not answer while the connection is up is either a stall every node lives through (a stream
	// electing a new leader: nobody declares anyone dead meanwhile, lateLocked) or this node's NATS server
	// cut off from the servers that hold the store's quorum, whose nodes declare this one dead after a
	// TTL and run its connections' $disconnect. It cannot tell which; past twice the TTL it takes the
	// second for granted rather than keep serving connections the cluster has given up.
	if !m.nc.IsConnected() && now.Sub(last) > m.ttl {
		m.expel(fmt.Sprintf("cut off from NATS for %s, longer than %d heartbeats; the other nodes have declared it dead (%v)", now.Sub(last).Round(time.Millisecond), MissedHeartbeats, err))
		return
	}
	if now.Sub(last) > 2*m.ttl {
		m.expel(fmt.Sprintf("no heartbeat stored for %s, longer than %d heartbeats, with NATS connected: cut off from the store's quorum, the other nodes have declared it dead (%v)", now.Sub(last).Round(time.Millisecond), 2*MissedHeartbeats, err))
		return
	}
	m.mu.Lock()
	m.beatFailed = true
	m.mu.Unlock()
	m.log.Warn("cluster: heartbeat failed", "err", err, "since_last", now.Sub(last).Round(time.Millisecond))
	// NATS answers but the store does not: it may have lost the bucket (a server restarted without its
	// JetStream data). Looked at once per failed heartbeat.
	if m.nc.IsConnected() && m.checkStore(ctx) {
		m.reannounce(ctx, val, now)
	}
}

// membersStream is the members bucket's stream.
const membersStream = "KV_" + MembersBucket

// checkStore looks whether the store still holds the members bucket and the connection log: a stream
// that is gone (NATS restarted without its JetStream data: no persistent volume, a fresh container) is
// logged as such and created again with the configuration Run gave it, and one created again meanwhile
// (by another node) is told by its new creation time. When the members bucket was created again, this
// node's heartbeats count as failed — it is announced again under the same incarnation (reannounce),
// and nobody is declared late meanwhile (lateLocked) — and the watch is replaced; when either was, the
// writer appends the node's open records again. It reports whether the members bucket was created
// again. Call it with beatMu held.
func (m *Members) checkStore(ctx context.Context) (membersAgain bool) {
	if !m.nc.IsConnected() {
		return false
	}
	lost := false
	for _, s := range []struct {
		name, what string
		create     func(context.Context) (jetstream.Stream, error)
	}{
		{membersStream, "the members bucket", func(ctx context.Context) (jetstream.Stream, error) {
			if _, err := m.js.CreateOrUpdateKeyValue(ctx, m.membersCfg); err != nil {
				return nil, err
			}
			return m.js.Stream(ctx, membersStream)
		}},
		{LogStream, "the connection log", func(ctx context.Context) (jetstream.Stream, error) {
			return m.js.CreateOrUpdateStream(ctx, logStreamConfig(m.cfg.Replicas))
		}},
	} {
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		st, err := m.js.Stream(cctx, s.name)
		again := false
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			m.log.Error("cluster: the store lost "+s.what+" — NATS restarted without its JetStream data?; creating it again",
				"stream", s.name)
			st, err = s.create(cctx)
			again = err == nil
			if err != nil {
				m.log.Warn("cluster: create "+s.what+" again; retrying at the next heartbeat", "stream", s.name, "err", err)
			}
		}
		cancel()
		if err != nil {
			continue // the store does not answer: nothing to tell now
		}
		created := st.CachedInfo().Created
		if prev := m.created[s.name]; !again && !prev.IsZero() && !created.Equal(prev) {
			m.log.Warn("cluster: "+s.what+" was created again (the store lost it: NATS restarted without its JetStream data?)",
				"stream", s.name, "created", created)
			again = true
		}
		m.created[s.name] = created
		if !again {
			continue
		}
		lost = true
		if s.name == membersStream {
			membersAgain = true
			m.mu.Lock()
			m.beatFailed, m.rewatch = true, true
			m.mu.Unlock()
		}
	}
	if lost {
		m.writer.storeChanged()
	}
	return membersAgain
}

// reannounce creates this node's entry again under the same incarnation when the store let it expire
// while it did not answer this node's heartbeats: the entry is gone without a delete marker (no node
// declared this one dead: a sweep deletes at a revision, which leaves one, or marks an entry it finds
// expired, markDeleted) and the connection log is not claimed. A store that stops answering for longer
// than the TTL expires every node's entry alike; the nodes that lived through it keep their connections.
// It reports whether the node is a member again. Both reads are the streams' leaders' (a direct get may be answered by a replica that has not applied
// the deletion or the claim yet, and the node would keep connections another node is disconnecting).
func (m *Members) reannounce(ctx context.Context, val []byte, now time.Time) bool {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := m.leader.LastMsg(cctx, membersStream, "$KV."+MembersBucket+"."+memberKey(m.cfg.Node)); !errors.Is(err, jetstream.ErrMsgNotFound) {
		return false // there (changed by someone), deleted by a node that declared this one dead, or unknown
	}
	last, err := m.leader.LastMsg(cctx, LogStream, m.logSubjectNow())
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return false
	default:
		if lm, err := decodeLogMsg(last.Data); err != nil || lm.claim {
			return false // claimed: another node runs this incarnation's $disconnects
		}
	}
	rev, err := m.members.Create(cctx, memberKey(m.cfg.Node), val)
	if err != nil {
		return false
	}
	m.mu.Lock()
	m.memberRev, m.lastBeat, m.beatFailed, m.storeBack = rev, now, false, now
	m.mu.Unlock()
	m.log.Warn("cluster: this node's entry expired while the store did not answer; announced again, connections kept", "node", m.cfg.Node)
	return true
}

// expel drops this node's connections (Expelled) and makes it a new incarnation, not yet announced.
func (m *Members) expel(why string) {
	m.mu.Lock()
	m.member = false
	m.status = why + "; rejoining"
	m.incarnation = newIncarnation()
	m.mu.Unlock()
	m.log.Error("cluster: " + why + "; dropping this node's connections and rejoining")
	if m.cfg.Expelled != nil {
		m.cfg.Expelled()
	}
}

// rejoin announces the node again after it was expelled, once NATS answers.
func (m *Members) rejoin(ctx context.Context) {
	if !m.nc.IsConnected() {
		return
	}
	m.mu.Lock()
	val, _ := json.Marshal(member{Node: m.cfg.Node, Incarnation: m.incarnation, Name: m.cfg.Name, Started: m.started})
	m.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	rev, err := m.members.Create(cctx, memberKey(m.cfg.Node), val)
	cancel()
	if err != nil {
		m.log.Warn("cluster: rejoin: announce the node", "err", err)
		if !errors.Is(err, jetstream.ErrKeyExists) {
			m.checkStore(ctx) // the store may have lost the members bucket while this node was cut off
		}
		return
	}
	m.mu.Lock()
	m.member, m.memberRev, m.lastBeat, m.status = true, rev, time.Now(), ""
	m.mu.Unlock()
	m.log.Info("cluster: node rejoined", "node", m.cfg.Node, "incarnation", m.incarnation)
	m.scanSoon(nil) // not here: rejoin runs in the heartbeat, with beatMu held
}

// observe applies one change of the members bucket.
func (m *Members) observe(e jetstream.KeyValueEntry) {
	node, ok := parseMemberKey(e.Key())
	if !ok {
		m.log.Warn("cluster: foreign entry in the members bucket skipped", "bucket", MembersBucket, "key", e.Key())
		return
	}
	if node == m.cfg.Node {
		return // this node's own entry: the heartbeat checks it
	}
	m.mu.Lock()
	prev, had := m.peers[node]
	m.mu.Unlock()
	switch e.Operation() {
	case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
		m.mu.Lock()
		delete(m.peers, node)
		m.mu.Unlock()
		if had {
			m.log.Info("cluster: node left", "node", node, "incarnation", prev.incarnation)
			m.startReap(node, prev.incarnation, true)
		}
		return
	}
	var v member
	if err := json.Unmarshal(e.Value(), &v); err != nil || v.Incarnation == "" || v.Node != node {
		m.log.Warn("cluster: corrupted member entry skipped", "bucket", MembersBucket, "key", e.Key(), "revision", e.Revision(), "err", err)
		return
	}
	m.mu.Lock()
	if m.dead[node] == v.Incarnation {
		m.mu.Unlock()
		return // declared dead already: a late heartbeat does not bring it back
	}
	m.peers[node] = peer{incarnation: v.Incarnation, rev: e.Revision(), seen: time.Now()}
	m.mu.Unlock()
	if !had {
		m.log.Info("cluster: node seen", "node", node, "incarnation", v.Incarnation, "name", v.Name)
	} else if prev.incarnation != v.Incarnation {
		m.log.Info("cluster: node restarted", "node", node, "incarnation", v.Incarnation, "previous", prev.incarnation)
		m.startReap(node, prev.incarnation, true)
	}
}

// sweep declares dead the nodes whose heartbeat is older than the TTL, as far as this node can tell
// (lateLocked: not while its own heartbeats fail, nor before a TTL has passed since they work again). The declaration is a delete of the
// node's entry at the revision last seen, so that it holds for the whole cluster and the node itself
// learns it at its next heartbeat; an entry that changed meanwhile means the node is alive after all.
// The late nodes are taken one after the other, in node order from where the last sweep stopped, until
// ctx ends (Run: this node's next heartbeat is due); the node whose declaration is cut short and those
// not reached are decided at the next sweep.
func (m *Members) sweep(ctx context.Context, now time.Time) {
	m.mu.Lock()
	var late []cluster.NodeID
	for n, p := range m.peers {
		if m.lateLocked(p, now) {
			late = append(late, n)
		}
	}
	m.mu.Unlock()
	slices.Sort(late)
	if i := slices.IndexFunc(late, func(n cluster.NodeID) bool { return n >= m.sweepFrom }); i > 0 {
		late = slices.Concat(late[i:], late[:i])
	}
	for _, n := range late {
		if ctx.Err() != nil {
			m.sweepFrom = n // this node's next heartbeat is due: the rest at the next sweep
			return
		}
		m.mu.Lock()
		p, ok := m.peers[n]
		m.mu.Unlock()
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		err := m.members.Delete(cctx, memberKey(n), jetstream.LastRevision(p.rev))
		if err != nil && isConflict(err) {
			e, gerr := m.members.Get(cctx, memberKey(n))
			switch {
			case errors.Is(gerr, jetstream.ErrKeyNotFound) || errors.Is(gerr, jetstream.ErrKeyDeleted),
				gerr == nil && e.Revision() <= p.rev:
				// Expired in the store, says a direct get; a replica that has not applied the node's
				// last heartbeats (and expired its earlier entry by age) says so too. Or the entry as last
				// seen, which is no change: the delete at that revision lost, so the leader holds another
				// one or none (expired), and a replica that has not applied it answered; taken for a sign
				// of life, a dead node counted alive for one more TTL. The leader decides.
				v, lrev, there, lerr := m.leaderMember(cctx, n)
				if lerr == nil && there && v.Incarnation == p.incarnation {
					cancel()
					continue // alive after all; the watch brings its entry
				}
				if lerr == nil && !there && lrev == 0 {
					// Expired: the bucket's TTL removed the entry without a trace. The node, if it is
					// alive after all (cut off from the store), would take that for an expiry nobody
					// declared and announce itself again as this incarnation (reannounce), keeping the
					// connections whose $disconnect this node is about to run: the declaration leaves the
					// deletion mark its delete would have left.
					lerr = m.markDeleted(cctx, n)
				}
				err = lerr // nil: gone (or restarted: this incarnation is gone)
			case gerr == nil:
				cancel()
				m.observe(e) // it changed: alive after all, or restarted (observe reaps the old run)
				continue
			default:
				err = gerr
			}
		}
		cancel()
		if err != nil && ctx.Err() != nil {
			m.sweepFrom = n + 1
			m.log.Info("cluster: a node missed its heartbeats; its declaration was cut short for this node's heartbeat, deciding at the next sweep", "node", n, "err", err)
			return
		}
		if err != nil {
			m.log.Warn("cluster: a node missed its heartbeats but the store does not let it be declared dead now; deciding later", "node", n, "err", err)
			continue
		}
		m.mu.Lock()
		if cur, ok := m.peers[n]; ok && cur.incarnation == p.incarnation {
			delete(m.peers, n)
		}
		m.mu.Unlock()
		m.log.Warn("cluster: node declared gone (no heartbeat)", "node", n, "incarnation", p.incarnation, "ttl", m.ttl)
		m.startReap(n, p.incarnation, true)
	}
}

// markDeleted leaves a deletion mark on node's entry, which the members stream's leader holds nothing of
// (it expired): written only while the key holds nothing, so that an entry the node announced meanwhile
// is never deleted unseen (the sweep decides again at its next tick).
func (m *Members) markDeleted(ctx context.Context, node cluster.NodeID) error {
	msg := nats.NewMsg("$KV." + MembersBucket + "." + memberKey(node))
	msg.Header.Set("KV-Operation", "DEL")
	if _, err := m.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
		return fmt.Errorf("mark node %d's expired entry deleted: %w", node, err)
	}
	return nil
}

// startReap claims, in the background, the log node's incarnation left. With rescan (node was just
// declared dead, left or restarted), it first looks for the claims that incarnation left unfinished in
// other nodes' logs (scan), so that they do not wait for its own log's claim: a node may die while
// it runs another's $disconnects, and the logs it claimed say so only to a node that reads them. The
// scan runs once per node lost, not per heartbeat; one that cannot decide is made again by rescanLater,
// which is no claim: Leave does not wait for it.
func (m *Members) startReap(node cluster.NodeID, inc string, rescan bool) {
	tag := strconv.Itoa(int(node)) + "." + inc
	m.mu.Lock()
	if node != m.cfg.Node {
		m.dead[node] = inc
	}
	if m.reaping[tag] || m.leaving {
		m.mu.Unlock()
		return
	}
	m.reaping[tag] = true
	m.reapWG.Add(1)
	m.claims.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.reapWG.Done()
		defer m.claims.Done()
		defer func() {
			m.mu.Lock()
			delete(m.reaping, tag)
			m.mu.Unlock()
		}()
		if rescan {
			m.scan(m.reapCtx) // node's own log is skipped there: reaping
		}
		// The store may be electing a new leader (the dead node led the stream): retry until the log is
		// claimed by some node, or this node stops.
		for wait := m.cfg.Heartbeat; m.reap(m.reapCtx, node, inc) != nil; wait = min(2*wait, 10*time.Second) {
			if !sleep(m.reapCtx, wait) {
				return
			}
		}
	}()
}

// declaredDead says whether this node has seen node's incarnation inc declared dead, leave or be
// replaced by a new one (startReap).
func (m *Members) declaredDead(node cluster.NodeID, inc string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dead[node] == inc
}

// reapStale claims the logs of every node incarnation that is not alive (this node's previous runs
// included): what was left while no node watched, and the claims a node that died or left had not
// finished (reap takes those over). It runs when this node joins or rejoins, and after a node is lost;
// false when the logs could not be listed, or a log's node could not be told alive or dead (the store
// did not answer): the caller scans again later (scan, rescanLater), or that log would wait for the
// next node lost.
func (m *Members) reapStale(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	info, err := m.connlog.Info(cctx, jetstream.WithSubjectFilter(logSubjectPfx+">"))
	if err != nil {
		m.log.Warn("cluster: list connection logs", "err", err)
		return false
	}
	decided := true
	for subject := range info.State.Subjects {
		node, inc, ok := parseLogSubject(subject)
		if !ok {
			m.log.Warn("cluster: foreign subject in the connection log skipped", "stream", LogStream, "key", subject)
			continue
		}
		m.mu.Lock()
		p, live := m.peers[node]
		mine := node == m.cfg.Node && inc == m.incarnation
		m.mu.Unlock()
		if mine || live && p.incarnation == inc {
			continue
		}
		if node != m.cfg.Node {
			alive, known := m.aliveInStore(ctx, node, inc)
			decided = decided && known
			if alive || !known {
				continue
			}
		}
		m.startReap(node, inc, false)
	}
	return decided
}

// scan claims the logs dead node incarnations left (reapStale), and has it made again later when it
// could not decide (rescanLater): when another node is lost, in that node's claim (the join's and a
// rejoin's are scanSoon's).
func (m *Members) scan(ctx context.Context) {
	if !m.reapStale(ctx) {
		m.rescanLater()
	}
}

// rescanLater runs reapStale again in the background, backing off, until it lists the logs and tells
// every log's node alive or dead, or this node leaves or stops (scanLoop).
func (m *Members) rescanLater() { m.scanLoop(m.cfg.Heartbeat, nil) }

// scanSoon runs reapStale in the background at once, and again later as rescanLater does when it cannot
// decide; done, when not nil, is called once after the first scan made from now (or at once when the
// node is leaving): the join's and a rejoin's scan, which must not hold up the heartbeats.
func (m *Members) scanSoon(done func()) { m.scanLoop(0, done) }

// scanLoop is rescanLater and scanSoon's goroutine, first the wait before its first scan. One runs at a
// time: a scan asked for while it runs is made by it, after the one it is making, whose listing may
// predate the node lost that asked. It is no claim (the claims Leave waits for): after Leave no claim
// starts, and a scan would only find logs to leave to other nodes.
func (m *Members) scanLoop(first time.Duration, done func()) {
	m.mu.Lock()
	if m.leaving {
		m.mu.Unlock()
		if done != nil {
			done()
		}
		return
	}
	if done != nil {
		m.scanDone = append(m.scanDone, done)
	}
	if m.rescanning {
		m.rescanAgain = true
		m.mu.Unlock()
		return
	}
	m.rescanning = true
	m.reapWG.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.reapWG.Done()
		for wait := first; ; wait = min(max(2*wait, m.cfg.Heartbeat), 10*time.Second) {
			if wait > 0 {
				m.log.Warn("cluster: the connection logs could not all be scanned for dead nodes' connections; scanning again", "retry_in", wait)
			}
			scanned := sleep(m.reapCtx, wait) && !m.isLeaving() && m.reapStale(m.reapCtx)
			m.mu.Lock()
			dones := m.scanDone
			m.scanDone = nil
			end := m.reapCtx.Err() != nil || m.leaving || scanned && !m.rescanAgain
			m.rescanAgain = false
			if end {
				m.rescanning = false
			}
			m.mu.Unlock()
			for _, d := range dones {
				d()
			}
			if end {
				return
			}
		}
	}()
}

// isLeaving says whether Leave has begun.
func (m *Members) isLeaving() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaving
}

// aliveInStore says whether the members bucket holds node's entry for incarnation inc (which it then
// observes); known is false when the store cannot say (alive is then true: a log is claimed only when
// the store says its incarnation is not a member). The peers a node knows may lag the store (a node that
// joined while this one's watch was down).
func (m *Members) aliveInStore(ctx context.Context, node cluster.NodeID, inc string) (alive, known bool) {
	if m.declaredDead(node, inc) {
		return false, true // the store's answer may be older than that (claimerAlive)
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	e, err := m.members.Get(cctx, memberKey(node))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted) {
		m.log.Warn("cluster: a connection log's node is not among the known members and the store does not answer; not claiming it now",
			"node", node, "incarnation", inc, "err", err)
		return true, false
	}
	var v member
	if err == nil && json.Unmarshal(e.Value(), &v) == nil && v.Incarnation == inc {
		m.observe(e)
		return true, true
	}
	// Not a member, says a direct get, which a replica behind may have answered: the leader decides.
	held, err := m.leaderHolds(cctx, node, inc)
	if err != nil {
		m.log.Warn("cluster: a connection log's node is not a member as a replica sees it and the stream's leader does not answer; not claiming it now",
			"node", node, "incarnation", inc, "err", err)
		return true, false
	}
	return held, true
}

// reap claims node's incarnation inc's log and, when this node wins, runs Reap for every connection it
// still holds; an error means the log could be neither claimed nor seen claimed, and reap should run
// again. A log whose claim is unfinished is taken over when its claimer's incarnation is not a member
// any more (the members bucket says so), and left to its claimer otherwise.
func (m *Members) reap(ctx context.Context, node cluster.NodeID, inc string) error {
	subject := logSubject(node, inc)
	// lost: the last append at the sequence read was refused, the log having moved on past it; a direct
	// get would likely be answered by the same replica, behind, and the refused append made again at
	// once, a whole replay each time, for as long as it lags. The leader answers instead, and a replica
	// behind it ends the replay (errReplicaBehind): the reap runs again later.
	lost := false
	for {
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		var (
			last *jetstream.RawStreamMsg
			err  error
		)
		if lost {
			last, err = m.leader.LastMsg(cctx, LogStream, subject)
		} else if last, err = m.connlog.GetLastMsgForSubject(cctx, subject); errors.Is(err, jetstream.ErrMsgNotFound) {
			// No log, says a direct get, which a replica behind may have answered: the leader decides.
			last, err = m.leader.LastMsg(cctx, LogStream, subject)
		}
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			m.log.Warn("cluster: read a dead node's connection log; retrying", "subject", subject, "err", err)
			return err
		}
		if lm, err := decodeLogMsg(last.Data); err == nil && lm.claim {
			if lm.complete() {
				return nil // claimed already
			}
			alive, err := m.claimerAlive(ctx, lm.node, lm.inc)
			if err != nil {
				m.log.Warn("cluster: a connection log's claim is unfinished and the store does not say whether its claimer is a member; retrying",
					"subject", subject, "claimer", lm.node, "claimer_incarnation", lm.inc, "err", err)
				return err
			}
			if alive {
				return nil // its claimer runs it
			}
			m.log.Warn("cluster: taking over a claim whose node is gone before it ran every $disconnect",
				"subject", subject, "sequence", last.Sequence, "claimer", lm.node, "claimer_incarnation", lm.inc)
		}
		live, err := m.readLog(ctx, subject, last.Sequence)
		if err != nil {
			m.log.Warn("cluster: read a dead node's connection log; retrying", "subject", subject, "err", err)
			return err
		}
		me := m.incarnationNow()
		claim := encodeClaimStarted(m.cfg.Node, me)
		if len(live) == 0 {
			claim = encodeClaim(m.cfg.Node, me) // nothing to run: complete at once
		}
		seq, err := m.appendClaim(ctx, subject, last.Sequence, claim)
		if isConflict(err) {
			lost = true
			continue // the log moved on (the owner appended, or another node claimed it): read it again
		}
		if err != nil {
			m.log.Warn("cluster: claim a dead node's connection log; retrying", "subject", subject, "err", err)
			return err
		}
		if len(live) > 0 && !m.runClaim(ctx, subject, seq, me, live) {
			return nil
		}
		m.log.Info("cluster: claimed a dead node's connections", "subject", subject, "connections", len(live))
		// Keep only the complete claim: a node that reads the log later sees it claimed.
		cctx, cancel = context.WithTimeout(ctx, opTimeout)
		if err := m.connlog.Purge(cctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeKeep(1)); err != nil {
			m.log.Warn("cluster: purge a claimed connection log", "subject", subject, "err", err)
		}
		cancel()
		return nil
	}
}

// runClaim runs Reap for each of live, the claim started by this node's incarnation me at sequence seq
// of subject, up to ClaimWorkers at once, and appends its progress as they finish: every $disconnect
// that ran since the previous append in one message (more when they do not fit one), then the complete
// claim once every one is recorded; true when it is. A worker starts a $disconnect only while fewer than
// twice ClaimWorkers are running or ran without being recorded yet, so that is the most a claimer that
// dies leaves to run twice. The claim stops (false) when ctx ends — what ran and is not recorded yet is
// not, and what runs is cut short — or when Reap fails (no $disconnect starts any more; those running
// finish and are recorded), or when an append is not stored, as when another node has taken the claim
// over (this node was declared dead meanwhile): each append carries the sequence of the claim's previous
// one, so a competing claim and this node's progress cannot both be stored; then no $disconnect starts
// and those running are cut short. Every worker has returned when runClaim does.
func (m *Members) runClaim(ctx context.Context, subject string, seq uint64, me string, live []logEntry) bool {
	workers := min(m.cfg.ClaimWorkers, len(live))
	window := 2 * workers
	wctx, cutShort := context.WithCancel(ctx)
	defer cutShort()
	var (
		next    atomic.Int64
		stop    = make(chan struct{})         // closed: no $disconnect starts any more
		slots   = make(chan struct{}, window) // one per $disconnect started and not recorded
		results = make(chan claimResult, window+workers)
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		m.claimGoroutines.Add(1)
		go func() {
			defer wg.Done()
			defer m.claimGoroutines.Add(-1)
			defer func() { results <- claimResult{i: -1} }() // this worker has returned
			m.claimWorker(wctx, stop, slots, &next, live, results)
		}()
	}
	var (
		done, exited int
		why          error  // the first reason the claim stopped
		whyID        string // the connection whose $disconnect failed, if that is why
		lost         bool   // an append was not stored: nothing more is appended
		batch        = make([]string, 0, window)
		limit        = m.writer.batchLimit() // a progress message is at most what a batch of records is
	)
	halt := func(err error, id string) {
		if why == nil {
			why, whyID = err, id
			close(stop)
		}
	}
	take := func(r claimResult) {
		switch {
		case r.i < 0:
			exited++
		case r.err != nil:
			halt(r.err, live[r.i].id)
		default:
			batch = append(batch, live[r.i].id)
		}
	}
	for exited < workers {
		take(<-results)
	drain: // everything else that has finished meanwhile
		for { // at most the window's results and the workers' ends wait: the loop ends
			select {
			case r := <-results:
				take(r)
			default:
				break drain
			}
		}
		if len(batch) == 0 || lost {
			batch = batch[:0]
			continue
		}
		if err := ctx.Err(); err != nil {
			halt(err, "")
			batch = batch[:0] // this node stops claiming: not recorded, they run again on the node that takes over
			continue
		}
		for ids := batch; len(ids) > 0; {
			n := progressFits(m.cfg.Node, me, ids, limit)
			at, err := m.appendClaim(ctx, subject, seq, encodeProgress(m.cfg.Node, me, ids[:n]))
			if err != nil {
				lost = true
				halt(err, "")
				cutShort()
				m.log.Warn("cluster: the progress of a claim was not stored; stopping it (another node takes it over)",
					"subject", subject, "done", done, "left", len(live)-done, "not_recorded", len(ids), "err", err)
				break
			}
			seq, done, ids = at, done+n, ids[n:]
			for range n {
				<-slots
			}
			m.log.Debug("cluster: the progress of a claim is stored", "subject", subject, "recorded", n, "done", done, "left", len(live)-done)
		}
		batch = batch[:0]
	}
	wg.Wait()
	if done < len(live) {
		if why == nil {
			why = ctx.Err()
		}
		if !lost {
			m.log.Warn("cluster: this node stops claiming a dead node's connections; another node takes the claim over",
				"subject", subject, "done", done, "left", len(live)-done, "conn_id", whyID, "err", why)
		}
		return false
	}
	if _, err := m.appendClaim(ctx, subject, seq, encodeClaim(m.cfg.Node, me)); err != nil {
		m.log.Warn("cluster: the end of a claim was not stored; another node takes it over (nothing left to run)", "subject", subject, "err", err)
		return false
	}
	return true
}

// progressFits is how many of ids, from the first, one progress message of node's incarnation inc names
// within limit bytes: at least one.
func progressFits(node cluster.NodeID, inc string, ids []string, limit int) int {
	size := len(encodeProgress(node, inc, nil)) + binary.MaxVarintLen64
	for n, id := range ids {
		if size += len(id) + binary.MaxVarintLen64; size > limit && n > 0 {
			return n
		}
	}
	return len(ids)
}

// claimResult is what a claim's worker reports: Reap's answer for live[i], or (i < 0) that it returned.
type claimResult struct {
	i   int
	err error
}

// claimWorker is one of runClaim's workers: it takes the next connection of live and runs its Reap while
// a slot is free, until stop is closed, ctx ends or none is left, and reports each to results.
func (m *Members) claimWorker(ctx context.Context, stop <-chan struct{}, slots chan<- struct{}, next *atomic.Int64, live []logEntry, results chan<- claimResult) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		select {
		case <-stop: // closed while the slot was taken: select chooses at random among ready cases
			return
		default:
		}
		if ctx.Err() != nil {
			return
		}
		i := int(next.Add(1) - 1)
		if i >= len(live) {
			return
		}
		var err error
		if m.cfg.Reap != nil {
			err = m.cfg.Reap(ctx, live[i].id, live[i].record)
		}
		results <- claimResult{i: i, err: err}
	}
}

// appendClaim appends data, a message of a claim, to subject after its sequence after and returns its
// sequence. An append with no answer is retried until ctx ends, and settled from the subject's last
// message as the stream's leader holds it (data itself: stored). A conflict the leader confirms is the
// log having moved on: the owner appended, or another node claimed it; one it does not (no answer) is
// tried again, since the refusal may be this very append's, stored by a try whose answer was lost.
func (m *Members) appendClaim(ctx context.Context, subject string, after uint64, data []byte) (uint64, error) {
	wait := 100 * time.Millisecond
	for {
		msg := nats.NewMsg(subject)
		msg.Data = data
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		ack, err := m.js.PublishMsg(cctx, msg, jetstream.WithExpectLastSequencePerSubject(after))
		cancel()
		if err == nil {
			return ack.Sequence, nil
		}
		// The leader's answer: a replica that had not applied the append would say it was not stored,
		// the append would then be refused as a conflict, and this node would leave its own claim unrun.
		cctx, cancel = context.WithTimeout(ctx, opTimeout)
		last, gerr := m.leader.LastMsg(cctx, LogStream, subject)
		cancel()
		// A refusal (isConflict) says the subject moved on, not by whom: by another node, or by this very
		// claim, stored by an earlier try whose answer was lost. Only the leader's last message tells
		// them apart, so a refusal the leader does not confirm is tried again: taken for another node's
		// claim, this node's own claim would be left unrun, and nobody would take over a claimer alive.
		switch {
		case gerr == nil && last.Sequence > after && bytes.Equal(last.Data, data):
			return last.Sequence, nil // stored; its answer was lost
		case gerr == nil && (last.Sequence > after || isConflict(err)),
			errors.Is(gerr, jetstream.ErrMsgNotFound) && isConflict(err): // purged whole: claimed and done
			return 0, fmt.Errorf("%w: %w", errLogMovedOn, err)
		}
		// Not stored, and the log has not moved on as far as the leader tells: no answer from the stream
		// or from its leader, or the leader still applying this node's previous append (inFlight).
		if inFlight(err) {
			m.log.Info("cluster: append to a claimed connection log refused while the stream's leader applies the previous one; retrying", "subject", subject, "err", err)
		} else {
			m.log.Warn("cluster: append to a claimed connection log; retrying", "subject", subject, "err", err, "check", gerr)
		}
		if !sleep(ctx, wait) {
			return 0, err
		}
		wait = min(2*wait, time.Second)
	}
}

// claimerAlive says whether the members bucket holds node's entry for incarnation inc: a claim is taken
// over only when the store says its claimer is not a member (the peers a node knows may lag the store).
// An incarnation this node has seen declared dead, left or replaced is not asked about: it never comes
// back, and the store's answer may be older than that. Otherwise both answers are the members stream's
// leader's: "gone" from a replica that has not applied the claimer's entry yet would take over a live
// node's claim, and "alive" from one that has not applied the delete that declared it dead (a sweep scans
// the logs right after it) left the claim to a dead node, for good: no compare-and-set checks either
// answer, and nothing asks again.
func (m *Members) claimerAlive(ctx context.Context, node cluster.NodeID, inc string) (bool, error) {
	if node == m.cfg.Node && inc == m.incarnationNow() {
		return true, nil
	}
	if m.declaredDead(node, inc) {
		return false, nil
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return m.leaderHolds(cctx, node, inc)
}

// readLog replays subject up to sequence upTo and returns the connections it holds open, in the order
// they were recorded: created by the owner's batches, and neither removed by them nor recorded as done by
// a claim's progress. A create written more than staleWindow before the owner's last batch is not trusted
// (its removal may have been purged; an open connection's record is appended again long before that).
// A message that does not decode is logged with its subject and sequence, and skipped.
//
// The log's owner, when it is alive after all (declared dead while cut off), purges a prefix of it from
// time to time: a purge in the middle of a replay can take a removal the replay had not reached yet while
// it already counted the create, so a replay whose first message is gone by its end is made again. The
// subject's first message is the stream's leader's answer: a direct get may be answered by a replica that
// has not applied the purge, still holding the first message the replay read, and the replay that missed
// a removal would be used (a $disconnect run a second time, for a connection its owner closed). A leader
// that does not answer (one being elected) fails the read, and the claim reads the log again later. The
// replay made again begins at the leader's first message: one begun at the start would be answered by
// the same replica behind the purge, purged messages included, as often as it is made.
func (m *Members) readLog(ctx context.Context, subject string, upTo uint64) ([]logEntry, error) {
	const maxReplays = 10
	from := uint64(1)
	for replay := 1; ; replay++ {
		live, first, err := m.replayLog(ctx, subject, from, upTo)
		if err != nil || first == 0 {
			return live, err
		}
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		msg, err := m.leader.FirstMsg(cctx, LogStream, subject)
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return live, nil // purged whole: claimed meanwhile, and the claim is checked by its append
		case err != nil:
			return nil, fmt.Errorf("read %s's first message from the stream's leader: %w", subject, err)
		case msg.Sequence <= first:
			return live, nil
		case replay == maxReplays:
			m.log.Warn("cluster: the connection log kept being purged while it was read; using the last replay", "subject", subject, "replays", replay)
			return live, nil
		}
		from = msg.Sequence
	}
}

// errReplicaBehind is a replay that a replica behind the connection log's newest messages answered.
var errReplicaBehind = errors.New("a replica behind answered")

// replayLog is one replay of readLog, of the messages from sequence from to upTo; first is the sequence
// of the first message it read (0: none).
func (m *Members) replayLog(ctx context.Context, subject string, from, upTo uint64) (entries []logEntry, first uint64, err error) {
	live := map[string]int{} // id → index in order
	var (
		order   []logEntry
		written []time.Time // when order's creates were appended
		lastAt  time.Time   // the owner's last batch
	)
	// One direct get per message, which any replica answers: the dead node may have led the stream, and
	// the log is short (one message per batch, old messages purged).
	for seq := from; seq <= upTo; {
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		msg, err := m.connlog.GetMsg(cctx, seq, jetstream.WithGetMsgSubject(subject))
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			// The subject's last message is upTo (purges take prefixes, a claim's keeps itself): none
			// from seq on, short of it, is a replica that has not applied the log's newest messages.
			// The connections it would miss are those opened or closed last; read again.
			return nil, 0, fmt.Errorf("read %s from sequence %d: the replica that answered has no message up to %d, the subject's last: %w",
				subject, seq, upTo, errReplicaBehind)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read %s at sequence %d: %w", subject, seq, err)
		}
		if msg.Sequence > upTo {
			break
		}
		seq = msg.Sequence + 1
		if first == 0 {
			first = msg.Sequence
		}
		if m.replayRead != nil {
			m.replayRead(msg.Sequence)
		}
		lm, err := decodeLogMsg(msg.Data)
		if err != nil {
			m.log.Warn("cluster: corrupted connection log message skipped", "stream", LogStream, "key", subject, "sequence", msg.Sequence, "err", err)
			continue
		}
		if lm.kind == kindBatch {
			lastAt = msg.Time
		}
		for _, e := range lm.entries { // a claim's progress holds removals
			switch i, ok := live[e.id]; {
			case e.create && ok:
				order[i], written[i] = e, msg.Time
			case e.create:
				live[e.id] = len(order)
				order, written = append(order, e), append(written, msg.Time)
			case ok:
				order[i].id = "" // removed
				delete(live, e.id)
			}
		}
	}
	out := order[:0]
	for i, e := range order {
		if e.id != "" && !written[i].Before(lastAt.Add(-staleWindow)) {
			out = append(out, e)
		}
	}
	return out, first, nil
}

// Record appends connection id's record to this node's log and returns once it is stored; the node
// must be a member. It is what the connect path pays.
func (m *Members) Record(ctx context.Context, id string, record []byte) error {
	return m.StartRecord(ctx, id, record)()
}

// StartRecord starts appending connection id's record to this node's log and returns a function that
// waits until it is stored (at most opTimeout after the start, or until ctx ends: the record is then
// removed if it was stored after all).
func (m *Members) StartRecord(ctx context.Context, id string, record []byte) (wait func() error) {
	if why := m.Status(); why != "" {
		return func() error { return errors.New("cluster: " + why) }
	}
	deadline := time.Now().Add(opTimeout)
	subject := m.logSubjectNow()
	op := m.writer.start(subject, id, record)
	return func() error {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		if err := m.writer.wait(ctx, op); err != nil {
			return fmt.Errorf("cluster: record connection %s: %w", id, err)
		}
		m.recorded.Store(id, subject)
		return nil
	}
}

// Forget appends the removal of connection id's record and calls then (its $disconnect) when this node
// is the one to run it: once the removal is stored (at once when the connection had no record), later
// when NATS does not answer now, never when another node has claimed the log. It waits for the removal
// for at most opTimeout, whatever ctx says (a closing node still removes its records); past that, a
// goroutine waits for it.
func (m *Members) Forget(_ context.Context, id string, then func()) {
	v, ok := m.recorded.LoadAndDelete(id)
	if !ok {
		if then != nil {
			then()
		}
		return
	}
	subject := v.(string)
	done := m.writer.remove(subject, id)
	t := time.NewTimer(opTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		m.forgotten(id, subject, err, then)
		return
	case <-t.C:
	}
	m.mu.Lock()
	if !m.forgetting {
		m.mu.Unlock()
		m.log.Warn("cluster: the node stops before a connection's record was removed; its $disconnect does not run here", "conn_id", id)
		return
	}
	m.reapWG.Add(1)
	m.mu.Unlock()
	m.log.Warn("cluster: NATS does not answer; the connection's $disconnect waits until its record is removed", "conn_id", id)
	go func() {
		defer m.reapWG.Done()
		m.forgotten(id, subject, <-done, then)
	}()
}

// forgotten acts on the removal of id's record.
func (m *Members) forgotten(id, subject string, err error, then func()) {
	switch {
	case err == nil:
		if then != nil {
			then()
		}
	case errors.Is(err, errClaimed):
		m.log.Info("cluster: connection closed here after another node ran its $disconnect", "conn_id", id, "subject", subject)
	default:
		m.log.Warn("cluster: a connection's record was not removed; its $disconnect does not run here", "conn_id", id, "err", err)
	}
}

// Leave deletes this node's entry, so the others learn at once that it is gone (and claim any record
// it still has); call it after the node's connections are closed, before ending Run. The claims of dead
// nodes' logs this node runs finish first, within ctx's time budget less the leave's own writes; past
// it they stop — no $disconnect starts, those running are cut short — and another node takes them over
// once this node's entry is gone (those cut short run again there, as do those that ran but were not
// recorded yet: at most twice ClaimWorkers per claim).
func (m *Members) Leave(ctx context.Context) error {
	m.mu.Lock()
	leaving := m.leaving
	m.leaving = true // no new claim starts; heartbeats go on while the running ones finish
	m.mu.Unlock()
	if !leaving {
		m.finishClaims(ctx)
	}
	m.beatMu.Lock()
	defer m.beatMu.Unlock()
	m.mu.Lock()
	if m.left || !m.member {
		m.left = true
		m.mu.Unlock()
		return nil
	}
	m.left = true
	rev := m.memberRev
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := m.writer.flush(ctx); err != nil {
		m.log.Warn("cluster: leave: connection records still being removed", "err", err)
	}
	if err := m.members.Delete(ctx, memberKey(m.cfg.Node), jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	m.log.Info("cluster: node left the cluster", "node", m.cfg.Node)
	return nil
}

// finishClaims waits for the claims this node runs, until ctx's deadline less opTimeout; then it stops
// them and waits for them to return.
func (m *Members) finishClaims(ctx context.Context) {
	budget := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		budget, cancel = context.WithDeadline(ctx, dl.Add(-opTimeout))
		defer cancel()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.claims.Wait()
	}()
	select {
	case <-done:
		return
	case <-budget.Done():
	}
	m.log.Warn("cluster: leave: the claims of dead nodes' connections this node runs did not finish in time; stopping them, another node takes them over")
	m.stopReaping()
	<-done
}

// logMaxAge bounds how long the connection log keeps a message whatever else happens (a log nobody
// claimed, a node that stopped without purging): past it, a connection's $disconnect is given up.
const logMaxAge = 24 * time.Hour

// errLogMovedOn is a claim's append refused because the log has a later message than the one the claim
// read: the owner appended, or another node claimed it.
var errLogMovedOn = errors.New("the connection log moved on")

// isConflict reports a compare-and-set failure: the key changed, is gone, or exists; or the subject's
// last sequence is not the one expected. An append refused while another one to the same subject is in
// flight (inFlight) is not one: nothing is decided yet.
func isConflict(err error) bool {
	switch {
	case errors.Is(err, errLogMovedOn): // whatever the append's own refusal said
		return true
	case inFlight(err):
		return false
	}
	var api *jetstream.APIError
	if errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
}

// inFlight reports JetStream's refusal of a compare-and-set write to a replicated stream while another
// write to the same subject is still in flight on the stream's leader (the constant "wrong last
// sequence", 10164): the leader checks the expected sequence only once the subject has no write in
// process, and it answers a write's publisher before it clears that write (nats-server
// jetstream_batching.go checkMsgHeadersPreClusteredProposal, jetstream_cluster.go applyStreamMsgOp), so
// a node that appends to a subject again as soon as its previous append is acknowledged can be refused
// so. The write is not stored and the subject is as it was: the write is tried again, and it is either
// stored or refused with the subject's real last sequence (10071) when the other write won. nats.go
// counts 10164 as a revision mismatch; it is not one yet.
func inFlight(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// logStreamConfig is the connection log's stream.
func logStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: LogStream, Subjects: []string{logSubjectPfx + ">"},
		Storage: jetstream.FileStorage, Replicas: replicas, MaxAge: logMaxAge, AllowDirect: true,
		Description: "Switchboard connection logs: switchboard.connlog.<node>.<incarnation> → batches of connection records, for $disconnect when a node dies"}
}

// openStream creates or updates the stream cfg describes (never with fewer replicas than it has), waiting (and saying so) while JetStream is not
// available yet.
func openStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, log *slog.Logger) (jetstream.Stream, error) {
	wait := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		cfg.Replicas = natsbus.NoFewerReplicas(cctx, js, cfg.Name, cfg.Replicas)
		s, err := js.CreateOrUpdateStream(cctx, cfg)
		cancel()
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cluster: open JetStream stream %s: %w", cfg.Name, err)
		}
		log.Warn("cluster: JetStream not available yet; retrying", "stream", cfg.Name, "err", err)
		if !sleep(ctx, wait) {
			return nil, fmt.Errorf("cluster: open JetStream stream %s: %w", cfg.Name, err)
		}
		wait = min(2*wait, 2*time.Second)
	}
}
