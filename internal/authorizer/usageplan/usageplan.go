// Package usageplan reproduces API Gateway API keys and usage plans (spec §5.4) for routes with
// apiKeyRequired: it validates the presented key against the usage plans covering the API stage and
// applies the plan's per-key throttle (a token bucket, spec §5.5) and quota.
//
// Choices where API Gateway's behaviour is not documented or not reproduced:
//   - A key may belong to several plans; for an API stage only the first plan (in the order given to New)
//     that covers the stage and lists the key applies. (AWS forbids a key in two plans sharing a stage.)
//   - Throttle and quota state is per key per plan, shared by every stage of the plan, as on AWS.
//   - Quota windows are in UTC: DAY starts at 00:00, WEEK on Monday 00:00 (AWS's offset 0 is Sunday;
//     here Monday), MONTH on the 1st at 00:00. Offset is days added to that start, clamped to the
//     period: 0 for DAY, 0–6 for WEEK, 0 to the month's length − 1 for MONTH. A Limit of 0 or less
//     refuses every request.
//   - A request is refused for quota before the throttle is consulted, so neither refused-for-quota nor
//     throttled requests consume anything; an OK request consumes one token and one quota unit.
//   - Buckets start full and windows start empty when an Engine is built with New; Next builds the
//     Engine for a changed configuration and keeps the usage of every (plan, key) left unchanged.
//   - In a cluster, quotas count every node's requests: an Engine given a Shared (Share) adds what the
//     other nodes counted in the same window, as last reported, to its own count. Requests other nodes
//     take between two reports can pass the limit by that much; AWS applies usage plans on a
//     best-effort basis too ("Usage plan throttling and quotas are not hard limits"). Throttle buckets
//     stay per node: each node admits the plan's rate and burst on its own.
//   - Keys with an empty value are ignored; if two keys share a value the first wins. Plans' KeyIDs
//     naming unknown keys are ignored. Quota periods other than DAY, WEEK and MONTH mean no quota.
package usageplan

import (
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// Key is an API Gateway API key (a v1 resource).
type Key struct {
	// ID is the key's id, reported as requestContext.identity.apiKeyId.
	ID string
	// Name is the key's display name.
	Name string
	// Value is the secret clients present (the x-api-key header, or an authorizer's usageIdentifierKey).
	Value string
	// Enabled is false for a disabled key, which is refused like an unknown one.
	Enabled bool
}

// Plan is a usage plan: which API stages it covers, its per-key throttle and quota, and its keys.
type Plan struct {
	// ID and Name identify the plan.
	ID, Name string
	// Stages are the API stages the plan covers.
	Stages []Stage
	// Throttle limits each key of the plan; nil means no throttle.
	Throttle *throttle.Limits
	// Quota limits each key of the plan; nil means no quota.
	Quota *Quota
	// KeyIDs are the IDs of the plan's keys.
	KeyIDs []string
}

// Stage is an API stage covered by a usage plan.
type Stage struct {
	// APIID is the API's id.
	APIID string
	// Stage is the stage name.
	Stage string
}

// Quota periods.
const (
	// Day is a quota period starting at 00:00 UTC.
	Day = "DAY"
	// Week is a quota period starting on Monday at 00:00 UTC.
	Week = "WEEK"
	// Month is a quota period starting on the 1st at 00:00 UTC.
	Month = "MONTH"
)

// Quota is the number of requests a key may make per period.
type Quota struct {
	// Limit is the maximum number of requests per window.
	Limit int
	// Period is DAY, WEEK or MONTH (case-insensitive).
	Period string
	// Offset is the number of days added to the period's start, clamped to the period.
	Offset int
}

// Outcome is the result of checking one request's API key.
type Outcome int

// Outcomes of Check.
const (
	// OK means the request is allowed; it consumed a throttle token and a quota unit.
	OK Outcome = iota
	// Missing means no key was presented (403).
	Missing
	// Invalid means the key is unknown (403).
	Invalid
	// Throttled means the key's plan throttle refused the request (429).
	Throttled
	// QuotaExceeded means the key's plan quota for the current window is used up (429).
	QuotaExceeded
	// Disabled means the key exists but is disabled (403).
	Disabled
	// NoPlan means the key is in no usage plan covering the API stage (403).
	NoPlan
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case OK:
		return "OK"
	case Missing:
		return "Missing"
	case Invalid:
		return "Invalid"
	case Throttled:
		return "Throttled"
	case QuotaExceeded:
		return "QuotaExceeded"
	case Disabled:
		return "Disabled"
	case NoPlan:
		return "NoPlan"
	}
	return "Outcome(?)"
}

// Reason says why a request was refused, in words for the operator's log ("" for OK).
func (o Outcome) Reason() string {
	switch o {
	case OK:
		return ""
	case Missing:
		return "no API key presented"
	case Invalid:
		return "unknown API key"
	case Disabled:
		return "API key disabled"
	case NoPlan:
		return "API key in no usage plan for this stage"
	case Throttled:
		return "usage plan throttle limit exceeded"
	case QuotaExceeded:
		return "usage plan quota exceeded"
	}
	return "unknown outcome"
}

// Status returns the HTTP status of the outcome: 0 for OK, 403 for Missing, Invalid, Disabled and
// NoPlan, 429 for Throttled and QuotaExceeded.
func (o Outcome) Status() int {
	switch o {
	case OK:
		return 0
	case Throttled, QuotaExceeded:
		return 429
	default:
		return 403
	}
}

// Engine checks API keys against usage plans. It is safe for concurrent use; its state is one entry
// per (plan, key) pair configured.
type Engine struct {
	now     func() time.Time
	shared  Shared // nil: quotas count this node's requests only
	byValue map[string]Key
	routes  map[route]*entry
	byPlan  map[planKey]*entry // every entry, for Next to carry usage over
}

// planKey is a key in a plan.
type planKey struct{ plan, keyID string }

// route is a key used on an API stage.
type route struct {
	stage Stage
	keyID string
}

// Shared is the usage other nodes of a cluster counted: Others returns the requests counted elsewhere for
// keyID in plan during the quota window that starts at window. It is called on every request of a route
// that requires an API key, so it must be cheap and must not block.
type Shared interface {
	Others(plan, keyID string, window time.Time) int
}

// Usage is the requests one node counted for a key in a plan during one quota window.
type Usage struct {
	Plan, KeyID string
	// Window is the start of the quota window.
	Window time.Time
	// Count is the requests this Engine (and those it carried over) counted in the window.
	Count int
}

// entry is the throttle and quota state of one key in one plan.
type entry struct {
	plan, keyID string
	bucket      *throttle.Bucket // nil: no throttle
	limits      *throttle.Limits // the bucket's limits
	quota       *Quota           // nil: no quota

	mu     sync.Mutex
	window time.Time // start of the current quota window
	count  int       // requests counted in window
}

// New returns an Engine for keys and plans, reading the time from now.
func New(keys []Key, plans []Plan, now func() time.Time) *Engine { return Next(nil, keys, plans, now) }

// Next returns an Engine for changed keys and plans that carries over prev's usage: a key that stays in
// a plan keeps the requests counted in the current quota window and its throttle bucket when the plan's
// quota and throttle are unchanged. prev may be nil.
func Next(prev *Engine, keys []Key, plans []Plan, now func() time.Time) *Engine {
	e := &Engine{now: now, shared: prev.sharedWith(), byValue: make(map[string]Key), routes: make(map[route]*entry), byPlan: make(map[planKey]*entry)}
	known := make(map[string]bool)
	for _, k := range keys {
		known[k.ID] = true
		if k.Value == "" {
			continue
		}
		if _, dup := e.byValue[k.Value]; !dup {
			e.byValue[k.Value] = k
		}
	}
	t := now()
	for _, p := range plans {
		var q *Quota
		if p.Quota != nil && knownPeriod(p.Quota.Period, t) {
			qc := *p.Quota
			q = &qc
		}
		entries := make(map[string]*entry)
		for _, id := range p.KeyIDs {
			if !known[id] || entries[id] != nil {
				continue
			}
			en := &entry{plan: p.ID, keyID: id, quota: q, limits: p.Throttle}
			if p.Throttle != nil {
				en.bucket = throttle.NewBucket(*p.Throttle, t)
			}
			if old := prev.entry(p.ID, id); old != nil {
				en.carryOver(old, p.Throttle)
			}
			entries[id] = en
			e.byPlan[planKey{p.ID, id}] = en
			for _, s := range p.Stages {
				r := route{stage: s, keyID: id}
				if _, taken := e.routes[r]; !taken {
					e.routes[r] = en
				}
			}
		}
	}
	return e
}

// sharedWith is e's Shared, or nil for a nil Engine.
func (e *Engine) sharedWith() Shared {
	if e == nil {
		return nil
	}
	return e.shared
}

// Share makes e count other nodes' usage (s) against its quotas and returns e. Engines that Next builds
// from e share the same. Call it before e is used.
func (e *Engine) Share(s Shared) *Engine {
	e.shared = s
	return e
}

// Usage lists the requests e counted in each (plan, key)'s current quota window, for sharing with other
// nodes. Pairs without a quota, or without a request yet, are left out.
func (e *Engine) Usage() []Usage {
	var out []Usage
	for pk, en := range e.byPlan {
		en.mu.Lock()
		if en.quota != nil && !en.window.IsZero() {
			out = append(out, Usage{Plan: pk.plan, KeyID: pk.keyID, Window: en.window, Count: en.count})
		}
		en.mu.Unlock()
	}
	return out
}

// entry returns e's state of keyID in plan, or nil.
func (e *Engine) entry(plan, keyID string) *entry {
	if e == nil {
		return nil
	}
	return e.byPlan[planKey{plan, keyID}]
}

// carryOver takes old's quota count when the quota is the same, and its bucket when the throttle is.
func (en *entry) carryOver(old *entry, limits *throttle.Limits) {
	old.mu.Lock()
	defer old.mu.Unlock()
	if (en.quota == nil) == (old.quota == nil) && (en.quota == nil || *en.quota == *old.quota) {
		en.window, en.count = old.window, old.count
	}
	if en.bucket != nil && old.bucket != nil && old.limits != nil && limits != nil && *old.limits == *limits {
		en.bucket = old.bucket
	}
}

// Check is one request of a route that requires an API key: the key value presented (from the API key
// selection expression) for apiID/stage. It returns the outcome and, when the key is known, its ID (for
// requestContext.identity.apiKeyId; the value presented is identity.apiKey). OK consumes one unit of the
// key's plan quota and one token of its throttle bucket.
func (e *Engine) Check(apiID, stage, value string) (outcome Outcome, keyID string) {
	if value == "" {
		return Missing, ""
	}
	k, ok := e.byValue[value]
	if !ok {
		return Invalid, ""
	}
	if !k.Enabled {
		return Disabled, k.ID
	}
	en := e.routes[route{stage: Stage{APIID: apiID, Stage: stage}, keyID: k.ID}]
	if en == nil {
		return NoPlan, k.ID
	}
	return en.take(e.now(), e.shared), k.ID
}

// take applies the entry's quota (counting shared's usage too, when not nil) and throttle to one
// request at now.
func (en *entry) take(now time.Time, shared Shared) Outcome {
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.quota != nil {
		if w := windowStart(*en.quota, now); !w.Equal(en.window) {
			en.window, en.count = w, 0
		}
		used := en.count
		if shared != nil {
			used += shared.Others(en.plan, en.keyID, en.window)
		}
		if used >= en.quota.Limit {
			return QuotaExceeded
		}
	}
	if en.bucket != nil && !en.bucket.Allow(now) {
		return Throttled
	}
	en.count++
	return OK
}

// period describes a quota period: the start of the period containing a time, the previous period's
// start, and the largest offset in days for a period starting at a given time.
type period struct {
	start     time.Time
	prev      func(time.Time) time.Time
	maxOffset func(time.Time) int
}

// periodStart returns the period named name containing t (in UTC); ok is false for an unknown name. It
// returns a value, not a pointer, so that the per-request quota check does not allocate.
func periodStart(name string, t time.Time) (p period, ok bool) {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch strings.ToUpper(name) {
	case Day:
		return period{
			start:     day,
			prev:      func(s time.Time) time.Time { return s.AddDate(0, 0, -1) },
			maxOffset: func(time.Time) int { return 0 },
		}, true
	case Week:
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		return period{
			start:     day.AddDate(0, 0, -back),
			prev:      func(s time.Time) time.Time { return s.AddDate(0, 0, -7) },
			maxOffset: func(time.Time) int { return 6 },
		}, true
	case Month:
		return period{
			start:     time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC),
			prev:      func(s time.Time) time.Time { return s.AddDate(0, -1, 0) },
			maxOffset: func(s time.Time) int { return s.AddDate(0, 1, -1).Day() - 1 },
		}, true
	}
	return period{}, false
}

// knownPeriod reports whether name is a quota period (DAY, WEEK or MONTH, in any case).
func knownPeriod(name string, t time.Time) bool {
	_, ok := periodStart(name, t)
	return ok
}

// windowStart returns the start of q's quota window containing now.
func windowStart(q Quota, now time.Time) time.Time {
	p, _ := periodStart(q.Period, now)
	shift := func(s time.Time) time.Time {
		return s.AddDate(0, 0, min(max(q.Offset, 0), p.maxOffset(s)))
	}
	w := shift(p.start)
	if now.Before(w) {
		w = shift(p.prev(p.start))
	}
	return w
}
