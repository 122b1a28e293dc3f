package store_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/switchboard-gw/switchboard/examples/chat-lambda/store"
)

func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conns")
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		t.Helper()
		ids, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("new store lists %q", got)
	}
	// Connection IDs look like base64 with '=', '-' and '_'; two differ only in case.
	ids := []string{"AACKm-c2cHRfJZU=", "aackm-c2chrfjzu=", "Zz_9/+=="}
	for _, id := range ids {
		if err := s.Add(id); err != nil {
			t.Fatalf("Add(%q): %v", id, err)
		}
	}
	if err := s.Add(ids[0]); err != nil {
		t.Fatalf("Add twice: %v", err)
	}
	// Another process sees the same set through the same directory.
	other, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(ids))
	if got, err := other.List(); err != nil || !slices.Equal(got, want) {
		t.Fatalf("List() = %q, %v; want %q", got, err, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "not-an-id.tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ids[1]); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := s.Remove(ids[1]); err != nil {
		t.Fatalf("Remove twice: %v", err)
	}
	if got, want := list(), []string{ids[0], ids[2]}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("after Remove: List() = %q, want %q", got, want)
	}
	if err := s.Add(""); err == nil {
		t.Error("Add(\"\") succeeded")
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(store.EnvDir, "")
	if _, err := store.FromEnv(); err == nil {
		t.Fatalf("FromEnv with %s unset succeeded", store.EnvDir)
	}
	dir := filepath.Join(t.TempDir(), "new")
	t.Setenv(store.EnvDir, dir)
	s, err := store.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", s.Dir(), dir)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("FromEnv did not create %s: %v", dir, err)
	}
}
