package throttle

import (
	"container/list"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Guard defaults: generous for one node, tight enough that one client cannot exhaust it.
const (
	// DefaultMaxConnections bounds concurrent connections per node (AWS's 500 new connections per second
	// per account is a rate, not a bound; a node is bounded by memory and file descriptors).
	DefaultMaxConnections = 100_000
	// DefaultMaxTrackedIPs bounds the per-IP buckets kept in memory.
	DefaultMaxTrackedIPs = 100_000
)

// DefaultPerIP is the default new-connection limit per source IP: 100 per second, bursts of 200.
var DefaultPerIP = Limits{Rate: 100, Burst: 200}

// GuardConfig configures a Guard. Zero values mean the defaults.
type GuardConfig struct {
	// MaxConnections bounds concurrent connections; 0 means DefaultMaxConnections, negative no bound.
	MaxConnections int
	// PerIP limits new connections per source IP (IPv6 addresses per /64); the zero value means
	// DefaultPerIP, Unlimited() no limit.
	PerIP Limits
	// MaxTrackedIPs bounds the per-IP buckets kept; 0 means DefaultMaxTrackedIPs. Beyond it the least
	// recently seen IP is forgotten.
	MaxTrackedIPs int
}

// Guard admits new connections to a node. It is safe for concurrent use.
//
// Per-IP buckets live in an LRU map bounded by MaxTrackedIPs, so a flood from many addresses costs
// bounded memory (about 150 bytes per tracked IP). An evicted IP comes back with a full bucket: with more
// active addresses than the bound the per-IP limit weakens, but MaxConnections still holds. IPv6 addresses
// are grouped by /64, the block one subscriber usually gets, so that rotating addresses inside it does
// not evade the limit.
type Guard struct {
	maxConns int64
	perIP    Limits
	maxIPs   int

	active atomic.Int64

	mu  sync.Mutex
	ips map[string]*list.Element // of *ipEntry
	lru *list.List               // front = most recently seen
}

type ipEntry struct {
	key string
	b   bucket
}

// NewGuard returns a Guard configured by cfg.
func NewGuard(cfg GuardConfig) *Guard {
	g := &Guard{maxConns: int64(cfg.MaxConnections), perIP: cfg.PerIP, maxIPs: cfg.MaxTrackedIPs}
	if g.maxConns == 0 {
		g.maxConns = DefaultMaxConnections
	}
	if g.perIP == (Limits{}) {
		g.perIP = DefaultPerIP
	}
	if g.maxIPs <= 0 {
		g.maxIPs = DefaultMaxTrackedIPs
	}
	g.ips = make(map[string]*list.Element)
	g.lru = list.New()
	return g
}

func noop() {}

// Admit decides whether a new connection from source IP ip may be accepted at time now. When ok, release
// must be called once the connection ends (later calls do nothing); when not, release is a no-op and the
// handshake should be refused with 429.
func (g *Guard) Admit(ip string, now time.Time) (ok bool, release func()) {
	if !g.perIP.IsUnlimited() && !g.takeIP(ipKey(ip), now) {
		return false, noop
	}
	for {
		n := g.active.Load()
		if g.maxConns > 0 && n >= g.maxConns {
			return false, noop
		}
		if g.active.CompareAndSwap(n, n+1) {
			break
		}
	}
	var once sync.Once
	return true, func() { once.Do(func() { g.active.Add(-1) }) }
}

// Active returns the number of admitted connections not yet released.
func (g *Guard) Active() int { return int(g.active.Load()) }

// TrackedIPs returns the number of per-IP buckets in memory.
func (g *Guard) TrackedIPs() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.ips)
}

func (g *Guard) takeIP(key string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	el := g.ips[key]
	if el != nil {
		g.lru.MoveToFront(el)
	} else {
		var e *ipEntry
		if len(g.ips) >= g.maxIPs {
			// Reuse the least recently seen entry rather than allocate.
			el = g.lru.Back()
			e = el.Value.(*ipEntry)
			delete(g.ips, e.key)
			g.lru.MoveToFront(el)
		} else {
			e = &ipEntry{}
			el = g.lru.PushFront(e)
		}
		*e = ipEntry{key: key, b: bucket{tokens: float64(max(g.perIP.Burst, 0)), last: now}}
		g.ips[key] = el
	}
	return el.Value.(*ipEntry).b.take(g.perIP, now)
}

// ipKey is the key of ip's bucket: the address itself, IPv4-mapped IPv6 as IPv4, other IPv6 addresses
// as their /64. Strings that are not addresses are used as they are.
func ipKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
