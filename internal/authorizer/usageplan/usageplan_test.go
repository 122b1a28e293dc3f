package usageplan

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// clock is a fake clock safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// t0 is Wednesday 2025-01-15 12:00 UTC.
var t0 = time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)

var testKeys = []Key{
	{ID: "k1", Name: "one", Value: "v1", Enabled: true},
	{ID: "k2", Name: "two", Value: "v2", Enabled: false},
	{ID: "k3", Name: "three", Value: "v3", Enabled: true},
	{ID: "k4", Name: "four", Value: "v4", Enabled: true},
}

func TestCheckOutcomes(t *testing.T) {
	plans := []Plan{
		{ID: "p1", Stages: []Stage{{"api", "prod"}}, KeyIDs: []string{"k1", "k2", "k4"}},
		{ID: "p2", Stages: []Stage{{"api", "dev"}}, KeyIDs: []string{"k3"}},
		{ID: "p3", Stages: []Stage{{"api", "prod"}}, Quota: &Quota{Limit: 0, Period: Day}, KeyIDs: []string{"k4", "k3"}},
	}
	tests := []struct {
		name       string
		api, stage string
		value      string
		want       Outcome
		wantID     string
		wantStatus int
	}{
		{"ok", "api", "prod", "v1", OK, "k1", 0},
		{"missing", "api", "prod", "", Missing, "", 403},
		{"unknown value", "api", "prod", "nope", Invalid, "", 403},
		{"disabled key", "api", "prod", "v2", Disabled, "k2", 403},
		{"key in a plan for another stage", "api", "prod", "v3", QuotaExceeded, "k3", 429},
		{"key in no plan for stage", "api", "test", "v3", NoPlan, "k3", 403},
		{"key in no plan for api", "other", "dev", "v3", NoPlan, "k3", 403},
		{"key in plan for its stage", "api", "dev", "v3", OK, "k3", 0},
		{"first plan of several wins", "api", "prod", "v4", OK, "k4", 0},
		{"zero quota", "api", "prod", "v3", QuotaExceeded, "k3", 429},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(testKeys, plans, newClock(t0).now)
			got, id := e.Check(tc.api, tc.stage, tc.value)
			if got != tc.want || id != tc.wantID {
				t.Fatalf("Check = %v, %q; want %v, %q", got, id, tc.want, tc.wantID)
			}
			if got.Status() != tc.wantStatus {
				t.Errorf("Status = %d, want %d", got.Status(), tc.wantStatus)
			}
		})
	}
}

func TestStatusAndString(t *testing.T) {
	tests := []struct {
		name   string
		o      Outcome
		status int
		reason string
	}{
		{"OK", OK, 0, ""},
		{"Missing", Missing, 403, "no API key presented"},
		{"Invalid", Invalid, 403, "unknown API key"},
		{"Disabled", Disabled, 403, "API key disabled"},
		{"NoPlan", NoPlan, 403, "API key in no usage plan for this stage"},
		{"Throttled", Throttled, 429, "usage plan throttle limit exceeded"},
		{"QuotaExceeded", QuotaExceeded, 429, "usage plan quota exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.Status() != tc.status || tc.o.String() != tc.name || tc.o.Reason() != tc.reason {
				t.Errorf("%v: Status %d String %q Reason %q", tc.o, tc.o.Status(), tc.o.String(), tc.o.Reason())
			}
		})
	}
}

type step struct {
	after time.Duration // clock advance before the request
	value string
	want  Outcome
}

func run(t *testing.T, plans []Plan, start time.Time, steps []step) {
	t.Helper()
	c := newClock(start)
	e := New(testKeys, plans, c.now)
	for i, s := range steps {
		c.advance(s.after)
		if got, _ := e.Check("api", "prod", s.value); got != s.want {
			t.Fatalf("step %d (%s at %v): %v, want %v", i, s.value, c.now(), got, s.want)
		}
	}
}

func TestThrottle(t *testing.T) {
	lim := &throttle.Limits{Rate: 2, Burst: 3}
	tests := []struct {
		name  string
		plans []Plan
		steps []step
	}{
		{
			name:  "burst then refill",
			plans: []Plan{{Stages: []Stage{{"api", "prod"}}, Throttle: lim, KeyIDs: []string{"k1"}}},
			steps: []step{
				{0, "v1", OK}, {0, "v1", OK}, {0, "v1", OK}, {0, "v1", Throttled},
				{499 * time.Millisecond, "v1", Throttled}, {time.Millisecond, "v1", OK}, {0, "v1", Throttled},
				{10 * time.Second, "v1", OK}, {0, "v1", OK}, {0, "v1", OK}, {0, "v1", Throttled},
			},
		},
		{
			name:  "buckets are per key",
			plans: []Plan{{Stages: []Stage{{"api", "prod"}}, Throttle: &throttle.Limits{Rate: 1, Burst: 1}, KeyIDs: []string{"k1", "k4"}}},
			steps: []step{{0, "v1", OK}, {0, "v1", Throttled}, {0, "v4", OK}, {0, "v4", Throttled}},
		},
		{
			name: "throttled requests do not consume quota",
			plans: []Plan{{Stages: []Stage{{"api", "prod"}}, Throttle: &throttle.Limits{Rate: 1, Burst: 1},
				Quota: &Quota{Limit: 2, Period: Day}, KeyIDs: []string{"k1"}}},
			steps: []step{
				{0, "v1", OK}, {0, "v1", Throttled}, {0, "v1", Throttled},
				{time.Second, "v1", OK}, {time.Second, "v1", QuotaExceeded},
			},
		},
		{
			name: "quota-refused requests do not consume tokens",
			plans: []Plan{{Stages: []Stage{{"api", "prod"}}, Throttle: &throttle.Limits{Rate: 1, Burst: 1},
				Quota: &Quota{Limit: 1, Period: Day}, KeyIDs: []string{"k1"}}},
			steps: []step{
				{0, "v1", OK}, {0, "v1", QuotaExceeded}, {0, "v1", QuotaExceeded},
				{12 * time.Hour, "v1", OK}, // new day; bucket refilled
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, tc.plans, t0, tc.steps) })
	}
}

func TestQuotaWindows(t *testing.T) {
	plan := func(q Quota) []Plan {
		return []Plan{{Stages: []Stage{{"api", "prod"}}, Quota: &q, KeyIDs: []string{"k1"}}}
	}
	const h = time.Hour
	tests := []struct {
		name  string
		q     Quota
		start time.Time
		steps []step
	}{
		{
			name: "day rolls over at 00:00 UTC", q: Quota{Limit: 2, Period: Day}, start: t0,
			steps: []step{
				{0, "v1", OK}, {0, "v1", OK}, {0, "v1", QuotaExceeded},
				{12*h - 1, "v1", QuotaExceeded}, {1, "v1", OK}, {0, "v1", OK}, {0, "v1", QuotaExceeded},
			},
		},
		{
			name: "day ignores offset", q: Quota{Limit: 1, Period: "day", Offset: 3}, start: t0,
			steps: []step{{0, "v1", OK}, {0, "v1", QuotaExceeded}, {12 * h, "v1", OK}},
		},
		{
			// t0 is Wednesday; the week ends Sunday 23:59:59 UTC.
			name: "week starts Monday", q: Quota{Limit: 1, Period: Week}, start: t0,
			steps: []step{
				{0, "v1", OK}, {0, "v1", QuotaExceeded},
				{4*24*h + 12*h - 1, "v1", QuotaExceeded}, // Sunday 23:59:59.999999999
				{1, "v1", OK}, {0, "v1", QuotaExceeded},  // Monday 00:00
			},
		},
		{
			// Offset 2: the window starts Wednesday 00:00 UTC.
			name: "week offset", q: Quota{Limit: 1, Period: Week, Offset: 2}, start: t0.Add(-12*h - 1),
			steps: []step{
				{0, "v1", OK}, {1, "v1", OK}, {0, "v1", QuotaExceeded},
				{6*24*h + 23*h, "v1", QuotaExceeded}, {h, "v1", OK},
			},
		},
		{
			name: "week offset clamped to 6", q: Quota{Limit: 1, Period: Week, Offset: 99},
			start: time.Date(2025, 1, 19, 23, 0, 0, 0, time.UTC), // Sunday
			steps: []step{{0, "v1", OK}, {0, "v1", QuotaExceeded}, {h, "v1", QuotaExceeded}, {6 * 24 * h, "v1", OK}},
		},
		{
			name: "month rolls over on the 1st", q: Quota{Limit: 1, Period: Month}, start: t0,
			steps: []step{
				{0, "v1", OK}, {0, "v1", QuotaExceeded},
				{16*24*h + 12*h - 1, "v1", QuotaExceeded}, {1, "v1", OK}, {0, "v1", QuotaExceeded},
			},
		},
		{
			// Offset 14: windows start on the 15th.
			name: "month offset", q: Quota{Limit: 1, Period: Month, Offset: 14}, start: t0.Add(-12*h - 1),
			steps: []step{
				{0, "v1", OK}, {1, "v1", OK}, {0, "v1", QuotaExceeded},
				{31*24*h - 1, "v1", QuotaExceeded}, {1, "v1", OK}, // Feb 15 00:00
			},
		},
		{
			// Offset 30 clamps to the last day: Feb 28, then Mar 31.
			name: "month offset clamped to month length", q: Quota{Limit: 1, Period: Month, Offset: 30},
			start: time.Date(2025, 2, 27, 0, 0, 0, 0, time.UTC),
			steps: []step{
				{0, "v1", OK}, {0, "v1", QuotaExceeded},
				{24 * h, "v1", OK}, {0, "v1", QuotaExceeded}, // Feb 28
				{31*24*h - 1, "v1", QuotaExceeded}, {1, "v1", OK}, // Mar 31 00:00
			},
		},
		{
			name: "negative offset is 0", q: Quota{Limit: 1, Period: Month, Offset: -5},
			start: time.Date(2025, 1, 31, 23, 0, 0, 0, time.UTC),
			steps: []step{{0, "v1", OK}, {0, "v1", QuotaExceeded}, {h, "v1", OK}},
		},
		{
			name: "unknown period means no quota", q: Quota{Limit: 1, Period: "YEAR"}, start: t0,
			steps: []step{{0, "v1", OK}, {0, "v1", OK}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, plan(tc.q), tc.start, tc.steps) })
	}
}

func TestQuotaSharedAcrossPlanStages(t *testing.T) {
	c := newClock(t0)
	e := New(testKeys, []Plan{{Stages: []Stage{{"api", "prod"}, {"api", "dev"}}, Quota: &Quota{Limit: 1, Period: Day}, KeyIDs: []string{"k1"}}}, c.now)
	if o, _ := e.Check("api", "prod", "v1"); o != OK {
		t.Fatalf("prod: %v", o)
	}
	if o, _ := e.Check("api", "dev", "v1"); o != QuotaExceeded {
		t.Fatalf("dev: %v, want QuotaExceeded", o)
	}
}

func TestConcurrent(t *testing.T) {
	const limit, workers, per = 500, 16, 100
	c := newClock(t0)
	e := New(testKeys, []Plan{{
		Stages:   []Stage{{"api", "prod"}},
		Throttle: &throttle.Limits{Rate: 1000, Burst: 1000},
		Quota:    &Quota{Limit: limit, Period: Day},
		KeyIDs:   []string{"k1", "k4"},
	}}, c.now)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := []string{"v1", "v4"}[w%2]
			for range per {
				c.advance(time.Microsecond)
				if o, _ := e.Check("api", "prod", v); o == OK {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 2*limit {
		t.Errorf("%d requests allowed, want %d (quota of 2 keys)", ok.Load(), 2*limit)
	}
}

// TestCheckDoesNotAllocate guards the per-message cost: a route that requires a key runs Check for every
// message, so neither an allowed nor a refused check may allocate.
func TestCheckDoesNotAllocate(t *testing.T) {
	plans := []Plan{{ID: "p", Stages: []Stage{{"api", "prod"}}, Throttle: &throttle.Limits{Rate: 1e9, Burst: 1e9},
		Quota: &Quota{Limit: 1 << 30, Period: Month}, KeyIDs: []string{"k1"}}}
	e := New(testKeys, plans, newClock(t0).now)
	for _, tc := range []struct{ name, value string }{{"allowed", "v1"}, {"unknown key", "nope"}, {"no plan", "v3"}} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() {
				o, _ := e.Check("api", "prod", tc.value)
				_ = o.Reason()
			}); n != 0 {
				t.Errorf("Check allocates %v times per call", n)
			}
		})
	}
}
