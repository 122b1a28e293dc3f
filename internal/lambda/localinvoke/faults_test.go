//go:build unix

package localinvoke

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Fault tests: a process that times out, crashes or is killed from outside while other invocations wait
// for the pool, a client that goes away, payloads at the limit. Each runs the real behave handler under
// both protocols.

// poolOf returns the pool of function.
func poolOf(inv *Invoker, function string) *function { return (*inv.fns.Load())[function] }

// procCount returns how many processes the pool counts.
func procCount(f *function) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.procs)
}

// waiting returns how many invocations wait for a process.
func waiting(f *function) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// outcome is one invocation's end.
type outcome struct {
	res *lambda.Result
	err error
}

// invokeAsync starts an invocation and returns where its outcome arrives.
func invokeAsync(ctx context.Context, inv *Invoker, function, event string) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := inv.Invoke(ctx, function, []byte(event))
		ch <- outcome{res, err}
	}()
	return ch
}

// receive waits for an outcome, failing the test after within.
func receive(t *testing.T, ch <-chan outcome, within time.Duration, what string) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(within):
		t.Fatalf("%s: no answer within %v", what, within)
		return outcome{}
	}
}

// answerOf decodes a successful outcome.
func answerOf(t *testing.T, o outcome, what string) answer {
	t.Helper()
	if o.err != nil || o.res.FunctionError != "" {
		t.Fatalf("%s: err %v, result %+v", what, o.err, o.res)
	}
	var a answer
	if err := json.Unmarshal(o.res.Payload, &a); err != nil {
		t.Fatalf("%s: payload %.200s: %v", what, o.res.Payload, err)
	}
	return a
}

// errorOf decodes a function error outcome.
func errorOf(t *testing.T, o outcome, what string) errorDoc {
	t.Helper()
	if o.err != nil || o.res.FunctionError != "Unhandled" {
		t.Fatalf("%s: err %v, result %+v; want a function error", what, o.err, o.res)
	}
	var d errorDoc
	if err := json.Unmarshal(o.res.Payload, &d); err != nil {
		t.Fatalf("%s: payload %.200s: %v", what, o.res.Payload, err)
	}
	return d
}

// pidSaying waits until the handler printed line and returns the pid of the process that printed it.
func pidSaying(t *testing.T, rec *recorder, function, line string) int {
	t.Helper()
	var pid int
	eventually(t, 10*time.Second, "the handler to print "+line, func() bool {
		r, ok := rec.find(func(r record) bool {
			return r.msg == line && r.attrs["function"] == function && r.attrs["stream"] == "stdout"
		})
		if ok {
			_, _ = fmt.Sscan(r.attrs["pid"], &pid)
		}
		return ok
	})
	return pid
}

// TestTimeoutWithQueue: at the concurrency limit, an invocation times out while others wait for its
// process. The timed-out one gets Sandbox.Timedout, the waiting ones run on a fresh process, each exactly
// once, and the pool ends with no more processes than its limit.
func TestTimeoutWithQueue(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			fn := fnConfig("stuck")
			fn.Timeout = 1
			fn.ReservedConcurrentExecutions = 1
			inv, rec := newInvoker(t, proto.opts, fn)
			f := poolOf(inv, "stuck")
			warm := invokeOK(t, inv, "stuck", `{}`)
			ctx := context.Background()
			stuck := invokeAsync(ctx, inv, "stuck", `{"say":"stuck","sleepMs":30000}`)
			pidSaying(t, rec, "stuck", "stuck")
			const queued = 3
			var outs []<-chan outcome
			for i := range queued {
				outs = append(outs, invokeAsync(ctx, inv, "stuck", fmt.Sprintf(`{"say":"queued %d"}`, i)))
			}
			eventually(t, 10*time.Second, "the invocations to queue", func() bool { return waiting(f) == queued })
			doc := errorOf(t, receive(t, stuck, 10*time.Second, "the stuck invocation"), "the stuck invocation")
			if doc.Type != "Sandbox.Timedout" {
				t.Errorf("stuck invocation: %+v, want Sandbox.Timedout", doc)
			}
			for i, ch := range outs {
				a := answerOf(t, receive(t, ch, 10*time.Second, "a queued invocation"), "a queued invocation")
				if a.PID == warm.PID {
					t.Errorf("queued invocation %d ran in the timed-out process %d", i, a.PID)
				}
				// Its output reaches the log a moment after its answer.
				line := fmt.Sprintf("queued %d", i)
				pidSaying(t, rec, "stuck", line)
				if got := strings.Count(logged(rec, "stuck"), line+"\n"); got != 1 {
					t.Errorf("queued invocation %d ran %d times", i, got)
				}
			}
			waitGone(t, warm.PID)
			if n := procCount(f); n > 1 {
				t.Errorf("%d processes in a pool limited to 1", n)
			}
		})
	}
}

// logged returns the stdout lines function printed, one per line.
func logged(rec *recorder, function string) string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var b strings.Builder
	for _, r := range *rec.recs {
		if r.attrs["function"] == function && r.attrs["stream"] == "stdout" {
			b.WriteString(r.msg + "\n")
		}
	}
	return b.String()
}

// TestCrashesWithQueue: processes crash (exit, panic, SIGKILL from outside) in the middle of a call while
// others wait for the pool. The crashed call gets its error, the waiting ones run, and the pool's count of
// processes stays right: after the crashes, limit invocations at once still each get a process.
func TestCrashesWithQueue(t *testing.T) {
	t.Parallel()
	crashes := []struct {
		name     string
		event    string // the crashing invocation; it prints "crash N" first
		kill     bool   // killed from outside with SIGKILL once it has printed
		wantType string
	}{
		{name: "exit", event: `{"exit":2}`, wantType: "Runtime.ExitError"},
		{name: "panic", event: `{"panic":"boom"}`, wantType: "string"},
		{name: "SIGKILL", event: `{"sleepMs":30000}`, kill: true, wantType: "Runtime.ExitError"},
	}
	for _, proto := range protocols {
		for _, tc := range crashes {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				const limit, rounds = 2, 3
				fn := fnConfig("crashy")
				fn.ReservedConcurrentExecutions = limit
				inv, rec := newInvoker(t, proto.opts, fn)
				f := poolOf(inv, "crashy")
				ctx := context.Background()
				for round := range rounds {
					// Fill the pool: one process crashes, the other is busy; two more wait.
					busy := invokeAsync(ctx, inv, "crashy", fmt.Sprintf(`{"say":"busy %d","sleepMs":300}`, round))
					pidSaying(t, rec, "crashy", fmt.Sprintf("busy %d", round))
					var ev map[string]any
					_ = json.Unmarshal([]byte(tc.event), &ev)
					ev["say"] = fmt.Sprintf("crash %d", round)
					evb, _ := json.Marshal(ev)
					crash := invokeAsync(ctx, inv, "crashy", string(evb))
					pid := pidSaying(t, rec, "crashy", fmt.Sprintf("crash %d", round))
					queued := []<-chan outcome{invokeAsync(ctx, inv, "crashy", `{}`), invokeAsync(ctx, inv, "crashy", `{}`)}
					if tc.kill {
						eventually(t, 10*time.Second, "the invocations to queue", func() bool { return waiting(f) == 2 })
						if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
							t.Fatal(err)
						}
					}
					doc := errorOf(t, receive(t, crash, 10*time.Second, "the crashing invocation"), "the crashing invocation")
					if doc.Type != tc.wantType {
						t.Errorf("round %d: crashed invocation: %+v, want type %s", round, doc, tc.wantType)
					}
					answerOf(t, receive(t, busy, 10*time.Second, "the busy invocation"), "the busy invocation")
					for _, ch := range queued {
						if a := answerOf(t, receive(t, ch, 10*time.Second, "a queued invocation"), "a queued invocation"); a.PID == pid {
							t.Errorf("round %d: a queued invocation ran in the crashed process %d", round, pid)
						}
					}
					waitGone(t, pid)
				}
				eventually(t, 10*time.Second, "the pool to count its live processes", func() bool { return procCount(f) <= limit })
				// limit invocations at once, each holding its process: none may wait for a slot a crashed
				// process still holds.
				var wg sync.WaitGroup
				pids := make(chan int, limit)
				for range limit {
					wg.Go(func() {
						cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
						defer cancel()
						res, err := inv.Invoke(cctx, "crashy", []byte(`{"sleepMs":500}`))
						if err != nil || res.FunctionError != "" {
							t.Errorf("after %d crashes: %v %+v", rounds, err, res)
							return
						}
						var a answer
						_ = json.Unmarshal(res.Payload, &a)
						pids <- a.PID
					})
				}
				wg.Wait()
				close(pids)
				distinct := map[int]bool{}
				for pid := range pids {
					distinct[pid] = true
				}
				if len(distinct) != limit {
					t.Errorf("after %d crashes, %d concurrent invocations ran in %d processes", rounds, limit, len(distinct))
				}
			})
		}
	}
}

// TestCancelWhileQueued: an invocation whose client goes away while it waits for the pool is withdrawn
// and never runs.
func TestCancelWhileQueued(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			fn := fnConfig("withdrawn")
			fn.ReservedConcurrentExecutions = 1
			inv, rec := newInvoker(t, proto.opts, fn)
			f := poolOf(inv, "withdrawn")
			busy := invokeAsync(context.Background(), inv, "withdrawn", `{"say":"busy","sleepMs":500}`)
			pidSaying(t, rec, "withdrawn", "busy")
			ctx, cancel := context.WithCancel(context.Background())
			queued := invokeAsync(ctx, inv, "withdrawn", `{"say":"must not run"}`)
			eventually(t, 10*time.Second, "the invocation to queue", func() bool { return waiting(f) == 1 })
			cancel()
			if o := receive(t, queued, 10*time.Second, "the withdrawn invocation"); !errors.Is(o.err, context.Canceled) {
				t.Errorf("withdrawn invocation: %v %+v, want context.Canceled", o.err, o.res)
			}
			answerOf(t, receive(t, busy, 10*time.Second, "the busy invocation"), "the busy invocation")
			invokeOK(t, inv, "withdrawn", `{"say":"after"}`)
			pidSaying(t, rec, "withdrawn", "after") // what the process printed before is in the log too
			if strings.Contains(logged(rec, "withdrawn"), "must not run") {
				t.Error("the withdrawn invocation ran")
			}
		})
	}
}

// TestPayloadLimits: an event of 6 MiB runs, one a byte larger is refused without running, and a response
// just over the limit is Function.ResponseSizeTooLarge, under both protocols, and the function goes on.
func TestPayloadLimits(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			inv, rec := newInvoker(t, proto.opts, fnConfig("limits"))
			frame := `{"say":"%s","quiet":true,"pad":"%s"}`
			event := func(say string, size int) string { // an event of size bytes
				return fmt.Sprintf(frame, say, strings.Repeat("x", size-len(fmt.Sprintf(frame, say, ""))))
			}
			a := invokeOK(t, inv, "limits", event("at the limit", MaxRequestPayload))
			if want := fmt.Sprintf(`{"bytes":%d}`, MaxRequestPayload); string(a.Event) != want {
				t.Errorf("the handler saw %s, want %s", a.Event, want)
			}
			// One byte over: refused as Lambda refuses it, and the function does not run.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if res, err := inv.Invoke(ctx, "limits", []byte(event("over the limit", MaxRequestPayload+1))); !errors.Is(err, lambda.ErrRequestTooLarge) ||
				!strings.Contains(err.Error(), "Request must be smaller than 6291456 bytes for the InvokeFunction operation") {
				t.Errorf("an event over the limit: %v %+v, want lambda.ErrRequestTooLarge", err, res)
			}
			if _, ok := rec.find(func(r record) bool { return r.msg == "invocation refused: the event is over Lambda's limit" }); !ok {
				t.Error("the refusal is not logged")
			}
			// bigMB:6 answers 6 MiB of x plus the rest of the answer: just over the limit.
			doc := invokeErr(t, inv, "limits", `{"bigMB":6}`)
			if doc.Type != "Function.ResponseSizeTooLarge" {
				t.Errorf("a response just over the limit: %+v", doc)
			}
			invokeOK(t, inv, "limits", `{"say":"after"}`)
			pidSaying(t, rec, "limits", "after") // what the process printed before is in the log too
			if strings.Contains(logged(rec, "limits"), "over the limit") {
				t.Error("the function ran the event over the limit")
			}
		})
	}
}

// TestNoProcessLeftBehind: however a function process ends — stopped at Close, stopped after a reload,
// killed at its timeout, or exiting by itself — the processes it started end with it, as an execution
// environment's do on AWS. The handler's child ignores SIGTERM, as a stuck helper would.
func TestNoProcessLeftBehind(t *testing.T) {
	t.Parallel()
	ends := []struct {
		name string
		end  func(t *testing.T, inv *Invoker)
	}{
		{"Close", func(t *testing.T, inv *Invoker) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := inv.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{"reload", func(t *testing.T, inv *Invoker) {
			fn := fnConfig("spawner")
			fn.Environment = map[string]string{"RELOADED": "yes"}
			inv.Update([]resource.Function{fn})
		}},
		{"timeout", func(t *testing.T, inv *Invoker) {
			invokeErr(t, inv, "spawner", `{"sleepMs":30000}`)
		}},
		{"exit", func(t *testing.T, inv *Invoker) {
			invokeErr(t, inv, "spawner", `{"exit":1}`)
		}},
	}
	for _, proto := range protocols {
		for _, tc := range ends {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				fn := fnConfig("spawner")
				fn.Timeout = 1
				inv, _ := newInvoker(t, proto.opts, fn)
				a := invokeOK(t, inv, "spawner", `{"spawn":true}`)
				if a.ChildPID == 0 || gone(a.ChildPID) {
					t.Fatalf("the handler's child %d is not running", a.ChildPID)
				}
				t.Cleanup(func() { _ = syscall.Kill(a.ChildPID, syscall.SIGKILL) })
				tc.end(t, inv)
				waitGone(t, a.PID)
				waitGone(t, a.ChildPID)
			})
		}
	}
}

// TestRebuildUnderLoad: the executable is replaced (a new file renamed into place) while one invocation
// runs and others wait at the concurrency limit. The running one finishes in its process on the old code;
// the ones that arrive after the rebuild run the new code, in new processes, and the old processes go.
func TestRebuildUnderLoad(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			handler := filepath.Join(t.TempDir(), "bootstrap")
			installFile(t, bin.behave, handler)
			fn := fnConfig("rebuilt")
			fn.Handler = handler
			fn.ReservedConcurrentExecutions = 2
			inv, rec := newInvoker(t, proto.opts, fn)
			f := poolOf(inv, "rebuilt")
			ctx := context.Background()
			running := []<-chan outcome{
				invokeAsync(ctx, inv, "rebuilt", `{"say":"running 0","sleepMs":500}`),
				invokeAsync(ctx, inv, "rebuilt", `{"say":"running 1","sleepMs":500}`),
			}
			pidSaying(t, rec, "rebuilt", "running 0")
			pidSaying(t, rec, "rebuilt", "running 1")
			before := invokeAsync(ctx, inv, "rebuilt", `{}`) // queued before the rebuild
			eventually(t, 10*time.Second, "the invocation to queue", func() bool { return waiting(f) == 1 })
			installFile(t, bin.behaveV2, handler)
			setNextCheck(inv, "rebuilt", time.Time{}) // as though fileCheckInterval had passed
			var after []<-chan outcome
			for range 4 {
				after = append(after, invokeAsync(ctx, inv, "rebuilt", `{}`))
			}
			old := map[int]bool{}
			for _, ch := range running {
				a := answerOf(t, receive(t, ch, 10*time.Second, "a running invocation"), "a running invocation")
				if a.Version != "v1" {
					t.Errorf("an invocation running during the rebuild ran %s", a.Version)
				}
				old[a.PID] = true
			}
			answerOf(t, receive(t, before, 10*time.Second, "the invocation queued before"), "the invocation queued before")
			for _, ch := range after {
				if a := answerOf(t, receive(t, ch, 10*time.Second, "an invocation after the rebuild"), "an invocation after the rebuild"); a.Version != "v2" || old[a.PID] {
					t.Errorf("an invocation after the rebuild ran %s in pid %d (old processes %v)", a.Version, a.PID, old)
				}
			}
			for pid := range old {
				waitGone(t, pid)
			}
			eventually(t, 10*time.Second, "the pool to count its live processes", func() bool { return procCount(f) <= 2 })
		})
	}
}

// TestRebuildInPlace: the executable is being rewritten in place (open for writing) when an invocation
// has to start a process, and the writer takes longer than a few tries' worth. The invocation waits for
// the write to end rather than report "text file busy" to its client, then runs the new code.
func TestRebuildInPlace(t *testing.T) {
	t.Parallel()
	handler := filepath.Join(t.TempDir(), "bootstrap")
	copyFile(t, bin.behave, handler)
	inv, _ := newInvoker(t, Options{}, func() resource.Function {
		fn := fnConfig("inplace")
		fn.Handler = handler
		return fn
	}())
	f := poolOf(inv, "inplace")
	// A writer has the file open: exec fails with ETXTBSY until it closes it.
	w, err := os.OpenFile(handler, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	out := invokeAsync(context.Background(), inv, "inplace", `{}`)
	tries := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.busyTries
	}
	const many = 2 * maxBusyRetries // more than the old fixed budget of tries
	deadline := time.After(30 * time.Second)
	for tries() < many {
		select {
		case o := <-out:
			if o.err != nil {
				t.Fatalf("with the executable open for writing, after %d tries the client got %v", tries(), o.err)
			}
			t.Fatalf("with the executable open for writing, after %d tries the client got %s", tries(), o.res.Payload)
		case <-deadline:
			t.Fatalf("only %d tries to start the process", tries())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	answerOf(t, receive(t, out, 10*time.Second, "the invocation"), "the invocation")
}

// copyFile copies the executable src to dst (a file of its own: a hard link would share src's inode).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// orphanHelperEnv makes the test binary, started by TestGatewayCrashLeavesNoProcess, run an Invoker with
// one warm process of each protocol, print their pids and wait to be killed.
const orphanHelperEnv = "LOCALINVOKE_ORPHAN_HELPER"

// TestOrphanHelper is the gateway that crashes in TestGatewayCrashLeavesNoProcess; it does nothing in a
// normal run.
func TestOrphanHelper(t *testing.T) {
	handler := os.Getenv(orphanHelperEnv)
	if handler == "" {
		return
	}
	rpc, api := fnConfig("rpc"), fnConfig("api")
	rpc.Handler, api.Handler = handler, handler
	rpcInv := New([]resource.Function{rpc}, Options{})
	apiInv := New([]resource.Function{api}, Options{RuntimeAPIOnly: true})
	fmt.Println("pids", invokeOK(t, rpcInv, "rpc", `{}`).PID, invokeOK(t, apiInv, "api", `{}`).PID)
	select {} // until killed
}

// TestGatewayCrashLeavesNoProcess: when the gateway dies without stopping its functions (SIGKILL, a crash,
// the OOM killer), their processes do not live on. A process driven over the Runtime API exits when its
// GET /next fails; one driven over the go1.x runtime's protocol would serve its port forever.
func TestGatewayCrashLeavesNoProcess(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanHelper$")
	cmd.Env = append(os.Environ(), orphanHelperEnv+"="+bin.behave)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var rpcPID, apiPID int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, _ := fmt.Sscanf(sc.Text(), "pids %d %d", &rpcPID, &apiPID); n == 2 {
			break
		}
	}
	if rpcPID == 0 || apiPID == 0 {
		t.Fatalf("the helper did not start its functions: %v", sc.Err())
	}
	t.Cleanup(func() {
		_ = syscall.Kill(rpcPID, syscall.SIGKILL)
		_ = syscall.Kill(apiPID, syscall.SIGKILL)
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, apiPID)
	waitGone(t, rpcPID)
}

// startedPIDs returns the pids of every process the Invoker logging to rec started.
func startedPIDs(rec *recorder) []int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var pids []int
	for _, r := range *rec.recs {
		if r.msg == "function process started" {
			var pid int
			if _, err := fmt.Sscan(r.attrs["pid"], &pid); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// TestReloadAndCloseUnderLoad: a reload while invocations run and wait lets the running ones finish in
// their processes, runs the waiting ones on the new configuration and stops the old processes; Close
// while invocations run and wait ends both with ErrClosed; and no process the Invoker started is left.
func TestReloadAndCloseUnderLoad(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			fn := fnConfig("reloaded")
			fn.ReservedConcurrentExecutions = 2
			rec := newRecorder()
			opts := proto.opts
			opts.Logger = slog.New(rec)
			inv := New([]resource.Function{fn}, opts)
			f := poolOf(inv, "reloaded")
			ctx := context.Background()
			var running, queued []<-chan outcome
			for i := range 2 {
				running = append(running, invokeAsync(ctx, inv, "reloaded", fmt.Sprintf(`{"say":"running %d","sleepMs":500}`, i)))
			}
			old := map[int]bool{}
			for i := range 2 {
				old[pidSaying(t, rec, "reloaded", fmt.Sprintf("running %d", i))] = true
			}
			for range 2 {
				queued = append(queued, invokeAsync(ctx, inv, "reloaded", `{"env":["RELOADED"]}`))
			}
			eventually(t, 10*time.Second, "the invocations to queue", func() bool { return waiting(f) == 2 })
			fn.Environment = map[string]string{"RELOADED": "yes"}
			inv.Update([]resource.Function{fn})
			for _, ch := range running {
				if a := answerOf(t, receive(t, ch, 10*time.Second, "a running invocation"), "a running invocation"); !old[a.PID] {
					t.Errorf("a running invocation moved to pid %d", a.PID)
				}
			}
			for _, ch := range queued {
				if a := answerOf(t, receive(t, ch, 10*time.Second, "a queued invocation"), "a queued invocation"); a.Env["RELOADED"] != "yes" || old[a.PID] {
					t.Errorf("a queued invocation ran in pid %d with RELOADED=%q, want a new process of the new configuration", a.PID, a.Env["RELOADED"])
				}
			}
			for pid := range old {
				waitGone(t, pid)
			}

			// Close while one invocation runs and another waits (the new pool's limit is 2: fill it).
			f = poolOf(inv, "reloaded")
			var closing []<-chan outcome
			for i := range 2 {
				closing = append(closing, invokeAsync(ctx, inv, "reloaded", fmt.Sprintf(`{"say":"closing %d","sleepMs":30000}`, i)))
				pidSaying(t, rec, "reloaded", fmt.Sprintf("closing %d", i))
			}
			closing = append(closing, invokeAsync(ctx, inv, "reloaded", `{"say":"must not run"}`))
			eventually(t, 10*time.Second, "the invocation to queue", func() bool { return waiting(f) == 1 })
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := inv.Close(cctx); err != nil {
				t.Fatal(err)
			}
			for _, ch := range closing {
				if o := receive(t, ch, 10*time.Second, "an invocation at Close"); !errors.Is(o.err, ErrClosed) {
					t.Errorf("an invocation at Close: %v %+v, want ErrClosed", o.err, o.res)
				}
			}
			pids := startedPIDs(rec)
			if len(pids) != 4 {
				t.Errorf("%d processes started, want 2 before the reload and 2 after", len(pids))
			}
			for _, pid := range pids {
				if !gone(pid) {
					t.Errorf("process %d is left after Close", pid)
				}
			}
			if strings.Contains(logged(rec, "reloaded"), "must not run") {
				t.Error("the invocation waiting at Close ran")
			}
		})
	}
}

// TestNoHandOffToAProcessBeingKilled: a call times out just as its handler answers, and the runtime asks
// for work before Switchboard has killed its process. The invocation waiting for the pool must not be
// handed that process (it would be killed with it and fail for a timeout that is not its own); it runs
// on a new one. The process's answer is held back until the runtime has asked again (abandonHook), which
// makes the race certain. Over the go1.x protocol, where aws-lambda-go goes on after the abandoned call;
// over the Runtime API it exits when its answer is refused.
func TestNoHandOffToAProcessBeingKilled(t *testing.T) {
	t.Parallel()
	fn := fnConfig("racing")
	fn.Timeout = 1
	fn.ReservedConcurrentExecutions = 1
	inv, rec := newInvoker(t, Options{}, fn)
	f := poolOf(inv, "racing")
	events := func(p *process) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return p.events
	}
	f.abandonHook = func(p *process) {
		before := events(p)
		deadline := time.Now().Add(10 * time.Second)
		for events(p) == before && time.Now().Before(deadline) { // until the runtime asks for work again
			time.Sleep(time.Millisecond)
		}
	}
	warm := invokeOK(t, inv, "racing", `{}`)
	ctx := context.Background()
	late := invokeAsync(ctx, inv, "racing", `{"say":"late","sleepMs":1300}`)
	pidSaying(t, rec, "racing", "late")
	innocent := invokeAsync(ctx, inv, "racing", `{"say":"innocent"}`)
	eventually(t, 10*time.Second, "the invocation to queue", func() bool { return waiting(f) == 1 })
	if doc := errorOf(t, receive(t, late, 10*time.Second, "the late invocation"), "the late invocation"); doc.Type != "Sandbox.Timedout" {
		t.Errorf("the late invocation: %+v", doc)
	}
	if a := answerOf(t, receive(t, innocent, 10*time.Second, "the waiting invocation"), "the waiting invocation"); a.PID == warm.PID {
		t.Errorf("the waiting invocation ran in the process being killed, %d", a.PID)
	}
}
