//go:build !unix

package localinvoke

import (
	"errors"
	"os"
	"os/exec"
)

// setProcessGroup does nothing where process groups are not available.
func setProcessGroup(*exec.Cmd) {}

// signalProcess kills p: without Unix signals there is no graceful stop.
func signalProcess(p *os.Process, _ bool) error {
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// killGroup does nothing where process groups are not available.
func killGroup(int) error { return nil }

// fileID identifies an executable's content cheaply by size and modification time.
type fileID struct {
	ino   uint64 // unused here; treeID counts a tree's entries in it
	size  int64
	mtime int64
}

// statFile returns path's fileID; the zero fileID and an error when it cannot be read.
func statFile(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}, nil
}
