package membership

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
)

// BenchmarkRecordCreate compares creating connection records one JetStream request each
// (KeyValue.Create) with the batching writer, 64 writers at once against three routed servers and an
// R3 bucket, all in this process: go test -run '^$' -bench RecordCreate ./internal/cluster/membership
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
	kv, err := natsbus.KeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: RecordsBucket, History: 1, Replicas: 3, Storage: jetstream.FileStorage}, nil)
	if err != nil {
		b.Fatal(err)
	}
	w := newWriter(js, RecordsBucket)
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(wctx) }()
	b.Cleanup(func() { stop(); <-done })
	record := make([]byte, 300) // the size of a typical record (docs/cluster-sizing.md)
	var seq atomic.Int64
	for _, bc := range []struct {
		name   string
		create func(key string) error
	}{
		{"one request each", func(key string) error { _, err := kv.Create(ctx, key, record); return err }},
		{"batched", func(key string) error { _, err := w.create(ctx, key, record); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(32) // 64 writers on two cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.create("c.1.bench." + strconv.FormatInt(seq.Add(1), 10)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
