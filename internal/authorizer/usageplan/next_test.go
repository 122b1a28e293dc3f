package usageplan

import (
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// nextKeys are the keys of the Next tests; each case may change them.
var nextKeys = []Key{
	{ID: "k1", Value: "value-1", Enabled: true},
	{ID: "k2", Value: "value-2", Enabled: true},
}

// quotaPlan returns plan id on api/prod with keys and a DAY quota of limit requests.
func quotaPlan(id string, limit int, keys ...string) Plan {
	return Plan{ID: id, Stages: []Stage{{"api", "prod"}}, Quota: &Quota{Limit: limit, Period: Day}, KeyIDs: keys}
}

// throttlePlan returns plan id on api/prod with keys and a bucket of burst tokens that refills only after
// a thousand seconds per token.
func throttlePlan(id string, burst int, keys ...string) Plan {
	return Plan{ID: id, Stages: []Stage{{"api", "prod"}}, Throttle: &throttle.Limits{Rate: 0.001, Burst: burst}, KeyIDs: keys}
}

// TestNextCarriesOverUsage checks what a new Engine keeps of the previous one's usage: a key that stays
// in a plan keeps its quota count while the quota is unchanged, and its bucket while the throttle is,
// whatever else changes; anything else starts afresh.
func TestNextCarriesOverUsage(t *testing.T) {
	type config struct {
		keys  []Key
		plans []Plan
	}
	tests := []struct {
		name string
		// before is the first configuration; used requests are made with value-1 on api/prod, all OK.
		before config
		used   int
		// after are the configurations that follow, each built with Next from the one before.
		after []config
		// elapse is how long passes between the last configuration and the checks.
		elapse time.Duration
		// value and stage are what the checks present; want is their outcomes, in order.
		value, stage string
		want         []Outcome
	}{
		{
			name:   "unchanged quota keeps the count",
			before: config{nextKeys, []Plan{quotaPlan("p", 3, "k1")}}, used: 2,
			after: []config{{nextKeys, []Plan{quotaPlan("p", 3, "k1")}}},
			want:  []Outcome{OK, QuotaExceeded},
		},
		{
			name:   "unchanged throttle keeps the bucket",
			before: config{nextKeys, []Plan{throttlePlan("p", 2, "k1")}}, used: 2,
			after: []config{{nextKeys, []Plan{throttlePlan("p", 2, "k1")}}},
			want:  []Outcome{Throttled},
		},
		{
			name:   "a changed quota starts a new count",
			before: config{nextKeys, []Plan{quotaPlan("p", 3, "k1")}}, used: 3,
			after: []config{{nextKeys, []Plan{quotaPlan("p", 2, "k1")}}},
			want:  []Outcome{OK, OK, QuotaExceeded},
		},
		{
			name:   "a changed throttle starts a full bucket",
			before: config{nextKeys, []Plan{throttlePlan("p", 2, "k1")}}, used: 2,
			after: []config{{nextKeys, []Plan{throttlePlan("p", 3, "k1")}}},
			want:  []Outcome{OK, OK, OK, Throttled},
		},
		{
			name: "a changed throttle keeps the quota count",
			before: config{nextKeys, []Plan{{ID: "p", Stages: []Stage{{"api", "prod"}}, KeyIDs: []string{"k1"},
				Quota: &Quota{Limit: 3, Period: Day}, Throttle: &throttle.Limits{Rate: 100, Burst: 10}}}}, used: 2,
			after: []config{{nextKeys, []Plan{{ID: "p", Stages: []Stage{{"api", "prod"}}, KeyIDs: []string{"k1"},
				Quota: &Quota{Limit: 3, Period: Day}, Throttle: &throttle.Limits{Rate: 50, Burst: 5}}}}},
			want: []Outcome{OK, QuotaExceeded},
		},
		{
			name: "a changed quota keeps the bucket",
			before: config{nextKeys, []Plan{{ID: "p", Stages: []Stage{{"api", "prod"}}, KeyIDs: []string{"k1"},
				Quota: &Quota{Limit: 10, Period: Day}, Throttle: &throttle.Limits{Rate: 0.001, Burst: 2}}}}, used: 2,
			after: []config{{nextKeys, []Plan{{ID: "p", Stages: []Stage{{"api", "prod"}}, KeyIDs: []string{"k1"},
				Quota: &Quota{Limit: 20, Period: Day}, Throttle: &throttle.Limits{Rate: 0.001, Burst: 2}}}}},
			want: []Outcome{Throttled},
		},
		{
			name:   "adding a key to the plan keeps the others' counts",
			before: config{nextKeys, []Plan{quotaPlan("p", 3, "k1")}}, used: 2,
			after: []config{{nextKeys, []Plan{quotaPlan("p", 3, "k1", "k2")}}},
			want:  []Outcome{OK, QuotaExceeded},
		},
		{
			name:   "a new key in the plan starts with nothing used",
			before: config{nextKeys, []Plan{quotaPlan("p", 2, "k1")}}, used: 2,
			after: []config{{nextKeys, []Plan{quotaPlan("p", 2, "k1", "k2")}}},
			value: "value-2",
			want:  []Outcome{OK, OK, QuotaExceeded},
		},
		{
			name:   "a stage added to the plan shares the count",
			before: config{nextKeys, []Plan{quotaPlan("p", 3, "k1")}}, used: 2,
			after: []config{{nextKeys, []Plan{{ID: "p", Stages: []Stage{{"api", "prod"}, {"api", "dev"}},
				Quota: &Quota{Limit: 3, Period: Day}, KeyIDs: []string{"k1"}}}}},
			stage: "dev",
			want:  []Outcome{OK, QuotaExceeded},
		},
		{
			name:   "a new key value keeps the key's count",
			before: config{nextKeys, []Plan{quotaPlan("p", 3, "k1")}}, used: 2,
			after: []config{{[]Key{{ID: "k1", Value: "value-1b", Enabled: true}}, []Plan{quotaPlan("p", 3, "k1")}}},
			value: "value-1b",
			want:  []Outcome{OK, QuotaExceeded},
		},
		{
			name:   "a key disabled and enabled again keeps its count",
			before: config{nextKeys, []Plan{quotaPlan("p", 3, "k1")}}, used: 2,
			after: []config{
				{[]Key{{ID: "k1", Value: "value-1", Enabled: false}}, []Plan{quotaPlan("p", 3, "k1")}},
				{nextKeys, []Plan{quotaPlan("p", 3, "k1")}},
			},
			want: []Outcome{OK, QuotaExceeded},
		},
		{
			name:   "a key taken out of the plan and put back starts afresh",
			before: config{nextKeys, []Plan{quotaPlan("p", 2, "k1")}}, used: 2,
			after: []config{
				{nextKeys, []Plan{quotaPlan("p", 2)}},
				{nextKeys, []Plan{quotaPlan("p", 2, "k1")}},
			},
			want: []Outcome{OK, OK, QuotaExceeded},
		},
		{
			name:   "a key moved to another plan starts afresh",
			before: config{nextKeys, []Plan{quotaPlan("p", 2, "k1")}}, used: 2,
			after: []config{{nextKeys, []Plan{quotaPlan("q", 2, "k1")}}},
			want:  []Outcome{OK, OK, QuotaExceeded},
		},
		{
			name:   "a carried count ends with its window",
			before: config{nextKeys, []Plan{quotaPlan("p", 2, "k1")}}, used: 2,
			after:  []config{{nextKeys, []Plan{quotaPlan("p", 2, "k1")}}},
			elapse: 24 * time.Hour,
			want:   []Outcome{OK, OK, QuotaExceeded},
		},
		{
			name:   "a key that leaves every plan is refused",
			before: config{nextKeys, []Plan{quotaPlan("p", 2, "k1")}}, used: 1,
			after: []config{{nextKeys, nil}},
			want:  []Outcome{NoPlan},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(t0)
			e := Next(nil, tc.before.keys, tc.before.plans, clk.now)
			for i := range tc.used {
				if got, _ := e.Check("api", "prod", "value-1"); got != OK {
					t.Fatalf("request %d before the change: %v", i, got)
				}
			}
			for _, c := range tc.after {
				clk.advance(time.Second)
				e = Next(e, c.keys, c.plans, clk.now)
			}
			clk.advance(tc.elapse)
			value, stage := tc.value, tc.stage
			if value == "" {
				value = "value-1"
			}
			if stage == "" {
				stage = "prod"
			}
			for i, want := range tc.want {
				if got, _ := e.Check("api", stage, value); got != want {
					t.Fatalf("check %d after the change = %v, want %v", i, got, want)
				}
			}
		})
	}
}

// TestNextNilIsNew checks that Next without a previous Engine is New.
func TestNextNilIsNew(t *testing.T) {
	clk := newClock(t0)
	plans := []Plan{quotaPlan("p", 1, "k1")}
	for name, e := range map[string]*Engine{"New": New(nextKeys, plans, clk.now), "Next(nil)": Next(nil, nextKeys, plans, clk.now)} {
		t.Run(name, func(t *testing.T) {
			if got, id := e.Check("api", "prod", "value-1"); got != OK || id != "k1" {
				t.Fatalf("first check = %v, %q", got, id)
			}
			if got, _ := e.Check("api", "prod", "value-1"); got != QuotaExceeded {
				t.Fatalf("second check = %v", got)
			}
		})
	}
}

// TestNextWhileChecking builds new Engines from one that is checking requests at the same time, as the
// gateway does when the catalog changes under load; run with -race. Whatever the interleaving, the last
// Engine goes on counting from what it carried over and refuses once the quota is used up.
func TestNextWhileChecking(t *testing.T) {
	const limit = 500
	clk := newClock(t0)
	plans := []Plan{{ID: "p", Stages: []Stage{{"api", "prod"}}, KeyIDs: []string{"k1"},
		Quota: &Quota{Limit: limit, Period: Day}, Throttle: &throttle.Limits{Rate: 1, Burst: 10 * limit}}}
	var (
		mu      sync.Mutex
		current = New(nextKeys, plans, clk.now)
		wg      sync.WaitGroup
	)
	engine := func() *Engine {
		mu.Lock()
		defer mu.Unlock()
		return current
	}
	for range 4 {
		wg.Go(func() {
			for range limit / 4 {
				if got, _ := engine().Check("api", "prod", "value-1"); got != OK && got != QuotaExceeded {
					t.Errorf("check: %v", got)
				}
			}
		})
	}
	for range 50 {
		next := Next(engine(), nextKeys, plans, clk.now)
		mu.Lock()
		current = next
		mu.Unlock()
	}
	wg.Wait()
	for i := 0; ; i++ {
		got, _ := current.Check("api", "prod", "value-1")
		if got == QuotaExceeded {
			break
		}
		if got != OK || i >= limit {
			t.Fatalf("check %d after the changes: %v; want OK until the quota of %d is used up", i, got, limit)
		}
	}
}
