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

// codePath is what identifies the function's code in logs: the executable, or the codeUri directory.
func (f *function) codePath() string {
	if f.lang == resource.LanguageExecutable {
		return f.cfg.Handler
	}
	return f.cfg.CodeURI
}

// treeInterval is how long a codeUri tree's fingerprint is trusted after a walk that took walk: at least
// minTreeInterval, and treeIntervalFactor times the walk, so that watching a large tree costs at most
// about 1/treeIntervalFactor of one core while invocations keep coming. The fingerprint counts the
// entries, the files' total size and their newest modification or status-change time (so editing,
// adding, removing or renaming a file counts; directories' own times do not, as interpreters create cache
// directories such as __pycache__).
func treeInterval(walk time.Duration) time.Duration {
	return max(minTreeInterval, treeIntervalFactor*walk)
}

// treeID fingerprints the tree under dir (see treeInterval); entries that cannot be read are skipped, so a
// tree that vanishes is the zero-ish fileID of what remains.
func treeID(dir string) fileID {
	var id fileID
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // WalkDir does not follow a symlinked root
	}
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
