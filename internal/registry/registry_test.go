package registry

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/membus"
)

type fakeSession struct {
	scope Scope
	full  bool

	mu           sync.Mutex
	got          [][]byte
	disconnected bool
}

func (f *fakeSession) Send(data []byte) error {
	if f.full {
		return ErrQueueFull
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, data)
	return nil
}
func (f *fakeSession) Info() (Info, error) {
	return Info{ConnectedAt: time.UnixMilli(1700000000123).UTC(), SourceIP: "127.0.0.1", UserAgent: "ua"}, nil
}
func (f *fakeSession) Disconnect() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnected = true
	return nil
}
func (f *fakeSession) Scope() Scope { return f.scope }

// cluster of two registries on one in-process hub; the test talks to node 1 only.
func twoNodes(t *testing.T) (*Registry, *Registry) {
	t.Helper()
	hub := membus.NewHub()
	r1, r2 := New(1, nil), New(2, nil)
	for _, r := range []*Registry{r1, r2} {
		bus, detach, err := hub.Attach(r.Node(), r.Handle)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(detach)
		r.SetBus(bus)
	}
	return r1, r2
}

func TestOperationsLocalAndRemote(t *testing.T) {
	r1, r2 := twoNodes(t)
	ctx := context.Background()
	scope := Scope{APIID: "api1", Stage: "dev"}
	for _, tc := range []struct {
		name  string
		owner *Registry
	}{{"local", r1}, {"remote", r2}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeSession{scope: scope}
			id := tc.owner.NewConnectionID()
			tc.owner.Register(id, s)
			if err := r1.Send(ctx, scope, id, []byte("hello")); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if err := r1.Send(ctx, Scope{Stage: "dev"}, id, []byte("any api")); err != nil {
				t.Fatalf("Send with stage-only scope: %v", err)
			}
			if len(s.got) != 2 || string(s.got[0]) != "hello" {
				t.Fatalf("session got %q", s.got)
			}
			info, err := r1.Info(ctx, scope, id)
			if err != nil || info.SourceIP != "127.0.0.1" || info.ConnectedAt.UnixMilli() != 1700000000123 {
				t.Fatalf("Info = %+v, %v", info, err)
			}
			if err := r1.Send(ctx, Scope{APIID: "api1", Stage: "prod"}, id, nil); !errors.Is(err, ErrGone) {
				t.Fatalf("other stage: err = %v, want ErrGone", err)
			}
			if err := r1.Disconnect(ctx, scope, id); err != nil || !s.disconnected {
				t.Fatalf("Disconnect: %v, disconnected=%v", err, s.disconnected)
			}
			tc.owner.Unregister(id)
			if err := r1.Send(ctx, scope, id, nil); !errors.Is(err, ErrGone) {
				t.Fatalf("after unregister: err = %v, want ErrGone", err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	r1, r2 := twoNodes(t)
	ctx := context.Background()
	scope := Scope{Stage: "dev"}
	full := &fakeSession{scope: scope, full: true}
	remoteFull := r2.NewConnectionID()
	r2.Register(remoteFull, full)
	cases := []struct {
		name string
		id   string
		want error
	}{
		{"malformed", "not-an-id", ErrMalformedID},
		{"unknown local", r1.NewConnectionID(), ErrGone},
		{"unknown node", New(7, nil).NewConnectionID(), ErrGone},
		{"queue full on remote node", remoteFull, ErrQueueFull},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := r1.Send(ctx, scope, tc.id, []byte("x")); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDisabledDefaultEndpoint: a connection of an API whose default endpoint is disabled is out of reach
// of the stage-only endpoint scope (a default endpoint form) with ForbiddenException's sentinel, on the
// owning node and across the bus, while scopes naming its API (a custom domain's) still reach it.
func TestDisabledDefaultEndpoint(t *testing.T) {
	r1, r2 := twoNodes(t)
	ctx := context.Background()
	closed := Scope{APIID: "closed", Stage: "dev", DefaultEndpointDisabled: true}
	for _, tc := range []struct {
		name  string
		owner *Registry
	}{{"local", r1}, {"remote", r2}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeSession{scope: closed}
			id := tc.owner.NewConnectionID()
			tc.owner.Register(id, s)
			t.Cleanup(func() { tc.owner.Unregister(id) })
			for _, c := range []struct {
				name  string
				scope Scope
				want  error
			}{
				{"stage alone", Scope{Stage: "dev"}, ErrForbidden},
				{"stage alone, other stage", Scope{Stage: "prod"}, ErrGone},
				{"its API", Scope{APIID: "closed", Stage: "dev"}, nil},
				{"another API", Scope{APIID: "open", Stage: "dev"}, ErrGone},
			} {
				if err := r1.Send(ctx, c.scope, id, []byte(c.name)); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
					t.Errorf("%s: Send = %v, want %v", c.name, err, c.want)
				}
				if _, err := r1.Info(ctx, c.scope, id); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
					t.Errorf("%s: Info = %v, want %v", c.name, err, c.want)
				}
			}
			if len(s.got) != 1 || string(s.got[0]) != "its API" {
				t.Fatalf("delivered %q, want only the message sent through the API's own scope", s.got)
			}
		})
	}
}

// SendAll reaches every live node's connections of the scope, and reports the full ones wherever they are.
func TestSendAllAcrossNodes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		nodes     []cluster.NodeID // what the membership says is alive
		wantSent  int
		wantErr   bool
		wantFails int
	}{
		{"alone (no membership)", nil, 1, false, 0},
		{"both nodes alive", []cluster.NodeID{1, 2}, 2, false, 1},
		{"a node that is gone meanwhile is skipped", []cluster.NodeID{1, 2, 7}, 2, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r1, r2 := twoNodes(t)
			if tc.nodes != nil {
				r1.SetNodes(func() []cluster.NodeID { return tc.nodes })
			}
			dev := Scope{APIID: "a", Stage: "dev"}
			s1, s2 := &fakeSession{scope: dev}, &fakeSession{scope: dev}
			r1.Register(r1.NewConnectionID(), s1)
			r2.Register(r2.NewConnectionID(), s2)
			r2.Register(r2.NewConnectionID(), &fakeSession{scope: dev, full: true})
			r2.Register(r2.NewConnectionID(), &fakeSession{scope: Scope{APIID: "a", Stage: "prod"}})
			sent, failed, err := r1.SendAll(context.Background(), dev, []byte("hi"))
			if (err != nil) != tc.wantErr || sent != tc.wantSent || len(failed) != tc.wantFails {
				t.Fatalf("SendAll = %d, %v, %v; want %d sent, %d failed", sent, failed, err, tc.wantSent, tc.wantFails)
			}
			for id, e := range failed {
				if !errors.Is(e, ErrQueueFull) {
					t.Errorf("%s: %v, want ErrQueueFull", id, e)
				}
			}
		})
	}
}

// A node that does not answer makes SendAll an error, with what the others did.
func TestSendAllReportsUnreachableNode(t *testing.T) {
	r1 := New(1, failingBus{})
	r1.SetNodes(func() []cluster.NodeID { return []cluster.NodeID{1, 2} })
	r1.Register(r1.NewConnectionID(), &fakeSession{scope: Scope{Stage: "dev"}})
	sent, _, err := r1.SendAll(context.Background(), Scope{Stage: "dev"}, []byte("x"))
	if sent != 1 || err == nil {
		t.Fatalf("SendAll = %d, %v; want 1 sent and an error", sent, err)
	}
}

type failingBus struct{}

func (failingBus) Request(context.Context, cluster.NodeID, []byte) ([]byte, error) {
	return nil, errors.New("the cluster is unreachable")
}

// List merges every node's ID-ordered page: each page is the cluster's next limit IDs, and paging with
// the last ID listed walks them all once, in order.
func TestListAcrossNodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []cluster.NodeID // what the membership says is alive
		scope Scope
		limit int
		want  int // connections listed over all pages
	}{
		{"alone (no membership)", nil, Scope{APIID: "a", Stage: "dev"}, 2, 3},
		{"both nodes, pages of one", []cluster.NodeID{1, 2}, Scope{APIID: "a", Stage: "dev"}, 1, 7},
		{"both nodes, pages of three", []cluster.NodeID{1, 2}, Scope{APIID: "a", Stage: "dev"}, 3, 7},
		{"both nodes, one page", []cluster.NodeID{1, 2}, Scope{APIID: "a", Stage: "dev"}, 100, 7},
		{"a node gone meanwhile is skipped", []cluster.NodeID{1, 2, 7}, Scope{APIID: "a", Stage: "dev"}, 2, 7},
		{"the operator's scope sees every stage", []cluster.NodeID{1, 2}, Scope{All: true}, 4, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r1, r2 := twoNodes(t)
			if tc.nodes != nil {
				r1.SetNodes(func() []cluster.NodeID { return tc.nodes })
			}
			dev := Scope{APIID: "a", Stage: "dev"}
			for range 3 {
				r1.Register(r1.NewConnectionID(), &fakeSession{scope: dev})
			}
			for range 4 {
				r2.Register(r2.NewConnectionID(), &fakeSession{scope: dev})
			}
			r1.Register(r1.NewConnectionID(), &fakeSession{scope: Scope{APIID: "a", Stage: "prod"}})
			r2.Register(r2.NewConnectionID(), &fakeSession{scope: Scope{APIID: "b", Stage: "dev"}})
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > tc.want {
					t.Fatalf("more pages than connections: %v", got)
				}
				page, more, err := r1.List(context.Background(), tc.scope, after, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > tc.limit || (more && len(page) != tc.limit) {
					t.Fatalf("page of %d (more %v) with limit %d", len(page), more, tc.limit)
				}
				for _, l := range page {
					if l.Info.SourceIP != "127.0.0.1" || !tc.scope.Contains(l.Scope) {
						t.Fatalf("listed %+v", l)
					}
					got = append(got, l.ID)
				}
				if !more {
					break
				}
				after = page[len(page)-1].ID
			}
			if len(got) != tc.want || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Fatalf("listed %d (%v), want %d distinct in ID order", len(got), got, tc.want)
			}
		})
	}
}

// A node that does not answer makes List an error rather than a page with holes.
func TestListReportsUnreachableNode(t *testing.T) {
	r1 := New(1, failingBus{})
	r1.SetNodes(func() []cluster.NodeID { return []cluster.NodeID{1, 2} })
	r1.Register(r1.NewConnectionID(), &fakeSession{scope: Scope{Stage: "dev"}})
	if page, _, err := r1.List(context.Background(), Scope{Stage: "dev"}, "", 10); err == nil {
		t.Fatalf("List = %v, nil; want an error", page)
	}
}
