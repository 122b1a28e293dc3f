//go:build !linux

package localinvoke

import "os"

// changeTime is fi's modification time (the status-change time is read on Linux only).
func changeTime(fi os.FileInfo) int64 { return fi.ModTime().UnixNano() }
