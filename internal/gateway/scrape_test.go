package gateway_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// nonLoopbackIPv4 is an address of this machine that is not loopback, so that a real client can be a
// remote one; "" when there is none.
func nonLoopbackIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// With iam.enforce on, a Prometheus scraping from another address (a real HTTP client connecting from
// a non-loopback address) is refused /metrics on both listeners without a credential and served it with
// the --metrics-token-file bearer token; the profiler is refused on both.
func TestScrapeFromBeyondLoopbackWithIAM(t *testing.T) {
	ip := nonLoopbackIPv4(t)
	if ip == "" {
		t.Skip("this machine has no non-loopback IPv4 address to connect from; TestObservabilityAccessWithIAM covers the rules")
	}
	const token = "scrape-token-0123456789"
	g := gatewaytest.Start(t, extensionConfig, func(o *gateway.Options) {
		o.ControlListen = net.JoinHostPort(ip, "0")
		o.MetricsListen = net.JoinHostPort(ip, "0")
		o.MetricsToken = token
		o.Pprof = true
	})
	get := func(t *testing.T, url, bearer string) int {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, addr, path, bearer string
		want                     int
	}{
		{"metrics on the control listener", g.ControlAddr(), "/metrics", "", http.StatusForbidden},
		{"metrics on the metrics listener", g.MetricsAddr(), "/metrics", "", http.StatusForbidden},
		{"metrics on the metrics listener with the token", g.MetricsAddr(), "/metrics", token, http.StatusOK},
		{"metrics on the metrics listener with another token", g.MetricsAddr(), "/metrics", token + "x", http.StatusForbidden},
		{"profiler on the control listener", g.ControlAddr(), "/debug/pprof/", "", http.StatusForbidden},
		{"profiler on the metrics listener with the token", g.MetricsAddr(), "/debug/pprof/", token, http.StatusForbidden},
		{"readiness on the metrics listener", g.MetricsAddr(), "/readyz", "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(t, "http://"+tc.addr+tc.path, tc.bearer); got != tc.want {
				t.Fatalf("GET %s%s from %s: %d, want %d", tc.addr, tc.path, ip, got, tc.want)
			}
		})
	}
}
