package throttle

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestGuardPerIP(t *testing.T) {
	type req struct {
		after time.Duration
		ip    string
		allow bool
	}
	tests := []struct {
		name string
		cfg  GuardConfig
		reqs []req
	}{
		{
			name: "burst then refill",
			cfg:  GuardConfig{PerIP: Limits{Rate: 2, Burst: 2}},
			reqs: []req{
				{0, "198.51.100.7", true}, {0, "198.51.100.7", true}, {0, "198.51.100.7", false},
				{499 * time.Millisecond, "198.51.100.7", false}, {time.Millisecond, "198.51.100.7", true},
			},
		},
		{
			name: "IPs are independent",
			cfg:  GuardConfig{PerIP: Limits{Rate: 1, Burst: 1}},
			reqs: []req{{0, "198.51.100.7", true}, {0, "198.51.100.7", false}, {0, "198.51.100.8", true}, {0, "198.51.100.8", false}},
		},
		{
			name: "IPv6 grouped by /64",
			cfg:  GuardConfig{PerIP: Limits{Rate: 1, Burst: 2}},
			reqs: []req{
				{0, "2001:db8:1:2::1", true}, {0, "2001:db8:1:2:ffff::9", true}, {0, "2001:db8:1:2::abcd", false},
				{0, "2001:db8:1:3::1", true},
			},
		},
		{
			name: "IPv4-mapped IPv6 is the IPv4 address",
			cfg:  GuardConfig{PerIP: Limits{Rate: 1, Burst: 1}},
			reqs: []req{{0, "::ffff:198.51.100.7", true}, {0, "198.51.100.7", false}},
		},
		{
			name: "unparsable source counted as a string",
			cfg:  GuardConfig{PerIP: Limits{Rate: 1, Burst: 1}},
			reqs: []req{{0, "pipe", true}, {0, "pipe", false}},
		},
		{
			name: "defaults: burst 200",
			cfg:  GuardConfig{},
			reqs: append(repeat(req{0, "203.0.113.1", true}, 200), req{0, "203.0.113.1", false}, req{10 * time.Millisecond, "203.0.113.1", true}),
		},
		{
			name: "per-IP limit disabled",
			cfg:  GuardConfig{PerIP: Unlimited()},
			reqs: repeat(req{0, "203.0.113.1", true}, 1000),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGuard(tc.cfg)
			now := t0
			for i, q := range tc.reqs {
				now = now.Add(q.after)
				ok, release := g.Admit(q.ip, now)
				if ok != q.allow {
					t.Fatalf("request %d (%s at +%v): ok = %v, want %v", i, q.ip, now.Sub(t0), ok, q.allow)
				}
				release()
			}
			if g.Active() != 0 {
				t.Errorf("Active = %d after releasing everything", g.Active())
			}
		})
	}
}

func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestGuardMaxConnections(t *testing.T) {
	tests := []struct {
		name  string
		max   int
		admit int // connections that must be admitted before the next is refused; -1: never refused
	}{
		{"bound", 3, 3},
		{"one", 1, 1},
		{"unbounded", -1, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGuard(GuardConfig{MaxConnections: tc.max, PerIP: Unlimited()})
			var releases []func()
			n := tc.admit
			if n < 0 {
				n = 1000
			}
			for i := range n {
				ok, release := g.Admit("198.51.100.7", t0)
				if !ok {
					t.Fatalf("connection %d refused", i)
				}
				releases = append(releases, release)
			}
			if tc.admit < 0 {
				return
			}
			if ok, release := g.Admit("198.51.100.7", t0); ok {
				t.Fatal("connection over the bound admitted")
			} else {
				release() // a no-op
			}
			if g.Active() != tc.max {
				t.Fatalf("Active = %d, want %d", g.Active(), tc.max)
			}
			releases[0]()
			releases[0]() // idempotent
			if g.Active() != tc.max-1 {
				t.Fatalf("Active = %d after one release, want %d", g.Active(), tc.max-1)
			}
			if ok, _ := g.Admit("198.51.100.7", t0); !ok {
				t.Fatal("connection refused after a release")
			}
		})
	}
	if g := NewGuard(GuardConfig{}); g.maxConns != DefaultMaxConnections || g.perIP != DefaultPerIP || g.maxIPs != DefaultMaxTrackedIPs {
		t.Errorf("defaults: %d %+v %d", g.maxConns, g.perIP, g.maxIPs)
	}
}

// TestGuardLRUBound floods the guard with 200 000 source addresses: memory stays bounded.
func TestGuardLRUBound(t *testing.T) {
	tests := []struct {
		name  string
		bound int
		ips   int
	}{
		{"default bound, 200k IPs", 0, 200_000},
		{"small bound", 10, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGuard(GuardConfig{MaxTrackedIPs: tc.bound, MaxConnections: -1})
			bound := g.maxIPs
			base := netip.MustParseAddr("10.0.0.0").As4()
			for i := range tc.ips {
				a := base
				a[1], a[2], a[3] = byte(i>>16), byte(i>>8), byte(i)
				if ok, _ := g.Admit(netip.AddrFrom4(a).String(), t0); !ok {
					t.Fatalf("first connection from IP %d refused", i)
				}
				if n := g.TrackedIPs(); n > bound {
					t.Fatalf("after %d IPs: %d tracked, bound %d", i+1, n, bound)
				}
			}
			if n, l := g.TrackedIPs(), g.lru.Len(); n != bound || l != bound {
				t.Errorf("tracked %d, list %d; want both %d", n, l, bound)
			}
		})
	}
}

// TestGuardLRUEvictsLeastRecent checks that a recently seen IP keeps its (empty) bucket while the least
// recently seen one is forgotten.
func TestGuardLRUEvictsLeastRecent(t *testing.T) {
	g := NewGuard(GuardConfig{MaxTrackedIPs: 2, PerIP: Limits{Rate: 1, Burst: 1}})
	admit := func(ip string) bool { ok, _ := g.Admit(ip, t0); return ok }
	steps := []struct {
		ip   string
		want bool
	}{
		{"192.0.2.1", true},  // tracked: 1
		{"192.0.2.2", true},  // tracked: 2 1
		{"192.0.2.1", false}, // tracked: 1 2 (1 touched)
		{"192.0.2.3", true},  // evicts 2; tracked: 3 1
		{"192.0.2.1", false}, // still tracked, still empty
		{"192.0.2.2", true},  // forgotten, full bucket again; evicts 3
	}
	for i, s := range steps {
		if got := admit(s.ip); got != s.want {
			t.Fatalf("step %d (%s): ok = %v, want %v", i, s.ip, got, s.want)
		}
	}
}

func TestGuardConcurrent(t *testing.T) {
	const maxConns = 50
	g := NewGuard(GuardConfig{MaxConnections: maxConns, PerIP: Limits{Rate: 1, Burst: 1_000_000}, MaxTrackedIPs: 64})
	var wg sync.WaitGroup
	var mu sync.Mutex
	peak := 0
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				ok, release := g.Admit(fmt.Sprintf("10.1.%d.%d", w, i%200), t0.Add(time.Duration(i)*time.Millisecond))
				if ok {
					mu.Lock()
					peak = max(peak, g.Active())
					mu.Unlock()
				}
				release()
			}
		}()
	}
	wg.Wait()
	if g.Active() != 0 {
		t.Errorf("Active = %d after all releases", g.Active())
	}
	if peak > maxConns {
		t.Errorf("peak %d concurrent connections over the bound %d", peak, maxConns)
	}
	if g.TrackedIPs() > 64 {
		t.Errorf("tracked %d IPs, bound 64", g.TrackedIPs())
	}
}
