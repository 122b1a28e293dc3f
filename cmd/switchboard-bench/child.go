package main

// The parent side of the server processes: start one, learn its address, read its memory, stop it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one server process.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	done  chan struct{} // closed once the process has been waited for
	err   error         // Wait's result; read after done
	group bool          // a peer in a process group of its own: stopped with SIGTERM to the group at once
	// childrenOf, when set, makes this a stand-in for the child processes of that pid (a gateway's
	// function processes), whose CPU time cpu reports; it has no process of its own.
	childrenOf int
	// of, when set, makes this a stand-in for those processes together (a cluster's other nodes), whose
	// CPU time cpu adds up; it has no process of its own.
	of []*child
}

// cpu returns the CPU time the process (or, for a stand-in, the children it stands for) has used.
func (c *child) cpu() time.Duration {
	if len(c.of) > 0 {
		var total time.Duration
		for _, o := range c.of {
			total += o.cpu()
		}
		return total
	}
	if c.childrenOf == 0 {
		return cpuTime(c.pid())
	}
	var total time.Duration
	for _, pid := range childPIDs(c.childrenOf) {
		total += cpuTime(pid)
	}
	return total
}

// childPIDs returns the live processes whose parent is ppid, from /proc.
func childPIDs(ppid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name: state, ppid, …
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// errStartAborted is startChild's error when abort closed before the child was listening.
var errStartAborted = errors.New("start aborted: another server of its group failed to start")

// startChild starts "EXE server KIND ARGS..." and waits for its "listening ADDR" line; a close of abort
// (nil: never) meanwhile stops it and returns errStartAborted.
func startChild(ctx context.Context, abort <-chan struct{}, exe string, stderr io.Writer, kind string, args ...string) (*child, error) {
	cmd := exec.CommandContext(ctx, exe, append([]string{"server", kind}, args...)...)
	first := &firstLine{line: make(chan string, 1)}
	cmd.Stdout = first
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s server: %w", kind, err)
	}
	c := &child{name: kind, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case line := <-first.line:
		addr, ok := strings.CutPrefix(line, "listening ")
		if !ok {
			c.stop()
			return nil, fmt.Errorf("%s server: unexpected first line %q", kind, line)
		}
		if err := checkLoopback(addr); err != nil {
			c.stop()
			return nil, fmt.Errorf("%s server: %w", kind, err)
		}
		c.addr = addr
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("%s server exited before listening: %v", kind, c.err)
	case <-timer.C:
		c.stop()
		return nil, fmt.Errorf("%s server did not start listening within 30s", kind)
	case <-abort:
		c.stop()
		return nil, errStartAborted
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// pid is the process ID.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop closes the child's standard input, which asks it to exit, and waits for it; a child that does not
// exit is sent SIGTERM and then killed. It returns the child's error, if it failed.
func (c *child) stop() error {
	_ = c.stdin.Close()
	if c.group {
		_ = syscall.Kill(-c.pid(), syscall.SIGTERM)
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C:
			_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
			<-c.done
		}
		return nil // a peer stopped by a signal: its exit status says nothing
	}
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Kill} {
		t := time.NewTimer(10 * time.Second)
		select {
		case <-c.done:
			t.Stop()
			return c.exitErr()
		case <-t.C:
		}
		_ = c.cmd.Process.Signal(sig)
	}
	<-c.done // after SIGKILL, Wait returns promptly (WaitDelay bounds the output copying)
	return c.exitErr()
}

func (c *child) exitErr() error {
	var ee *exec.ExitError
	if errors.As(c.err, &ee) && !ee.Exited() || errors.Is(c.err, context.Canceled) {
		return nil // stopped by a signal or the run's cancellation: ours
	}
	if c.err != nil {
		return fmt.Errorf("%s server: %w", c.name, c.err)
	}
	return nil
}

// rssKiB reads VmRSS of the process from /proc/PID/status.
func rssKiB(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// clockTick is one unit of /proc's CPU times (USER_HZ is 100 on Linux). Tick counts are multiplied by it,
// never by a second and then divided: a machine's busy ticks times a second in nanoseconds overflows an
// int64 from 9.2e9 ticks on (1,067 CPU-days: a large machine up for a few weeks).
const clockTick = time.Second / 100

// cpuTime returns the user+system CPU time the process has used, from /proc/PID/stat.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may contain spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// firstLine is the child's standard output: it hands over the first line and discards the rest.
type firstLine struct {
	mu   sync.Mutex
	buf  []byte
	sent bool
	line chan string
}

// Write collects output until the first newline.
func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sent {
		return len(p), nil
	}
	f.buf = append(f.buf, p...)
	if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
		f.sent = true
		f.line <- strings.TrimSpace(string(f.buf[:i]))
		f.buf = nil
	} else if len(f.buf) > 4096 {
		f.sent = true
		f.line <- string(f.buf[:64]) + "…"
		f.buf = nil
	}
	return len(p), nil
}

// lockedWriter serialises writes from several goroutines (children's standard error, progress lines).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p under the lock.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
