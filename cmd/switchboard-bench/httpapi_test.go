package main

import (
	"path/filepath"
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
