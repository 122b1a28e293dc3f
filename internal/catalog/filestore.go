package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileStore keeps the catalog in one JSON file. Save writes a temporary file beside it, syncs it, renames
// it over the old one and syncs the directory, so a crash at any point leaves the old file or the new one,
// never a mix. Only one process may use the file at a time (the catalog is single-node state).
type FileStore struct {
	// Path is the catalog file, e.g. {data}/catalog.json.
	Path string
}

var _ Store = FileStore{}

// Load returns the file's contents, or nil when it does not exist yet. It first removes the temporary files
// ({Path}.{digits}.tmp) that Saves interrupted by a crash left beside it: they never hold data Load should
// return, and nothing else would ever remove them.
func (f FileStore) Load() ([]byte, error) {
	f.removeTemporaries()
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// Save replaces the file's contents atomically and durably.
func (f FileStore) Save(data []byte) error {
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
func (f FileStore) removeTemporaries() {
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
