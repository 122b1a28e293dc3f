package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// FileStore keeps the catalog in one JSON file. Save writes a temporary file beside it, syncs it, renames
// it over the old one and syncs the directory, so a crash at any point leaves the old file or the new one,
// never a mix. Only one process may use the file at a time (the catalog is single-node state), so the
// revision is counted in memory: 1 for a file that exists when first loaded, one more per save.
type FileStore struct {
	// Path is the catalog file, e.g. {data}/catalog.json.
	Path string

	mu     sync.Mutex // serialises Load and Save; guards rev and loaded
	rev    uint64
	loaded bool
}

var _ Store = (*FileStore)(nil)

// String names the file, for logs.
func (f *FileStore) String() string { return "file " + f.Path }

// Load returns the file's contents, or a zero Entry when it does not exist yet. It first removes the
// temporary files ({Path}.{digits}.tmp) that Saves interrupted by a crash left beside it: they never hold
// data Load should return, and nothing else would ever remove them.
func (f *FileStore) Load(context.Context) (Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeTemporaries()
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		f.loaded = true
		return Entry{Revision: f.rev}, nil
	}
	if err != nil {
		return Entry{}, err
	}
	if !f.loaded && f.rev == 0 {
		f.rev = 1
	}
	f.loaded = true
	return Entry{Data: data, Revision: f.rev}, nil
}

// Save replaces the file's contents atomically and durably, if revision is the one the file holds.
func (f *FileStore) Save(_ context.Context, data []byte, revision uint64) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded && f.rev == 0 {
		// A Save before any Load compares against the file as it is.
		if _, err := os.Stat(f.Path); err == nil {
			f.rev = 1
		}
		f.loaded = true
	}
	if revision != f.rev {
		return 0, fmt.Errorf("%s holds revision %d, not %d: %w", f.Path, f.rev, revision, ErrConflict)
	}
	if err := f.write(data); err != nil {
		return 0, err
	}
	f.rev++
	return f.rev, nil
}

// write replaces the file's contents atomically and durably.
func (f *FileStore) write(data []byte) error {
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(f.Path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(name, f.Path); err != nil {
		_ = os.Remove(name)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeTemporaries removes Save's leftover temporary files, best effort: a leftover only wastes space.
func (f *FileStore) removeTemporaries() {
	dir, base := filepath.Split(f.Path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && isTemporary(e.Name(), base) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// isTemporary reports whether name is one of Save's temporary files for base: os.CreateTemp replaces the
// pattern's * with decimal digits.
func isTemporary(name, base string) bool {
	mid, ok := strings.CutPrefix(name, base+".")
	if !ok {
		return false
	}
	mid, ok = strings.CutSuffix(mid, ".tmp")
	if !ok || mid == "" {
		return false
	}
	for _, r := range mid {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
