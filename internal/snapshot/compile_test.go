package snapshot_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCompileGolden compiles each testdata/*.yaml and compares the dump with testdata/*.snapshot.json.
func TestCompileGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			f, err := configfile.Load(in)
			if err != nil {
				t.Fatal(err)
			}
			set, err := snapshot.Compile(f.Bundle)
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

func TestCompileErrors(t *testing.T) {
	base := func() *resource.Bundle {
		return &resource.Bundle{APIs: []resource.API{{
			Name: "a", ProtocolType: "WEBSOCKET", RouteSelectionExpression: "$request.body.action",
			Integrations: []resource.Integration{{IntegrationID: "m", IntegrationType: "MOCK"}},
			Routes:       []resource.Route{{RouteKey: "$default", Target: "integrations/m"}},
			Stages:       []resource.Stage{{StageName: "dev"}},
		}}}
	}
	cases := []struct {
		name     string
		mutate   func(b *resource.Bundle)
		wantPath string
		wantText string
	}{
		{"bad route selection", func(b *resource.Bundle) { b.APIs[0].RouteSelectionExpression = "${request.body.action" },
			"apis[0].routeSelectionExpression", "invalid selection expression"},
		{"unknown variable", func(b *resource.Bundle) { b.APIs[0].RouteSelectionExpression = "$foo.bar" },
			"apis[0].routeSelectionExpression", "unknown variable"},
		{"bad template selection", func(b *resource.Bundle) { b.APIs[0].Integrations[0].TemplateSelectionExpression = "${" },
			"apis[0].integrations[0].templateSelectionExpression", "invalid selection expression"},
		{"validation error passes through", func(b *resource.Bundle) { b.APIs[0].Routes[0].Target = "integrations/nope" },
			"apis[0].routes[0].target", "nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := base()
			tc.mutate(b)
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

func TestHolderSwapsVersions(t *testing.T) {
	var h snapshot.Holder
	if h.Load() != nil {
		t.Fatal("empty holder returned a set")
	}
	a, b := &snapshot.Set{}, &snapshot.Set{}
	h.Store(a)
	h.Store(b)
	if h.Load() != b || a.Version != 1 || b.Version != 2 {
		t.Fatalf("versions %d, %d", a.Version, b.Version)
	}
}
