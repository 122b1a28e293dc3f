// Package catalogtest is the conformance suite every catalog.Store runs: the single node's file in the
// data directory and the cluster's JetStream key-value bucket behave the same to the catalog.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// Opener returns two handles on one new, empty store, as two nodes (or two writers in one process) see
// it. They may be the same value.
type Opener func(t *testing.T) (a, b catalog.Store)

// Run runs the conformance suite against the stores open makes.
func Run(t *testing.T, open Opener) {
	t.Run("Empty", func(t *testing.T) {
		a, _ := open(t)
		e, err := a.Load(t.Context())
		if err != nil || e.Data != nil || e.Revision != 0 {
			t.Fatalf("Load of a new store = %q at %d, %v; want nothing at revision 0", e.Data, e.Revision, err)
		}
	})
	t.Run("CompareAndSet", func(t *testing.T) { compareAndSet(t, open) })
	t.Run("NoLostUpdates", func(t *testing.T) { noLostUpdates(t, open) })
	t.Run("Watch", func(t *testing.T) { watch(t, open) })
	t.Run("CorruptNewest", func(t *testing.T) { corruptNewest(t, open) })
}

// compareAndSet checks revisions: each save names the one it replaces, a stale one saves nothing.
func compareAndSet(t *testing.T, open Opener) {
	ctx := t.Context()
	a, b := open(t)
	r1, err := a.Save(ctx, []byte(`{"n":1}`), 0)
	if err != nil || r1 == 0 {
		t.Fatalf("first Save = %d, %v; want a revision above 0", r1, err)
	}
	if _, err := b.Save(ctx, []byte(`{"n":"lost"}`), 0); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("Save at revision 0 over revision %d: err = %v, want ErrConflict", r1, err)
	}
	r2, err := b.Save(ctx, []byte(`{"n":2}`), r1)
	if err != nil || r2 <= r1 {
		t.Fatalf("Save at %d = %d, %v; want a higher revision", r1, r2, err)
	}
	if _, err := a.Save(ctx, []byte(`{"n":"stale"}`), r1); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("Save at stale revision %d over %d: err = %v, want ErrConflict", r1, r2, err)
	}
	for name, s := range map[string]catalog.Store{"a": a, "b": b} {
		e, err := s.Load(ctx)
		if err != nil || string(e.Data) != `{"n":2}` || e.Revision != r2 {
			t.Errorf("%s: Load = %q at %d, %v; want {\"n\":2} at %d", name, e.Data, e.Revision, err, r2)
		}
	}
}

// noLostUpdates runs changes through two catalogs on the same store at once: each must be in the result,
// whichever writer won each compare-and-set.
func noLostUpdates(t *testing.T, open Opener) {
	ctx := t.Context()
	a, b := open(t)
	ca := openCatalog(t, a)
	cb := openCatalog(t, b)
	const each = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for w, c := range []*catalog.Catalog{ca, cb} {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%dapi%02d", w, i)
				errs <- c.Write(ctx, func(st *catalog.State) error {
					st.APIs = append(st.APIs, &catalog.API{API: MockAPI(id), Source: catalog.SourceAPI})
					return nil
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	c := openCatalog(t, a)
	c.Read(func(st *catalog.State) {
		if len(st.APIs) != 2*each {
			var ids []string
			for _, api := range st.APIs {
				ids = append(ids, api.APIID)
			}
			t.Fatalf("after %d writes through each of two catalogs the store holds %d APIs: %v", each, len(st.APIs), ids)
		}
	})
}

// watch checks that a store other processes write to brings their changes to every catalog running on it.
func watch(t *testing.T, open Opener) {
	a, b := open(t)
	if _, ok := a.(catalog.Watcher); !ok {
		t.Logf("%T is not a Watcher: a single writer's store has nothing to follow", a)
		return
	}
	ca := openCatalog(t, a)
	cb := openCatalog(t, b)
	runCatalog(t, ca)
	if err := cb.Write(t.Context(), func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: MockAPI("watched"), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, _ := cb.Revision()
	waitFor(t, "the other catalog to serve the change", func() bool {
		state, serving := ca.Revision()
		return state == want && serving == want
	})
	ca.Read(func(st *catalog.State) {
		if st.API("watched") == nil {
			t.Fatalf("catalog a serves revision %d without the API catalog b added in it", want)
		}
	})
}

// corruptNewest saves something that is not a catalog as the newest entry. A store that keeps history
// opens on the newest good revision and the next change replaces the bad one; one that does not refuses
// to open, saying why, rather than starting empty and losing the catalog.
func corruptNewest(t *testing.T, open Opener) {
	ctx := t.Context()
	a, b := open(t)
	ca := openCatalog(t, a)
	if err := ca.Write(ctx, func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: MockAPI("kept"), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rev, _ := ca.Revision()
	if _, err := b.Save(ctx, []byte(`{"version":1,"state":{"apis":[{"apiId":`), rev); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Open(ctx, catalog.Options{Store: b, Apply: compile}, nil)
	if _, ok := b.(catalog.Historian); !ok {
		if err == nil {
			t.Fatalf("%T keeps no history, yet Open of a corrupted catalog succeeded", b)
		}
		return
	}
	if err != nil {
		t.Fatalf("Open with a corrupted newest revision: %v", err)
	}
	c.Read(func(st *catalog.State) {
		if st.API("kept") == nil {
			t.Fatal("the catalog opened without the last good revision's API")
		}
	})
	if err := c.Write(ctx, func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: MockAPI("after"), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatalf("the change after a corrupted revision: %v", err)
	}
	openCatalog(t, a).Read(func(st *catalog.State) {
		if st.API("kept") == nil || st.API("after") == nil {
			t.Fatalf("the change did not replace the corrupted revision whole: %d APIs", len(st.APIs))
		}
	})
}

// MockAPI is a WebSocket API with one MOCK $default route and an autoDeploy stage "dev".
func MockAPI(id string) resource.API {
	return resource.API{
		APIID: id, Name: id, ProtocolType: resource.ProtocolWebSocket, RouteSelectionExpression: "$request.body.action",
		Integrations: []resource.Integration{{IntegrationID: "mock", IntegrationType: resource.IntegrationMock,
			RequestTemplates: map[string]string{"$default": `{"statusCode": 200}`}}},
		Routes: []resource.Route{{RouteID: "r1", RouteKey: "$default", Target: "integrations/mock"}},
		Stages: []resource.Stage{{StageName: "dev", AutoDeploy: true}},
	}
}

func compile(_ context.Context, b *resource.Bundle) error { _, err := snapshot.Compile(b); return err }

func openCatalog(t *testing.T, s catalog.Store) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Open(t.Context(), catalog.Options{Store: s, Apply: compile}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

// runCatalog runs c.Run until the test ends.
func runCatalog(t *testing.T, c *catalog.Catalog) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
