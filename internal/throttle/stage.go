package throttle

import (
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// maxRouteBuckets bounds the buckets of a Stage. Route keys come from the API's routes (AWS allows 300),
// so the bound only matters if a caller passes arbitrary keys: beyond it, keys without a routeSettings
// entry share one bucket.
const maxRouteBuckets = 1024

// overflowKey names the shared bucket of route keys beyond maxRouteBuckets; no route key contains NUL.
const overflowKey = "\x00overflow"

// Stage throttles the routes of one stage. It is safe for concurrent use by all the stage's connections.
type Stage struct {
	now      func() time.Time
	defaults Limits
	routes   map[string]Limits // routes with a routeSettings entry

	mu      sync.RWMutex
	buckets map[string]*Bucket
}

// NewStage returns the throttling of a stage with defaultRouteSettings defaults (nil when unset) and
// routeSettings routes, keyed by route key. now is the clock; nil means time.Now.
func NewStage(defaults *resource.RouteSettings, routes map[string]resource.RouteSettings, now func() time.Time) *Stage {
	if now == nil {
		now = time.Now
	}
	s := &Stage{
		now:      now,
		defaults: LimitsFromSettings(nil, defaults),
		routes:   make(map[string]Limits, len(routes)),
		buckets:  make(map[string]*Bucket),
	}
	for key, rs := range routes {
		s.routes[key] = LimitsFromSettings(&rs, defaults)
	}
	return s
}

// Limits returns the limits that apply to routeKey.
func (s *Stage) Limits(routeKey string) Limits {
	if l, ok := s.routes[routeKey]; ok {
		return l
	}
	return s.defaults
}

// Allow takes a token from routeKey's bucket, reporting whether the request may proceed; false means
// API Gateway's 429 Too Many Requests. Each route has its own bucket, shared by every connection.
func (s *Stage) Allow(routeKey string) bool {
	l := s.Limits(routeKey)
	if l.IsUnlimited() {
		return true
	}
	return s.bucket(routeKey, l).Allow(s.now())
}

func (s *Stage) bucket(routeKey string, l Limits) *Bucket {
	s.mu.RLock()
	b := s.buckets[routeKey]
	s.mu.RUnlock()
	if b != nil {
		return b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[routeKey]; b != nil {
		return b
	}
	if _, configured := s.routes[routeKey]; !configured && len(s.buckets) >= maxRouteBuckets {
		routeKey = overflowKey
		if b := s.buckets[routeKey]; b != nil {
			return b
		}
	}
	b = NewBucket(l, s.now())
	s.buckets[routeKey] = b
	return b
}
