//go:build !linux

package localinvoke

import (
	"os/exec"
	"syscall"
)

// dieWithParent does nothing where Linux's Pdeathsig is not available: a process driven over the go1.x
// runtime's protocol outlives a gateway that is killed without stopping it.
func dieWithParent(*syscall.SysProcAttr) {}

// starter starts processes from the calling goroutine (see the Linux version).
type starter struct{}

func newStarter() *starter { return &starter{} }

func (*starter) start(cmd *exec.Cmd) error { return cmd.Start() }

func (*starter) stop() {}
