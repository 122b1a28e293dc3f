package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Replicas is how many copies a node's JetStream KV buckets keep: want when positive, else one per
// known NATS server up to three (JetStream's usual R3), so that a cluster keeps its state when one
// server dies.
func Replicas(nc *nats.Conn, want int) int {
	if want > 0 {
		return want
	}
	n := len(nc.Servers())
	if n < 1 {
		n = 1
	}
	return min(n, 3)
}

// NoFewerReplicas is want, or the replicas stream already has when it has more: a node that starts
// before its routes are up counts one NATS server and would otherwise scale a replicated stream down,
// losing its copies on the other servers. A stream that does not exist (or cannot be read now) takes
// want.
func NoFewerReplicas(ctx context.Context, js jetstream.JetStream, stream string, want int) int {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return want
	}
	return max(want, s.CachedInfo().Config.Replicas)
}

// KeyValue opens bucket cfg.Bucket, creating it or updating its configuration (never with fewer replicas
// than it has: NoFewerReplicas), and retries while
// JetStream is not available yet (a cluster's servers still forming a quorum, NATS unreachable), with a
// log line per failure, until ctx ends. A server too old for cfg.LimitMarkerTTL is an error at once
// (jetstream.ErrLimitMarkerTTLNotSupported).
func KeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig, log *slog.Logger) (jetstream.KeyValue, error) {
	wait := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cfg.Replicas = NoFewerReplicas(cctx, js, "KV_"+cfg.Bucket, cfg.Replicas)
		kv, err := js.CreateOrUpdateKeyValue(cctx, cfg)
		cancel()
		if err == nil {
			return kv, nil
		}
		if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
			return nil, fmt.Errorf("cluster: open JetStream bucket %s: %w", cfg.Bucket, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cluster: open JetStream bucket %s: %w", cfg.Bucket, err)
		}
		if log != nil {
			log.Warn("cluster: JetStream not available yet; retrying", "bucket", cfg.Bucket, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("cluster: open JetStream bucket %s: %w", cfg.Bucket, err)
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}
