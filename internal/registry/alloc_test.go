package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/racebuild"
)

// discardSession takes every message and keeps none, so that counting allocations counts the registry's.
type discardSession struct{ scope Scope }

func (d discardSession) Send([]byte) error   { return nil }
func (d discardSession) Info() (Info, error) { return Info{}, nil }
func (d discardSession) Disconnect() error   { return nil }
func (d discardSession) Scope() Scope        { return d.scope }

// maxAllocsPerForwardedSend bounds the allocations of one Send to another node's connection over the
// in-process bus: the envelope's encoding and decoding on both sides. It was 20 while the owner
// encoded every answer with encoding/json and the sender decoded it the same way; 15 since a delivered
// message is answered with the fixed bytes okReply and recognised by them.
const maxAllocsPerForwardedSend = 16

// TestForwardedSendAllocations holds a forwarded Send's allocations under maxAllocsPerForwardedSend.
func TestForwardedSendAllocations(t *testing.T) {
	r1, r2 := twoNodes(t)
	scope := Scope{APIID: "api1", Stage: "dev"}
	id := r2.NewConnectionID()
	r2.Register(id, discardSession{scope: scope})
	data := bytes.Repeat([]byte("x"), 100)
	var err error
	allocs := testing.AllocsPerRun(1000, func() {
		if e := r1.Send(context.Background(), scope, id, data); e != nil {
			err = e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	limit := float64(maxAllocsPerForwardedSend)
	if racebuild.Enabled {
		limit += 3
	}
	t.Logf("%.1f allocations per forwarded Send", allocs)
	if allocs > limit {
		t.Errorf("%.1f allocations per forwarded Send, want at most %v", allocs, limit)
	}
}

// TestOKReplyIsWhatEveryVersionSends checks that the fixed answer to a delivered operation is what
// encoding/json makes of an empty reply, so nodes of earlier versions (which decode it) and later ones
// (which compare it) understand each other during an upgrade.
func TestOKReplyIsWhatEveryVersionSends(t *testing.T) {
	enc, err := json.Marshal(reply{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, okReply) {
		t.Errorf("an empty reply encodes as %s, okReply is %s", enc, okReply)
	}
	var rep reply
	if err := json.Unmarshal(okReply, &rep); err != nil || rep.Err != "" || rep.Info != nil {
		t.Errorf("okReply decodes as %+v, %v", rep, err)
	}
}
