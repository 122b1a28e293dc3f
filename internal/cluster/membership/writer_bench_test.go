package membership

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
)

// BenchmarkRecordCreate compares what a connection's record costs — created on connect, removed on
// close — kept as one KV key each (KeyValue.Create, then a compare-and-purge: how records were kept
// before the connection log) with the connection log's batching writer, 64 writers at once against
// three routed servers and R3, all in this process:
// go test -run '^$' -bench RecordCreate ./internal/cluster/membership
func BenchmarkRecordCreate(b *testing.B) {
	var addrs []string
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		_ = ln.Close()
	}
	var servers []*server.Server
	for i, a := range addrs {
		var routes []string
		for j, r := range addrs {
			if j != i {
				routes = append(routes, r)
			}
		}
		s, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{Name: fmt.Sprintf("s%d", i+1), ClusterListen: a, Routes: routes, StoreDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	nc, err := natsbus.Connect(natsbus.ClientConfig{Embedded: servers[0]})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kv, err := natsbus.KeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: "bench_records", History: 1, Replicas: 3, Storage: jetstream.FileStorage}, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := openStream(ctx, js, logStreamConfig(3), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	w := newWriter(js, nil)
	w.stream = st
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(wctx) }()
	b.Cleanup(func() { stop(); <-done })
	record := make([]byte, 300) // the size of a typical record (docs/cluster-sizing.md)
	var seq atomic.Int64
	subject := logSubject(1, "bench")
	for _, bc := range []struct {
		name   string
		record func(id string) error
	}{
		{"one KV key each", func(id string) error {
			key := "c.1.bench." + id
			rev, err := kv.Create(ctx, key, record)
			if err != nil {
				return err
			}
			return kv.Purge(ctx, key, jetstream.LastRevision(rev))
		}},
		{"connection log", func(id string) error {
			if err := w.create(ctx, subject, id, record); err != nil {
				return err
			}
			return <-w.remove(subject, id)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(32) // 64 writers on two cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.record(strconv.FormatInt(seq.Add(1), 10)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
