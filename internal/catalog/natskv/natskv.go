// Package natskv keeps the catalog in a NATS JetStream key-value bucket, so that every node of a cluster
// shares one control plane: a change made through any node's control plane is saved with a
// compare-and-set on the key's revision (jetstream.KeyValue.Update) and reaches every other node through a
// watch, and each node compiles its own snapshot from the same revision.
//
// The catalog is one entry, key "catalog" by default: the encoding package catalog saves. Every revision
// is a whole catalog, so a reader never sees half of a change and the revision numbers what each node
// serves. The bucket keeps a few earlier revisions (History), which is how a node that finds the newest
// entry corrupted starts from the last good one. Anything else found in the bucket (another key, a
// deletion) is logged with its key and skipped.
package natskv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
)

// DefaultBucket and DefaultKey are where the catalog lives unless configured otherwise.
const (
	DefaultBucket = "switchboard_catalog"
	DefaultKey    = "catalog"
)

// history is how many revisions of the catalog the bucket keeps.
const history = 16

// opTimeout bounds one operation on the bucket when the caller's context has no deadline, so that a
// control-plane change made while NATS is away is refused rather than left hanging.
const opTimeout = 5 * time.Second

// Config says which bucket holds the catalog.
type Config struct {
	// Bucket is the key-value bucket's name; default DefaultBucket.
	Bucket string
	// Key is the catalog's key in the bucket; default DefaultKey.
	Key string
	// Replicas is the bucket's replica count when this node creates it (1 for one or two NATS servers,
	// 3 for a cluster of three or more); default 1.
	Replicas int
	// Memory keeps the bucket in memory rather than on the NATS servers' disks.
	Memory bool
	// Logger receives what is skipped; nil discards it.
	Logger *slog.Logger
	// Conn, when set, is the connection under the bucket: while it is not connected, Save fails at once
	// with catalog.ErrUnavailable instead of waiting for a reconnection that may not come.
	Conn *nats.Conn
	// JetStream, when set, makes the bucket again (with Replicas and Memory) when NATS answers but has
	// lost it, so that the next change saves the node's catalog there instead of failing forever.
	JetStream jetstream.JetStream
}

// Store is a catalog.Store (and catalog.Watcher, catalog.Historian, catalog.LatestLoader) on a JetStream
// key-value bucket.
type Store struct {
	kvp    atomic.Pointer[jetstream.KeyValue] // replaced when the bucket is made again
	js     jetstream.JetStream                // nil: a lost bucket is not made again
	cfg    jetstream.KeyValueConfig
	key    string
	bucket string
	log    *slog.Logger
	nc     *nats.Conn // nil: not checked
	// leader reads the catalog's entry as the bucket's stream leader holds it (LoadLatest); nil without a
	// connection.
	leader *natsbus.LeaderReader

	// watched is when the bucket this store last read or watched was made (Unix ns); 0: not known yet.
	// The first Load sets it, so that a bucket made again before the first Watch is told from the one
	// whose revisions the catalog holds: the new bucket's revisions start over and may repeat them.
	watched atomic.Int64
}

var (
	_ catalog.Store        = (*Store)(nil)
	_ catalog.Watcher      = (*Store)(nil)
	_ catalog.Historian    = (*Store)(nil)
	_ catalog.LatestLoader = (*Store)(nil)
)

// Open binds to the catalog's bucket through js, creating it when no node has yet.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("open the catalog's key-value bucket %s: %w", cfg.Bucket, unavailable(err))
	}
	if cfg.Conn == nil {
		cfg.Conn = js.Conn()
	}
	if cfg.JetStream == nil {
		cfg.JetStream = js
	}
	return New(kv, cfg), nil
}

// BucketConfig is the bucket Open creates, for callers that create it themselves (retrying while a
// cluster's JetStream forms).
func BucketConfig(cfg Config) jetstream.KeyValueConfig {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	return jetstream.KeyValueConfig{Bucket: cfg.Bucket, Description: "Switchboard's control-plane catalog",
		History: history, Storage: storage, Replicas: max(cfg.Replicas, 1)}
}

// New returns the Store of cfg.Key in kv (cfg's bucket settings are not used).
func New(kv jetstream.KeyValue, cfg Config) *Store {
	if cfg.Key == "" {
		cfg.Key = DefaultKey
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st := &Store{key: cfg.Key, bucket: kv.Bucket(), log: cfg.Logger, nc: cfg.Conn, js: cfg.JetStream, cfg: BucketConfig(cfg)}
	st.cfg.Bucket = kv.Bucket()
	st.kvp.Store(&kv)
	st.leader = leaderReader(cfg)
	return st
}

// leaderReader reads from the bucket's stream leader through cfg's JetStream context (or one on
// cfg.Conn); nil without either.
func leaderReader(cfg Config) *natsbus.LeaderReader {
	js := cfg.JetStream
	if js == nil && cfg.Conn != nil {
		js, _ = jetstream.New(cfg.Conn) // fails only on options, and none are given
	}
	if js == nil {
		return nil
	}
	return natsbus.NewLeaderReader(js)
}

// kv is the bucket's current handle.
func (s *Store) kv() jetstream.KeyValue { return *s.kvp.Load() }

// remake makes the bucket again when NATS is connected but has lost it (a server restarted without its
// JetStream data), and reports whether it did.
func (s *Store) remake(ctx context.Context) bool {
	if s.js == nil || (s.nc != nil && !s.nc.IsConnected()) {
		return false
	}
	if _, err := s.js.KeyValue(ctx, s.bucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		return false
	}
	kv, err := s.js.CreateKeyValue(ctx, s.cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = s.js.KeyValue(ctx, s.bucket)
	}
	if err != nil {
		s.log.Error("the catalog's bucket is gone from NATS and could not be made again", "bucket", s.bucket, "err", err)
		return false
	}
	s.kvp.Store(&kv)
	s.log.Warn("the catalog's bucket was gone from NATS (its JetStream data lost); made it again, and the next change saves this node's catalog there",
		"bucket", s.bucket, "replicas", s.cfg.Replicas)
	return true
}

// rebind takes a new handle on the bucket after it was made again by another node: the handle from
// before names a stream that is gone, and a watch started from it was seen not to deliver the new
// bucket's entries.
func (s *Store) rebind(ctx context.Context) {
	if s.js == nil {
		return
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if kv, err := s.js.KeyValue(ctx, s.bucket); err == nil {
		s.kvp.Store(&kv)
	}
}

// String names the bucket and key, for logs.
func (s *Store) String() string {
	return fmt.Sprintf("JetStream key-value bucket %s key %s", s.bucket, s.key)
}

// Load returns the catalog's newest entry; a zero Entry when none was saved (or it was deleted: the
// deletion's revision is then the one to replace).
func (s *Store) Load(ctx context.Context) (catalog.Entry, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	s.noteBucket(ctx)
	e, err := s.kv().Get(ctx, s.key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return catalog.Entry{Revision: s.deletedAt(ctx)}, nil
	case err != nil:
		return catalog.Entry{}, fmt.Errorf("read %s: %w", s, unavailable(err))
	}
	return catalog.Entry{Data: e.Value(), Revision: e.Revision()}, nil
}

// LoadLatest is Load answered by the bucket's stream leader (natsbus.LeaderReader). Load is a direct get
// (the bucket allows them, as nats.go makes every bucket), which any replica answers, one that has not
// applied the newest revisions yet included. The leader decided every compare-and-set, so an entry older
// than one this node saved is, read here, one the bucket lost. It costs what Load does (one request, the
// catalog's size back), and the catalog asks it only when Load's answer looks like a loss, and when a
// node joins (it notes the bucket's creation time first, as Load does). Without a connection to ask on,
// it is Load.
func (s *Store) LoadLatest(ctx context.Context) (catalog.Entry, error) {
	if s.leader == nil {
		return s.Load(ctx)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	s.noteBucket(ctx)
	m, err := s.leader.LastMsg(ctx, "KV_"+s.bucket, "$KV."+s.bucket+"."+s.key)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return catalog.Entry{}, nil
	case err != nil:
		return catalog.Entry{}, fmt.Errorf("read %s from its stream's leader: %w", s, unavailable(err))
	case natsbus.Deletion(m.Header):
		return catalog.Entry{Revision: m.Sequence}, nil
	}
	return catalog.Entry{Data: m.Data, Revision: m.Sequence}, nil
}

// noteBucket records when the bucket was made, before the first read of it: a bucket made again in
// between is then taken for a new one (a reset the catalog recovers from), never the other way round.
// Without an answer it stays unknown, and the first Watch records it.
func (s *Store) noteBucket(ctx context.Context) {
	if s.watched.Load() != 0 {
		return
	}
	if created, err := s.created(ctx); err == nil && !created.IsZero() {
		s.watched.CompareAndSwap(0, created.UnixNano())
	}
}

// deletedAt is the revision of the key's deletion marker, or 0 when the key never existed.
func (s *Store) deletedAt(ctx context.Context) uint64 {
	entries, err := s.kv().History(ctx, s.key)
	if err != nil || len(entries) == 0 {
		return 0
	}
	last := entries[len(entries)-1]
	s.log.Warn("the catalog's key was deleted from its bucket; the next change saves a new catalog", "key", s.key, "bucket", s.bucket, "revision", last.Revision())
	return last.Revision()
}

// Save stores data if the key's revision is still revision (0: the key does not exist or was deleted).
func (s *Store) Save(ctx context.Context, data []byte, revision uint64) (uint64, error) {
	if s.nc != nil && !s.nc.IsConnected() {
		return 0, fmt.Errorf("write %s: %w: the NATS connection is %s", s, catalog.ErrUnavailable, strings.ToLower(s.nc.Status().String()))
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var rev uint64
	var err error
	if revision == 0 {
		rev, err = s.kv().Create(ctx, s.key, data)
	} else {
		rev, err = s.kv().Update(ctx, s.key, data, revision)
	}
	switch {
	case err == nil:
		return rev, nil
	case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, fmt.Errorf("%s is past revision %d: %w", s, revision, catalog.ErrConflict)
	case s.remake(ctx):
		// The new bucket is empty: a conflict makes the catalog load it and save again.
		return 0, fmt.Errorf("%s was made again: %w", s, catalog.ErrConflict)
	}
	return 0, fmt.Errorf("write %s: %w", s, unavailable(err))
}

// History returns the revisions the bucket keeps of the catalog, oldest first; deletions have no Data.
func (s *Store) History(ctx context.Context) ([]catalog.Entry, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	entries, err := s.kv().History(ctx, s.key)
	if err != nil {
		return nil, fmt.Errorf("read the history of %s: %w", s, unavailable(err))
	}
	out := make([]catalog.Entry, 0, len(entries))
	for _, e := range entries {
		ce := catalog.Entry{Revision: e.Revision()}
		if e.Operation() == jetstream.KeyValuePut {
			ce.Data = e.Value()
		}
		out = append(out, ce)
	}
	return out, nil
}

// Watch calls fn with the catalog's newest revision, then with every revision saved from then on, until
// ctx ends. It watches the whole bucket so that entries under other keys are reported (with their key)
// rather than ignored silently; they, and deletions of the catalog, are skipped.
func (s *Store) Watch(ctx context.Context, fn func(catalog.Entry)) error {
	var reconnected chan nats.Status // nil (never ready) without a connection to follow
	if s.nc != nil {
		reconnected = s.nc.StatusChanged(nats.CONNECTED)
		defer s.nc.RemoveStatusListener(reconnected)
	}
	created, err := s.created(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", s, unavailable(err))
	}
	if prev := s.watched.Swap(created.UnixNano()); prev != 0 && prev != created.UnixNano() {
		s.rebind(ctx)
		return fmt.Errorf("watch %s: %w", s, catalog.ErrReset)
	}
	w, err := s.kv().WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", s, unavailable(err))
	}
	defer func() { _ = w.Stop() }()
	check := time.NewTicker(checkEvery)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-check.C:
			// A watch on a bucket that was deleted reports nothing of it: 10 to 20 s later (nats.go
			// checks its ordered consumer's 5 s heartbeats every 10 s) the watch either ends (no stream)
			// or goes on in the bucket made again from the old bucket's next sequence, silently
			// skipping the new bucket's first revisions. Look.
			if now, err := s.created(ctx); err == nil && !now.Equal(created) {
				s.watched.Store(now.UnixNano())
				s.rebind(ctx)
				return fmt.Errorf("watch %s: %w", s, catalog.ErrReset)
			}
		case <-reconnected:
			// The watch's consumer may not have survived the servers' restart; a new watch starts from
			// the newest revision, and revisions the catalog has are skipped.
			return fmt.Errorf("watch %s: %w: the NATS connection was re-established", s, catalog.ErrUnavailable)
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s: the watch ended", s)
			}
			if e == nil {
				continue // the end of the initial values
			}
			switch {
			case e.Key() != s.key:
				s.log.Warn("an entry that is not the catalog's is in the catalog's bucket; skipped",
					"bucket", s.bucket, "key", e.Key(), "revision", e.Revision())
			case e.Operation() != jetstream.KeyValuePut:
				s.log.Warn("the catalog's key was deleted from its bucket; nodes keep serving what they have and the next change saves a new catalog",
					"bucket", s.bucket, "key", e.Key(), "revision", e.Revision(), "operation", e.Operation().String())
			default:
				fn(catalog.Entry{Data: e.Value(), Revision: e.Revision()})
			}
		}
	}
}

// checkEvery is how often Watch checks that its bucket is still the one it watches.
const checkEvery = 2 * time.Second

// created is when the bucket's stream was made (zero without a JetStream context to ask).
func (s *Store) created(ctx context.Context) (time.Time, error) {
	if s.js == nil {
		return time.Time{}, nil
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	st, err := s.js.Stream(ctx, "KV_"+s.bucket)
	if err != nil {
		return time.Time{}, err
	}
	return st.CachedInfo().Created, nil
}

// unavailable wraps err with catalog.ErrUnavailable when it says NATS or JetStream could not be reached.
func unavailable(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		return fmt.Errorf("%w: %w", catalog.ErrUnavailable, err)
	}
	return err
}

// withTimeout gives ctx a deadline of opTimeout when it has none.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, opTimeout)
}
