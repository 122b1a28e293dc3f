package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// TestHTTPConfigs: the http and httplambda scenarios' gateway configs load and compile to the routes the
// load goes to.
func TestHTTPConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, method, path, routeKey string
	}{
		{"http", httpAPIConfig("127.0.0.1:9000"), "POST", "/echo", "$default"},
		{"httplambda", httpLambdaConfig("/usr/local/bin/switchboard-bench", map[string]string{"A": "b: c"}), "POST", "/echo", "POST /echo"},
	} {
		f, err := configfile.Parse(filepath.Join(t.TempDir(), "bench.yaml"), []byte(tc.yaml))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		set, err := snapshot.Compile(f.Bundle)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r, _ := set.API(benchAPIID).Stages["$default"].HTTPRoutes.Match(tc.method, tc.path)
		if r == nil || r.Key != tc.routeKey || r.Integration == nil {
			t.Fatalf("%s: %s %s matched %+v, want %s with an integration", tc.name, tc.method, tc.path, r, tc.routeKey)
		}
	}
}

// TestHTTPLambdaCPURow: the httplambda table says how much CPU each side spends per request, the
// gateway's split between itself and its function processes.
func TestHTTPLambdaCPURow(t *testing.T) {
	res := &results{Settings: &settings{Clients: 64}, HTTP: map[string]*httpResult{
		"sls-httpapi":        {Rate: 1000, ServerCPU: 0.5},
		"switchboard-lambda": {Rate: 4000, ServerCPU: 0.4, HelperCPU: 0.8},
	}}
	rows, _ := httpRows(res)
	cases := []struct{ name, raw, gateway string }{
		{"cpu", "500 µs", "300 µs (100 µs, 200 µs)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range rows {
				if strings.Contains(r.what, "CPU per request") {
					if r.raw != tc.raw || r.gateway != tc.gateway {
						t.Errorf("got %q / %q, want %q / %q", r.raw, r.gateway, tc.raw, tc.gateway)
					}
					return
				}
			}
			t.Fatalf("no CPU per request row in %+v", rows)
		})
	}
}
