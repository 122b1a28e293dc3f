//go:build linux

package localinvoke

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// dieWithParent has the kernel SIGKILL the process when the thread that started it exits (Pdeathsig), so
// that function processes do not outlive a gateway that is killed or crashes: a process driven over the
// go1.x runtime's protocol would otherwise serve its port forever (one driven over the Runtime API exits
// when its GET /next fails). Go ends a thread only when a goroutine locked to it returns, and processes
// are started from the starter's thread, which stays locked for the Invoker's life.
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }

// starter starts processes from one OS thread that lives until stop: the thread that starts a process
// with Pdeathsig is its parent as far as the signal is concerned.
type starter struct {
	reqs     chan startReq
	stopOnce sync.Once
	stopped  chan struct{} // closed by stop
	done     chan struct{} // closed when the goroutine has returned
}

type startReq struct {
	cmd *exec.Cmd
	err chan error
}

// newStarter starts the starter's goroutine; stop ends it.
func newStarter() *starter {
	s := &starter{reqs: make(chan startReq), stopped: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *starter) run() {
	defer close(s.done)
	// Locked and never unlocked: the thread exits with the goroutine, after every process has been reaped.
	runtime.LockOSThread()
	for {
		select {
		case r := <-s.reqs:
			r.err <- r.cmd.Start()
		case <-s.stopped:
			return
		}
	}
}

// start starts cmd from the starter's thread; ErrClosed once stop was called.
func (s *starter) start(cmd *exec.Cmd) error {
	r := startReq{cmd: cmd, err: make(chan error, 1)}
	select {
	case s.reqs <- r:
		return <-r.err
	case <-s.stopped:
		return ErrClosed
	}
}

// stop ends the starter's goroutine and waits for it; call it once every process started has exited.
func (s *starter) stop() {
	s.stopOnce.Do(func() { close(s.stopped) })
	<-s.done
}
