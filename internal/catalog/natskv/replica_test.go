package natskv_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/catalog/natskv"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus"
	"github.com/switchboard-gw/switchboard/internal/cluster/natsbus/natsbustest"
)

// TestLoadLatestWithAReplicaBehind runs the catalog's bucket with three replicas on three routed
// servers, and puts a replica that answers an older revision in front of one node's reads: Load (a
// direct get, which any replica answers) returns that older revision, while LoadLatest (answered by the
// stream's leader) returns the newest. A change through that node that loses the compare-and-set to
// another node's is saved on the leader's revision, not refused after every retry; LoadLatest reports
// the key's deletion with its revision, and a purged stream as nothing saved.
//
// The replica behind is a stand-in, so that no timing decides what answers: the stream's servers stop
// answering direct gets (AllowDirect off) while the node's bucket handle, bound before, still sends them,
// and a subscriber to the direct-get subjects answers with the older revision as a follower that has not
// applied the newer ones does.
func TestLoadLatestWithAReplicaBehind(t *testing.T) {
	ctx := t.Context()
	servers := natsbustest.StartRouted(t, 3)
	open := func(s *server.Server) (*natskv.Store, *catalog.Catalog, jetstream.KeyValue) {
		t.Helper()
		nc, js := connect(t, s)
		kv, err := natsbus.KeyValue(ctx, js, natskv.BucketConfig(natskv.Config{Replicas: 3}), nil)
		if err != nil {
			t.Fatal(err)
		}
		store := natskv.New(kv, natskv.Config{Conn: nc, JetStream: js})
		c, err := catalog.Open(ctx, catalog.Options{Store: store}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return store, c, kv
	}
	a, ca, kv := open(servers[0])
	old, err := a.Load(ctx)
	if err != nil || old.Revision == 0 {
		t.Fatalf("Load after Open = revision %d, %v; want the empty catalog Open saved", old.Revision, err)
	}
	addAPI(t, ca, "mine")
	_, cb, _ := open(servers[1])
	addAPI(t, cb, "theirs") // another node's change: node a holds the revision before it
	newest, _ := cb.Revision()

	// The servers stop answering direct gets; node a's bucket handle does not know and still sends them.
	nc, js := connect(t, servers[0])
	stream, err := js.Stream(ctx, "KV_"+natskv.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	cfg.AllowDirect = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	directGet := "$JS.API.DIRECT.GET.KV_" + natskv.DefaultBucket + ".$KV." + natskv.DefaultBucket + "." + natskv.DefaultKey
	behind, err := nc.Subscribe("$JS.API.DIRECT.GET.KV_"+natskv.DefaultBucket+".>", func(m *nats.Msg) {
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set(jetstream.StreamHeader, "KV_"+natskv.DefaultBucket)
		reply.Header.Set(jetstream.SubjectHeader, "$KV."+natskv.DefaultBucket+"."+natskv.DefaultKey)
		reply.Header.Set(jetstream.SequenceHeader, strconv.FormatUint(old.Revision, 10))
		reply.Header.Set(jetstream.TimeStampHeaer, time.Now().UTC().Format(time.RFC3339Nano))
		reply.Data = old.Data
		_ = m.RespondMsg(reply)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = behind.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stand-in to be the only one answering direct gets", func() bool {
		return servers[0].GlobalAccount().Interest(directGet) == 1
	})

	got, err := a.Load(ctx)
	if err != nil || got.Revision != old.Revision {
		t.Fatalf("Load through the replica behind = revision %d, %v; want %d", got.Revision, err, old.Revision)
	}
	latest, err := a.LoadLatest(ctx)
	if err != nil || latest.Revision != newest {
		t.Fatalf("LoadLatest = revision %d, %v; want the leader's %d", latest.Revision, err, newest)
	}

	addAPI(t, ca, "next") // loses the compare-and-set to "theirs", reloads through the replica behind
	if !hasAPIs(ca, "mine", "theirs", "next") {
		t.Fatal("the change after a lost compare-and-set does not hold the other node's change")
	}
	saved, _ := ca.Revision()
	latest, err = a.LoadLatest(ctx)
	if err != nil || latest.Revision != saved {
		t.Fatalf("LoadLatest after the change = revision %d, %v; want %d", latest.Revision, err, saved)
	}

	if err := kv.Delete(ctx, natskv.DefaultKey); err != nil {
		t.Fatal(err)
	}
	latest, err = a.LoadLatest(ctx)
	if err != nil || latest.Data != nil || latest.Revision <= saved {
		t.Fatalf("LoadLatest after the key's deletion = %d bytes at revision %d, %v; want none, at the deletion's revision (above %d)",
			len(latest.Data), latest.Revision, err, saved)
	}
	if err := stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	latest, err = a.LoadLatest(ctx)
	if err != nil || latest.Data != nil || latest.Revision != 0 {
		t.Fatalf("LoadLatest after the stream's purge = %d bytes at revision %d, %v; want nothing saved", len(latest.Data), latest.Revision, err)
	}
}
