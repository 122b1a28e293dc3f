package gateway

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// With iam.enforce on, /metrics and the profiler on the control listener answer loopback clients and
// SigV4-signed requests allowed apigateway:GET, and refuse everyone else; on --metrics-listen, /metrics is
// open to whoever reaches the address (a Prometheus scrape cannot sign) while the profiler keeps the
// control listener's rule; the probes stay open to all.
func TestObservabilityAccessWithIAM(t *testing.T) {
	g, err := New(Options{Pprof: true, MetricsToken: "scrape-token-0123456789", Bundle: &resource.Bundle{IAM: &resource.IAM{Enforce: true, Users: []resource.IAMUser{
		{Name: "ops", AccessKeyID: "AKIDOPSEXAMPLE1234", SecretAccessKey: "ops-secret",
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:GET","Resource":"*"}]}`},
		{Name: "nobody", AccessKeyID: "AKIDNOBODYEXAMPLE1", SecretAccessKey: "nobody-secret",
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:POST","Resource":"*"}]}`},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	close(g.ready) // as Run does once listening; readiness is not what this test is about
	control, metricsListener := g.observeHandler(http.NotFoundHandler()), g.observeHandler(nil)
	sign := func(key, secret string) func(*http.Request) {
		return func(r *http.Request) {
			const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
			err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
				r, emptySHA256, "apigateway", "us-east-1", time.Now())
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	bearer := func(token string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	}
	for _, tc := range []struct {
		name   string
		path   string
		remote string
		sign   func(*http.Request)
		want   int
		// onMetricsListener is the answer on --metrics-listen when it differs from want.
		onMetricsListener int
	}{
		{"metrics from loopback", "/metrics", "127.0.0.1:40000", nil, http.StatusOK, 0},
		{"metrics from IPv6 loopback", "/metrics", "[::1]:40000", nil, http.StatusOK, 0},
		{"metrics from beyond loopback, unsigned", "/metrics", "203.0.113.7:40000", nil, http.StatusForbidden, 0},
		{"metrics from beyond loopback, bearer token", "/metrics", "203.0.113.7:40000", bearer("scrape-token-0123456789"), http.StatusOK, 0},
		{"metrics from beyond loopback, wrong bearer token", "/metrics", "203.0.113.7:40000", bearer("scrape-token-0123456780"), http.StatusForbidden, 0},
		{"metrics from beyond loopback, empty bearer token", "/metrics", "203.0.113.7:40000", bearer(""), http.StatusForbidden, 0},
		{"profiler from beyond loopback, bearer token", "/debug/pprof/", "203.0.113.7:40000", bearer("scrape-token-0123456789"), http.StatusForbidden, 0},
		{"metrics from beyond loopback, signed and allowed", "/metrics", "203.0.113.7:40000", sign("AKIDOPSEXAMPLE1234", "ops-secret"), http.StatusOK, 0},
		{"metrics from beyond loopback, signed but not allowed", "/metrics", "203.0.113.7:40000", sign("AKIDNOBODYEXAMPLE1", "nobody-secret"), http.StatusForbidden, 0},
		{"metrics from beyond loopback, wrong secret", "/metrics", "203.0.113.7:40000", sign("AKIDOPSEXAMPLE1234", "guess"), http.StatusForbidden, 0},
		{"a forged X-Forwarded-For does not make a loopback client", "/metrics", "203.0.113.7:40000", func(r *http.Request) { r.Header.Set("X-Forwarded-For", "127.0.0.1") }, http.StatusForbidden, 0},
		{"profiler from beyond loopback, wrong secret", "/debug/pprof/", "203.0.113.7:40000", sign("AKIDOPSEXAMPLE1234", "guess"), http.StatusForbidden, 0},
		{"profiler from beyond loopback, unsigned", "/debug/pprof/", "203.0.113.7:40000", nil, http.StatusForbidden, 0},
		{"profiler from loopback", "/debug/pprof/", "127.0.0.1:40000", nil, http.StatusOK, 0},
		{"liveness probe from anywhere", "/healthz", "203.0.113.7:40000", nil, http.StatusOK, 0},
		{"readiness probe from anywhere", "/readyz", "203.0.113.7:40000", nil, http.StatusOK, 0},
	} {
		for _, l := range []struct {
			name string
			h    http.Handler
			want int
		}{{"control listener", control, tc.want}, {"metrics listener", metricsListener, cmp.Or(tc.onMetricsListener, tc.want)}} {
			t.Run(tc.name+" on the "+l.name, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodGet, "http://gateway.example"+tc.path, nil)
				r.RemoteAddr = tc.remote
				if tc.sign != nil {
					tc.sign(r)
				}
				w := httptest.NewRecorder()
				l.h.ServeHTTP(w, r)
				if w.Code != l.want {
					t.Fatalf("%s from %s: %d %s, want %d", tc.path, tc.remote, w.Code, w.Body, l.want)
				}
			})
		}
	}
}

// Without IAM the console answers loopback clients only; with IAM enforced, others need a signature.
func TestConsoleLoopbackOnly(t *testing.T) {
	for _, enforce := range []bool{false, true} {
		b := &resource.Bundle{}
		if enforce {
			b.IAM = &resource.IAM{Enforce: true, Users: []resource.IAMUser{{Name: "ops", AccessKeyID: "AKIDOPSEXAMPLE1234", SecretAccessKey: "s",
				Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:GET","Resource":"*"}]}`}}}
		}
		g, err := New(Options{Bundle: b})
		if err != nil {
			t.Fatal(err)
		}
		h := g.observeHandler(http.NotFoundHandler())
		for remote, want := range map[string]int{"127.0.0.1:5000": http.StatusOK, "203.0.113.7:5000": http.StatusForbidden} {
			r := httptest.NewRequest(http.MethodGet, "http://gateway.example/console/", nil)
			r.RemoteAddr = remote
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != want {
				t.Errorf("iam.enforce %v, from %s: %d, want %d", enforce, remote, w.Code, want)
			}
		}
	}
}
