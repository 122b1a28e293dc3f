package membership

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// Concurrent handshakes' records go out in batches: each Record returns once its own record is stored,
// with its own revision, and Forget deletes it at that revision (running $disconnect once). A record
// whose key exists is refused, as KeyValue.Create refuses it.
func TestConcurrentRecordsAreStoredEach(t *testing.T) {
	s := startServer(t)
	n := runNode(t, s, 1)
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	ctx := context.Background()
	const count = 300
	ids := make([]string, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = fmt.Sprintf("id%013d=", i)
		wg.Go(func() { errs[i] = n.m.Record(ctx, ids[i], []byte("rec "+ids[i])) })
	}
	wg.Wait()
	js, err := jetstream.New(connect(t, s))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "KV_"+RecordsBucket)
	if err != nil {
		t.Fatal(err)
	}
	revs := map[uint64]bool{}
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("Record %s: %v", id, errs[i])
		}
		msg, err := stream.GetLastMsgForSubject(ctx, "$KV."+RecordsBucket+".c.1."+n.m.incarnationNow()+"."+id)
		if err != nil {
			t.Fatalf("record of %s: %v", id, err)
		}
		if string(msg.Data) != "rec "+id || revs[msg.Sequence] {
			t.Fatalf("record of %s: %q at revision %d (seen: %v)", id, msg.Data, msg.Sequence, revs[msg.Sequence])
		}
		revs[msg.Sequence] = true
	}
	if err := n.m.Record(ctx, ids[0], []byte("again")); err == nil {
		t.Fatal("a second record under an existing key was accepted")
	}
	ran := 0
	for _, id := range ids {
		n.m.Forget(ctx, id, func() { ran++ })
	}
	if ran != count {
		t.Fatalf("$disconnect ran %d times for %d forgotten records", ran, count)
	}
}

// Once the membership has stopped, Record fails at once instead of waiting.
func TestRecordAfterStopFails(t *testing.T) {
	s := startServer(t)
	n := runNode(t, s, 1)
	eventually(t, func() bool { return n.m.Status() == "" }, "the node did not join")
	n.stop()
	if err := n.m.Record(context.Background(), "DDDDDDDDDDDDDDD=", []byte("rec")); err == nil {
		t.Fatal("Record after the membership stopped succeeded")
	}
}
