package localinvoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	errRetired  = errors.New("function replaced by a reload")
	errTimedOut = errors.New("function timed out")
)

// Starting an executable that is open for writing (a rebuild writing it in place) fails with ETXTBSY; it
// is tried again this far apart for as long as a process has to initialise (Options.InitTimeout) before it
// is reported: a build that writes a large executable in place takes longer than a few tries. (The
// invocation's own context bounds the wait too.)
const (
	maxBusyRetries = 10 // the tries a build writing in place was once given (for tests)
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

	// earlyWakes counts the times an invocation's goroutine was woken after a process took its call and
	// before the call ended or timed out: each is a goroutine switch that does nothing (for tests).
	earlyWakes atomic.Int64

	mu         sync.Mutex
	procs      []*process  // started and not yet reaped (busy, idle, starting or stopping)
	waiters    []*waiter   // invocations waiting for a process, first come first served
	code       codeVersion // the handler's files as last seen; processes of another version are stale
	rpcCode    codeVersion // the code version rpcCapable was found for
	rpcCapable bool        // the executable of rpcCode serves the go1.x runtime's protocol (goRPC)
	nextCheck  time.Time   // when the handler's files are next looked at (zero: at the next acquire)
	closed     bool
	retired    bool // closed because a reload replaced or removed the function: calls look again
	peak       int  // the most processes alive at once (for tests)
	looks      int  // times an invocation looked for a process (for tests)
	checks     int  // times the handler's files were looked at (for tests)
	busyTries  int  // times a start failed with ETXTBSY and was tried again (for tests)

	// abandonHook, when set (tests), runs after an invocation has withdrawn its call from p and before p
	// is killed.
	abandonHook func(p *process)
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
	start := time.Now()
	p, call, res, err := f.acquire(ctx, runtimeapi.NewCall(inv))
	if p != nil {
		res, err = f.await(ctx, p, call)
	}
	// No logger is built per invocation unless debug records are wanted: this is the hot path.
	if f.log.Enabled(ctx, slog.LevelDebug) {
		log := f.log.With("request_id", inv.RequestID)
		switch {
		case err != nil:
			log.Debug("invocation failed", "error", err, "duration", time.Since(start))
		case res.FunctionError != "":
			log.Debug("invocation ended with a function error", "duration", time.Since(start))
		default:
			log.Debug("invocation succeeded", "duration", time.Since(start))
		}
	}
	return res, err
}

// acquire enqueues call on an idle process of the current code, or on a new one while the pool is below
// its limit, else queues it until a process hands itself over (one process to one waiting invocation: no
// wake-up of every waiter), a slot frees up or ctx ends. When no process can be started it returns the
// function error to report instead. A queued invocation is not woken when a process takes its call: it
// waits on the call itself (see wait).
func (f *function) acquire(ctx context.Context, call *runtimeapi.Call) (*process, *runtimeapi.Call, *lambda.Result, error) {
	var busySince time.Time // when starting first failed with ETXTBSY
	f.mu.Lock()
	for {
		if f.closed {
			f.mu.Unlock()
			if f.retired {
				return nil, nil, nil, errRetired
			}
			return nil, nil, nil, ErrClosed
		}
		f.looks++
		now := time.Now()
		f.refreshCodeLocked(now, false)
		// A process that has just answered is normally back in GET /next within microseconds: wait for it
		// rather than start another (sequential invocations reuse one process), but not for long.
		var soonIdle time.Time
		for _, p := range f.procs {
			if p.stopping || p.code != f.code {
				continue
			}
			if p.rt.Idle() > 0 {
				if err := p.rt.EnqueueCall(call); err == nil {
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
			// A new process always starts from the code on disk now, whenever the last look was.
			if f.refreshCodeLocked(now, true) {
				continue
			}
			p, err := f.startLocked()
			if err != nil && errors.Is(err, syscall.ETXTBSY) && busySince.IsZero() {
				busySince = now
				f.log.Info("the handler executable is open for writing (a rebuild in progress); starting it once it is written",
					"path", f.codePath(), "request_id", call.RequestID(), "within", f.inv.opts.InitTimeout)
			}
			if err != nil && errors.Is(err, syscall.ETXTBSY) && now.Sub(busySince) < f.inv.opts.InitTimeout {
				// The executable is being written (a rebuild in progress): try again shortly.
				f.busyTries++
				f.mu.Unlock()
				if err := sleepCtx(ctx, busyRetryDelay); err != nil {
					return nil, nil, nil, err
				}
				f.mu.Lock()
				continue
			}
			if err != nil {
				f.mu.Unlock()
				f.log.Error("cannot start the function's handler", "path", f.codePath(), "request_id", call.RequestID(), "error", err)
				return nil, nil, unhandled("Runtime.InvalidEntrypoint", fmt.Sprintf("RequestId: %s Error: %v", call.RequestID(), err)), nil
			}
			err = p.rt.EnqueueCall(call)
			f.mu.Unlock()
			if err != nil { // a fresh Server accepts work; this is a bug if it happens
				return nil, nil, nil, fmt.Errorf("enqueue on a new process: %w", err)
			}
			return p, call, nil, nil
		}
		w := &waiter{call: call, ch: make(chan struct{}, 1)}
		if !soonIdle.IsZero() {
			w.timer = time.NewTimer(time.Until(soonIdle))
		}
		f.waiters = append(f.waiters, w)
		f.mu.Unlock()
		p, err := f.wait(ctx, w)
		if err != nil {
			return nil, nil, nil, err
		}
		if p != nil {
			return p, call, nil, nil
		}
		f.mu.Lock() // woken to look again
	}
}

// waiter is an invocation queued for a process.
type waiter struct {
	call  *runtimeapi.Call // enqueued on p by the process that takes the waiter
	p     *process         // set, under function.mu, before call is enqueued on it
	ch    chan struct{}    // capacity 1: a request to look at the pool again (a slot freed up, or closing)
	timer *time.Timer      // when set, a process about to be idle is waited for until it fires; stopped at hand-off
}

// wait waits until w's call has been taken by a process and has ended or run out of time, w's timer, or
// ctx's end. It returns the process that has the call (the caller awaits the outcome
// there), or nil when the caller should look at the pool again. A process taking the call does not wake
// the caller: only the call's end, its timeout or a request to look again do.
func (f *function) wait(ctx context.Context, w *waiter) (*process, error) {
	var timeout <-chan time.Time
	if w.timer != nil {
		defer w.timer.Stop()
		timeout = w.timer.C
	}
	select {
	case <-w.call.Done():
		return w.p, nil // w.p was set before the call was enqueued, which happened before it ended
	case <-w.call.TimedOut():
		return w.p, nil
	case <-w.ch:
		return nil, nil
	case <-timeout:
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := slices.Index(f.waiters, w); i >= 0 {
		f.waiters = slices.Delete(f.waiters, i, i+1)
		return nil, ctx.Err()
	}
	if w.p != nil {
		// Taken by a process meanwhile: await withdraws a call whose ctx has ended.
		f.countEarlyWake(w.call)
		return w.p, nil
	}
	// Asked to look again at the same moment: when ctx has ended, the next waiter looks instead.
	<-w.ch
	if ctx.Err() != nil {
		f.wakeLocked()
		return nil, ctx.Err()
	}
	return nil, nil
}

// sleepCtx waits for d or ctx's end.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await waits for call's outcome on p; the function timeout is the call's own (TimedOut, armed when the
// runtime takes it), so that nothing wakes this goroutine before the call ends.
func (f *function) await(ctx context.Context, p *process, call *runtimeapi.Call) (*lambda.Result, error) {
	timeout := call.TimedOut()
	for {
		select {
		case <-call.Done():
			return f.result(p, call)
		case <-timeout:
			if !f.withdraw(p, call) {
				timeout = nil
				continue // it ended just now: take its outcome
			}
			if f.abandonHook != nil {
				f.abandonHook(p)
			}
			f.kill(p, errTimedOut)
			f.log.Warn("function timed out; killing its process", "request_id", call.RequestID(), "pid", p.pid, "timeout", f.timeout)
			return unhandled("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Task timed out after %d.00 seconds", call.RequestID(), f.cfg.Timeout)), nil
		case <-ctx.Done():
			if !f.withdraw(p, call) {
				continue
			}
			if call.HandedOff() {
				f.kill(p, context.Cause(ctx))
				f.log.Info("invocation abandoned; killing its process", "request_id", call.RequestID(), "pid", p.pid, "error", ctx.Err())
			}
			return nil, ctx.Err()
		}
	}
}

// withdraw abandons call on p (false: it had ended) and, when p's runtime has it, takes p out of service
// in the same step, before p is killed: a runtime that answers the call meanwhile and asks for more work
// must not be handed another invocation, which would die with it and fail for a timeout or a
// cancellation that is not its own.
func (f *function) withdraw(p *process, call *runtimeapi.Call) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !p.rt.Abandon(call) {
		return false
	}
	if call.HandedOff() {
		p.stopping = true // killed next (kill); no hand-off, no acquire takes it meanwhile
	}
	return true
}

// countEarlyWake counts a wake-up of an invocation whose call is in a process and has neither ended nor
// timed out.
func (f *function) countEarlyWake(call *runtimeapi.Call) {
	select {
	case <-call.Done():
	case <-call.TimedOut():
	default:
		f.earlyWakes.Add(1)
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

// fileCheckInterval bounds how often an executable handler is looked at for a rebuild: an invocation that
// starts more than this long after a rebuild runs the new code, and starting a process always looks first.
// A stat costs about 1 µs (BenchmarkStat); doing it on every invocation made it a measurable share of the
// gateway's CPU under load, and 100 ms is below what a person notices between a build and a request.
// A Node.js or Python function's codeUri tree costs a walk, so it is looked at less often (see
// treeInterval).
const fileCheckInterval = 100 * time.Millisecond

// watchedFiles are the files whose change means an executable function was redeployed: the handler
// executable. (Node.js and Python functions watch their whole codeUri tree: codeVersionNow.)
func (f *function) watchedFiles() []string { return []string{f.cfg.Handler} }

// codeVersionNow fingerprints the function's code, and says how long to trust the answer: an executable's
// file identity (statCode, fileCheckInterval), or a Node.js or Python function's codeUri tree (treeID,
// treeInterval of the walk's duration).
func (f *function) codeVersionNow() (codeVersion, time.Duration) {
	if f.lang == resource.LanguageExecutable {
		return statCode(f.watchedFiles()), fileCheckInterval
	}
	start := time.Now()
	v := codeVersion(fmt.Sprintf("%v", treeID(f.cfg.CodeURI)))
	return v, treeInterval(time.Since(start))
}

// refreshCodeLocked looks at the handler's code when its last look is no longer trusted, or (for an
// executable) at once with force, and retires the idle processes of older code. It reports whether the code changed.
func (f *function) refreshCodeLocked(now time.Time, force bool) bool {
	// Forcing is for executables, where a look is one stat; a code tree's walk keeps its bounded rate even
	// before a process starts (it runs under f.mu).
	if (!force || f.lang != resource.LanguageExecutable) && now.Before(f.nextCheck) {
		return false
	}
	f.checks++
	v, trust := f.codeVersionNow() // a missing file is part of the version; starting it then fails
	f.nextCheck = now.Add(trust)
	if v == f.code {
		return false
	}
	if f.code != "" {
		f.log.Info("handler code changed; new invocations start new processes", "path", f.codePath())
	}
	f.code = v
	for _, p := range f.procs {
		if p.code != v && p.rt.Busy() == 0 {
			f.stopLocked(p, errStale)
		}
	}
	return true
}

// codeVersion identifies a function's code as the fileIDs of its watched files, in order; it is
// comparable, and never empty once computed.
type codeVersion string

// statCode returns the codeVersion of paths.
func statCode(paths []string) codeVersion {
	var b strings.Builder
	for _, path := range paths {
		id, _ := statFile(path)
		fmt.Fprintf(&b, "%v;", id)
	}
	return codeVersion(b.String())
}

// onRuntimeEvent reacts to p's runtime polling for work or reporting an init error.
func (f *function) onRuntimeEvent(p *process) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p.events++
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
	if (f.closed || p.code != f.code) && p.rt.Busy() == 0 {
		f.stopLocked(p, errStale)
		return
	}
	f.handOffLocked(p)
}

// handOffLocked gives p, when it is waiting for work, to the invocation at the head of the queue: one
// process, one waiter.
func (f *function) handOffLocked(p *process) {
	for len(f.waiters) > 0 && !p.stopping && p.code == f.code && p.rt.Idle() > 0 {
		w := f.popWaiterLocked()
		if w.timer != nil {
			w.timer.Stop() // the waiter now waits for its call only (a stopped timer never fires)
		}
		w.p = p
		if err := p.rt.EnqueueCall(w.call); err != nil { // p cannot take work after all (init error, closed): the waiter looks again
			w.p = nil
			w.ch <- struct{}{}
			return
		}
	}
}

// wakeLocked wakes the first waiter, if any, to look at the pool again (a slot freed up).
func (f *function) wakeLocked() {
	if len(f.waiters) > 0 {
		f.popWaiterLocked().ch <- struct{}{}
	}
}

// popWaiterLocked removes and returns the first waiter.
func (f *function) popWaiterLocked() *waiter {
	w := f.waiters[0]
	f.waiters[0] = nil
	f.waiters = f.waiters[1:]
	return w
}

// removeLocked forgets p, which has exited.
func (f *function) removeLocked(p *process) {
	if i := slices.Index(f.procs, p); i >= 0 {
		f.procs = slices.Delete(f.procs, i, i+1)
	}
	f.wakeLocked()
}

// close stops every process and fails waiting invocations.
func (f *function) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, p := range f.procs {
		f.stopLocked(p, errShutdown)
	}
	for len(f.waiters) > 0 {
		f.popWaiterLocked().ch <- struct{}{}
	}
}

// retire takes f out of service after a reload replaced or removed it: no invocation starts on it any
// more (waiting ones look again, in the Invoker's new set), idle processes stop now, and busy ones once
// their invocation has ended (onRuntimeEvent).
func (f *function) retire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed, f.retired = true, true
	for _, p := range f.procs {
		if p.rt.Busy() == 0 {
			f.stopLocked(p, errRetired)
		}
	}
	for len(f.waiters) > 0 {
		f.popWaiterLocked().ch <- struct{}{}
	}
}

// idle reports whether f has no process left (a retired function can then be forgotten).
func (f *function) idle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.procs) == 0
}

// killAll kills every process at once and returns how many had not exited yet.
func (f *function) killAll() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.procs {
		if !p.exited {
			n++
		}
		f.killLocked(p, errShutdown)
	}
	return n
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
