package localinvoke

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/switchboard-gw/switchboard/internal/lambda/runtimeapi"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// errReplaced is why a process driven over the go1.x runtime's protocol is replaced after its handler
// panicked or answered over the payload limit: aws-lambda-go's Runtime API loop exits after either.
var errReplaced = errors.New("the handler panicked or answered over the payload limit; the process is replaced")

// Markers of aws-lambda-go's RPC support in an executable: the go1.x runtime's start function and the
// method it serves, both in rpc_function.go, which -tags lambda.norpc leaves out. Function names stay in a
// Go binary's pclntab even when it is stripped (-s -w).
var (
	rpcInvokeMarker = []byte("github.com/aws/aws-lambda-go/lambda.(*Function).Invoke")
	rpcStartMarker  = []byte("github.com/aws/aws-lambda-go/lambda.startFunctionRPC")
)

// goRPCCapable reports whether the executable at path serves the go1.x runtime's protocol when it is
// started with _LAMBDA_SERVER_PORT: an aws-lambda-go binary built without -tags lambda.norpc.
// It reads the file in chunks (executables are tens of megabytes) and stops at the second marker.
func goRPCCapable(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	markers := [][]byte{rpcInvokeMarker, rpcStartMarker}
	found := make([]bool, len(markers))
	overlap := max(len(rpcInvokeMarker), len(rpcStartMarker)) - 1
	buf := make([]byte, 1<<20)
	kept := 0 // bytes carried over from the previous chunk, so that a marker across chunks is found
	for {
		n, err := io.ReadFull(f, buf[kept:])
		window := buf[:kept+n]
		all := true
		for i, m := range markers {
			found[i] = found[i] || bytes.Contains(window, m)
			all = all && found[i]
		}
		if all {
			return true
		}
		if err != nil { // io.EOF or io.ErrUnexpectedEOF at the end of the file, or a read error
			return false
		}
		kept = copy(buf, window[len(window)-overlap:])
	}
}

// goRPC reports whether f's processes of the current code are driven over the go1.x runtime's protocol;
// it looks at the executable once per code version. Called with f.mu held.
func (f *function) goRPC() bool {
	if f.lang != resource.LanguageExecutable || f.inv.opts.RuntimeAPIOnly {
		return false
	}
	if f.rpcCode != f.code || f.code == "" {
		f.rpcCode, f.rpcCapable = f.code, goRPCCapable(f.cfg.Handler)
	}
	return f.rpcCapable
}

// Bounds of the wait for a starting process to listen on its go1.x runtime port.
const (
	rpcDialFirstPause = time.Millisecond
	rpcDialMaxPause   = 20 * time.Millisecond
	// rpcExitWait is how long a process whose go1.x connection failed has to exit by itself (its exit
	// status then says why) before it is killed so that its pending call ends.
	rpcExitWait = time.Second
)

// driveGoRPC connects to p's go1.x runtime port once the process listens there (its initialisation is
// over) and runs p's calls over it until the process exits or is stopped.
func (p *process) driveGoRPC(addr string) {
	conn, err := p.dialGoRPC(addr)
	if err != nil {
		p.log.Debug("the go1.x runtime port was never reached", "addr", addr, "error", err)
		return
	}
	defer conn.Close()
	err = p.rt.ServeGoRPC(conn)
	switch {
	case err == nil:
	case errors.Is(err, runtimeapi.ErrShouldExit):
		p.log.Warn("function handler panicked or answered over the payload limit; replacing its process")
		p.fn.kill(p, errReplaced)
	default:
		// Usually the process died (its exit ends the pending call with its status); if it lives on, the
		// connection broke under it: kill it so that the call ends and no other is given to it.
		t := time.NewTimer(rpcExitWait)
		defer t.Stop()
		select {
		case <-p.exitedCh:
		case <-t.C:
			p.log.Warn("go1.x runtime connection failed; killing the process", "error", err)
			p.fn.kill(p, fmt.Errorf("go1.x runtime connection: %w", err))
		}
	}
}

// dialGoRPC connects to the port of addr on localhost — aws-lambda-go listens on
// localhost:$_LAMBDA_SERVER_PORT, whichever address localhost names on this machine — retrying with a
// growing pause while the process initialises, until the process exits or is stopped.
func (p *process) dialGoRPC(addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	target := net.JoinHostPort("localhost", port)
	pause := rpcDialFirstPause
	for {
		conn, err := net.DialTimeout("tcp", target, time.Second)
		if err == nil {
			return conn, nil
		}
		t := time.NewTimer(pause)
		select {
		case <-p.exitedCh:
			t.Stop()
			return nil, fmt.Errorf("the process exited: %w", err)
		case <-p.termCh:
			t.Stop()
			return nil, fmt.Errorf("the process is being stopped: %w", err)
		case <-t.C:
		}
		pause = min(2*pause, rpcDialMaxPause)
	}
}
