package localinvoke

import (
	"io/fs"
	"path/filepath"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Bounds on how often a codeUri tree is walked: at least minTreeInterval apart, and further apart when a
// walk is slow (treeIntervalFactor times its duration), so that watching a large tree costs at most about
// 1/treeIntervalFactor of one core while invocations keep coming.
const (
	minTreeInterval    = 250 * time.Millisecond
	treeIntervalFactor = 20
)

// skipDirs are never walked: caches the interpreters write themselves (a change there is not a change of
// the code) and version control.
var skipDirs = map[string]bool{"__pycache__": true, ".git": true, ".hg": true, ".svn": true}

// treeWatch caches the fingerprint of a codeUri tree. Guarded by function.mu.
type treeWatch struct {
	id    fileID
	at    time.Time     // when id was computed; zero: never
	every time.Duration // how long id is trusted
}

// codePath is what identifies the function's code in logs: the executable, or the codeUri directory.
func (f *function) codePath() string {
	if f.lang == resource.LanguageExecutable {
		return f.cfg.Handler
	}
	return f.cfg.CodeURI
}

// codeIDLocked fingerprints the function's code, so that processes of older code can be retired. For an
// executable it is the file's identity (statFile, about 1 µs). For a Node.js or Python function it is the
// whole codeUri tree, since any file there may be imported: the number of entries, the files' total size
// and their newest modification or status-change time (so editing, adding, removing or renaming a file
// counts; directories' own times do not, as interpreters create cache directories such as __pycache__). That
// costs a walk, so it is recomputed at a bounded rate (minTreeInterval, or more for slow walks): an edit is
// picked up by the first invocation after that interval.
func (f *function) codeIDLocked() fileID {
	if f.lang == resource.LanguageExecutable {
		id, _ := statFile(f.cfg.Handler) // a missing file is the zero fileID; starting it then fails
		return id
	}
	now := time.Now()
	if !f.tree.at.IsZero() && now.Sub(f.tree.at) < f.tree.every {
		return f.tree.id
	}
	f.tree.id = treeID(f.cfg.CodeURI)
	f.tree.at = time.Now()
	f.tree.every = max(minTreeInterval, treeIntervalFactor*f.tree.at.Sub(now))
	return f.tree.id
}

// treeID fingerprints the tree under dir (see codeIDLocked); entries that cannot be read are skipped, so a
// tree that vanishes is the zero-ish fileID of what remains.
func treeID(dir string) fileID {
	var id fileID
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && skipDirs[d.Name()] {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		id.ino++ // the entry count
		if !d.IsDir() {
			id.size += info.Size()
			id.mtime = max(id.mtime, changeTime(info))
		}
		return nil
	})
	return id
}
