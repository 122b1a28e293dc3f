package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// replicaStore is a Store and Watcher shaped like a JetStream bucket with replicas: Save is the stream
// leader's compare-and-set, Load is a direct get that any replica answers — here one behind by `behind`
// revisions — and LoadLatest is a read the leader answers. Watch delivers what the test sends on deliver
// and acknowledges each entry on handled once the catalog is done with it.
type replicaStore struct {
	mu          sync.Mutex
	entries     []catalog.Entry // every revision the leader holds, oldest first; revision n is entries[n-1]
	behind      int             // how many of the newest revisions Load's replica has not applied
	leaderErr   error           // when set, LoadLatest fails with it
	leaderReads int

	deliver chan catalog.Entry
	handled chan struct{}
}

func newReplicaStore() *replicaStore {
	return &replicaStore{deliver: make(chan catalog.Entry), handled: make(chan struct{})}
}

func (s *replicaStore) Load(context.Context) (catalog.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.entries) - s.behind; n > 0 {
		return s.entries[n-1], nil
	}
	return catalog.Entry{}, nil
}

func (s *replicaStore) LoadLatest(context.Context) (catalog.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaderReads++
	if s.leaderErr != nil {
		return catalog.Entry{}, s.leaderErr
	}
	if n := len(s.entries); n > 0 {
		return s.entries[n-1], nil
	}
	return catalog.Entry{}, nil
}

func (s *replicaStore) Save(_ context.Context, data []byte, revision uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if revision != uint64(len(s.entries)) {
		return 0, fmt.Errorf("the leader holds revision %d, not %d: %w", len(s.entries), revision, catalog.ErrConflict)
	}
	s.entries = append(s.entries, catalog.Entry{Data: bytes.Clone(data), Revision: revision + 1})
	return revision + 1, nil
}

func (s *replicaStore) Watch(ctx context.Context, fn func(catalog.Entry)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-s.deliver:
			fn(e)
			s.handled <- struct{}{}
		}
	}
}

// entry returns the revision rev the leader holds.
func (s *replicaStore) entry(t *testing.T, rev uint64) catalog.Entry {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev == 0 || rev > uint64(len(s.entries)) {
		t.Fatalf("the store holds %d revisions, not %d", len(s.entries), rev)
	}
	return s.entries[rev-1]
}

// watchDelivers has the catalog's watch deliver e and waits until the catalog has handled it.
func (s *replicaStore) watchDelivers(t *testing.T, e catalog.Entry) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case s.deliver <- e:
	case <-deadline.C:
		t.Fatal("the catalog is not watching the store")
	}
	select {
	case <-s.handled:
	case <-deadline.C:
		t.Fatalf("the catalog did not handle revision %d", e.Revision)
	}
}

// hasStage reports whether the catalog's API id has the stage called name.
func hasStage(c *catalog.Catalog, id, name string) bool {
	found := false
	c.Read(func(st *catalog.State) {
		if a := st.API(id); a != nil {
			found = a.Stage(name) != nil
		}
	})
	return found
}

// TestWatchDeliversAnOlderRevision: the watch delivers a revision older than the catalog's (one of this
// node's own saves, echoed late), and the check of what the store holds now is answered by a replica that
// has not applied the newest revision. Taking that answer for a store that lost the catalog put the node
// back on an older catalog: a stage just made through it was gone from its next answer (404 on
// CreateDeployment, once in TestClusterSharedCatalog). The store's leader decides; only a loss it confirms
// is adopted, and a check that cannot be made leaves the catalog as it is, logged.
func TestWatchDeliversAnOlderRevision(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after sets the store up once the catalog holds revision 3 (API "made" with stage "dev",
		// which revision 2 lacks) and returns the revision the watch delivers.
		after       func(s *replicaStore) uint64
		wantRev     uint64
		wantDev     bool
		wantLeader  bool   // whether the leader must have been asked
		wantLogged  string // a log line the catalog must write
		notInTheLog string
	}{{
		name:        "a replica one revision behind",
		after:       func(s *replicaStore) uint64 { s.behind = 1; return 2 },
		wantRev:     3,
		wantDev:     true,
		wantLeader:  true,
		notInTheLog: "lost the catalog",
	}, {
		name:        "a replica up to date",
		after:       func(s *replicaStore) uint64 { return 2 },
		wantRev:     3,
		wantDev:     true,
		notInTheLog: "lost the catalog",
	}, {
		name: "the store lost revisions 2 and 3",
		after: func(s *replicaStore) uint64 {
			s.entries = s.entries[:1]
			return 1
		},
		wantRev:    1,
		wantDev:    false,
		wantLeader: true,
		wantLogged: "lost the catalog",
	}, {
		name: "the leader cannot be asked",
		after: func(s *replicaStore) uint64 {
			s.behind, s.leaderErr = 1, fmt.Errorf("no stream leader: %w", catalog.ErrUnavailable)
			return 2
		},
		wantRev:    3,
		wantDev:    true,
		wantLeader: true,
		wantLogged: "no stream leader",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			store := newReplicaStore()
			plane := &dataPlane{}
			c, err := catalog.Open(t.Context(), catalog.Options{Store: store, Apply: plane.apply,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			if err := c.Write(t.Context(), func(st *catalog.State) error {
				st.APIs = append(st.APIs, &catalog.API{API: mockAPI("made", "$default"), Source: catalog.SourceAPI})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := c.Write(t.Context(), func(st *catalog.State) error {
				a := st.API("made")
				a.Stages = append(a.Stages, resource.Stage{StageName: "dev", AutoDeploy: true})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if rev, _ := c.Revision(); rev != 3 || !hasStage(c, "made", "dev") {
				t.Fatalf("after two changes the catalog is at revision %d (stage dev: %t), want 3 with it", rev, hasStage(c, "made", "dev"))
			}

			store.mu.Lock()
			delivered := tc.after(store)
			store.mu.Unlock()
			store.watchDelivers(t, store.entry(t, delivered))

			rev, serving := c.Revision()
			if rev != tc.wantRev || serving != tc.wantRev {
				t.Errorf("after the watch delivered revision %d: state at %d, serving %d; want %d", delivered, rev, serving, tc.wantRev)
			}
			if got := hasStage(c, "made", "dev"); got != tc.wantDev {
				t.Errorf("stage dev in the catalog: %t, want %t", got, tc.wantDev)
			}
			if served := servedAPI(plane.last(t), "made"); tc.wantDev && served == nil {
				t.Error("the data plane does not serve API made")
			} else if tc.wantDev && !slices.Equal(stageNames(served), []string{"dev"}) {
				t.Errorf("the data plane serves API made with stages %v, want [dev]", stageNames(served))
			}
			store.mu.Lock()
			asked := store.leaderReads > 0
			store.mu.Unlock()
			if asked != tc.wantLeader {
				t.Errorf("the store's leader was asked: %t, want %t", asked, tc.wantLeader)
			}
			if tc.wantLogged != "" && !strings.Contains(logs.String(), tc.wantLogged) {
				t.Errorf("the log does not say %q:\n%s", tc.wantLogged, logs.String())
			}
			if tc.notInTheLog != "" && strings.Contains(logs.String(), tc.notInTheLog) {
				t.Errorf("the log says %q:\n%s", tc.notInTheLog, logs.String())
			}
		})
	}
}

// TestConflictWhileAReplicaIsBehind: a change loses the compare-and-set to another node's, and the
// reload before running it again is answered by a replica behind the revision the catalog holds. That
// is not a store that lost the catalog: the catalog asks the leader, takes the other node's revision and
// saves the change on it (it used to take the replica's older revision number, lose every retry and
// answer ConflictException).
func TestConflictWhileAReplicaIsBehind(t *testing.T) {
	var logs syncBuffer
	store := newReplicaStore()
	c, err := catalog.Open(t.Context(), catalog.Options{Store: store, Apply: (&dataPlane{}).apply,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := catalog.Open(t.Context(), catalog.Options{Store: store, Apply: (&dataPlane{}).apply}, nil)
	if err != nil {
		t.Fatal(err)
	}
	controlAPI(t, c, t0, "mine", "$default")
	controlAPI(t, other, t0, "theirs", "$default") // another node's change: c is behind it now
	store.mu.Lock()
	store.behind = 2 // the replica Load reads has neither change
	store.mu.Unlock()

	controlAPI(t, c, t0, "next", "$default")
	st := read(t, c)
	if st.API("mine") == nil || st.API("theirs") == nil || st.API("next") == nil {
		t.Fatalf("the catalog holds %d APIs, want mine, theirs and next", len(st.APIs))
	}
	if strings.Contains(logs.String(), "lost the catalog") {
		t.Fatalf("a replica behind was taken for a store that lost the catalog:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer for log lines written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestJoinWhileAReplicaIsBehind: a node joining the shared catalog reads it with a direct get, which a
// replica that has not applied the newest revision answers too. When the node's configuration changes
// nothing (no save, so no compare-and-set to lose), it served that older revision — without a stage
// another node had just made — from the moment it joined until its watch delivered the newest. A join
// has nothing to compare an answer against, so it asks the store's leader; one that does not answer
// leaves the replica's answer, logged, for the watch to bring the newest.
func TestJoinWhileAReplicaIsBehind(t *testing.T) {
	for _, tc := range []struct {
		name       string
		leaderErr  error
		wantRev    uint64
		wantLogged string
	}{
		{name: "the leader answers", wantRev: 3},
		{name: "the leader does not answer", leaderErr: fmt.Errorf("no stream leader: %w", catalog.ErrUnavailable), wantRev: 2,
			wantLogged: "no stream leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newReplicaStore()
			other, err := catalog.Open(t.Context(), catalog.Options{Store: store, Apply: (&dataPlane{}).apply}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Write(t.Context(), func(st *catalog.State) error {
				st.APIs = append(st.APIs, &catalog.API{API: mockAPI("made", "$default"), Source: catalog.SourceAPI})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := other.Write(t.Context(), func(st *catalog.State) error {
				a := st.API("made")
				a.Stages = append(a.Stages, resource.Stage{StageName: "dev", AutoDeploy: true})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if rev, _ := other.Revision(); rev != 3 {
				t.Fatalf("the other node's catalog is at revision %d, want 3", rev)
			}
			store.mu.Lock()
			store.behind, store.leaderErr = 1, tc.leaderErr
			store.mu.Unlock()

			var logs syncBuffer
			plane := &dataPlane{}
			c, err := catalog.Open(t.Context(), catalog.Options{Joining: true, Apply: plane.apply,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Join(t.Context(), store); err != nil {
				t.Fatalf("Join: %v", err)
			}
			if rev, serving := c.Revision(); rev != tc.wantRev || serving != tc.wantRev {
				t.Errorf("after joining: state at revision %d, serving %d; want %d", rev, serving, tc.wantRev)
			}
			if got, want := hasStage(c, "made", "dev"), tc.wantRev == 3; got != want {
				t.Errorf("stage dev in the joined catalog: %t, want %t", got, want)
			}
			if tc.wantLogged != "" && !strings.Contains(logs.String(), tc.wantLogged) {
				t.Errorf("the log does not say %q:\n%s", tc.wantLogged, logs.String())
			}
			store.mu.Lock()
			asked := store.leaderReads
			store.mu.Unlock()
			if asked != 1 {
				t.Errorf("the store's leader was asked %d times, want once", asked)
			}
		})
	}
}
