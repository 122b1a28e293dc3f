package localinvoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/lambda/runtimeapi"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Reasons Switchboard stops or kills a process; the calls still pending on it end with the reason.
var (
	errShutdown = errors.New("invoker closing")
	errStale    = errors.New("handler code changed on disk")
	errTimedOut = errors.New("function timed out")
)

// Starting an executable that is open for writing fails with ETXTBSY; it is retried this often, this far
// apart, before it is reported.
const (
	maxBusyRetries = 10
	busyRetryDelay = 50 * time.Millisecond
)

// finishingGrace is how long a process that answered an invocation counts as about to be idle.
const finishingGrace = time.Second

// function is the pool of processes of one function.
type function struct {
	inv     *Invoker
	cfg     resource.Function
	name    string
	arn     string // unqualified
	log     *slog.Logger
	timeout time.Duration
	limit   int
	lang    resource.Language

	mu      sync.Mutex
	procs   []*process    // started and not yet reaped (busy, idle, starting or stopping)
	changed chan struct{} // closed and replaced whenever a process becomes idle or exits, or on close
	file    fileID        // the handler executable as last seen; processes of another are stale
	statted bool          // file has been set once
	closed  bool
	peak    int // the most processes alive at once (for tests)
	tree    treeWatch
}

func newFunction(inv *Invoker, cfg resource.Function) *function {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.MemorySize <= 0 {
		cfg.MemorySize = defaultMemorySize
	}
	if cfg.ReservedConcurrentExecutions <= 0 {
		cfg.ReservedConcurrentExecutions = defaultConcurrency
	}
	lang, _ := resource.RuntimeLanguage(cfg.Runtime)
	// The configuration loader makes paths absolute; do the same for callers that did not.
	if cfg.Handler != "" && lang == resource.LanguageExecutable {
		if abs, err := filepath.Abs(cfg.Handler); err == nil {
			cfg.Handler = abs
		}
	}
	if cfg.CodeURI != "" {
		if abs, err := filepath.Abs(cfg.CodeURI); err == nil {
			cfg.CodeURI = abs
		}
	}
	return &function{
		lang:    lang,
		inv:     inv,
		cfg:     cfg,
		name:    cfg.FunctionName,
		arn:     fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", inv.opts.Region, inv.opts.AccountID, cfg.FunctionName),
		log:     inv.log.With("function", cfg.FunctionName),
		timeout: time.Duration(cfg.Timeout) * time.Second,
		limit:   cfg.ReservedConcurrentExecutions,
		changed: make(chan struct{}),
	}
}

// invoke runs one invocation: it finds or starts a process, hands it the event and waits for the outcome,
// enforcing the function timeout and ctx.
func (f *function) invoke(ctx context.Context, arn string, payload []byte) (*lambda.Result, error) {
	inv := runtimeapi.Invocation{
		RequestID:   runtimeapi.NewRequestID(),
		Payload:     payload,
		Timeout:     f.timeout,
		FunctionARN: arn,
	}
	if d, ok := ctx.Deadline(); ok {
		inv.Deadline = d
	}
	log := f.log.With("request_id", inv.RequestID)
	start := time.Now()
	p, call, res, err := f.acquire(ctx, inv)
	if p != nil {
		res, err = f.await(ctx, p, call, log)
	}
	switch {
	case err != nil:
		log.Debug("invocation failed", "error", err, "duration", time.Since(start))
	case res.FunctionError != "":
		log.Debug("invocation ended with a function error", "duration", time.Since(start))
	default:
		log.Debug("invocation succeeded", "duration", time.Since(start))
	}
	return res, err
}

// acquire enqueues inv on an idle process of the current executable, or on a new one while the pool is
// below its limit, else waits until a process frees up or ctx ends. When no process can be started it
// returns the function error to report instead.
func (f *function) acquire(ctx context.Context, inv runtimeapi.Invocation) (*process, *runtimeapi.Call, *lambda.Result, error) {
	busyRetries := 0
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil, nil, nil, ErrClosed
		}
		f.refreshFileLocked()
		// A process that has just answered is normally back in GET /next within microseconds: wait for it
		// rather than start another (sequential invocations reuse one process), but not for long.
		var soonIdle time.Time
		now := time.Now()
		for _, p := range f.procs {
			if p.stopping || p.file != f.file {
				continue
			}
			if p.rt.Idle() > 0 {
				if call, err := p.rt.Enqueue(inv); err == nil {
					f.mu.Unlock()
					return p, call, nil, nil
				}
				continue
			}
			if at := p.rt.AnsweredAt(); p.rt.Busy() == 0 && now.Sub(at) < finishingGrace {
				if until := at.Add(finishingGrace); soonIdle.IsZero() || until.Before(soonIdle) {
					soonIdle = until
				}
			}
		}
		if soonIdle.IsZero() && len(f.procs) < f.limit {
			p, err := f.startLocked()
			if err != nil && errors.Is(err, syscall.ETXTBSY) && busyRetries < maxBusyRetries {
				// The executable is being written (a rebuild in progress): try again shortly.
				busyRetries++
				f.mu.Unlock()
				if err := waitChange(ctx, nil, time.Now().Add(busyRetryDelay)); err != nil {
					return nil, nil, nil, err
				}
				continue
			}
			if err != nil {
				f.mu.Unlock()
				f.log.Error("cannot start the function's handler", "path", f.codePath(), "request_id", inv.RequestID, "error", err)
				return nil, nil, unhandled("Runtime.InvalidEntrypoint", fmt.Sprintf("RequestId: %s Error: %v", inv.RequestID, err)), nil
			}
			call, err := p.rt.Enqueue(inv)
			f.mu.Unlock()
			if err != nil { // a fresh Server accepts work; this is a bug if it happens
				return nil, nil, nil, fmt.Errorf("enqueue on a new process: %w", err)
			}
			return p, call, nil, nil
		}
		changed := f.changed
		f.mu.Unlock()
		if err := waitChange(ctx, changed, soonIdle); err != nil {
			return nil, nil, nil, err
		}
	}
}

// waitChange waits for changed to be closed, until (when not zero) or ctx's end.
func waitChange(ctx context.Context, changed <-chan struct{}, until time.Time) error {
	var timeout <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-changed:
	case <-timeout:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// await waits for call's outcome on p.
func (f *function) await(ctx context.Context, p *process, call *runtimeapi.Call, log *slog.Logger) (*lambda.Result, error) {
	started := call.Started()
	var timer *time.Timer
	var timeout <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-call.Done():
			return f.result(p, call)
		case <-started:
			started = nil
			timer = time.NewTimer(f.timeout)
			timeout = timer.C
		case <-timeout:
			if !p.rt.Abandon(call) {
				continue // it ended just now: take its outcome
			}
			f.kill(p, errTimedOut)
			log.Warn("function timed out; killing its process", "pid", p.pid, "timeout", f.timeout)
			return unhandled("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Task timed out after %d.00 seconds", call.RequestID(), f.cfg.Timeout)), nil
		case <-ctx.Done():
			if !p.rt.Abandon(call) {
				continue
			}
			if call.HandedOff() {
				f.kill(p, context.Cause(ctx))
				log.Info("invocation abandoned; killing its process", "pid", p.pid, "error", ctx.Err())
			}
			return nil, ctx.Err()
		}
	}
}

// result turns call's outcome into a Result.
func (f *function) result(p *process, call *runtimeapi.Call) (*lambda.Result, error) {
	out, err := call.Result()
	if err == nil {
		if out.FunctionError {
			return &lambda.Result{Payload: out.Payload, FunctionError: "Unhandled"}, nil
		}
		return &lambda.Result{Payload: out.Payload}, nil
	}
	id := call.RequestID()
	var initErr *runtimeapi.InitError
	var exitErr *exitError
	var initTimeout *initTimeoutError
	switch {
	case errors.As(err, &initErr):
		f.kill(p, initErr)
		f.log.Warn("function init failed", "request_id", id, "pid", p.pid, "error", initErr)
		return &lambda.Result{Payload: initErr.Payload, FunctionError: "Unhandled"}, nil
	case errors.As(err, &exitErr):
		f.log.Warn("function process exited during an invocation", "request_id", id, "pid", p.pid, "status", exitErr.state.String())
		return unhandled("Runtime.ExitError", fmt.Sprintf("RequestId: %s Error: %s", id, exitErr.message())), nil
	case errors.As(err, &initTimeout):
		return unhandled("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: %s", id, initTimeout.Error())), nil
	case errors.Is(err, errShutdown):
		return nil, ErrClosed
	}
	return nil, fmt.Errorf("invoke %s: %w", f.name, err)
}

// refreshFileLocked looks at the handler executable, and retires the idle processes of an older one.
// A stat costs about 1 µs, next to about 250 µs for a warm invocation (BenchmarkStat and
// BenchmarkInvokeWarm, 2 cores), so it is done on every invocation rather than rate-limited: an invocation
// that follows a rebuild always runs the new executable.
func (f *function) refreshFileLocked() {
	id := f.codeIDLocked()
	if f.statted && id == f.file {
		return
	}
	if f.statted {
		f.log.Info("handler code changed; new invocations start new processes", "path", f.codePath())
	}
	f.file, f.statted = id, true
	for _, p := range f.procs {
		if p.file != id && p.rt.Busy() == 0 {
			f.stopLocked(p, errStale)
		}
	}
}

// onRuntimeEvent reacts to p's runtime polling for work or reporting an init error.
func (f *function) onRuntimeEvent(p *process) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.exited || p.stopping {
		return
	}
	if ie := p.rt.InitErr(); ie != nil {
		f.killLocked(p, ie)
		return
	}
	if !p.ready {
		p.ready = true
		close(p.readyCh)
	}
	if (f.closed || p.file != f.file) && p.rt.Busy() == 0 {
		f.stopLocked(p, errStale)
	}
	f.broadcastLocked()
}

// broadcastLocked wakes the invocations waiting for a process.
func (f *function) broadcastLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// removeLocked forgets p, which has exited.
func (f *function) removeLocked(p *process) {
	if i := slices.Index(f.procs, p); i >= 0 {
		f.procs = slices.Delete(f.procs, i, i+1)
	}
	f.broadcastLocked()
}

// close stops every process and fails waiting invocations.
func (f *function) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, p := range f.procs {
		f.stopLocked(p, errShutdown)
	}
	f.broadcastLocked()
}

// killAll kills every process at once.
func (f *function) killAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		f.killLocked(p, errShutdown)
	}
}

// stopLocked asks p to exit (SIGTERM, then SIGKILL after the grace period); calls still pending on it end
// with reason.
func (f *function) stopLocked(p *process, reason error) {
	if p.exited || p.stopping {
		return
	}
	p.stopping = true
	p.reason = reason
	close(p.termCh)
}

// kill kills p at once (SIGKILL); calls still pending on it end with reason unless it was already being
// stopped for another.
func (f *function) kill(p *process, reason error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killLocked(p, reason)
}

func (f *function) killLocked(p *process, reason error) {
	if p.exited {
		return
	}
	if p.reason == nil {
		p.reason = reason
	}
	p.stopping = true
	if err := signalProcess(p.cmd.Process, true); err != nil {
		p.log.Debug("killing the process failed", "error", err)
	}
}

// unhandled returns a function error Result with Lambda's error document.
func unhandled(errorType, message string) *lambda.Result {
	return &lambda.Result{Payload: errorDocument(errorType, message), FunctionError: "Unhandled"}
}
