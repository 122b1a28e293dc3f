package controlapi

import (
	"net/http"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awserr"
	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// AWSAccountLimits are API Gateway's control-plane limits for one account: 10 requests per second with
// bursts of 40, all operations together (spec §10.4).
var AWSAccountLimits = throttle.Limits{Rate: 10, Burst: 40}

// Throttle wraps the control plane in one token bucket for every caller together, as AWS limits an
// account: a request over the limit gets 429 TooManyRequestsException (which the SDKs and the CLI retry
// with backoff) and reaches no handler.
func Throttle(next http.Handler, limits throttle.Limits, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	bucket := throttle.NewBucket(limits, now())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bucket.Allow(now()) {
			awserr.Write(w, &awserr.Error{Status: http.StatusTooManyRequests, Type: awserr.TypeTooManyRequests,
				Message: "Too Many Requests", LimitType: "Account"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
