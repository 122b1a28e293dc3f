// Package catalog is the control plane's state: every API with its routes, integrations, authorizers,
// models, deployments and stages, and every custom domain name with its API mappings. Both configuration
// adapters write into it — the YAML file on start, the apigatewayv2 REST API at any time — and it publishes
// what the stages serve as a resource.Bundle for the data plane to compile.
//
// Changes are transactions: Write runs a function on a private copy of the state, fills in AWS's automatic
// deployments, has the result compiled and served (Options.Apply), saves it (Options.Store), and only then
// makes it the state everybody reads. A change that does not compile or cannot be saved leaves nothing
// behind. Readers never lock: the state they get is never modified again.
//
// Deployments follow AWS: a deployment is an immutable copy of an API's routes, integrations, authorizers
// and models; a stage serves the deployment it points at, or, with autoDeploy, a fresh deployment made
// after every change to the API. A stage that points at no deployment is not served.
package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Source says which adapter a resource came from.
type Source string

// Sources of APIs and domain names.
const (
	// SourceConfig marks a resource declared in the configuration file: it is replaced from the file
	// on every start, and removed when the file no longer declares it.
	SourceConfig Source = "config"
	// SourceAPI marks a resource created through the control-plane API: it lives until deleted.
	SourceAPI Source = "api"
)

// State is the whole catalog at one moment. A State passed to a Write function may be changed freely;
// one returned by Read must not be changed.
type State struct {
	APIs        []*API        `json:"apis"`
	DomainNames []*DomainName `json:"domainNames,omitempty"`
	// APIKeys and UsagePlans are API Gateway's (v1) API keys and usage plans, which WebSocket APIs share.
	APIKeys    []*APIKey    `json:"apiKeys,omitempty"`
	UsagePlans []*UsagePlan `json:"usagePlans,omitempty"`
}

// APIKey is an API key with its source and dates, and the members AWS keeps that the data plane does
// not use (customerId, tags).
type APIKey struct {
	resource.APIKey
	Source     Source            `json:"source"`
	CustomerID string            `json:"customerId,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Dates
}

// UsagePlan is a usage plan with its source and tags.
type UsagePlan struct {
	resource.UsagePlan
	Source Source            `json:"source"`
	Tags   map[string]string `json:"tags,omitempty"`
}

// APIKey returns the API key with id, or nil.
func (s *State) APIKey(id string) *APIKey {
	for _, k := range s.APIKeys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// UsagePlan returns the usage plan with id, or nil.
func (s *State) UsagePlan(id string) *UsagePlan {
	for _, p := range s.UsagePlans {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// API is an API's working copy — what the control plane edits — with its deployments, stages and the
// dates AWS reports.
type API struct {
	resource.API
	Source      Source    `json:"source"`
	CreatedDate time.Time `json:"createdDate"`
	// StageDates and DeploymentDates hold the dates AWS reports, by stage name and deployment id.
	StageDates      map[string]Dates     `json:"stageDates,omitempty"`
	DeploymentDates map[string]time.Time `json:"deploymentDates,omitempty"`
	// QuickCreate names the resources CreateApi's quick create made for an HTTP API, which AWS reports as
	// apiGatewayManaged and UpdateApi's target, routeKey and credentialsArn change; nil otherwise.
	QuickCreate *QuickCreate `json:"quickCreate,omitempty"`
}

// QuickCreate names the integration, route and stage quick create made.
type QuickCreate struct {
	IntegrationID string `json:"integrationId"`
	RouteID       string `json:"routeId"`
	Stage         string `json:"stage"`
}

// Dates are a resource's creation and last-update times.
type Dates struct {
	CreatedDate     time.Time `json:"createdDate"`
	LastUpdatedDate time.Time `json:"lastUpdatedDate"`
}

// DomainName is a custom domain name with its API mappings.
type DomainName struct {
	resource.DomainName
	Source Source `json:"source"`
}

// API returns the API with id, or nil.
func (s *State) API(id string) *API {
	for _, a := range s.APIs {
		if a.APIID == id {
			return a
		}
	}
	return nil
}

// DomainName returns the domain name called name (compared as given), or nil.
func (s *State) DomainName(name string) *DomainName {
	for _, d := range s.DomainNames {
		if d.DomainName.DomainName == name {
			return d
		}
	}
	return nil
}

// Stage returns the API's stage called name, or nil.
func (a *API) Stage(name string) *resource.Stage {
	for i := range a.Stages {
		if a.Stages[i].StageName == name {
			return &a.Stages[i]
		}
	}
	return nil
}

// Deployment returns the API's deployment with id, or nil.
func (a *API) Deployment(id string) *resource.Deployment {
	for i := range a.Deployments {
		if a.Deployments[i].DeploymentID == id {
			return &a.Deployments[i]
		}
	}
	return nil
}

// Deploy freezes the API's current routes, integrations, authorizers, models and selection expressions
// into a new deployment and returns it. It does not point any stage at it. It fills in AWS's defaults in
// the working copy first, so that the deployment holds what AWS would serve.
func (a *API) Deploy(description string, auto bool, now time.Time) *resource.Deployment {
	a.applyDefaults()
	d := resource.Deployment{DeploymentID: a.uniqueID(6), Description: description, AutoDeployed: auto}
	// The deployment must not share memory with the working copy.
	var frozen deployable
	if err := deepCopy(a.deployable(), &frozen); err != nil {
		panic(fmt.Sprintf("catalog: copy deployment: %v", err)) // plain data always marshals
	}
	d.Routes, d.Integrations, d.Authorizers, d.Models = frozen.Routes, frozen.Integrations, frozen.Authorizers, frozen.Models
	d.RouteSelectionExpression, d.APIKeySelectionExpression = frozen.RouteSelection, frozen.APIKeySelection
	a.Deployments = append(a.Deployments, d)
	if a.DeploymentDates == nil {
		a.DeploymentDates = make(map[string]time.Time)
	}
	a.DeploymentDates[d.DeploymentID] = now
	return &a.Deployments[len(a.Deployments)-1]
}

// deployable is what a deployment freezes of an API.
type deployable struct {
	Routes          []resource.Route       `json:"routes"`
	Integrations    []resource.Integration `json:"integrations"`
	Authorizers     []resource.Authorizer  `json:"authorizers"`
	Models          []resource.Model       `json:"models"`
	RouteSelection  string                 `json:"routeSelectionExpression"`
	APIKeySelection string                 `json:"apiKeySelectionExpression"`
}

func (a *API) deployable() deployable {
	return deployable{a.Routes, a.Integrations, a.Authorizers, a.Models, a.RouteSelectionExpression, a.APIKeySelectionExpression}
}

func deployed(d *resource.Deployment) deployable {
	return deployable{d.Routes, d.Integrations, d.Authorizers, d.Models, d.RouteSelectionExpression, d.APIKeySelectionExpression}
}

// encode is the deployable content as comparable bytes (maps are encoded with sorted keys).
func (c deployable) encode() []byte {
	b, _ := json.Marshal(c) // plain data always marshals
	return b
}

// applyDefaults fills in the members AWS fills in on create (resource.ApplyDefaults), in place.
func (a *API) applyDefaults() {
	b := resource.Bundle{APIs: []resource.API{a.API}}
	resource.ApplyDefaults(&b)
	a.API = b.APIs[0]
}

// uniqueID returns a new random id of n characters that no route, integration, authorizer, model,
// deployment or response of the API uses.
func (a *API) uniqueID(n int) string {
	used := map[string]bool{}
	for _, r := range a.Routes {
		used[r.RouteID] = true
		for _, rr := range r.RouteResponses {
			used[rr.RouteResponseID] = true
		}
	}
	for _, in := range a.Integrations {
		used[in.IntegrationID] = true
		for _, ir := range in.IntegrationResponses {
			used[ir.IntegrationResponseID] = true
		}
	}
	for _, au := range a.Authorizers {
		used[au.AuthorizerID] = true
	}
	for _, m := range a.Models {
		used[m.ModelID] = true
	}
	for _, d := range a.Deployments {
		used[d.DeploymentID] = true
	}
	for {
		if id := NewID(n); !used[id] {
			return id
		}
	}
}

// NewChildID returns a new random id for a route, integration, authorizer, model or response of the API,
// 7 characters of [a-z0-9] like AWS's, unused within the API.
func (a *API) NewChildID() string { return a.uniqueID(7) }

// NewAPIID returns a new random API id, 10 characters of [a-z0-9] like AWS's, unused in s.
func (s *State) NewAPIID() string {
	for {
		if id := NewID(10); s.API(id) == nil {
			return id
		}
	}
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns n random characters of [a-z0-9].
func NewID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// Store keeps the catalog between runs and, for a cluster, between nodes. Every save names the revision it
// replaces, so that two writers cannot lose each other's changes: Save is a compare-and-set.
//
// Load returns a zero Entry when nothing was saved yet. Save must be atomic (after a crash at any moment,
// Load returns the previous data or the new data, whole) and must fail with an error wrapping ErrConflict,
// saving nothing, when the store holds a revision other than the one given (0: nothing saved yet).
// Failures to reach the store wrap ErrUnavailable. The conformance suite in package catalogtest checks
// every implementation.
//
// Load returns the newest entry, except in a store that is also a LatestLoader: there it may be answered
// by a copy that is behind, and return an older revision than one already saved.
type Store interface {
	Load(ctx context.Context) (Entry, error)
	Save(ctx context.Context, data []byte, revision uint64) (uint64, error)
}

// Entry is what a Store holds: the catalog's encoding and the revision that saved it.
type Entry struct {
	Data     []byte
	Revision uint64
}

// Watcher is implemented by Stores that other processes write to (the cluster's shared catalog). Watch
// calls fn with every entry saved after Watch started, in revision order, until ctx ends or the store
// fails; entries that are not the catalog's (foreign keys, deletions) are the store's to report and skip.
type Watcher interface {
	Watch(ctx context.Context, fn func(Entry)) error
}

// LatestLoader is implemented by Stores whose Load may be answered by a copy that is behind: a JetStream
// bucket's reads are direct gets, which any of its stream's replicas answers, including one that has not
// applied the newest revisions yet. LoadLatest answers what the store's authority holds (the stream's
// leader, which decides every compare-and-set). A revision older than one the catalog holds is taken for
// a store that lost the catalog only when LoadLatest returns it too, and Join reads with it (a joining
// node has no revision to compare a replica's answer with); Load stays the cheap read otherwise.
type LatestLoader interface {
	LoadLatest(ctx context.Context) (Entry, error)
}

// Historian is implemented by Stores that keep earlier revisions. When the newest entry does not decode,
// Open falls back to the newest one that does (History returns them oldest first).
type Historian interface {
	History(ctx context.Context) ([]Entry, error)
}

// ErrConflict is wrapped by Store.Save when the store holds another revision than the one being replaced:
// another writer came first. Write retries such conflicts on the newer state; it returns an error wrapping
// ErrConflict only when every attempt lost (maxAttempts).
var ErrConflict = errors.New("the catalog was changed by another writer")

// ErrUnavailable is wrapped by Store errors that come from not reaching the store (the cluster's NATS
// servers away): the change is refused and the last state keeps serving.
var ErrUnavailable = errors.New("the catalog store cannot be reached")

// ErrReset is returned by Watcher.Watch when the store was deleted or made again since the last watch
// (NATS lost its JetStream data): its revisions start over, so the catalog takes the next entry whatever
// its revision.
var ErrReset = errors.New("the catalog store was made again; its revisions start over")

// maxAttempts bounds how often Write runs a change again after losing a compare-and-set.
const maxAttempts = 10

// Options configure a Catalog.
type Options struct {
	// Store keeps the catalog; nil keeps it in memory only.
	Store Store
	// Apply compiles and serves what the stages serve. An error rejects the change that produced it;
	// it should be resource.FieldErrors when the bundle is at fault.
	Apply func(ctx context.Context, served *resource.Bundle) error
	// Now tells the time for creation dates; default time.Now.
	Now func() time.Time
	// Logger receives the catalog's logs; nil discards them.
	Logger *slog.Logger
	// Joining opens the catalog with the configuration alone, in memory, to be joined to a shared Store
	// later (Join): until then, changes other than the configuration's are refused with ErrUnavailable.
	// A cluster's node starts serving its configuration file before the cluster's NATS servers are
	// reachable, and takes the cluster's catalog once they are.
	Joining bool
}

// Catalog is the control plane's state, changed only through Write.
type Catalog struct {
	opts Options
	mu   sync.Mutex // serialises Write and the adoption of other writers' revisions
	rev  uint64     // the store's revision state holds; guarded by mu
	// config is the configuration's resources as last given (Open, ReplaceConfig), which Join applies to
	// the shared catalog; joining is true until Join; both guarded by mu.
	config  *resource.Bundle
	joining bool
	state   atomic.Pointer[State]
	// served is the revision the data plane serves (the last one that compiled here).
	served atomic.Uint64
}

// fileFormat is what the Store holds.
type fileFormat struct {
	Version int    `json:"version"`
	State   *State `json:"state"`
}

const formatVersion = 1

// Open loads the saved catalog, replaces its configuration-file resources with config's (nil: none), and
// serves the result through opts.Apply. Resources that came from the control plane are kept as they were.
func Open(ctx context.Context, opts Options, config *resource.Bundle) (*Catalog, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Apply == nil {
		opts.Apply = func(context.Context, *resource.Bundle) error { return nil }
	}
	c := &Catalog{opts: opts, config: config}
	if opts.Joining {
		c.opts.Store = nil
	}
	st := &State{}
	if c.opts.Store != nil {
		e, err := opts.Store.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("load catalog: %w", err)
		}
		if e.Data != nil {
			loaded, err := decode(e.Data)
			if err != nil {
				loaded, err = c.lastGood(ctx, e, err)
			}
			if err != nil {
				return nil, fmt.Errorf("load catalog: %w", err)
			}
			st = loaded
		}
		// A newest entry that did not decode is replaced by the next save: its revision is the one to
		// compare against.
		c.rev = e.Revision
	}
	c.state.Store(st)
	err := c.Write(ctx, func(st *State) error {
		return applyConfig(st, config, opts.Now(), opts.Logger)
	})
	if err != nil {
		return nil, fmt.Errorf("serve catalog: %w", err)
	}
	c.joining = opts.Joining
	return c, nil
}

// Join makes store, shared with other nodes, the catalog's store: it loads the shared catalog, applies
// this node's configuration to it as Open does (a change only when the configuration differs from what
// the catalog holds, so nodes started with the same file write nothing), and serves the result. It is for
// catalogs opened with Options.Joining; Run follows the other nodes' changes afterwards. On error the
// catalog stays as it was, still joining.
func (c *Catalog) Join(ctx context.Context, store Store) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.joining {
		return errors.New("join the shared catalog: the catalog was not opened to join one")
	}
	prevState, prevRev, prevServed := c.state.Load(), c.rev, c.served.Load()
	c.opts.Store = store
	fail := func(err error) error {
		c.opts.Store, c.rev = nil, prevRev
		c.state.Store(prevState)
		c.served.Store(prevServed)
		if b, serr := served(prevState); serr == nil {
			if aerr := c.opts.Apply(ctx, b); aerr != nil {
				c.opts.Logger.Error("serve this node's configuration again after joining the shared catalog failed", "err", aerr)
			}
		}
		return fmt.Errorf("join the shared catalog (%s): %w", storeName(store), err)
	}
	e, err := c.joinLoad(ctx, store)
	if err != nil {
		return fail(err)
	}
	st := &State{}
	if e.Data != nil {
		if st, err = decode(e.Data); err != nil {
			if st, err = c.lastGood(ctx, e, err); err != nil {
				return fail(err)
			}
		}
	}
	c.state.Store(st)
	c.rev = e.Revision
	config := c.config
	if config != nil && e.Data != nil && !sameConfig(st, config, c.opts.Now()) {
		c.opts.Logger.Warn("this node's configuration file differs from the one the cluster's catalog holds; this node's replaces it for every node",
			"store", storeName(store), "revision", e.Revision)
	}
	for attempt := 1; ; attempt++ {
		err = c.tryWrite(ctx, func(st *State) error { return applyConfig(st, config, c.opts.Now(), c.opts.Logger) }, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrConflict) || attempt == maxAttempts {
			return fail(err)
		}
		if err := c.refresh(ctx); err != nil {
			return fail(err)
		}
	}
	c.joining = false
	c.opts.Logger.Info("joined the shared catalog", "store", storeName(store), "revision", c.rev)
	return nil
}

// sameConfig reports whether applying config to st would leave its configuration resources as they are.
func sameConfig(st *State, config *resource.Bundle, now time.Time) bool {
	next := &State{}
	if err := deepCopy(st, next); err != nil {
		return false
	}
	if err := applyConfig(next, config, now, slog.New(slog.DiscardHandler)); err != nil {
		return false
	}
	for _, a := range next.APIs {
		a.applyDefaults()
	}
	autoDeploy(st, next, now)
	x, errx := encode(st)
	y, erry := encode(next)
	return errx == nil && erry == nil && bytes.Equal(x, y)
}

// ReplaceConfig replaces the catalog's configuration-file resources with config's, as Open does at start:
// a reloaded config file or template. Control-plane resources are kept. The change is one Write, so a
// config that does not compile together with the rest changes nothing.
func (c *Catalog) ReplaceConfig(ctx context.Context, config *resource.Bundle) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.writeLocked(ctx, func(st *State) error {
		return applyConfig(st, config, c.opts.Now(), c.opts.Logger)
	}, nil)
	if err == nil {
		c.config = config
	}
	return err
}

// applyConfig replaces st's configuration-file resources with config's, which it does not modify. Config
// stages auto-deploy: a file's stage serves the API as the file declares it.
//
// Reopening with the same file changes nothing visible: an API keeps its creation date, a stage its dates,
// an API mapping its id, and a config API keeps its automatic deployment (id and date) when that deployment
// holds exactly what the file declares now.
//
// A file's resource replaces a control-plane one with the same id (or domain name, compared without case):
// the file is what the operator declared. That is logged, since the control plane's stages, deployments
// or mappings of it are gone.
func applyConfig(st *State, config *resource.Bundle, now time.Time, log *slog.Logger) error {
	cfg := &resource.Bundle{}
	if config != nil {
		// The caller keeps its bundle; the catalog's state must share no memory with it.
		if err := deepCopy(config, cfg); err != nil {
			return fmt.Errorf("copy configuration: %w", err)
		}
	}
	resource.ApplyDefaults(cfg)
	// Resources keep their places, so that listings do not reorder on every start; new ones come last.
	// A duplicate id in the file is kept too, for validation to report.
	first := make(map[string]int, len(cfg.APIs))
	for i := len(cfg.APIs) - 1; i >= 0; i-- {
		first[cfg.APIs[i].APIID] = i
	}
	placed := make(map[int]bool, len(cfg.APIs))
	var apis []*API
	for _, old := range st.APIs {
		if i, ok := first[old.APIID]; ok {
			if old.Source != SourceConfig {
				log.Warn("the config file declares an API made through the control plane; the file's replaces it", "api_id", old.APIID)
			}
			if !placed[i] {
				apis = append(apis, configAPI(old, cfg.APIs[i], now))
				placed[i] = true
			}
		} else if old.Source != SourceConfig {
			apis = append(apis, old)
		}
	}
	for i, a := range cfg.APIs {
		if !placed[i] {
			apis = append(apis, configAPI(nil, a, now))
		}
	}
	st.APIs = apis

	firstDomain := make(map[string]int, len(cfg.DomainNames))
	for i := len(cfg.DomainNames) - 1; i >= 0; i-- {
		firstDomain[strings.ToLower(cfg.DomainNames[i].DomainName)] = i
	}
	placed = make(map[int]bool, len(cfg.DomainNames))
	var domains []*DomainName
	for _, old := range st.DomainNames {
		if i, ok := firstDomain[strings.ToLower(old.DomainName.DomainName)]; ok {
			if old.Source != SourceConfig {
				log.Warn("the config file declares a domain name made through the control plane; the file's replaces it", "domain", old.DomainName.DomainName)
			}
			if !placed[i] {
				domains = append(domains, configDomain(old, cfg.DomainNames[i]))
				placed[i] = true
			}
		} else if old.Source != SourceConfig {
			domains = append(domains, old)
		}
	}
	for i, d := range cfg.DomainNames {
		if !placed[i] {
			domains = append(domains, configDomain(nil, d))
		}
	}
	st.DomainNames = domains
	applyConfigKeys(st, cfg, now, log)
	return nil
}

// applyConfigKeys replaces st's configuration-file API keys and usage plans with cfg's, keeping the
// others (and a key's creation date).
func applyConfigKeys(st *State, cfg *resource.Bundle, now time.Time, log *slog.Logger) {
	declaredKeys := map[string]bool{}
	declaredValues := map[string]bool{}
	for _, k := range cfg.APIKeys {
		declaredKeys[k.ID] = true
		declaredValues[k.Value] = true
	}
	var keys []*APIKey
	for _, k := range st.APIKeys {
		switch {
		case k.Source == SourceConfig:
		case declaredKeys[k.ID]:
			log.Warn("the config file declares an API key made through the control plane; the file's replaces it", "key_id", k.ID)
		case declaredValues[k.Value]:
			// Two keys with one value cannot both be served; the file's wins.
			log.Warn("an API key made through the control plane has the value of a key in the config file; it is deleted", "key_id", k.ID)
		default:
			keys = append(keys, k)
		}
	}
	for _, k := range cfg.APIKeys {
		rec := &APIKey{APIKey: k, Source: SourceConfig, Dates: Dates{CreatedDate: now, LastUpdatedDate: now}}
		if old := st.APIKey(k.ID); old != nil {
			rec.Dates = old.Dates
		}
		keys = append(keys, rec)
	}
	st.APIKeys = keys

	declaredPlans := map[string]bool{}
	for _, p := range cfg.UsagePlans {
		declaredPlans[p.ID] = true
	}
	var plans []*UsagePlan
	for _, p := range st.UsagePlans {
		if p.Source != SourceConfig && !declaredPlans[p.ID] {
			plans = append(plans, p)
		}
	}
	for _, p := range cfg.UsagePlans {
		plans = append(plans, &UsagePlan{UsagePlan: p, Source: SourceConfig})
	}
	// A key the file no longer declares leaves the control plane's plans too, as DeleteApiKey does.
	for _, p := range plans {
		if p.Source == SourceConfig {
			continue
		}
		kept := p.KeyIDs[:0]
		for _, id := range p.KeyIDs {
			if st.APIKey(id) != nil {
				kept = append(kept, id)
			}
		}
		p.KeyIDs = kept
	}
	st.UsagePlans = plans
}

// configDomain is the record of the file's domain name d, replacing old (nil when the domain is new).
// Mappings the file gives no id keep the id they had.
func configDomain(old *DomainName, d resource.DomainName) *DomainName {
	rec := &DomainName{DomainName: d, Source: SourceConfig}
	for i := range rec.APIMappings {
		m := &rec.APIMappings[i]
		if m.APIMappingID != "" {
			continue
		}
		m.APIMappingID = NewID(6)
		if old == nil {
			continue
		}
		for _, om := range old.APIMappings {
			if om.APIID == m.APIID && om.Stage == m.Stage && om.APIMappingKey == m.APIMappingKey {
				m.APIMappingID = om.APIMappingID
			}
		}
	}
	return rec
}

// configAPI is the record of the file's API a, replacing old (nil when the API is new).
func configAPI(old *API, a resource.API, now time.Time) *API {
	rec := &API{API: a, Source: SourceConfig, CreatedDate: now, StageDates: make(map[string]Dates, len(a.Stages))}
	rec.Deployments = nil
	var keep *resource.Deployment
	if old != nil {
		rec.CreatedDate = old.CreatedDate
		if old.Source == SourceConfig {
			want := rec.deployable().encode()
			for i := range old.Deployments {
				if d := &old.Deployments[i]; d.AutoDeployed && bytes.Equal(deployed(d).encode(), want) {
					keep = d
				}
			}
		}
	}
	if keep != nil {
		rec.Deployments = []resource.Deployment{*keep}
		rec.DeploymentDates = map[string]time.Time{keep.DeploymentID: old.DeploymentDates[keep.DeploymentID]}
	}
	for i := range rec.Stages {
		s := &rec.Stages[i]
		s.AutoDeploy = true
		s.DeploymentID = ""
		dates := Dates{CreatedDate: now, LastUpdatedDate: now}
		if keep != nil {
			s.DeploymentID = keep.DeploymentID
		}
		if old != nil {
			if prev := old.Stage(s.StageName); prev != nil {
				dates.CreatedDate = old.StageDates[s.StageName].CreatedDate
				if keep != nil && sameJSON(prev, s) {
					dates.LastUpdatedDate = old.StageDates[s.StageName].LastUpdatedDate
				}
			}
		}
		rec.StageDates[s.StageName] = dates
	}
	return rec
}

func sameJSON(a, b any) bool {
	x, errx := json.Marshal(a)
	y, erry := json.Marshal(b)
	return errx == nil && erry == nil && bytes.Equal(x, y)
}

// Read calls fn with the current state, which fn must not change. Keeping it is safe: a state is never
// modified once current.
func (c *Catalog) Read(fn func(*State)) { fn(c.state.Load()) }

// Write changes the catalog: fn edits a private copy of the state; then every autoDeploy stage of a
// changed API gets a new deployment, the result is compiled and served, saved, and made current. An error
// from fn is returned as it is and nothing changes; so does an error from Options.Apply (the change does
// not compile). A Store failure is wrapped, nothing changes either, and the previous state is served
// again. Before deploying, Write fills in AWS's defaults (resource.ApplyDefaults) in every working copy.
func (c *Catalog) Write(ctx context.Context, fn func(*State) error) error {
	return c.WriteThen(ctx, fn, nil)
}

// WriteThen is Write, then calls then (when not nil) with the state it made current, before any other
// change: for answers that show what the catalog itself added, such as an autoDeploy stage's new
// deployment. then must not change the state.
//
// With a store that other nodes write too, a change can lose the compare-and-set to another node's: Write
// then adopts the newer revision (serving it) and runs fn again on it, up to maxAttempts times, so fn
// must only edit the state it is given. After that the error wraps ErrConflict.
func (c *Catalog) WriteThen(ctx context.Context, fn func(*State) error, then func(*State)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.joining {
		return fmt.Errorf("%w: this node has not joined the cluster's shared catalog yet (are the NATS servers reachable?)", ErrUnavailable)
	}
	return c.writeLocked(ctx, fn, then)
}

// writeLocked is WriteThen under c.mu.
func (c *Catalog) writeLocked(ctx context.Context, fn func(*State) error, then func(*State)) error {
	for attempt := 1; ; attempt++ {
		err := c.tryWrite(ctx, fn, then)
		if !errors.Is(err, ErrConflict) || attempt == maxAttempts {
			return err
		}
		c.opts.Logger.Debug("another writer changed the catalog first; running the change again on its revision", "attempt", attempt)
		// A random pause that grows with each attempt, so that two nodes writing in a loop take turns
		// rather than one losing every time.
		t := time.NewTimer(mrand.N(time.Duration(attempt) * 5 * time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("save catalog: %w", errors.Join(err, ctx.Err()))
		case <-t.C:
		}
		if err := c.refresh(ctx); err != nil {
			return err
		}
	}
}

// tryWrite is one attempt of WriteThen, under c.mu.
func (c *Catalog) tryWrite(ctx context.Context, fn func(*State) error, then func(*State)) error {
	before := c.state.Load()
	next := &State{}
	if err := deepCopy(before, next); err != nil {
		return fmt.Errorf("copy catalog: %w", err)
	}
	if err := fn(next); err != nil {
		return err
	}
	for _, a := range next.APIs {
		a.applyDefaults()
	}
	autoDeploy(before, next, c.opts.Now())
	bundle, err := served(next)
	if err != nil {
		return err
	}
	var data []byte
	if c.opts.Store != nil {
		if data, err = encode(next); err != nil {
			return err
		}
		if c.rev != 0 && c.unchanged(before, data) {
			// Nothing to save: a node opening with the configuration the catalog already holds
			// writes nothing (and loses no compare-and-set).
			data = nil
		}
	}
	if err := c.opts.Apply(ctx, bundle); err != nil {
		return err
	}
	rev := c.rev
	if data != nil {
		rev, err = c.opts.Store.Save(ctx, data, c.rev)
		if err != nil {
			if prev, rerr := served(before); rerr != nil {
				c.opts.Logger.Error("serve the previous catalog after a failed save", "err", rerr)
			} else if rerr := c.opts.Apply(ctx, prev); rerr != nil {
				c.opts.Logger.Error("serve the previous catalog after a failed save", "err", rerr)
			}
			return fmt.Errorf("save catalog: %w", err)
		}
	}
	c.rev = rev
	c.served.Store(rev)
	c.state.Store(next)
	if then != nil {
		then(next)
	}
	return nil
}

// unchanged reports whether data encodes the same catalog as before.
func (c *Catalog) unchanged(before *State, data []byte) bool {
	old, err := encode(before)
	return err == nil && bytes.Equal(old, data)
}

// encode is what the Store holds for st.
func encode(st *State) ([]byte, error) {
	data, err := json.Marshal(fileFormat{Version: formatVersion, State: st})
	if err != nil {
		return nil, fmt.Errorf("encode catalog: %w", err)
	}
	return data, nil
}

// decode reads what the Store holds.
func decode(data []byte) (*State, error) {
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.Version != formatVersion {
		return nil, fmt.Errorf("format version %d is not supported (want %d)", f.Version, formatVersion)
	}
	if f.State == nil {
		return &State{}, nil
	}
	return f.State, nil
}

// lastGood is the newest earlier revision that decodes, when the store keeps history and the newest
// entry e does not decode (err). Each entry skipped is logged with the store's name and its revision.
func (c *Catalog) lastGood(ctx context.Context, e Entry, err error) (*State, error) {
	h, ok := c.opts.Store.(Historian)
	if !ok {
		return nil, err
	}
	c.opts.Logger.Error("the catalog's newest revision does not decode; it is skipped and the next change replaces it",
		"store", storeName(c.opts.Store), "revision", e.Revision, "err", err)
	entries, herr := h.History(ctx)
	if herr != nil {
		return nil, errors.Join(err, fmt.Errorf("read history: %w", herr))
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Revision >= e.Revision || entries[i].Data == nil {
			continue
		}
		st, derr := decode(entries[i].Data)
		if derr == nil {
			c.opts.Logger.Warn("serving the newest catalog revision that decodes", "store", storeName(c.opts.Store), "revision", entries[i].Revision)
			return st, nil
		}
		c.opts.Logger.Error("a catalog revision does not decode; skipped", "store", storeName(c.opts.Store), "revision", entries[i].Revision, "err", derr)
	}
	// Nothing decodes: start empty rather than not at all; the next change replaces the bad revision.
	c.opts.Logger.Warn("no catalog revision decodes; starting from an empty catalog", "store", storeName(c.opts.Store))
	return &State{}, nil
}

// storeName names the store in logs: its String method when it has one.
func storeName(s Store) string {
	if n, ok := s.(fmt.Stringer); ok {
		return n.String()
	}
	return fmt.Sprintf("%T", s)
}

// load reads the store's newest entry, under c.mu. When Load's answer is suspect (an older revision than
// the catalog holds, say) and the store is a LatestLoader, the store's authority is asked: Load's answer
// may come from a replica behind it, which is not a store that lost the catalog.
func (c *Catalog) load(ctx context.Context, suspect func(Entry) bool) (Entry, error) {
	e, err := c.opts.Store.Load(ctx)
	if err != nil || !suspect(e) {
		return e, err
	}
	l, ok := c.opts.Store.(LatestLoader)
	if !ok {
		return e, nil
	}
	latest, err := l.LoadLatest(ctx)
	if err != nil {
		return Entry{}, fmt.Errorf("a read answered revision %d while the catalog holds %d, and asking the store's leader failed: %w", e.Revision, c.rev, err)
	}
	if latest.Revision != e.Revision {
		c.opts.Logger.Debug("a read of the catalog store was answered by a replica behind its leader; the leader's answer is used",
			"store", storeName(c.opts.Store), "replica_revision", e.Revision, "revision", latest.Revision, "had", c.rev)
	}
	return latest, nil
}

// joinLoad reads the shared catalog a node joins. A join has no revision to tell a replica behind by (a
// node that joined on one served the older catalog until its watch delivered the newest, with no save to
// lose a compare-and-set when its configuration changed nothing), so a LatestLoader's authority is asked;
// when it does not answer, Load's answer is taken, logged, and the watch brings the newest.
func (c *Catalog) joinLoad(ctx context.Context, store Store) (Entry, error) {
	l, ok := store.(LatestLoader)
	if !ok {
		return store.Load(ctx)
	}
	e, err := l.LoadLatest(ctx)
	if err == nil {
		return e, nil
	}
	c.opts.Logger.Warn("joining the shared catalog: its store's leader does not answer; joining on what a replica holds, which may be behind (the watch brings the newest revision)",
		"store", storeName(store), "err", err)
	return store.Load(ctx)
}

// refresh loads the store's newest entry and adopts it, under c.mu. It runs after a lost compare-and-set,
// so an answer no newer than what the catalog holds is suspect and checked with the store's leader.
func (c *Catalog) refresh(ctx context.Context) error {
	e, err := c.load(ctx, func(e Entry) bool { return e.Revision <= c.rev })
	if err != nil {
		return fmt.Errorf("load catalog: %w", err)
	}
	if e.Revision < c.rev {
		// Revisions only grow: the store lost what it held (NATS restarted without its JetStream data).
		// This node's state is the newest there is; the change being retried saves it there again.
		c.opts.Logger.Warn("the catalog store went back to an earlier revision and lost the catalog; this node saves its own there again",
			"store", storeName(c.opts.Store), "revision", e.Revision, "had", c.rev)
		c.rev = e.Revision
		return nil
	}
	c.adopt(ctx, e)
	return nil
}

// wentBack handles an entry older than the catalog's revision, under c.mu: usually one of this node's
// own saves delivered late, but when the store's newest revision is older than the catalog's too, the
// store lost what it held and another node saved its catalog there again: that is adopted. "Newest" is
// the store's leader's answer (load): a replica that has not applied the catalog's revision yet once put
// a node back on an older catalog, without a stage it had just made.
func (c *Catalog) wentBack(ctx context.Context) {
	e, err := c.load(ctx, func(e Entry) bool { return e.Revision < c.rev })
	if err != nil {
		c.opts.Logger.Warn("the shared catalog's watch delivered an older revision and the store could not be read to tell a late delivery from a lost store; this node keeps serving its revision",
			"store", storeName(c.opts.Store), "revision", c.rev, "err", err)
		return
	}
	if e.Revision >= c.rev {
		return
	}
	c.opts.Logger.Warn("the catalog store went back to an earlier revision and lost the catalog; serving what it holds now",
		"store", storeName(c.opts.Store), "revision", e.Revision, "had", c.rev)
	c.rev = 0
	c.adopt(ctx, e)
}

// adopt makes e, another writer's revision, the catalog's state and serves it, under c.mu. An entry that
// does not decode is logged and skipped (the state stays, and the next change replaces the entry); one
// that does not compile on this node is logged and becomes the state, while the data plane keeps serving
// the last revision that compiled.
func (c *Catalog) adopt(ctx context.Context, e Entry) {
	if e.Revision <= c.rev {
		return
	}
	c.rev = e.Revision
	if e.Data == nil {
		return
	}
	st, err := decode(e.Data)
	if err != nil {
		c.opts.Logger.Error("a catalog revision does not decode; it is skipped and this node keeps serving the last one that did",
			"store", storeName(c.opts.Store), "revision", e.Revision, "serving", c.served.Load(), "err", err)
		return
	}
	c.state.Store(st)
	bundle, err := served(st)
	if err == nil {
		err = c.opts.Apply(ctx, bundle)
	}
	if err != nil {
		c.opts.Logger.Error("a catalog revision does not compile on this node; it keeps serving the last one that did",
			"store", storeName(c.opts.Store), "revision", e.Revision, "serving", c.served.Load(), "err", err)
		return
	}
	c.served.Store(e.Revision)
	c.opts.Logger.Debug("serving a catalog revision saved by another node", "revision", e.Revision)
}

// Revision returns the store revision the catalog's state holds and the one the data plane serves (they
// differ only while a revision that does not compile here is the newest). Nodes sharing a store serve
// the same revision once each has seen it.
func (c *Catalog) Revision() (state, serving uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rev, c.served.Load()
}

// Run follows the changes other nodes save to a shared store (a Store that is a Watcher), serving each
// new revision, until ctx ends; it returns at once for other stores. When the watch fails (NATS away) it
// is logged and started again after retryWatch, and the catalog keeps serving what it has meanwhile.
func (c *Catalog) Run(ctx context.Context) error {
	w, ok := c.opts.Store.(Watcher)
	if !ok {
		return nil
	}
	for {
		err := w.Watch(ctx, func(e Entry) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if e.Revision < c.rev {
				c.wentBack(ctx)
				return
			}
			c.adopt(ctx, e)
		})
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrReset) {
			c.mu.Lock()
			c.opts.Logger.Warn("the shared catalog's store was made again; this node takes what it holds next",
				"store", storeName(c.opts.Store), "had", c.rev)
			c.rev = 0
			// What the store holds now is adopted at once, not only when the next watch reports it.
			if err := c.refresh(ctx); err != nil {
				c.opts.Logger.Warn("reading the shared catalog's store made again failed; the next watch reports what it holds",
					"store", storeName(c.opts.Store), "err", err)
			}
			c.mu.Unlock()
			continue
		}
		c.opts.Logger.Warn("watching the shared catalog stopped; this node keeps serving its last revision and watches again",
			"store", storeName(c.opts.Store), "serving", c.served.Load(), "retry_in", retryWatch, "err", err)
		t := time.NewTimer(retryWatch)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// retryWatch is how long Run waits before watching the shared catalog again after the watch failed.
const retryWatch = time.Second

// autoDeploy gives a new deployment to the autoDeploy stages of every API whose deployable content
// changed (or that have no deployment yet), and drops automatic deployments no stage uses any more.
func autoDeploy(before, next *State, now time.Time) {
	for _, a := range next.APIs {
		changed := true
		if old := before.API(a.APIID); old != nil {
			changed = !bytes.Equal(old.deployable().encode(), a.deployable().encode())
		}
		var d *resource.Deployment
		for i := range a.Stages {
			st := &a.Stages[i]
			if !st.AutoDeploy || (!changed && st.DeploymentID != "" && a.Deployment(st.DeploymentID) != nil) {
				continue
			}
			if d == nil {
				d = a.Deploy("", true, now)
			}
			st.DeploymentID = d.DeploymentID
			dates := a.StageDates[st.StageName]
			dates.LastUpdatedDate = now
			if a.StageDates == nil {
				a.StageDates = map[string]Dates{}
			}
			a.StageDates[st.StageName] = dates
		}
		used := map[string]bool{}
		for _, st := range a.Stages {
			used[st.DeploymentID] = true
		}
		kept := a.Deployments[:0]
		for _, dep := range a.Deployments {
			if dep.AutoDeployed && !used[dep.DeploymentID] {
				delete(a.DeploymentDates, dep.DeploymentID)
				continue
			}
			kept = append(kept, dep)
		}
		a.Deployments = kept
	}
}

// served is what the data plane serves from st: every API with the stages that point at a deployment,
// every domain name with the mappings whose stage is served, every API key, and every usage plan with
// the stages that are served. It shares no memory with st, so Apply may change it (snapshot.Compile
// fills in defaults) while readers read st.
func served(st *State) (*resource.Bundle, error) {
	// A copy: compiling fills in defaults, and a published state is never modified.
	cp := &State{}
	if err := deepCopy(st, cp); err != nil {
		return nil, fmt.Errorf("copy served state: %w", err)
	}
	st = cp
	b := &resource.Bundle{}
	live := map[[2]string]bool{}
	for _, a := range st.APIs {
		api := a.API
		api.Stages = nil
		for _, s := range a.Stages {
			if s.DeploymentID != "" {
				api.Stages = append(api.Stages, s)
				live[[2]string{a.APIID, s.StageName}] = true
			}
		}
		b.APIs = append(b.APIs, api)
	}
	for _, d := range st.DomainNames {
		dom := d.DomainName
		dom.APIMappings = nil
		for _, m := range d.APIMappings {
			if live[[2]string{m.APIID, m.Stage}] {
				dom.APIMappings = append(dom.APIMappings, m)
			}
		}
		b.DomainNames = append(b.DomainNames, dom)
	}
	for _, k := range st.APIKeys {
		b.APIKeys = append(b.APIKeys, k.APIKey)
	}
	for _, p := range st.UsagePlans {
		plan := p.UsagePlan
		plan.APIStages = nil
		for _, s := range p.APIStages {
			if live[[2]string{s.APIID, s.Stage}] {
				plan.APIStages = append(plan.APIStages, s)
			}
		}
		b.UsagePlans = append(b.UsagePlans, plan)
	}
	return b, nil
}

// deepCopy copies src into dst through JSON: the state is plain data.
func deepCopy(src, dst any) error {
	data, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, dst)
}
