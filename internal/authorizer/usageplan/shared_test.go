package usageplan

import (
	"testing"
	"time"
)

// fixedShared reports a fixed count for one (plan, key, window) and nothing for anything else.
type fixedShared struct {
	plan, keyID string
	window      time.Time
	count       int
}

func (f fixedShared) Others(plan, keyID string, window time.Time) int {
	if plan == f.plan && keyID == f.keyID && window.Equal(f.window) {
		return f.count
	}
	return 0
}

// TestSharedQuota checks that other nodes' requests count against a quota: only for the same plan, key
// and window, and that Usage reports this node's own count for sharing.
func TestSharedQuota(t *testing.T) {
	day := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	plans := []Plan{{ID: "p1", Stages: []Stage{{"api", "prod"}}, Quota: &Quota{Limit: 5, Period: Day}, KeyIDs: []string{"k1"}}}
	tests := []struct {
		name    string
		shared  Shared
		allowed int
	}{
		{"no cluster", nil, 5},
		{"other nodes used three", fixedShared{"p1", "k1", day, 3}, 2},
		{"other nodes used it all", fixedShared{"p1", "k1", day, 9}, 0},
		{"another window's usage does not count", fixedShared{"p1", "k1", day.AddDate(0, 0, -1), 3}, 5},
		{"another plan's usage does not count", fixedShared{"p2", "k1", day, 3}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(testKeys, plans, newClock(t0).now)
			if tc.shared != nil {
				e.Share(tc.shared)
			}
			allowed := 0
			for range 10 {
				if o, _ := e.Check("api", "prod", "v1"); o == OK {
					allowed++
				} else if o != QuotaExceeded {
					t.Fatalf("Check = %v, want OK or QuotaExceeded", o)
				}
			}
			if allowed != tc.allowed {
				t.Errorf("%d of 10 requests allowed, want %d", allowed, tc.allowed)
			}
			usage := e.Usage()
			if tc.allowed == 0 && len(usage) == 1 && usage[0].Count != 0 {
				t.Errorf("Usage = %+v, want a count of 0", usage)
			}
			if tc.allowed > 0 && (len(usage) != 1 || usage[0] != (Usage{Plan: "p1", KeyID: "k1", Window: day, Count: tc.allowed})) {
				t.Errorf("Usage = %+v, want p1/k1 at %v with %d", usage, day, tc.allowed)
			}
			// An engine built for a changed configuration keeps sharing.
			if next := Next(e, testKeys, plans, newClock(t0).now); next.shared != e.shared {
				t.Error("Next dropped the Shared")
			}
		})
	}
}
