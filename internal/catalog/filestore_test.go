package catalog_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/catalog/catalogtest"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// dirNames lists dir's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFileStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	// The data directory need not exist yet.
	store := &catalog.FileStore{Path: filepath.Join(dir, "data", "catalog.json")}
	var rev uint64
	for _, want := range []string{`{"first":true}`, `{"second":[1,2,3]}`, `{}`} {
		var err error
		if rev, err = store.Save(t.Context(), []byte(want), rev); err != nil {
			t.Fatal(err)
		}
		got, err := store.Load(t.Context())
		if err != nil || string(got.Data) != want || got.Revision != rev {
			t.Fatalf("Load = %q at %d, %v; want %q at %d", got.Data, got.Revision, err, want, rev)
		}
	}
	if got := dirNames(t, filepath.Join(dir, "data")); !slices.Equal(got, []string{"catalog.json"}) {
		t.Errorf("data directory holds %v, want only catalog.json", got)
	}
}

func TestFileStoreLoadMissing(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"no file", "catalog.json"},
		{"no directory", filepath.Join("missing", "catalog.json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := (&catalog.FileStore{Path: filepath.Join(t.TempDir(), tc.path)}).Load(t.Context())
			if e.Data != nil || e.Revision != 0 || err != nil {
				t.Fatalf("Load = %q at %d, %v; want nothing at 0", e.Data, e.Revision, err)
			}
		})
	}
}

// TestFileStoreLeftovers checks that temporary files left by a Save that crashed neither break Load nor
// stay forever, and that Load removes nothing else.
func TestFileStoreLeftovers(t *testing.T) {
	cases := []struct {
		name     string
		saved    string // catalog.json's content; "" for none
		files    []string
		wantData string
		wantLeft []string
	}{
		{name: "beside a saved file", saved: `{"ok":true}`,
			files:    []string{"catalog.json.123456.tmp", "catalog.json.9.tmp"},
			wantData: `{"ok":true}`, wantLeft: []string{"catalog.json"}},
		{name: "without a saved file",
			files:    []string{"catalog.json.42.tmp"},
			wantLeft: nil},
		{name: "other files are kept", saved: `{}`,
			files:    []string{"catalog.json.bak.tmp", "catalog.json.tmp", "other.json.1.tmp", "catalog.json.1.tmp.keep", "catalog.json.7.tmp"},
			wantData: `{}`, wantLeft: []string{"catalog.json", "catalog.json.1.tmp.keep", "catalog.json.bak.tmp", "catalog.json.tmp", "other.json.1.tmp"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			store := &catalog.FileStore{Path: filepath.Join(dir, "catalog.json")}
			if tc.saved != "" {
				if _, err := store.Save(t.Context(), []byte(tc.saved), 0); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range tc.files {
				// What an interrupted Save leaves: part of a catalog.
				if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"version":1,"state":{"ap`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			e, err := store.Load(t.Context())
			data := e.Data
			if err != nil || string(data) != tc.wantData {
				t.Fatalf("Load = %q, %v; want %q", data, err, tc.wantData)
			}
			if tc.wantData == "" && data != nil {
				t.Fatalf("Load = %q, want nil", data)
			}
			if got := dirNames(t, dir); !slices.Equal(got, tc.wantLeft) {
				t.Errorf("directory holds %v, want %v", got, tc.wantLeft)
			}
		})
	}
}

// TestReopenFromFileStore checks that a catalog reopened from its file, with the same configuration, is
// the catalog that was saved, and serves the same bundle.
func TestReopenFromFileStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.json")
	clk := newClock()
	plane := &dataPlane{}
	opts := catalog.Options{Store: &catalog.FileStore{Path: path}, Apply: plane.apply, Now: clk.Now}
	c, err := catalog.Open(t.Context(), opts, configBundle())
	if err != nil {
		t.Fatal(err)
	}
	controlAPI(t, c, clk.advance(time.Minute), "ctl", "$connect", "$default")
	err = c.Write(t.Context(), func(st *catalog.State) error {
		a := st.API("ctl")
		d := a.Deploy("release 1", false, clk.advance(time.Minute))
		a.Stages = append(a.Stages, resource.Stage{StageName: "prod", DeploymentID: d.DeploymentID,
			StageVariables: map[string]string{"color": "blue"}})
		a.StageDates["prod"] = catalog.Dates{CreatedDate: clk.Now(), LastUpdatedDate: clk.Now()}
		a.Routes = append(a.Routes, resource.Route{RouteID: "later", RouteKey: "later", Target: "integrations/mock"})
		st.DomainNames = append(st.DomainNames, &catalog.DomainName{Source: catalog.SourceAPI, DomainName: resource.DomainName{
			DomainName: "ctl.example.com", APIMappings: []resource.APIMapping{{APIMappingID: "m1", APIID: "ctl", Stage: "prod"}}}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := mustJSON(t, read(t, c))
	wantServed := mustJSON(t, plane.last(t))

	clk.advance(time.Hour)
	reopened, err := catalog.Open(t.Context(), opts, configBundle())
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, read(t, reopened)); got != want {
		t.Errorf("reopened state:\n%s\nwant\n%s", got, want)
	}
	if got := mustJSON(t, plane.last(t)); got != wantServed {
		t.Errorf("reopened catalog serves:\n%s\nwant\n%s", got, wantServed)
	}
}

// TestFileStoreConformance runs the store suite on the data directory's file; both writers share one
// FileStore, as they must (one process owns the file).
func TestFileStoreConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) (catalog.Store, catalog.Store) {
		s := &catalog.FileStore{Path: filepath.Join(t.TempDir(), "catalog.json")}
		return s, s
	})
}
