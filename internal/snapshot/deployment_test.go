package snapshot_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// TestCompileBundleGolden compiles each testdata/*.bundle.json — bundles as the control plane publishes
// them, with deployments and stages that point at them, which a config file cannot express — and compares
// the dump with testdata/*.snapshot.json.
func TestCompileBundleGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bundle.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".bundle.json")
		t.Run(name, func(t *testing.T) {
			set, err := snapshot.Compile(loadBundle(t, in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := set.Dump()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".snapshot.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("snapshot differs from %s:\n%s", golden, got)
			}
		})
	}
}

// loadBundle decodes a bundle strictly, so that a misspelt member in a test input fails the test.
func loadBundle(t *testing.T, path string) *resource.Bundle {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b resource.Bundle
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &b
}

// TestCompileStageDeployment checks, stage by stage, what testdata/deployments.bundle.json serves: a stage
// with a deploymentId serves the deployment's routes, integrations and authorizers; a stage without one
// serves the working copy.
func TestCompileStageDeployment(t *testing.T) {
	set, err := snapshot.Compile(loadBundle(t, "testdata/deployments.bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	api := set.API("chat")
	if api == nil {
		t.Fatal("API chat not compiled")
	}
	cases := []struct {
		name           string
		stage          string
		wantRoutes     []string
		wantDefaultURI string
		wantTimeout    time.Duration
		wantAuthorizer string
		wantTwoWayPing bool
		// wantNeedsKey: only the working copy has a route (sendmessage, not $connect) requiring a key.
		wantNeedsKey bool
	}{
		{name: "deployed stage serves its deployment", stage: "prod",
			wantRoutes:     []string{"$connect", "$default", "ping"},
			wantDefaultURI: "https://old.example.com/prod", wantTimeout: 29 * time.Second,
			wantAuthorizer: "arn:aws:lambda:us-east-1:123456789012:function:auth-old", wantTwoWayPing: true},
		{name: "stage without deployment serves the working copy", stage: "dev",
			wantRoutes:     []string{"$connect", "$default", "sendmessage"},
			wantDefaultURI: "https://new.example.com/dev", wantTimeout: time.Second,
			wantAuthorizer: "arn:aws:lambda:us-east-1:123456789012:function:auth-new", wantNeedsKey: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := api.Stages[tc.stage]
			if st == nil {
				t.Fatalf("stage %s not compiled", tc.stage)
			}
			var keys []string
			for k := range st.Routes {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.wantRoutes) {
				t.Errorf("routes %v, want %v", keys, tc.wantRoutes)
			}
			in := st.Route("$default").Integration
			if in == nil {
				t.Fatal("$default has no integration")
			}
			if in.URI != tc.wantDefaultURI || in.Timeout != tc.wantTimeout {
				t.Errorf("$default integration %s with timeout %v, want %s with %v", in.URI, in.Timeout, tc.wantDefaultURI, tc.wantTimeout)
			}
			conn := st.Route("$connect")
			if conn.Authorizer == nil || conn.Authorizer.URI != tc.wantAuthorizer {
				t.Errorf("$connect authorizer %+v, want URI %s", conn.Authorizer, tc.wantAuthorizer)
			}
			if ping := st.Route("ping"); tc.wantTwoWayPing && (ping == nil || !ping.TwoWay) {
				t.Errorf("ping route %+v, want two-way", ping)
			}
			if st.NeedsAPIKey != tc.wantNeedsKey {
				t.Errorf("NeedsAPIKey = %v, want %v", st.NeedsAPIKey, tc.wantNeedsKey)
			}
		})
	}
}

// TestCompileDeploymentErrors checks that Compile rejects what a deployed stage cannot serve, at the path
// of the member at fault.
func TestCompileDeploymentErrors(t *testing.T) {
	cases := []struct {
		name     string
		mutate   func(a *resource.API)
		wantPath string
		wantText string
	}{
		{"deploymentId names no deployment", func(a *resource.API) { a.Stages[0].DeploymentID = "nope" },
			"apis[0].stages[0].deploymentId", "Invalid deployment identifier specified nope"},
		{"bad expression in a served deployment", func(a *resource.API) {
			a.Deployments[0].Integrations[0].TemplateSelectionExpression = "${"
		}, "apis[0].deployments[0].integrations[0].templateSelectionExpression", "invalid selection expression"},
		{"bad route selection in a served deployment", func(a *resource.API) {
			a.Deployments[0].RouteSelectionExpression = "${request.body.action"
		}, "apis[0].deployments[0].routeSelectionExpression", "invalid selection expression"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := loadBundle(t, "testdata/deployments.bundle.json")
			tc.mutate(&b.APIs[0])
			_, err := snapshot.Compile(b)
			errs, ok := resource.AsFieldErrors(err)
			if !ok || len(errs) == 0 {
				t.Fatalf("Compile err = %v, want field errors", err)
			}
			if errs[0].Path != tc.wantPath || !strings.Contains(errs[0].Message, tc.wantText) {
				t.Fatalf("got %q: %q; want %q containing %q", errs[0].Path, errs[0].Message, tc.wantPath, tc.wantText)
			}
		})
	}
}
