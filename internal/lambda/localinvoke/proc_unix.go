//go:build unix

package localinvoke

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup puts the process in a group of its own, so that stopping it also stops whatever it
// started, and a Ctrl-C meant for Switchboard does not reach it before Switchboard decides to stop it.
// On Linux it also dies with the gateway (dieWithParent).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
}

// signalProcess sends SIGTERM (or SIGKILL when kill is set) to p and its process group. The process itself
// is signalled through os.Process first, which knows when it has been reaped, so that a reused pid is never
// signalled.
func signalProcess(p *os.Process, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := p.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		return err
	}
	if err := syscall.Kill(-p.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// killGroup kills what is left of the process group of pid, whose leader has exited and been reaped: the
// processes a handler started go with its execution environment, as on AWS, even when they ignore SIGTERM
// or the handler exited by itself. The group's id cannot name an unrelated group meanwhile: a pid is not
// reused while a process group has it as its id, and an emptied group's pid comes back only after the
// kernel has allocated every other pid in turn.
func killGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// fileID identifies an executable's content cheaply: a rebuild changes its inode (new file renamed in
// place), or its size or modification time (rewritten in place).
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

// statFile returns path's fileID; the zero fileID and an error when it cannot be read.
func statFile(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return id, nil
}
