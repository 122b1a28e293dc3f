// Package filewatch notices when files change. It polls: a file's size, modification time and, when
// those moved, a hash of its content, so that editors' atomic renames, touch without a change and
// network file systems all behave the same, and no file-system event API is needed.
package filewatch

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"time"
)

// state is what is known of one file; a missing file is the zero state with missing set.
type state struct {
	missing bool
	size    int64
	mod     time.Time
	sum     [sha256.Size]byte
}

func look(path string, prev state) state {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return state{missing: true}
	}
	if err != nil {
		return prev // unreadable for now: wait for the next look
	}
	if !prev.missing && fi.Size() == prev.size && fi.ModTime().Equal(prev.mod) {
		return prev
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return prev
	}
	return state{size: fi.Size(), mod: fi.ModTime(), sum: sha256.Sum256(data)}
}

// Watcher polls a fixed set of files.
type Watcher struct {
	paths []string
	last  []state
}

// New returns a Watcher for paths, taking their current content as the starting point.
func New(paths ...string) *Watcher {
	w := &Watcher{paths: paths, last: make([]state, len(paths))}
	for i, p := range paths {
		w.last[i] = look(p, state{missing: true})
	}
	return w
}

// Changed looks at every file once and reports the ones whose content differs from the last look (a file
// that appeared or disappeared counts as changed).
func (w *Watcher) Changed() []string {
	var changed []string
	for i, p := range w.paths {
		next := look(p, w.last[i])
		if next.missing != w.last[i].missing || next.sum != w.last[i].sum {
			changed = append(changed, p)
		}
		w.last[i] = next
	}
	return changed
}

// Run calls onChange with the changed files every time Changed finds some, looking every interval, until
// ctx ends. Calls to onChange do not overlap.
func (w *Watcher) Run(ctx context.Context, interval time.Duration, onChange func(changed []string)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed := w.Changed(); len(changed) > 0 {
				onChange(changed)
			}
		}
	}
}
