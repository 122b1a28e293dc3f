// Package natsusage shares usage-plan quota counts between the nodes of a cluster through a NATS
// JetStream key-value bucket, so that a key's quota counts its requests on every node.
//
// Each node process writes its own count per (plan, key, quota window) under its own key
// ("{plan}.{key}.{window}.{instance}", plan and key base64url-encoded, the window as Unix seconds) every
// Interval, and watches the bucket for the others'. A process's instance is new at every start, so a
// restarted node's earlier counts still count, under their old keys, until the bucket's age limit ends
// them. The counts are shared, not the decision: a node refuses once its own count plus the others' last
// reports reach the limit, so requests taken elsewhere within one Interval can pass it by that much.
// Throttle buckets are not shared (usageplan's package documentation says why).
//
// A bucket the store loses (NATS restarted without its JetStream data) is created again by the first
// node that notices — a report that fails while NATS answers, or a look at the bucket's stream every few
// seconds that finds it gone or created again — with the configuration it had; every running node then
// watches the new bucket and reports its current counts again. What the store held for nodes that are
// not running any more is lost with it.
package natsusage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/authorizer/usageplan"
)

// DefaultBucket is the bucket's name unless configured otherwise.
const DefaultBucket = "switchboard_usage"

// maxAge is how long a count stays in the bucket: longer than the longest quota window (a month, plus an
// offset of at most a month's days).
const maxAge = 64 * 24 * time.Hour

// Config configures sharing.
type Config struct {
	// Bucket is the key-value bucket's name; default DefaultBucket.
	Bucket string
	// Node names this node in its keys (with a random instance suffix).
	Node string
	// Interval is how often this node reports its counts; default 200 ms.
	Interval time.Duration
	// Replicas and Memory configure the bucket when this node creates it, as for the catalog's.
	Replicas int
	Memory   bool
	// Logger receives what is skipped and reporting failures; nil discards them.
	Logger *slog.Logger
	// Conn, when set, is the connection under the bucket: the watch starts again whenever it reconnects,
	// since its consumer may not have survived the servers' restart.
	Conn *nats.Conn
}

// Counts is a usageplan.Shared over a JetStream key-value bucket. Run reports this node's counts and
// follows the others'.
type Counts struct {
	kv       jetstream.KeyValue
	nc       *nats.Conn // nil: not followed, and a lost bucket is not created again
	instance string
	interval time.Duration
	log      *slog.Logger

	// The store's bucket, watched over: checkEvery is how often its stream is looked at; bucket and
	// created are the configuration it had and its stream's creation time, as last seen (owned by Run).
	checkEvery time.Duration
	bucket     *jetstream.KeyValueConfig
	created    time.Time
	// rewatch asks the watch to start again (the bucket was created again); resend asks Run to report
	// every count again (a watch started: the bucket may have been created again, empty).
	rewatch, resend chan struct{}

	mu     sync.RWMutex
	others map[window]int            // the sum over other instances, read on every request
	byInst map[window]map[string]int // each other instance's last report
}

var _ usageplan.Shared = (*Counts)(nil)

// window is one (plan, key, quota window).
type window struct {
	plan, keyID string
	start       int64 // Unix seconds
}

// Open binds to the usage bucket through js, creating it when no node has yet.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Counts, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	bc := BucketConfig(cfg)
	kv, err := js.CreateOrUpdateKeyValue(ctx, bc)
	if err != nil {
		return nil, fmt.Errorf("open the usage key-value bucket %s: %w", bc.Bucket, err)
	}
	if cfg.Conn == nil {
		cfg.Conn = js.Conn()
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
	return jetstream.KeyValueConfig{Bucket: cfg.Bucket, Description: "Switchboard's usage-plan quota counts, per node",
		History: 1, TTL: maxAge, Storage: storage, Replicas: max(cfg.Replicas, 1)}
}

// New returns the Counts kept in kv (a bucket made with BucketConfig).
func New(kv jetstream.KeyValue, cfg Config) *Counts {
	if cfg.Interval == 0 {
		cfg.Interval = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	node := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, cfg.Node)
	return &Counts{kv: kv, nc: cfg.Conn, instance: node + "-" + hex.EncodeToString(b[:]), interval: cfg.Interval, log: cfg.Logger,
		checkEvery: min(max(25*cfg.Interval, time.Second), 5*time.Second),
		rewatch:    make(chan struct{}, 1), resend: make(chan struct{}, 1),
		others: map[window]int{}, byInst: map[window]map[string]int{}}
}

// Others returns what the other instances last reported for the window.
func (c *Counts) Others(plan, keyID string, start time.Time) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.others[window{plan, keyID, start.Unix()}]
}

// Run follows the other nodes' counts and reports this node's (usage() returns the current Engine's
// Usage) every Interval, until ctx ends. A report that fails (NATS away) is logged once and tried again;
// quotas keep counting locally meanwhile.
func (c *Counts) Run(ctx context.Context, usage func() []usageplan.Usage) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.follow(ctx)
	}()
	defer func() { <-done }()
	reported := map[window]int{}
	failing := false
	t := time.NewTicker(c.interval)
	defer t.Stop()
	var checked time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.resend:
			clear(reported)
			continue
		case <-t.C:
		}
		if now := time.Now(); now.Sub(checked) >= c.checkEvery || failing && now.Sub(checked) >= time.Second {
			checked = now
			c.checkBucket(ctx)
		}
		for _, u := range usage() {
			w := window{u.Plan, u.KeyID, u.Window.Unix()}
			if reported[w] == u.Count {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.kv.Put(pctx, c.key(w), []byte(strconv.Itoa(u.Count)))
			cancel()
			if err != nil {
				if !failing && ctx.Err() == nil {
					c.log.Warn("reporting usage-plan counts to the cluster failed; quotas count this node's requests and the others' last reports until it works again", "err", err)
				}
				failing = true
				break
			}
			if failing {
				c.log.Info("reporting usage-plan counts to the cluster works again")
				failing = false
			}
			reported[w] = u.Count
		}
	}
}

// checkBucket looks at the bucket's stream: one that is gone (the store lost it: NATS restarted without
// its JetStream data) is logged and created again with the configuration it had, and one created again
// (by another node) is told by its new creation time; either way the watch starts again on the new
// bucket and this node reports its counts again (the watch's start asks for it).
func (c *Counts) checkBucket(ctx context.Context) {
	if c.nc == nil || !c.nc.IsConnected() {
		return
	}
	js, err := jetstream.New(c.nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	name := "KV_" + c.kv.Bucket()
	st, err := js.Stream(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound) && c.bucket != nil:
		c.log.Error("the store lost the usage-plan counts bucket — NATS restarted without its JetStream data?; creating it again (the counts of nodes not running any more are lost)",
			"bucket", c.kv.Bucket())
		if _, err := js.CreateOrUpdateKeyValue(ctx, *c.bucket); err != nil {
			c.log.Warn("creating the usage-plan counts bucket again failed; retrying", "bucket", c.kv.Bucket(), "err", err)
			return
		}
		if st, err = js.Stream(ctx, name); err != nil {
			return
		}
	case err != nil:
		return
	}
	info := st.CachedInfo()
	if c.bucket == nil {
		// The configuration the bucket was created with, whoever created it: a bucket created again
		// keeps its replicas and storage.
		storage := info.Config.Storage
		c.bucket = &jetstream.KeyValueConfig{Bucket: c.kv.Bucket(), Description: info.Config.Description, History: 1,
			TTL: info.Config.MaxAge, Storage: storage, Replicas: info.Config.Replicas}
	}
	if !c.created.IsZero() && !info.Created.Equal(c.created) {
		c.log.Warn("the usage-plan counts bucket was created again; watching it again and reporting this node's counts again", "bucket", c.kv.Bucket())
		select {
		case c.rewatch <- struct{}{}:
		default:
		}
	}
	c.created = info.Created
}

// key is this instance's key for w.
func (c *Counts) key(w window) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(w.plan)) + "." + enc.EncodeToString([]byte(w.keyID)) + "." +
		strconv.FormatInt(w.start, 10) + "." + c.instance
}

// follow watches the bucket until ctx ends, watching again after a failure.
func (c *Counts) follow(ctx context.Context) {
	for {
		err := c.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("watching the cluster's usage-plan counts failed; watching again", "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (c *Counts) watch(ctx context.Context) error {
	var reconnected chan nats.Status // nil (never ready) without a connection to follow
	if c.nc != nil {
		reconnected = c.nc.StatusChanged(nats.CONNECTED)
		defer c.nc.RemoveStatusListener(reconnected)
	}
	w, err := c.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	select {
	case c.resend <- struct{}{}: // the bucket this watch follows may be new: this node's counts go again
	default:
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reconnected:
			return errors.New("the NATS connection was re-established")
		case <-c.rewatch:
			return errors.New("the bucket was created again")
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the watch ended")
			}
			if e == nil {
				continue
			}
			c.record(e)
		}
	}
}

// record takes one entry of the bucket into the others' counts; what does not parse is logged with its
// key and skipped.
func (c *Counts) record(e jetstream.KeyValueEntry) {
	w, inst, err := parseKey(e.Key())
	if err != nil {
		c.log.Warn("an entry that is not a usage count is in the usage bucket; skipped", "key", e.Key(), "err", err)
		return
	}
	if inst == c.instance {
		return
	}
	n := 0
	if e.Operation() == jetstream.KeyValuePut {
		// No quota passes an int32 (AWS's QuotaSettings.Limit): a larger count is not one this package
		// wrote, and added up such counts wrap around to a negative sum, an unlimited quota.
		if n, err = strconv.Atoi(string(e.Value())); err != nil || n < 0 || n > math.MaxInt32 {
			c.log.Warn("a usage count that is not a count is in the usage bucket; skipped", "key", e.Key(), "value", string(e.Value()))
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byInst[w]
	if m == nil {
		m = map[string]int{}
		c.byInst[w] = m
	}
	c.others[w] += n - m[inst]
	m[inst] = n
}

// parseKey reads a key written by key.
func parseKey(k string) (window, string, error) {
	parts := strings.Split(k, ".")
	if len(parts) != 4 {
		return window{}, "", fmt.Errorf("%d parts, want 4", len(parts))
	}
	plan, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return window{}, "", fmt.Errorf("plan: %w", err)
	}
	key, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return window{}, "", fmt.Errorf("key: %w", err)
	}
	start, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return window{}, "", fmt.Errorf("window: %w", err)
	}
	if parts[3] == "" {
		return window{}, "", errors.New("no instance")
	}
	return window{string(plan), string(key), start}, parts[3], nil
}
