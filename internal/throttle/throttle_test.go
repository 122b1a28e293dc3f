package throttle

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

var t0 = time.Date(2024, 1, 20, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// step is one request of a scripted sequence: advance the clock by after, then expect allow.
type step struct {
	after time.Duration
	allow bool
}

// steps expands n requests arriving at once with the same expectation.
func steps(n int, allow bool) []step {
	s := make([]step, n)
	for i := range s {
		s[i].allow = allow
	}
	return s
}

func concat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestBucket(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		steps  []step
	}{
		{"burst then throttled", Limits{Rate: 10, Burst: 3}, concat(steps(3, true), steps(2, false))},
		{"refill one token", Limits{Rate: 10, Burst: 3}, concat(steps(3, true), []step{{0, false}, {100 * time.Millisecond, true}, {0, false}})},
		{"partial refill is not a token", Limits{Rate: 10, Burst: 1}, []step{{0, true}, {99 * time.Millisecond, false}, {time.Millisecond, true}}},
		{"100 per second for 10 ms", Limits{Rate: 100, Burst: 1}, []step{{0, true}, {10 * time.Millisecond, true}, {0, false}}},
		{"refill capped at burst", Limits{Rate: 10, Burst: 2}, concat(steps(2, true), []step{{time.Hour, true}, {0, true}, {0, false}})},
		{"fractional rate", Limits{Rate: 0.5, Burst: 1}, []step{{0, true}, {time.Second, false}, {time.Second, true}}},
		{"clock going backwards", Limits{Rate: 10, Burst: 1}, []step{{0, true}, {-time.Hour, false}, {time.Hour, false}, {100 * time.Millisecond, true}}},
		{"unlimited", Unlimited(), steps(10000, true)},
		{"zero blocks", Limits{}, steps(3, false)},
		{"no burst blocks", Limits{Rate: 1000}, []step{{0, false}, {time.Second, false}}},
		{"no rate: burst once", Limits{Burst: 2}, concat(steps(2, true), []step{{time.Hour, false}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			b := NewBucket(tc.limits, now)
			for i, s := range tc.steps {
				now = now.Add(s.after)
				if got := b.Allow(now); got != s.allow {
					t.Fatalf("request %d at +%v: Allow = %v, want %v", i, now.Sub(t0), got, s.allow)
				}
			}
		})
	}
}

func TestLimitsFromSettings(t *testing.T) {
	tests := []struct {
		name            string
		route, defaults *resource.RouteSettings
		want            Limits
	}{
		{"nothing set", nil, nil, Unlimited()},
		{"empty settings", &resource.RouteSettings{}, &resource.RouteSettings{LoggingLevel: "INFO"}, Unlimited()},
		{"defaults", nil, &resource.RouteSettings{ThrottlingRateLimit: 50, ThrottlingBurstLimit: 10}, Limits{Rate: 50, Burst: 10}},
		{"route overrides both", &resource.RouteSettings{ThrottlingRateLimit: 2000, ThrottlingBurstLimit: 100}, &resource.RouteSettings{ThrottlingRateLimit: 50, ThrottlingBurstLimit: 10}, Limits{Rate: 2000, Burst: 100}},
		{"route overrides rate only", &resource.RouteSettings{ThrottlingRateLimit: 5}, &resource.RouteSettings{ThrottlingRateLimit: 50, ThrottlingBurstLimit: 10}, Limits{Rate: 5, Burst: 10}},
		{"route overrides burst only", &resource.RouteSettings{ThrottlingBurstLimit: 1}, &resource.RouteSettings{ThrottlingRateLimit: 50, ThrottlingBurstLimit: 10}, Limits{Rate: 50, Burst: 1}},
		{"rate without burst", nil, &resource.RouteSettings{ThrottlingRateLimit: 2.5}, Limits{Rate: 2.5, Burst: 3}},
		{"small rate without burst", &resource.RouteSettings{ThrottlingRateLimit: 0.1}, nil, Limits{Rate: 0.1, Burst: 1}},
		{"burst without rate", nil, &resource.RouteSettings{ThrottlingBurstLimit: 10}, Unlimited()},
		{"negative values", &resource.RouteSettings{ThrottlingRateLimit: -1, ThrottlingBurstLimit: -1}, nil, Unlimited()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := LimitsFromSettings(tc.route, tc.defaults)
			if got != tc.want && !(got.IsUnlimited() && tc.want.IsUnlimited()) {
				t.Errorf("LimitsFromSettings = %+v, want %+v", got, tc.want)
			}
		})
	}
	if !math.IsInf(Unlimited().Rate, 1) || (Limits{Rate: 1e300}).IsUnlimited() {
		t.Error("IsUnlimited is not exactly Rate == +Inf")
	}
}

func TestStage(t *testing.T) {
	defaults := &resource.RouteSettings{ThrottlingRateLimit: 1, ThrottlingBurstLimit: 2}
	routes := map[string]resource.RouteSettings{
		"messages": {ThrottlingRateLimit: 10, ThrottlingBurstLimit: 5},
		"slow":     {ThrottlingBurstLimit: 1},
	}
	type req struct {
		after time.Duration
		route string
		allow bool
	}
	tests := []struct {
		name               string
		defaults           *resource.RouteSettings
		routes             map[string]resource.RouteSettings
		reqs               []req
		wantMessagesLimits Limits
	}{
		{
			name: "default limits per route",
			reqs: []req{
				{0, "$default", true}, {0, "$default", true}, {0, "$default", false},
				// another route has its own bucket with the same limits
				{0, "$connect", true}, {0, "$connect", true}, {0, "$connect", false},
				{time.Second, "$default", true}, {0, "$default", false},
			},
		},
		{
			name: "route override",
			reqs: []req{
				{0, "messages", true}, {0, "messages", true}, {0, "messages", true}, {0, "messages", true}, {0, "messages", true},
				{0, "messages", false},
				{100 * time.Millisecond, "messages", true}, {0, "messages", false},
				{0, "$default", true},
			},
		},
		{
			name: "override of one field keeps the default rate",
			reqs: []req{
				{0, "slow", true}, {0, "slow", false}, {500 * time.Millisecond, "slow", false}, {500 * time.Millisecond, "slow", true},
			},
		},
		{
			name:     "unlimited stage",
			defaults: &resource.RouteSettings{},
			routes:   map[string]resource.RouteSettings{},
			reqs:     []req{{0, "$default", true}, {0, "$default", true}, {0, "$default", true}, {0, "x", true}},
		},
		{
			name:     "only one route limited",
			defaults: nil,
			routes:   map[string]resource.RouteSettings{"messages": {ThrottlingRateLimit: 1, ThrottlingBurstLimit: 1}},
			reqs:     []req{{0, "messages", true}, {0, "messages", false}, {0, "$default", true}, {0, "$default", true}, {0, "$default", true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, r := defaults, routes
			if tc.routes != nil {
				d, r = tc.defaults, tc.routes
			}
			clock := newClock()
			s := NewStage(d, r, clock.Now)
			for i, q := range tc.reqs {
				clock.Advance(q.after)
				if got := s.Allow(q.route); got != q.allow {
					t.Fatalf("request %d (%s at +%v): Allow = %v, want %v", i, q.route, clock.Now().Sub(t0), got, q.allow)
				}
			}
		})
	}
}

func TestStageRouteBucketBound(t *testing.T) {
	clock := newClock()
	s := NewStage(&resource.RouteSettings{ThrottlingRateLimit: 1, ThrottlingBurstLimit: 1}, nil, clock.Now)
	for i := range maxRouteBuckets + 500 {
		s.Allow(fmt.Sprintf("route-%d", i))
	}
	s.mu.RLock()
	n := len(s.buckets)
	s.mu.RUnlock()
	if n > maxRouteBuckets+1 {
		t.Errorf("%d route buckets, want at most %d", n, maxRouteBuckets+1)
	}
	// Keys beyond the bound share the overflow bucket, already emptied above.
	if s.Allow("one-more") {
		t.Error("overflow key allowed from an empty shared bucket")
	}
}

// TestStageConcurrent checks that concurrent connections share a route's bucket exactly: with the clock
// stopped, exactly Burst requests pass however many goroutines ask.
func TestStageConcurrent(t *testing.T) {
	clock := newClock()
	s := NewStage(&resource.RouteSettings{ThrottlingRateLimit: 1, ThrottlingBurstLimit: 500}, nil, clock.Now)
	var mu sync.Mutex
	allowed := map[string]int{}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			route := []string{"a", "b"}[g%2]
			for range 100 {
				if s.Allow(route) {
					mu.Lock()
					allowed[route]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed["a"] != 500 || allowed["b"] != 500 {
		t.Errorf("allowed = %v, want 500 per route", allowed)
	}
}
