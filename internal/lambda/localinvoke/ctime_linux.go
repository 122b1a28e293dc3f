package localinvoke

import (
	"os"
	"syscall"
)

// changeTime is the later of fi's modification and status-change times: a rename, or a copy that keeps
// the modification time, still moves the change time.
func changeTime(fi os.FileInfo) int64 {
	t := fi.ModTime().UnixNano()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		t = max(t, st.Ctim.Sec*1e9+st.Ctim.Nsec)
	}
	return t
}
