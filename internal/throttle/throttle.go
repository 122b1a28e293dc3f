// Package throttle reproduces API Gateway's throttling (spec §5.5) and guards the gateway against
// connection floods.
//
// Stage applies a stage's route throttling: defaultRouteSettings' throttlingRateLimit /
// throttlingBurstLimit for every route, overridden per route key by routeSettings. As in API Gateway the
// limits are per stage and route, shared by every connection of the stage, not per client. Guard bounds
// what a single node accepts: concurrent connections, and new connections per second per source IP. Both
// are token buckets with an injected clock, so tests need no sleeping.
//
// Choices where API Gateway's behaviour is not reproducible or not documented:
//   - A limit of 0 in the configuration means "not set" (resource.RouteSettings cannot tell an explicit 0
//     from an omitted field), so an unset rate means no limit: AWS's account-level limits (10 000 rps,
//     5 000 burst per Region) are not emulated. On AWS an explicit rate of 0 blocks the route; here a
//     route cannot be blocked through route settings. Limits itself is exact token-bucket arithmetic, so
//     Limits{} built in code does block everything.
//   - A rate with no burst gets a bucket of one second's worth of requests (at least 1), so that setting
//     only throttlingRateLimit gives that steady rate.
//   - A route's settings override the defaults field by field.
//   - Buckets start full, and a new Stage (a new deployment or configuration) starts with full buckets.
package throttle

import (
	"math"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Limits are a token bucket's parameters: Burst tokens at most, refilled at Rate tokens per second. Each
// request takes one token.
type Limits struct {
	// Rate is the steady rate in requests per second; +Inf means no limit at all (see Unlimited).
	Rate float64
	// Burst is the bucket's capacity: how many requests may arrive at once after a quiet period.
	Burst int
}

// Unlimited are Limits that never throttle.
func Unlimited() Limits { return Limits{Rate: math.Inf(1)} }

// IsUnlimited reports whether l never throttles.
func (l Limits) IsUnlimited() bool { return math.IsInf(l.Rate, 1) }

// LimitsFromSettings returns the limits of a route from its routeSettings entry (nil when it has none)
// and the stage's defaultRouteSettings (nil when unset): each field from the route if set, else from the
// defaults. No rate means no limit; a rate without a burst gets a burst of ceil(rate), at least 1.
func LimitsFromSettings(route, defaults *resource.RouteSettings) Limits {
	var rate float64
	var burst int
	for _, s := range []*resource.RouteSettings{defaults, route} {
		if s == nil {
			continue
		}
		if s.ThrottlingRateLimit > 0 {
			rate = s.ThrottlingRateLimit
		}
		if s.ThrottlingBurstLimit > 0 {
			burst = s.ThrottlingBurstLimit
		}
	}
	if rate <= 0 || math.IsNaN(rate) {
		return Unlimited()
	}
	if burst <= 0 {
		burst = max(1, int(math.Min(math.Ceil(rate), math.MaxInt32)))
	}
	return Limits{Rate: rate, Burst: burst}
}

// bucket is a token bucket without its own lock: Bucket and Guard lock around it.
type bucket struct {
	tokens float64
	last   time.Time
}

// epsilon absorbs floating-point error in refills (100/s for 10 ms must give a whole token).
const epsilon = 1e-9

func (b *bucket) take(l Limits, now time.Time) bool {
	if now.After(b.last) {
		if l.Rate > 0 {
			b.tokens = math.Min(float64(l.Burst), b.tokens+now.Sub(b.last).Seconds()*l.Rate)
		}
		b.last = now
	}
	// A clock that goes backwards refills nothing and does not move last back.
	if b.tokens >= 1-epsilon {
		b.tokens--
		return true
	}
	return false
}

// Bucket is a token bucket safe for concurrent use, for limits that apply to the whole gateway (an
// account-level rate, for instance).
type Bucket struct {
	limits Limits
	mu     sync.Mutex
	b      bucket
}

// NewBucket returns a full bucket with limits l, as of now.
func NewBucket(l Limits, now time.Time) *Bucket {
	return &Bucket{limits: l, b: bucket{tokens: float64(max(l.Burst, 0)), last: now}}
}

// Allow takes a token at time now, reporting whether there was one.
func (b *Bucket) Allow(now time.Time) bool {
	if b.limits.IsUnlimited() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.take(b.limits, now)
}
