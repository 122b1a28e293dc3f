package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/authorizer/usageplan"
	"github.com/switchboard-gw/switchboard/internal/authorizer/usageplan/natsusage"
	"github.com/switchboard-gw/switchboard/internal/catalog/natskv"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
)

// sharedState is a cluster node's part in the state every node shares through JetStream: the catalog
// (natskv) and the usage-plan quota counts (natsusage). A node opens its catalog with its configuration
// file alone and joins the shared one once NATS answers; until then it serves the file, refuses other
// control-plane changes (503) and is not ready.
type sharedState struct {
	joined atomic.Bool
	// usage is what the usage-plan engines ask for other nodes' counts: nothing until the usage bucket
	// is open.
	usage sharedUsage
}

// sharedUsage is a usageplan.Shared that answers 0 until set.
type sharedUsage struct {
	p atomic.Pointer[natsusage.Counts]
}

var _ usageplan.Shared = (*sharedUsage)(nil)

func (s *sharedUsage) Others(plan, keyID string, window time.Time) int {
	if c := s.p.Load(); c != nil {
		return c.Others(plan, keyID, window)
	}
	return 0
}

// sharedStatus says why the node has not joined the shared catalog yet, "" when it has or is alone.
func (g *Gateway) sharedStatus() string {
	switch {
	case g.shared == nil:
		return ""
	case !g.shared.joined.Load():
		return "cluster: the shared catalog is not joined yet"
	case g.shared.usage.p.Load() == nil:
		// Until then usage-plan quotas count this node's requests alone: a node that took traffic
		// meanwhile let a key pass its quota again.
		return "cluster: usage-plan counts are not shared yet"
	}
	return ""
}

// CatalogRevision is the revision of the cluster's shared catalog this node serves (0 when alone or not
// joined yet): nodes that serve the same revision serve the same APIs.
func (g *Gateway) CatalogRevision() uint64 {
	_, serving := g.catalog.Revision()
	if g.shared == nil || !g.shared.joined.Load() {
		return 0
	}
	return serving
}

// runShared joins the shared catalog and usage counts (creating their buckets, retrying while NATS or a
// quorum of JetStream servers is not there yet), then follows them until ctx ends. Run owns it.
func (g *Gateway) runShared(ctx context.Context) {
	log := g.log.With("component", "catalog")
	js, err := jetstream.New(g.cluster.nc)
	if err != nil {
		log.Error("cluster: JetStream client; this node serves its configuration file only", "err", err)
		return
	}
	// Counted when JetStream answers, not now: at a node's start its embedded server's routes are often
	// not up yet, and the client knows only that server.
	replicas := func() int { return natsbus.Replicas(g.cluster.nc, g.opts.Cluster.Replicas) }
	kv, err := openBucket(ctx, js, natskv.BucketConfig(natskv.Config{}), g.opts.Cluster.Replicas > 0, replicas, log)
	if err != nil {
		return // ctx ended
	}
	store := natskv.New(kv, natskv.Config{Logger: log, Conn: g.cluster.nc, JetStream: js, Replicas: replicas()})
	for {
		err := g.catalog.Join(ctx, store)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		log.Error("cluster: joining the shared catalog failed; this node serves its configuration file and tries again", "err", err)
		if !pause(ctx, time.Second) {
			return
		}
	}
	g.shared.joined.Store(true)

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := g.catalog.Run(ctx); err != nil {
			log.Error("cluster: following the shared catalog ended", "err", err)
		}
	})
	ulog := g.log.With("component", "usageplan")
	ukv, err := openBucket(ctx, js, natsusage.BucketConfig(natsusage.Config{}), g.opts.Cluster.Replicas > 0, replicas, ulog)
	if err != nil {
		return // ctx ended
	}
	counts := natsusage.New(ukv, natsusage.Config{Node: strconv.Itoa(int(g.opts.Node)), Logger: ulog, Conn: g.cluster.nc})
	g.shared.usage.p.Store(counts)
	if err := counts.Run(ctx, func() []usageplan.Usage { return g.keys.Load().Usage() }); err != nil && !errors.Is(err, context.Canceled) {
		ulog.Error("cluster: sharing usage-plan counts ended", "err", err)
	}
}

// openBucket binds to the bucket cfg describes, creating it when no node has yet, and retries (with a log
// line each time) while JetStream is not reachable, until ctx ends. Its replica count is replicas(),
// asked when JetStream answers: a node counted the NATS servers it knew at its start, often only its own
// embedded server before its routes came up, and the bucket it made then kept one replica for the
// cluster's life (the shared catalog lost with that one server). An existing bucket with fewer replicas
// is scaled up, never down, so replicas only grow as the servers the nodes see do, and nodes that count
// differently do not keep changing them; a bucket that cannot be scaled up now is used as it is. When
// JetStream has too few servers for the count for a while (one guessed from the servers the client
// knows), the bucket is created with fewer, and the log says so; a replica count the operator set is
// kept.
func openBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig, fixed bool, replicas func() int, log *slog.Logger) (jetstream.KeyValue, error) {
	wait, tooFew, reduced := 100*time.Millisecond, 0, false
	for {
		if !reduced {
			cfg.Replicas = replicas()
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		kv, err := js.KeyValue(cctx, cfg.Bucket)
		if err == nil {
			kv = scaleUp(cctx, js, kv, cfg, log)
		} else if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(cctx, cfg)
			if errors.Is(err, jetstream.ErrBucketExists) {
				kv, err = js.KeyValue(cctx, cfg.Bucket) // another node made it first
			}
		}
		cancel()
		if err == nil {
			log.Info("cluster: JetStream bucket open", "bucket", cfg.Bucket)
			return kv, nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == noSuitablePeers && !fixed && cfg.Replicas > 1 {
			if tooFew++; tooFew >= 10 {
				cfg.Replicas--
				tooFew, reduced = 0, true
				log.Warn("cluster: too few JetStream servers for the bucket's replicas; creating it with fewer (set --cluster-replicas to choose)",
					"bucket", cfg.Bucket, "replicas", cfg.Replicas)
				continue
			}
		}
		log.Warn("cluster: JetStream not available yet; retrying", "bucket", cfg.Bucket, "replicas", cfg.Replicas, "err", err)
		if !pause(ctx, wait) {
			return nil, ctx.Err()
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// scaleUp raises the replicas of kv's bucket to cfg.Replicas when it has fewer, and returns the bucket to
// use: kv itself when it has enough or cannot be scaled up now (logged).
func scaleUp(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, cfg jetstream.KeyValueConfig, log *slog.Logger) jetstream.KeyValue {
	st, err := js.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		return kv
	}
	have := st.CachedInfo().Config.Replicas
	if have >= cfg.Replicas {
		return kv
	}
	up, err := js.UpdateKeyValue(ctx, cfg)
	if err != nil {
		log.Warn("cluster: the bucket has fewer replicas than the NATS servers this node sees; scaling it up failed, it is used as it is",
			"bucket", cfg.Bucket, "replicas", have, "want", cfg.Replicas, "err", err)
		return kv
	}
	log.Info("cluster: bucket scaled up to the NATS servers this node sees", "bucket", cfg.Bucket, "replicas", cfg.Replicas, "was", have)
	return up
}

// noSuitablePeers is JetStream's error code for a stream that asks more replicas than there are servers.
const noSuitablePeers = 10005

// pause waits d or until ctx ends; it reports whether ctx is still going.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
