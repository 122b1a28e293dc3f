package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A node that starts before its routes are up counts one server and asks for one replica: opening a
// bucket or stream that exists with three must keep three, or the copies on the other servers are
// dropped and the one that is left dies with its server.
func TestReplicasAreNeverLowered(t *testing.T) {
	servers := startRouted(t)
	js := connectJS(t, servers[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := jetstream.KeyValueConfig{Bucket: "replicas", History: 1, Replicas: 3, Storage: jetstream.FileStorage}
	if _, err := KeyValue(ctx, js, cfg, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Replicas = 1
	if _, err := KeyValue(ctx, js, cfg, nil); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "KV_replicas")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Config.Replicas; got != 3 {
		t.Errorf("the bucket has %d replicas after a node asked for 1, want its 3 kept", got)
	}
	for _, tc := range []struct {
		name   string
		stream string
		want   int
		expect int
	}{
		{"more than the stream has", "KV_replicas", 5, 5},
		{"fewer than the stream has", "KV_replicas", 1, 3},
		{"a stream that does not exist", "KV_nothing", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NoFewerReplicas(ctx, js, tc.stream, tc.want); got != tc.expect {
				t.Errorf("NoFewerReplicas(%s, %d) = %d, want %d", tc.stream, tc.want, got, tc.expect)
			}
		})
	}
}
