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
// a non-loopback address) is refused /metrics on the control listener without a signature, and served it
// on --metrics-listen, which is the port operators open to their scrapers; the profiler is refused on
// both.
func TestScrapeFromBeyondLoopbackWithIAM(t *testing.T) {
	ip := nonLoopbackIPv4(t)
	if ip == "" {
		t.Skip("this machine has no non-loopback IPv4 address to connect from; TestObservabilityAccessWithIAM covers the rules")
	}
	g := gatewaytest.Start(t, extensionConfig, func(o *gateway.Options) {
		o.ControlListen = net.JoinHostPort(ip, "0")
		o.MetricsListen = net.JoinHostPort(ip, "0")
		o.Pprof = true
	})
	for _, tc := range []struct {
		name, addr, path string
		want             int
	}{
		{"metrics on the control listener", g.ControlAddr(), "/metrics", http.StatusForbidden},
		{"metrics on the metrics listener", g.MetricsAddr(), "/metrics", http.StatusOK},
		{"profiler on the control listener", g.ControlAddr(), "/debug/pprof/", http.StatusForbidden},
		{"profiler on the metrics listener", g.MetricsAddr(), "/debug/pprof/", http.StatusForbidden},
		{"readiness on the metrics listener", g.MetricsAddr(), "/readyz", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get("http://" + tc.addr + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s%s from %s: %d, want %d", tc.addr, tc.path, ip, resp.StatusCode, tc.want)
			}
		})
	}
	fams := scrape(t, "http://"+g.MetricsAddr()+"/metrics")
	if _, ok := fams["switchboard_snapshot_version"]; !ok {
		t.Error("the scrape has no switchboard_snapshot_version")
	}
}
