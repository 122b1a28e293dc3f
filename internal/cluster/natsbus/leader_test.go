package natsbus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The API subject prefix a LeaderReader sends its own requests under follows js's domain or prefix, as
// nats.go's requests do.
func TestLeaderReaderAPIPrefix(t *testing.T) {
	nc, err := Connect(ClientConfig{Embedded: startServer(t, EmbeddedConfig{Name: "solo"})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	for _, tc := range []struct {
		name string
		js   func() (jetstream.JetStream, error)
		want string
	}{
		{"default", func() (jetstream.JetStream, error) { return jetstream.New(nc) }, "$JS.API."},
		{"a domain", func() (jetstream.JetStream, error) { return jetstream.NewWithDomain(nc, "hub") }, "$JS.hub.API."},
		{"a prefix without its dot", func() (jetstream.JetStream, error) { return jetstream.NewWithAPIPrefix(nc, "other.API") }, "other.API."},
		{"a prefix with its dot", func() (jetstream.JetStream, error) { return jetstream.NewWithAPIPrefix(nc, "other.API.") }, "other.API."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js, err := tc.js()
			if err != nil {
				t.Fatal(err)
			}
			r := NewLeaderReader(js)
			if r.api != tc.want {
				t.Errorf("API prefix %q, want %q", r.api, tc.want)
			}
		})
	}
}

// TestLeaderReadsWithAReplicaBehind runs a stream with three replicas and direct gets on three routed
// servers, its reader connected to a server that does not lead it (its request goes to every server,
// and the leader alone answers). FirstMsg answers the first message a subject still holds after a purge
// of its first ones, with its headers and data, and LastMsg the last; each nothing for a subject never
// written or purged whole, and a missing stream as such. A replica that has not applied the purge
// answers a direct get with a purged message, and FirstMsg and LastMsg the leader's; with the leader
// gone and no quorum left to elect one, FirstMsg fails, and says neither "no message" nor "no stream".
//
// The replica behind is a stand-in, so that no timing decides what answers: the stream's servers stop
// answering direct gets (AllowDirect off) while a stream handle bound before still sends them, and a
// subscriber to the direct-get subject answers with the purged message as a follower that has not applied
// the purge does. A read any replica may answer (a direct get) gets that message; FirstMsg must not.
func TestLeaderReadsWithAReplicaBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	servers := startRouted(t)
	setup := connectJS(t, servers[0])
	var stream jetstream.Stream
	for stream == nil { // the servers' JetStream elects its leaders first: polled until ctx ends
		cctx, cancelTry := context.WithTimeout(ctx, 2*time.Second)
		st, err := setup.CreateStream(cctx, jetstream.StreamConfig{Name: "firsts", Subjects: []string{"firsts.>"},
			Replicas: 3, AllowDirect: true, Storage: jetstream.FileStorage})
		cancelTry()
		switch {
		case err == nil:
			stream = st
		case ctx.Err() != nil:
			t.Fatalf("create the stream: %v", err)
		default:
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, m := range []struct{ subject, data string }{
		{"firsts.a", "a1"}, {"firsts.b", "b1"}, {"firsts.a", "a2"}, {"firsts.c", "c1"},
	} {
		if _, err := setup.Publish(ctx, m.subject, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	kept := nats.NewMsg("firsts.a")
	kept.Header.Set("X-Kept", "yes")
	kept.Data = []byte("a3")
	ack, err := setup.PublishMsg(ctx, kept)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject("firsts.a"), jetstream.WithPurgeSequence(ack.Sequence)); err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject("firsts.c")); err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var follower *server.Server
	for _, s := range servers {
		if s.Name() != info.Cluster.Leader {
			follower = s
		}
	}
	if follower == nil {
		t.Fatalf("no server other than the stream's leader %q", info.Cluster.Leader)
	}
	js := connectJS(t, follower)
	r := NewLeaderReader(js)

	type read func(context.Context, string, string) (*jetstream.RawStreamMsg, error)
	for _, tc := range []struct {
		name    string
		read    read
		stream  string
		subject string
		want    uint64 // the sequence; 0: an error
		wantErr error
	}{
		{name: "first of a subject whose first messages were purged", read: r.FirstMsg, stream: "firsts", subject: "firsts.a", want: ack.Sequence},
		{name: "first of a subject with one message", read: r.FirstMsg, stream: "firsts", subject: "firsts.b", want: 2},
		{name: "first of a subject purged whole", read: r.FirstMsg, stream: "firsts", subject: "firsts.c", wantErr: jetstream.ErrMsgNotFound},
		{name: "first of a subject never written", read: r.FirstMsg, stream: "firsts", subject: "firsts.d", wantErr: jetstream.ErrMsgNotFound},
		{name: "first in a stream that does not exist", read: r.FirstMsg, stream: "nothing", subject: "nothing.a", wantErr: jetstream.ErrStreamNotFound},
		{name: "last of a subject with several messages", read: r.LastMsg, stream: "firsts", subject: "firsts.a", want: ack.Sequence},
		{name: "last of a subject with one message", read: r.LastMsg, stream: "firsts", subject: "firsts.b", want: 2},
		{name: "last of a subject purged whole", read: r.LastMsg, stream: "firsts", subject: "firsts.c", wantErr: jetstream.ErrMsgNotFound},
		{name: "last of a subject never written", read: r.LastMsg, stream: "firsts", subject: "firsts.d", wantErr: jetstream.ErrMsgNotFound},
		{name: "last in a stream that does not exist", read: r.LastMsg, stream: "nothing", subject: "nothing.a", wantErr: jetstream.ErrStreamNotFound},
		{name: "last in a stream with no name", read: r.LastMsg, stream: "", subject: "firsts.a", wantErr: jetstream.ErrStreamNameRequired},
		{name: "last in a stream named with a wildcard", read: r.LastMsg, stream: "firsts.*", subject: "firsts.a", wantErr: jetstream.ErrInvalidStreamName},
		{name: "first in a stream named with a dot", read: r.FirstMsg, stream: "KV.x", subject: "firsts.a", wantErr: jetstream.ErrInvalidStreamName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := tc.read(ctx, tc.stream, tc.subject)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("read = %v, %v; want %v", msg, err, tc.wantErr)
				}
				return
			}
			if err != nil || msg.Sequence != tc.want || msg.Subject != tc.subject {
				t.Fatalf("read = %+v, %v; want %s at sequence %d", msg, err, tc.subject, tc.want)
			}
		})
	}
	first, err := r.FirstMsg(ctx, "firsts", "firsts.a")
	if err != nil {
		t.Fatal(err)
	}
	if string(first.Data) != "a3" || first.Header.Get("X-Kept") != "yes" || first.Time.IsZero() {
		t.Errorf("FirstMsg = data %q, headers %v, time %v; want a3 with X-Kept: yes, and a time", first.Data, first.Header, first.Time)
	}

	// The servers stop answering direct gets; the stream handle bound before does not know and still
	// sends them, which the stand-in answers with the purged first message.
	bound, err := js.Stream(ctx, "firsts")
	if err != nil {
		t.Fatal(err)
	}
	cfg := bound.CachedInfo().Config
	cfg.AllowDirect = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	behind, err := js.Conn().Subscribe("$JS.API.DIRECT.GET.firsts", func(m *nats.Msg) {
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set(jetstream.StreamHeader, "firsts")
		reply.Header.Set(jetstream.SubjectHeader, "firsts.a")
		reply.Header.Set(jetstream.SequenceHeader, "1")
		reply.Header.Set(jetstream.TimeStampHeaer, time.Now().UTC().Format(time.RFC3339Nano))
		reply.Data = []byte("a1")
		_ = m.RespondMsg(reply)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = behind.Unsubscribe() }()
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stand-in to be the only one answering direct gets", func() bool {
		return follower.GlobalAccount().Interest("$JS.API.DIRECT.GET.firsts") == 1
	})
	stale, err := bound.GetMsg(ctx, 1, jetstream.WithGetMsgSubject("firsts.a"))
	if err != nil || stale.Sequence != 1 {
		t.Fatalf("direct get through the replica behind = %v, %v; want the purged message at sequence 1", stale, err)
	}
	if got, err := r.FirstMsg(ctx, "firsts", "firsts.a"); err != nil || got.Sequence != ack.Sequence {
		t.Fatalf("FirstMsg beside the replica behind = %v, %v; want the leader's, at sequence %d", got, err, ack.Sequence)
	}
	if got, err := r.LastMsg(ctx, "firsts", "firsts.a"); err != nil || got.Sequence != ack.Sequence || string(got.Data) != "a3" || got.Header.Get("X-Kept") != "yes" {
		t.Fatalf("LastMsg beside the replica behind = %+v, %v; want the leader's a3 with its header, at sequence %d", got, err, ack.Sequence)
	}

	// The other two servers stop: the follower left has no leader to forward to, nor a quorum to elect
	// one. (Had it taken the lead meanwhile, it answers until it steps down for want of a quorum.)
	for _, s := range servers {
		if s != follower {
			s.Shutdown()
		}
	}
	waitFor(t, "FirstMsg to fail with no leader", func() bool {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		got, err := r.FirstMsg(short, "firsts", "firsts.a")
		if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) || err == nil && got.Sequence != ack.Sequence {
			t.Fatalf("FirstMsg with no quorum = %v, %v; want the leader's answer or an error that is neither no message nor no stream", got, err)
		}
		return err != nil
	})
}

// connectJS connects to s and opens JetStream, the connection closed when the test ends.
func connectJS(t *testing.T, s *server.Server) jetstream.JetStream {
	t.Helper()
	nc, err := Connect(ClientConfig{Embedded: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// waitFor polls cond every 10 ms until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
