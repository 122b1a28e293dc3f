package localinvoke

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/lambda/runtimeapi"
	"github.com/switchboard-gw/switchboard/internal/loopbackport"
)

// process is one running handler process (an execution environment) with its own Runtime API.
type process struct {
	fn   *function
	cmd  *exec.Cmd
	pid  int
	rt   *runtimeapi.Server
	code codeVersion // the code it was started from
	log  *slog.Logger

	// Guarded by fn.mu.
	ready    bool  // it has polled GET /next once: init is over
	stopping bool  // stopped or killed: it takes no more work
	exited   bool  // reaped
	reason   error // why Switchboard stopped it; pending calls end with it rather than the exit status
	events   int   // times its runtime asked for work or reported an init error (onRuntimeEvent; for tests)

	readyCh  chan struct{} // closed when ready is set
	termCh   chan struct{} // closed by stopLocked
	exitedCh chan struct{} // closed when reaped
}

// exitError is how pending calls end when their process exits by itself.
type exitError struct {
	state *os.ProcessState
}

func (e *exitError) Error() string { return "process exited: " + e.state.String() }

// message renders the exit as Lambda does in Runtime.ExitError documents.
func (e *exitError) message() string {
	if e.state.Success() {
		return "Runtime exited without providing a reason"
	}
	return "Runtime exited with error: " + e.state.String()
}

// initTimeoutError is how calls end when their process did not finish initialising in time.
type initTimeoutError struct {
	timeout time.Duration
}

func (e *initTimeoutError) Error() string {
	return fmt.Sprintf("Init timed out after %.2f seconds: the runtime never polled GET /2018-06-01/runtime/invocation/next", e.timeout.Seconds())
}

// startLocked starts a process of the current executable with its Runtime API listener. Its goroutines
// (HTTP server, reaper, supervisor) are counted in the Invoker's WaitGroup.
func (f *function) startLocked() (*process, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the runtime api: %w", err)
	}
	p := &process{
		fn:       f,
		code:     f.code,
		readyCh:  make(chan struct{}),
		termCh:   make(chan struct{}),
		exitedCh: make(chan struct{}),
	}
	name, args, dir, err := f.command()
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	var rpcAddr string // the go1.x runtime's address, when the process is driven over its protocol
	if f.goRPC() {
		addrs, err := loopbackport.Reserve(1)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("pick a port for the go1.x runtime: %w", err)
		}
		rpcAddr = addrs[0]
	}
	p.rt = runtimeapi.New(runtimeapi.Options{
		Logger:          f.log,
		Notify:          func() { f.onRuntimeEvent(p) },
		FunctionName:    f.name,
		FunctionVersion: "$LATEST",
		Handler:         f.handlerName(),
	})

	var pid atomic.Int64 // read by the output loggers, which may run before Start returns
	stdout := &lineWriter{log: f.log, stream: "stdout", pid: &pid}
	stderr := &lineWriter{log: f.log, stream: "stderr", pid: &pid}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = f.environ(ln.Addr().String(), rpcAddr)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second // a grandchild keeping the output pipes open must not block the reaper
	setProcessGroup(cmd)
	if err := f.inv.starter.start(cmd); err != nil {
		_ = ln.Close()
		return nil, err
	}
	p.cmd, p.pid = cmd, cmd.Process.Pid
	pid.Store(int64(p.pid))
	p.log = f.log.With("pid", p.pid)
	if rpcAddr != "" {
		p.log.Info("function process started", "path", f.codePath(), "runtime_api", ln.Addr().String(), "go_rpc", rpcAddr)
	} else {
		p.log.Info("function process started", "path", f.codePath(), "runtime_api", ln.Addr().String())
	}
	if on := f.inv.opts.OnStart; on != nil {
		on(f.name)
	}

	f.procs = append(f.procs, p)
	f.peak = max(f.peak, len(f.procs))
	wg := &f.inv.wg
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := p.rt.Serve(ln); err != nil {
			p.log.Error("runtime API server failed", "error", err)
		}
	}()
	go func() {
		defer wg.Done()
		p.reap(stdout, stderr)
	}()
	go func() {
		defer wg.Done()
		p.supervise(f.inv.opts.InitTimeout, f.inv.opts.StopGrace)
	}()
	if rpcAddr != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.driveGoRPC(rpcAddr)
		}()
	}
	return p, nil
}

// reap waits for the process to exit, kills the processes it left in its group, ends its pending calls and
// shuts its Runtime API down.
func (p *process) reap(stdout, stderr *lineWriter) {
	waitErr := p.cmd.Wait()
	if err := killGroup(p.pid); err != nil {
		p.log.Warn("killing the processes the function started failed", "error", err)
	}
	stdout.flush()
	stderr.flush()
	f := p.fn
	f.mu.Lock()
	p.exited = true
	reason := p.reason
	f.removeLocked(p)
	f.mu.Unlock()
	close(p.exitedCh)

	state := p.cmd.ProcessState
	if reason == nil {
		reason = &exitError{state: state}
		p.log.Warn("function process exited", "status", state.String())
	} else {
		p.log.Info("function process stopped", "status", state.String(), "reason", reason)
	}
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		p.log.Warn("function process left its output open in a child process", "error", waitErr)
	}
	// Close releases the polls and stops the Runtime API server (its goroutine returns once every
	// connection's is done).
	p.rt.Close(reason)
}

// supervise enforces the init timeout and turns a stop request into SIGTERM, then SIGKILL after grace.
func (p *process) supervise(initTimeout, grace time.Duration) {
	initTimer := time.NewTimer(initTimeout)
	defer initTimer.Stop()
	initC := initTimer.C
	readyCh, termCh := p.readyCh, p.termCh
	var graceTimer *time.Timer
	var graceC <-chan time.Time
	defer func() {
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()
	for {
		select {
		case <-p.exitedCh:
			return
		case <-readyCh:
			readyCh, initC = nil, nil
		case <-initC:
			initC = nil
			f := p.fn
			f.mu.Lock()
			if !p.ready {
				p.log.Error("function process did not initialise in time; killing it", "init_timeout", initTimeout)
				f.killLocked(p, &initTimeoutError{timeout: initTimeout})
			}
			f.mu.Unlock()
		case <-termCh:
			termCh = nil
			if err := signalProcess(p.cmd.Process, false); err != nil {
				p.log.Debug("SIGTERM failed", "error", err)
			}
			graceTimer = time.NewTimer(grace)
			graceC = graceTimer.C
		case <-graceC:
			graceC = nil
			p.log.Warn("function process ignored SIGTERM; killing it", "grace", grace)
			if err := signalProcess(p.cmd.Process, true); err != nil {
				p.log.Debug("SIGKILL failed", "error", err)
			}
		}
	}
}

// environ returns a process's environment: PATH and HOME from Switchboard's, then Options.Env, then the
// function's Environment, then the variables Lambda reserves, which nothing overrides; and
// _LAMBDA_SERVER_PORT when rpcAddr is set (the process is driven over the go1.x runtime's protocol).
func (f *function) environ(runtimeAPI, rpcAddr string) []string {
	env := make(map[string]string)
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	maps.Copy(env, f.inv.opts.Env)
	maps.Copy(env, f.cfg.Environment)
	if _, ok := env["GOMAXPROCS"]; !ok {
		env["GOMAXPROCS"] = strconv.Itoa(goMaxProcs(f.cfg.MemorySize, runtime.NumCPU()))
	}
	var stream [16]byte
	_, _ = rand.Read(stream[:])
	region := f.inv.opts.Region
	maps.Copy(env, map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        f.name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(f.cfg.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + f.name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(stream[:]),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_EXECUTION_ENV":               f.executionEnv(),
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"LAMBDA_TASK_ROOT":                f.taskRoot(),
		"_HANDLER":                        f.handlerName(),
		"TZ":                              ":UTC",
	})
	f.runtimeEnv(env)
	if rpcAddr != "" {
		_, port, _ := net.SplitHostPort(rpcAddr)
		env["_LAMBDA_SERVER_PORT"] = port
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// mbPerVCPU is the memory size at which Lambda gives a function the equivalent of one vCPU ("At 1,769 MB,
// a function has the equivalent of one vCPU", Lambda developer guide, "Configuring function memory").
const mbPerVCPU = 1769

// goMaxProcs is the GOMAXPROCS a Go function gets unless its environment sets one: the vCPUs Lambda would
// give its memory size (at least 1), and never more than the machine has. Every process of every function
// shares the gateway's machine; a Go runtime per process sized for all its cores keeps threads spinning
// for work that one thread does.
func goMaxProcs(memoryMB, cpus int) int {
	return max(1, min(cpus, (memoryMB+mbPerVCPU-1)/mbPerVCPU))
}

// maxLine bounds one logged line; longer lines are split.
const maxLine = 64 << 10

// lineWriter logs a process's output stream line by line. os/exec calls Write from one goroutine, and
// flush after that goroutine is done, so it needs no lock.
type lineWriter struct {
	log    *slog.Logger
	stream string
	pid    *atomic.Int64
	buf    []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		w.buf = append(w.buf, b[:i]...)
		w.emit(w.buf)
		w.buf = w.buf[:0]
		b = b[i+1:]
	}
	w.buf = append(w.buf, b...)
	for len(w.buf) >= maxLine {
		w.emit(w.buf[:maxLine])
		w.buf = append(w.buf[:0], w.buf[maxLine:]...)
	}
	return n, nil
}

// flush logs a last line that did not end with a newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *lineWriter) emit(line []byte) {
	w.log.Info(strings.TrimSuffix(string(line), "\r"), "stream", w.stream, "pid", w.pid.Load())
}

// errorDocument renders Lambda's error document.
func errorDocument(errorType, message string) []byte {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{message, errorType})
	return b
}
