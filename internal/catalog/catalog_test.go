package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// t0 is when every test's clock starts.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake Options.Now that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// advance moves the clock by d and returns the new time.
func (c *clock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// dataPlane stands in for the gateway: it compiles every bundle it is given, as the gateway does, and
// records the ones it accepted.
type dataPlane struct {
	mu     sync.Mutex
	served []*resource.Bundle
	fail   error // when set, Apply fails with it
}

func (p *dataPlane) apply(_ context.Context, b *resource.Bundle) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	if _, err := snapshot.Compile(b); err != nil {
		return err
	}
	p.served = append(p.served, b)
	return nil
}

// last returns the bundle served now.
func (p *dataPlane) last(t *testing.T) *resource.Bundle {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.served) == 0 {
		t.Fatal("nothing served")
	}
	return p.served[len(p.served)-1]
}

func (p *dataPlane) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.served)
}

// memStore is an in-memory Store that counts saves and can be told to fail. Its revision counts saves.
type memStore struct {
	mu    sync.Mutex
	data  []byte
	rev   uint64
	saves int
	fail  error
}

func (s *memStore) Load(context.Context) (catalog.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return catalog.Entry{Data: bytes.Clone(s.data), Revision: s.rev}, nil
}

func (s *memStore) Save(_ context.Context, data []byte, revision uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	if revision != s.rev {
		return 0, fmt.Errorf("memStore at %d, not %d: %w", s.rev, revision, catalog.ErrConflict)
	}
	s.data = bytes.Clone(data)
	s.saves++
	s.rev++
	return s.rev, nil
}

func (s *memStore) snapshot() ([]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.data), s.saves
}

// env is a catalog under test with its fake clock, data plane and store.
type env struct {
	clock *clock
	plane *dataPlane
	store *memStore
}

func newEnv() *env { return &env{clock: newClock(), plane: &dataPlane{}, store: &memStore{}} }

func (e *env) options() catalog.Options {
	return catalog.Options{Store: e.store, Apply: e.plane.apply, Now: e.clock.Now}
}

func (e *env) open(t *testing.T, config *resource.Bundle) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Open(t.Context(), e.options(), config)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

// mockAPI is a WebSocket API whose routes all target one MOCK integration.
func mockAPI(id string, routeKeys ...string) resource.API {
	a := resource.API{
		APIID: id, Name: id, ProtocolType: resource.ProtocolWebSocket, RouteSelectionExpression: "$request.body.action",
		Integrations: []resource.Integration{{IntegrationID: "mock", IntegrationType: resource.IntegrationMock,
			RequestTemplates: map[string]string{"$default": `{"statusCode": 200}`}}},
	}
	for _, k := range routeKeys {
		a.Routes = append(a.Routes, resource.Route{RouteKey: k, Target: "integrations/mock",
			RouteResponses: []resource.RouteResponse{{RouteResponseKey: "$default"}}})
	}
	return a
}

// configBundle is a configuration file's content: two APIs and a custom domain.
func configBundle() *resource.Bundle {
	chat := mockAPI("chat", "$connect", "$default")
	chat.Stages = []resource.Stage{{StageName: "dev", StageVariables: map[string]string{"v": "1"}}, {StageName: "prod"}}
	echo := mockAPI("echo", "$default")
	echo.Stages = []resource.Stage{{StageName: "live"}}
	return &resource.Bundle{
		APIs: []resource.API{chat, echo},
		DomainNames: []resource.DomainName{{DomainName: "chat.example.com",
			APIMappings: []resource.APIMapping{{APIID: "chat", Stage: "dev", APIMappingKey: "v1"}}}},
	}
}

// controlAPI adds an API the way the control plane does: Source api, an autoDeploy stage "auto".
func controlAPI(t *testing.T, c *catalog.Catalog, now time.Time, id string, routeKeys ...string) {
	t.Helper()
	err := c.Write(t.Context(), func(st *catalog.State) error {
		a := &catalog.API{API: mockAPI(id, routeKeys...), Source: catalog.SourceAPI, CreatedDate: now}
		a.Stages = []resource.Stage{{StageName: "auto", AutoDeploy: true}}
		a.StageDates = map[string]catalog.Dates{"auto": {CreatedDate: now, LastUpdatedDate: now}}
		st.APIs = append(st.APIs, a)
		return nil
	})
	if err != nil {
		t.Fatalf("add API %s: %v", id, err)
	}
}

// read returns a deep copy of the catalog's current state.
func read(t *testing.T, c *catalog.Catalog) *catalog.State {
	t.Helper()
	var out catalog.State
	c.Read(func(st *catalog.State) {
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
	})
	return &out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mustAPI(t *testing.T, st *catalog.State, id string) *catalog.API {
	t.Helper()
	a := st.API(id)
	if a == nil {
		t.Fatalf("API %s is missing", id)
	}
	return a
}

func servedAPI(b *resource.Bundle, id string) *resource.API {
	for i := range b.APIs {
		if b.APIs[i].APIID == id {
			return &b.APIs[i]
		}
	}
	return nil
}

func stageNames(a *resource.API) []string {
	var names []string
	for _, s := range a.Stages {
		names = append(names, s.StageName)
	}
	slices.Sort(names)
	return names
}

func routeKeys(routes []resource.Route) []string {
	var keys []string
	for _, r := range routes {
		keys = append(keys, r.RouteKey)
	}
	slices.Sort(keys)
	return keys
}

func TestOpenServesConfig(t *testing.T) {
	e := newEnv()
	config := configBundle()
	given := mustJSON(t, config)
	c := e.open(t, config)

	if got := mustJSON(t, config); got != given {
		t.Errorf("Open changed the caller's bundle:\n%s\nwas\n%s", got, given)
	}
	st := read(t, c)
	served := e.plane.last(t)
	for _, tc := range []struct {
		name   string
		api    string
		stages []string
		routes []string
	}{
		{name: "chat", api: "chat", stages: []string{"dev", "prod"}, routes: []string{"$connect", "$default"}},
		{name: "echo", api: "echo", stages: []string{"live"}, routes: []string{"$default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustAPI(t, st, tc.api)
			if a.Source != catalog.SourceConfig || !a.CreatedDate.Equal(t0) {
				t.Errorf("source %q created %v, want config at %v", a.Source, a.CreatedDate, t0)
			}
			if len(a.Deployments) != 1 || !a.Deployments[0].AutoDeployed {
				t.Fatalf("deployments %+v, want one automatic deployment", a.Deployments)
			}
			dep := a.Deployments[0]
			if got := routeKeys(dep.Routes); !slices.Equal(got, tc.routes) {
				t.Errorf("deployment routes %v, want %v", got, tc.routes)
			}
			if !a.DeploymentDates[dep.DeploymentID].Equal(t0) {
				t.Errorf("deployment date %v, want %v", a.DeploymentDates[dep.DeploymentID], t0)
			}
			for _, s := range a.Stages {
				if !s.AutoDeploy || s.DeploymentID != dep.DeploymentID {
					t.Errorf("stage %s: autoDeploy %v deployment %q, want autoDeploy to %q", s.StageName, s.AutoDeploy, s.DeploymentID, dep.DeploymentID)
				}
				if d := a.StageDates[s.StageName]; !d.CreatedDate.Equal(t0) || !d.LastUpdatedDate.Equal(t0) {
					t.Errorf("stage %s dates %+v, want %v", s.StageName, d, t0)
				}
			}

			sa := servedAPI(served, tc.api)
			if sa == nil {
				t.Fatalf("API %s not served", tc.api)
			}
			if got := stageNames(sa); !slices.Equal(got, tc.stages) {
				t.Errorf("served stages %v, want %v", got, tc.stages)
			}
			for _, s := range sa.Stages {
				if s.DeploymentID != dep.DeploymentID {
					t.Errorf("served stage %s points at %q, want %q", s.StageName, s.DeploymentID, dep.DeploymentID)
				}
			}
		})
	}
	if d := st.DomainName("chat.example.com"); d == nil || d.Source != catalog.SourceConfig || len(d.APIMappings) != 1 || d.APIMappings[0].APIMappingID == "" {
		t.Errorf("domain %+v, want the config domain with one mapping with an id", d)
	}
	if len(served.DomainNames) != 1 || len(served.DomainNames[0].APIMappings) != 1 {
		t.Errorf("served domains %+v, want chat.example.com with its mapping", served.DomainNames)
	}
	if _, saves := e.store.snapshot(); saves != 1 {
		t.Errorf("%d saves after Open, want 1", saves)
	}
}

func TestOpenErrors(t *testing.T) {
	cases := []struct {
		name   string
		stored string
		config *resource.Bundle
		apply  error
	}{
		{name: "stored file is not JSON", stored: `{"version":1,"state":{"apis":[`},
		{name: "stored format version unknown", stored: `{"version":2,"state":{"apis":[]}}`},
		{name: "config does not compile", config: &resource.Bundle{APIs: []resource.API{{APIID: "bad", Name: "bad", ProtocolType: "GRPC", Stages: []resource.Stage{{StageName: "s"}}}}}},
		{name: "config declares an apiId twice", config: &resource.Bundle{APIs: []resource.API{mockAPI("twin", "$default"), mockAPI("twin", "$default")}}},
		{name: "data plane refuses", apply: errors.New("refused")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv()
			e.store.data = []byte(tc.stored)
			if tc.stored == "" {
				e.store.data = nil
			}
			e.plane.fail = tc.apply
			if _, err := catalog.Open(t.Context(), e.options(), tc.config); err == nil {
				t.Fatal("Open succeeded")
			}
			if data, saves := e.store.snapshot(); saves != 0 || string(data) != tc.stored {
				t.Errorf("store written (%d saves): %s", saves, data)
			}
		})
	}
}

// TestWriteFailureChangesNothing checks that a Write that fails anywhere — in fn, in compiling, in the data
// plane, in the store — leaves the state, the store and what is served as they were.
func TestWriteFailureChangesNothing(t *testing.T) {
	errFn := errors.New("fn refused")
	errApply := errors.New("data plane refused")
	errSave := errors.New("disk full")
	cases := []struct {
		name    string
		fn      func(st *catalog.State) error
		apply   error
		save    error
		wantErr func(error) bool
	}{
		{name: "fn fails after changing the state",
			fn: func(st *catalog.State) error {
				st.API("chat").Routes[0].RouteKey = "changed"
				st.APIs = st.APIs[:1]
				return errFn
			},
			wantErr: func(err error) bool { return err == errFn }},
		{name: "change does not compile",
			fn: func(st *catalog.State) error {
				st.API("chat").Routes[0].Target = "integrations/nope"
				return nil
			},
			wantErr: func(err error) bool {
				errs, ok := resource.AsFieldErrors(err)
				return ok && len(errs) > 0 && errs[0].Path == "apis[0].routes[0].target"
			}},
		{name: "data plane refuses", apply: errApply,
			fn:      func(st *catalog.State) error { st.APIs = nil; return nil },
			wantErr: func(err error) bool { return errors.Is(err, errApply) }},
		{name: "store fails", save: errSave,
			fn: func(st *catalog.State) error {
				a := st.API("chat")
				a.Routes = append(a.Routes, resource.Route{RouteKey: "extra", Target: "integrations/mock"})
				return nil
			},
			wantErr: func(err error) bool { return errors.Is(err, errSave) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv()
			config := &resource.Bundle{APIs: []resource.API{mockAPI("chat", "$default"), mockAPI("echo", "$default")}}
			config.APIs[0].Stages = []resource.Stage{{StageName: "dev"}}
			c := e.open(t, config)
			before := mustJSON(t, read(t, c))
			stored, saves := e.store.snapshot()
			servedBefore := mustJSON(t, e.plane.last(t))

			e.plane.fail, e.store.fail = tc.apply, tc.save
			e.clock.advance(time.Hour)
			err := c.Write(t.Context(), tc.fn)
			e.plane.fail, e.store.fail = nil, nil
			if err == nil || !tc.wantErr(err) {
				t.Fatalf("Write err = %v", err)
			}
			if got := mustJSON(t, read(t, c)); got != before {
				t.Errorf("state changed:\n%s\nwas\n%s", got, before)
			}
			if data, n := e.store.snapshot(); n != saves || !bytes.Equal(data, stored) {
				t.Errorf("store written: %d saves, was %d", n, saves)
			}
			// What is served is the previous state (served again after a failed save).
			if got := mustJSON(t, e.plane.last(t)); got != servedBefore {
				t.Errorf("served bundle changed:\n%s\nwas\n%s", got, servedBefore)
			}
			// The catalog still works.
			if err := c.Write(t.Context(), func(*catalog.State) error { return nil }); err != nil {
				t.Fatalf("Write after the failure: %v", err)
			}
		})
	}
}

// TestReopen checks what Open does with a saved catalog and a configuration that changed: control-plane
// resources stay, config resources follow the file.
func TestReopen(t *testing.T) {
	e := newEnv()
	c := e.open(t, configBundle())
	controlAPI(t, c, t0, "ctl", "$default")
	err := c.Write(t.Context(), func(st *catalog.State) error {
		st.DomainNames = append(st.DomainNames, &catalog.DomainName{Source: catalog.SourceAPI,
			DomainName: resource.DomainName{DomainName: "ctl.example.com",
				APIMappings: []resource.APIMapping{{APIMappingID: "m1", APIID: "ctl", Stage: "auto"}}}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	first := read(t, c)

	t.Run("same config changes nothing", func(t *testing.T) {
		e.clock.advance(time.Hour)
		c := e.open(t, configBundle())
		if got, want := mustJSON(t, read(t, c)), mustJSON(t, first); got != want {
			t.Errorf("state after reopening:\n%s\nwant\n%s", got, want)
		}
	})

	t1 := e.clock.advance(time.Hour)
	changed := configBundle()
	changed.APIs[0].Routes = append(changed.APIs[0].Routes, resource.Route{RouteKey: "hello", Target: "integrations/mock"})
	changed.APIs[1] = mockAPI("fresh", "$default")
	changed.APIs[1].Stages = []resource.Stage{{StageName: "s"}}
	changed.DomainNames = nil
	c = e.open(t, changed)
	st := read(t, c)
	served := e.plane.last(t)

	cases := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"control-plane API kept as it was", func(t *testing.T) {
			a := mustAPI(t, st, "ctl")
			if got, want := mustJSON(t, a), mustJSON(t, first.API("ctl")); got != want {
				t.Errorf("ctl is\n%s\nwas\n%s", got, want)
			}
			if a.Source != catalog.SourceAPI || servedAPI(served, "ctl") == nil {
				t.Errorf("ctl source %q, served %v", a.Source, servedAPI(served, "ctl") != nil)
			}
		}},
		{"config API removed from the file is gone", func(t *testing.T) {
			if st.API("echo") != nil || servedAPI(served, "echo") != nil {
				t.Error("echo is still there")
			}
		}},
		{"config API changed in the file is replaced", func(t *testing.T) {
			a := mustAPI(t, st, "chat")
			if got := routeKeys(a.Routes); !slices.Equal(got, []string{"$connect", "$default", "hello"}) {
				t.Errorf("routes %v", got)
			}
			old := first.API("chat").Deployments[0].DeploymentID
			if len(a.Deployments) != 1 || a.Deployments[0].DeploymentID == old {
				t.Fatalf("deployments %+v, want one new deployment (not %s)", a.Deployments, old)
			}
			if got := routeKeys(a.Deployments[0].Routes); !slices.Contains(got, "hello") {
				t.Errorf("deployment routes %v", got)
			}
			if !a.DeploymentDates[a.Deployments[0].DeploymentID].Equal(t1) || a.DeploymentDates[old] != (time.Time{}) {
				t.Errorf("deployment dates %v", a.DeploymentDates)
			}
		}},
		{"config API keeps its creation date", func(t *testing.T) {
			a := mustAPI(t, st, "chat")
			if !a.CreatedDate.Equal(t0) || !a.StageDates["dev"].CreatedDate.Equal(t0) || !a.StageDates["dev"].LastUpdatedDate.Equal(t1) {
				t.Errorf("created %v, stage dates %+v", a.CreatedDate, a.StageDates["dev"])
			}
		}},
		{"config API new in the file is created now", func(t *testing.T) {
			a := mustAPI(t, st, "fresh")
			if a.Source != catalog.SourceConfig || !a.CreatedDate.Equal(t1) || servedAPI(served, "fresh") == nil {
				t.Errorf("fresh: source %q created %v", a.Source, a.CreatedDate)
			}
		}},
		{"config domain removed, control-plane domain kept", func(t *testing.T) {
			if st.DomainName("chat.example.com") != nil {
				t.Error("chat.example.com is still there")
			}
			if d := st.DomainName("ctl.example.com"); d == nil || d.Source != catalog.SourceAPI {
				t.Errorf("ctl.example.com: %+v", d)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.check)
	}
}

// TestReopenKeepsMappingIDs checks that a config domain's API mappings keep their generated ids.
func TestReopenKeepsMappingIDs(t *testing.T) {
	e := newEnv()
	var ids []string
	for range 2 {
		c := e.open(t, configBundle())
		ids = append(ids, mustJSON(t, read(t, c).DomainName("chat.example.com").APIMappings))
	}
	if ids[0] != ids[1] {
		t.Errorf("mappings changed on reopening: %s, then %s", ids[0], ids[1])
	}
}

// TestAutoDeploy walks an API through changes and checks its deployments after each one.
func TestAutoDeploy(t *testing.T) {
	e := newEnv()
	c := e.open(t, nil)
	controlAPI(t, c, t0, "ctl", "$default")
	// A second stage points at an explicit deployment; a third explicit deployment is not used.
	err := c.Write(t.Context(), func(st *catalog.State) error {
		a := st.API("ctl")
		d := a.Deploy("pinned", false, t0)
		a.Stages = append(a.Stages, resource.Stage{StageName: "pinned", DeploymentID: d.DeploymentID})
		a.Deploy("spare", false, t0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := read(t, c).API("ctl")
	autoID := start.Stage("auto").DeploymentID
	pinnedID := start.Stage("pinned").DeploymentID
	if len(start.Deployments) != 3 || autoID == "" || pinnedID == "" || autoID == pinnedID {
		t.Fatalf("start: deployments %d, auto %q, pinned %q", len(start.Deployments), autoID, pinnedID)
	}

	steps := []struct {
		name    string
		fn      func(a *catalog.API)
		newAuto bool // the autoDeploy stage gets a new deployment
	}{
		{name: "unchanged content makes no deployment", fn: func(*catalog.API) {}},
		{name: "a change outside the deployable content makes no deployment", fn: func(a *catalog.API) { a.Description = "new description" }},
		{name: "stage settings make no deployment", fn: func(a *catalog.API) { a.Stage("auto").StageVariables = map[string]string{"x": "y"} }},
		{name: "a new route deploys", newAuto: true, fn: func(a *catalog.API) {
			a.Routes = append(a.Routes, resource.Route{RouteID: "r2", RouteKey: "ping", Target: "integrations/mock"})
		}},
		{name: "a changed integration deploys", newAuto: true, fn: func(a *catalog.API) {
			a.Integrations[0].RequestTemplates = map[string]string{"$default": `{"statusCode": 201}`}
		}},
		{name: "a new model deploys", newAuto: true, fn: func(a *catalog.API) {
			a.Models = append(a.Models, resource.Model{ModelID: "m1", Name: "Msg", Schema: `{"type":"object"}`})
		}},
	}
	prevAuto := autoID
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			now := e.clock.advance(time.Minute)
			if err := c.Write(t.Context(), func(st *catalog.State) error { step.fn(st.API("ctl")); return nil }); err != nil {
				t.Fatal(err)
			}
			a := read(t, c).API("ctl")
			gotAuto := a.Stage("auto").DeploymentID
			if step.newAuto == (gotAuto == prevAuto) {
				t.Fatalf("auto stage deployment %s (was %s), want new: %v", gotAuto, prevAuto, step.newAuto)
			}
			if a.Stage("pinned").DeploymentID != pinnedID {
				t.Errorf("pinned stage moved to %s", a.Stage("pinned").DeploymentID)
			}
			// The explicit deployments stay; of the automatic ones only the one in use does.
			var ids []string
			for _, d := range a.Deployments {
				ids = append(ids, d.DeploymentID)
				if d.AutoDeployed && d.DeploymentID != gotAuto {
					t.Errorf("unused automatic deployment %s kept", d.DeploymentID)
				}
				if _, ok := a.DeploymentDates[d.DeploymentID]; !ok {
					t.Errorf("deployment %s has no date", d.DeploymentID)
				}
			}
			if len(a.Deployments) != 3 || len(a.DeploymentDates) != 3 {
				t.Errorf("deployments %v, dates %v; want the automatic one and two explicit ones", ids, a.DeploymentDates)
			}
			dep := a.Deployment(gotAuto)
			if got, want := mustJSON(t, dep.Routes), mustJSON(t, a.Routes); got != want {
				t.Errorf("automatic deployment routes %s, working copy %s", got, want)
			}
			if got, want := mustJSON(t, dep.Models), mustJSON(t, a.Models); got != want {
				t.Errorf("automatic deployment models %s, working copy %s", got, want)
			}
			if step.newAuto {
				if !a.DeploymentDates[gotAuto].Equal(now) || !a.StageDates["auto"].LastUpdatedDate.Equal(now) {
					t.Errorf("deployment date %v, stage updated %v, want %v", a.DeploymentDates[gotAuto], a.StageDates["auto"].LastUpdatedDate, now)
				}
				if !dep.AutoDeployed {
					t.Error("new deployment not marked automatic")
				}
			}
			served := servedAPI(e.plane.last(t), "ctl")
			for _, s := range served.Stages {
				if s.StageName == "auto" && s.DeploymentID != gotAuto {
					t.Errorf("served auto stage points at %s, want %s", s.DeploymentID, gotAuto)
				}
			}
			prevAuto = gotAuto
		})
	}
}

// TestWriteFillsDefaults checks that what a deployment freezes has AWS's defaults even when the change
// that made it did not write them.
func TestWriteFillsDefaults(t *testing.T) {
	e := newEnv()
	c := e.open(t, nil)
	err := c.Write(t.Context(), func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{Source: catalog.SourceAPI, CreatedDate: t0, API: resource.API{
			APIID: "bare", Name: "bare", ProtocolType: resource.ProtocolWebSocket, RouteSelectionExpression: "$request.body.action",
			Integrations: []resource.Integration{{IntegrationID: "h", IntegrationType: resource.IntegrationHTTPProxy, IntegrationURI: "https://example.com/"}},
			Routes:       []resource.Route{{RouteID: "r", RouteKey: "$default", Target: "integrations/h"}},
			Stages:       []resource.Stage{{StageName: "auto", AutoDeploy: true}},
		}})
		a := st.APIs[len(st.APIs)-1]
		d := a.Deploy("explicit", false, t0)
		a.Stages = append(a.Stages, resource.Stage{StageName: "pinned", DeploymentID: d.DeploymentID})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a := read(t, c).API("bare")
	check := func(where string, routes []resource.Route, integrations []resource.Integration) {
		if routes[0].AuthorizationType != resource.DefaultAuthorizationType {
			t.Errorf("%s: authorizationType %q", where, routes[0].AuthorizationType)
		}
		in := integrations[0]
		if in.TimeoutInMillis != resource.DefaultTimeoutInMillis || in.PassthroughBehavior != resource.DefaultPassthroughBehavior || in.IntegrationMethod != "POST" {
			t.Errorf("%s: integration %+v", where, in)
		}
	}
	check("working copy", a.Routes, a.Integrations)
	for _, d := range a.Deployments {
		check("deployment "+d.Description, d.Routes, d.Integrations)
	}
}

// TestUnservedStage checks that a stage without a deployment is kept but not served, and so is a domain's
// mapping to it.
func TestUnservedStage(t *testing.T) {
	e := newEnv()
	c := e.open(t, nil)
	controlAPI(t, c, t0, "ctl", "$default")
	err := c.Write(t.Context(), func(st *catalog.State) error {
		a := st.API("ctl")
		a.Stages = append(a.Stages, resource.Stage{StageName: "idle"})
		st.DomainNames = append(st.DomainNames, &catalog.DomainName{Source: catalog.SourceAPI, DomainName: resource.DomainName{
			DomainName: "ws.example.com",
			APIMappings: []resource.APIMapping{
				{APIMappingID: "live", APIID: "ctl", Stage: "auto", APIMappingKey: "live"},
				{APIMappingID: "idle", APIID: "ctl", Stage: "idle", APIMappingKey: "idle"},
			},
		}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mappings := func(b []resource.APIMapping) []string {
		var ids []string
		for _, m := range b {
			ids = append(ids, m.APIMappingID)
		}
		return ids
	}

	st := read(t, c)
	if got := stageNames(&mustAPI(t, st, "ctl").API); !slices.Equal(got, []string{"auto", "idle"}) {
		t.Errorf("stages in the catalog %v", got)
	}
	if got := mappings(st.DomainName("ws.example.com").APIMappings); !slices.Equal(got, []string{"live", "idle"}) {
		t.Errorf("mappings in the catalog %v", got)
	}
	served := e.plane.last(t)
	if got := stageNames(servedAPI(served, "ctl")); !slices.Equal(got, []string{"auto"}) {
		t.Errorf("served stages %v, want [auto]", got)
	}
	if len(served.DomainNames) != 1 || !slices.Equal(mappings(served.DomainNames[0].APIMappings), []string{"live"}) {
		t.Errorf("served domains %+v, want ws.example.com with the live mapping only", served.DomainNames)
	}

	// Once deployed, the stage and its mapping are served.
	err = c.Write(t.Context(), func(st *catalog.State) error {
		a := st.API("ctl")
		a.Stage("idle").DeploymentID = a.Deploy("", false, t0).DeploymentID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	served = e.plane.last(t)
	if got := stageNames(servedAPI(served, "ctl")); !slices.Equal(got, []string{"auto", "idle"}) {
		t.Errorf("served stages after deploying %v", got)
	}
	if got := mappings(served.DomainNames[0].APIMappings); !slices.Equal(got, []string{"live", "idle"}) {
		t.Errorf("served mappings after deploying %v", got)
	}
}

// TestDeploymentsShareNoMemory checks that changing the working copy after Deploy — in the same Write or
// a later one — does not change the deployment, and that the data plane's copy is its own.
func TestDeploymentsShareNoMemory(t *testing.T) {
	e := newEnv()
	c := e.open(t, nil)
	controlAPI(t, c, t0, "ctl", "$default")
	var frozen string
	err := c.Write(t.Context(), func(st *catalog.State) error {
		a := st.API("ctl")
		a.Authorizers = []resource.Authorizer{{AuthorizerID: "au", Name: "au", AuthorizerType: "REQUEST",
			AuthorizerURI: "arn:aws:lambda:us-east-1:123456789012:function:auth", IdentitySource: []string{"route.request.header.Auth"}}}
		d := a.Deploy("pinned", false, t0)
		a.Stages = append(a.Stages, resource.Stage{StageName: "pinned", DeploymentID: d.DeploymentID})
		frozen = mustJSON(t, *d)
		// Change every kind of nested member the deployment holds, in place.
		a.Routes[0].Target = ""
		a.Routes[0].RouteResponses[0].RouteResponseKey = "changed"
		a.Integrations[0].RequestTemplates["$default"] = "changed"
		a.Authorizers[0].IdentitySource[0] = "changed"
		a.Routes = a.Routes[:0]
		return errors.New("undo")
	})
	if err == nil {
		t.Fatal("Write succeeded")
	}
	// Same again, but keep the Write so the pinned deployment is stored; then change the working copy.
	err = c.Write(t.Context(), func(st *catalog.State) error {
		a := st.API("ctl")
		d := a.Deploy("pinned", false, t0)
		a.Stages = append(a.Stages, resource.Stage{StageName: "pinned", DeploymentID: d.DeploymentID})
		frozen = mustJSON(t, *d)
		a.Routes[0].Target = "integrations/elsewhere"
		a.Routes[0].RouteResponses[0].RouteResponseKey = "changed"
		a.Integrations[0].RequestTemplates["$default"] = "changed"
		a.Integrations = append(a.Integrations, resource.Integration{IntegrationID: "elsewhere", IntegrationType: resource.IntegrationMock})
		a.Routes[0].RouteResponses = nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pinned := func() string {
		a := read(t, c).API("ctl")
		return mustJSON(t, *a.Deployment(a.Stage("pinned").DeploymentID))
	}
	if got := pinned(); got != frozen {
		t.Errorf("deployment changed with the working copy:\n%s\nwas\n%s", got, frozen)
	}
	err = c.Write(t.Context(), func(st *catalog.State) error {
		st.API("ctl").Integrations[0].RequestTemplates["$default"] = "changed again"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := pinned(); got != frozen {
		t.Errorf("deployment changed by a later Write:\n%s\nwas\n%s", got, frozen)
	}

	// The data plane may change what it is given (snapshot.Compile fills in defaults) without touching
	// the state readers see.
	before := mustJSON(t, read(t, c))
	served := e.plane.last(t)
	for i := range served.APIs {
		for j := range served.APIs[i].Deployments {
			served.APIs[i].Deployments[j].Routes = nil
		}
		for j := range served.APIs[i].Integrations {
			if m := served.APIs[i].Integrations[j].RequestTemplates; m != nil {
				m["$default"] = "scribbled"
			}
		}
	}
	if got := mustJSON(t, read(t, c)); got != before {
		t.Error("changing the served bundle changed the catalog")
	}
}

// TestConcurrentReadWrite runs readers during writes; with -race it checks that states are not modified
// once published.
func TestConcurrentReadWrite(t *testing.T) {
	e := newEnv()
	c := e.open(t, configBundle())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.Read(func(st *catalog.State) {
					if _, err := json.Marshal(st); err != nil {
						t.Error(err)
					}
				})
			}
		})
	}
	for i := range 20 {
		err := c.Write(t.Context(), func(st *catalog.State) error {
			a := st.API("chat")
			a.Routes = append(a.Routes, resource.Route{RouteKey: "k" + string(rune('a'+i)), Target: "integrations/mock"})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A failing save serves the previous state again while readers read it.
	e.store.fail = errors.New("disk full")
	if err := c.Write(t.Context(), func(st *catalog.State) error { st.APIs = st.APIs[:1]; return nil }); err == nil {
		t.Error("Write succeeded with a failing store")
	}
	close(stop)
	wg.Wait()
	if n := len(read(t, c).API("chat").Routes); n != 22 {
		t.Errorf("%d routes, want 22", n)
	}
	if e.plane.count() < 22 {
		t.Errorf("%d bundles served", e.plane.count())
	}
}

// TestReopenKeysAndPlans: config keys and plans are replaced from the file like APIs; a control-plane
// plan keeps its place, and loses a key the file no longer declares instead of failing to load.
func TestReopenKeysAndPlans(t *testing.T) {
	e := newEnv()
	withKey := configBundle()
	withKey.APIKeys = []resource.APIKey{{ID: "cfgkey", Value: "config-key-0123456789", Enabled: true}}
	withKey.UsagePlans = []resource.UsagePlan{{ID: "cfgplan", APIStages: []resource.UsagePlanStage{{APIID: "chat", Stage: "dev"}}, KeyIDs: []string{"cfgkey"}}}
	c := e.open(t, withKey)
	err := c.Write(t.Context(), func(st *catalog.State) error {
		st.APIKeys = append(st.APIKeys, &catalog.APIKey{Source: catalog.SourceAPI, APIKey: resource.APIKey{ID: "ctlkey", Value: "control-key-0123456789", Enabled: true}})
		st.UsagePlans = append(st.UsagePlans, &catalog.UsagePlan{Source: catalog.SourceAPI, UsagePlan: resource.UsagePlan{ID: "ctlplan",
			APIStages: []resource.UsagePlanStage{{APIID: "chat", Stage: "prod"}}, KeyIDs: []string{"cfgkey", "ctlkey"}}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	c = e.open(t, configBundle()) // the file no longer declares cfgkey or cfgplan
	st := read(t, c)
	cases := []struct {
		name      string
		got, want string
	}{
		{"config key removed, control key kept", fmt.Sprint(len(st.APIKeys), st.APIKey("cfgkey") == nil, st.APIKey("ctlkey") != nil), "1 true true"},
		{"config plan removed", fmt.Sprint(st.UsagePlan("cfgplan") == nil), "true"},
		{"control plan keeps only keys that exist", fmt.Sprint(st.UsagePlan("ctlplan").KeyIDs), "[ctlkey]"},
		{"served plan", fmt.Sprint(len(e.plane.last(t).UsagePlans), e.plane.last(t).UsagePlans[0].KeyIDs), "1 [ctlkey]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
}

// TestReopenConfigWinsOverControlPlane: when the file declares what the control plane made — a domain
// name in another case, an API key value — the file's replaces it and the catalog still loads.
func TestReopenConfigWinsOverControlPlane(t *testing.T) {
	e := newEnv()
	c := e.open(t, configBundle())
	err := c.Write(t.Context(), func(st *catalog.State) error {
		st.DomainNames = append(st.DomainNames, &catalog.DomainName{Source: catalog.SourceAPI, DomainName: resource.DomainName{DomainName: "ctl.example.com"}})
		st.APIKeys = append(st.APIKeys, &catalog.APIKey{Source: catalog.SourceAPI, APIKey: resource.APIKey{ID: "ctlkey", Value: "shared-value-0123456789", Enabled: true}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := configBundle()
	cfg.DomainNames = append(cfg.DomainNames, resource.DomainName{DomainName: "Ctl.Example.com"})
	cfg.APIKeys = []resource.APIKey{{ID: "cfgkey", Value: "shared-value-0123456789", Enabled: true}}
	c = e.open(t, cfg)
	st := read(t, c)
	var domains []string
	for _, d := range st.DomainNames {
		domains = append(domains, d.DomainName.DomainName+":"+string(d.Source))
	}
	var keys []string
	for _, k := range st.APIKeys {
		keys = append(keys, k.ID+":"+string(k.Source))
	}
	if got, want := fmt.Sprint(domains), "[chat.example.com:config Ctl.Example.com:config]"; got != want {
		t.Errorf("domains %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(keys), "[cfgkey:config]"; got != want {
		t.Errorf("keys %s, want %s", got, want)
	}
}

// TestStoreLostItsData: a store that goes back to an earlier revision (NATS restarted without its
// JetStream data) gets the catalog saved again by the next change, instead of refusing every change as
// a conflict.
func TestStoreLostItsData(t *testing.T) {
	e := newEnv()
	c := e.open(t, &resource.Bundle{APIs: []resource.API{mockAPI("chat", "$default")}})
	if err := c.Write(t.Context(), func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: mockAPI("made", "$default"), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.store.mu.Lock()
	e.store.data, e.store.rev = nil, 0
	e.store.mu.Unlock()
	if err := c.Write(t.Context(), func(st *catalog.State) error {
		st.APIs = append(st.APIs, &catalog.API{API: mockAPI("after", "$default"), Source: catalog.SourceAPI})
		return nil
	}); err != nil {
		t.Fatalf("a change after the store lost its data: %v", err)
	}
	e.open(t, nil).Read(func(st *catalog.State) {
		if st.API("made") == nil || st.API("after") == nil {
			t.Fatalf("the store holds %d APIs, want the lost catalog saved again with the change", len(st.APIs))
		}
	})
}
