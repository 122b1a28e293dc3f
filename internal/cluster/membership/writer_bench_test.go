package membership

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus/natsbustest"
)

// BenchmarkRecordCreate compares what a connection's record costs — created on connect, removed on
// close — kept as one KV key each (KeyValue.Create, then a compare-and-purge: how records were kept
// before the connection log) with the connection log's batching writer, 64 writers at once against
// three routed servers and R3, all in this process:
// go test -run '^$' -bench RecordCreate ./internal/cluster/membership
func BenchmarkRecordCreate(b *testing.B) {
	nc := benchCluster(b)
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
	w := newWriter(js, natsbus.NewLeaderReader(js), nil)
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

// benchCluster starts three routed servers in this process and connects to the first.
func benchCluster(b *testing.B) *nats.Conn {
	servers := natsbustest.StartRouted(b, 3)
	nc, err := natsbus.Connect(natsbus.ClientConfig{Embedded: servers[0]})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}

// BenchmarkClaim measures what a claim costs per lost connection against three routed servers and R3:
// "replay" reads a dead node's log of b.N open connections; "claim" claims it — replays it, appends the
// claim, the progress messages as the (here empty) $disconnects finish, the complete claim, and purges;
// "claim_1ms" does the same with $disconnects that take 1 ms each (an integration's time). "claim"
// less "replay" per connection is the progress appends' price; appends/conn counts the messages the
// claim appended per connection:
// go test -run '^$' -bench Claim -benchtime 2000x ./internal/cluster/membership
func BenchmarkClaim(b *testing.B) {
	nc := benchCluster(b)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := openStream(ctx, js, logStreamConfig(3), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(nc, Config{Node: 2, Reap: func(context.Context, string, []byte) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	m.connlog = st
	record := make([]byte, 300)
	run := 0
	// deadLog writes a log of n open connections, 500 to a message, and returns its incarnation.
	deadLog := func(n int) string {
		run++
		inc := fmt.Sprintf("bench%d", run)
		for i := 0; i < n; i += 500 {
			var es []logEntry
			for j := i; j < min(n, i+500); j++ {
				es = append(es, logEntry{create: true, id: fmt.Sprintf("CONN%011d=", j), record: record})
			}
			if _, err := js.Publish(ctx, logSubject(1, inc), encodeBatch(uint64(i/500+1), es)); err != nil {
				b.Fatal(err)
			}
		}
		return inc
	}
	b.Run("replay", func(b *testing.B) {
		inc := deadLog(b.N)
		last, err := st.GetLastMsgForSubject(ctx, logSubject(1, inc))
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		live, err := m.readLog(ctx, logSubject(1, inc), last.Sequence)
		if err != nil || len(live) != b.N {
			b.Fatalf("replay: %d connections, %v", len(live), err)
		}
	})
	for _, bc := range []struct {
		name string
		reap func(context.Context, string, []byte) error
	}{
		{"claim", func(context.Context, string, []byte) error { return nil }},
		{"claim_1ms", func(ctx context.Context, _ string, _ []byte) error {
			sleep(ctx, time.Millisecond) // the integration's time
			return nil
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m.cfg.Reap = bc.reap
			inc := deadLog(b.N)
			before := lastSeq(ctx, b, st)
			b.ResetTimer()
			if err := m.reap(ctx, 1, inc); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			last, err := st.GetLastMsgForSubject(ctx, logSubject(1, inc))
			if err != nil {
				b.Fatal(err)
			}
			if lm, err := decodeLogMsg(last.Data); err != nil || !lm.complete() {
				b.Fatalf("the claim did not complete: %+v %v", lm, err)
			}
			b.ReportMetric(float64(lastSeq(ctx, b, st)-before)/float64(b.N), "appends/conn")
		})
	}
}

// lastSeq is the stream's last sequence (a purge leaves it).
func lastSeq(ctx context.Context, b *testing.B, st jetstream.Stream) uint64 {
	info, err := st.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return info.State.LastSeq
}
