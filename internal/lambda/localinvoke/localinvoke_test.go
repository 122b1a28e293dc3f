//go:build unix

package localinvoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Handler executables built by TestMain from testdata/handlers/behave with the real aws-lambda-go.
var bin struct {
	behave         string // version v1
	behaveV2       string // the same program, version v2
	behaveNoRPC    string // v1 built with -tags lambda.norpc: no go1.x runtime protocol
	behaveStripped string // v1 built with -ldflags=-s -w: no symbol table
}

// protocols are the two ways a Go executable is driven; behaviour tests run under both.
var protocols = []struct {
	name string
	opts Options
}{
	{"go1.x RPC", Options{}},
	{"Runtime API", Options{RuntimeAPIOnly: true}},
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "localinvoke-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.behave = filepath.Join(dir, "behave")
	bin.behaveV2 = filepath.Join(dir, "behave-v2")
	bin.behaveNoRPC = filepath.Join(dir, "behave-norpc")
	bin.behaveStripped = filepath.Join(dir, "behave-stripped")
	builds := []*exec.Cmd{
		exec.Command("go", "build", "-o", bin.behave, "./testdata/handlers/behave"),
		exec.Command("go", "build", "-ldflags=-X=main.version=v2", "-o", bin.behaveV2, "./testdata/handlers/behave"),
		exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin.behaveNoRPC, "./testdata/handlers/behave"),
		exec.Command("go", "build", "-ldflags=-s -w", "-o", bin.behaveStripped, "./testdata/handlers/behave"),
	}
	for _, c := range builds {
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, c := range builds {
		if err := c.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "building the test handlers:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// recorder is a slog.Handler that keeps records for tests to look at.
type recorder struct {
	mu    *sync.Mutex
	recs  *[]record
	attrs []slog.Attr
}

type record struct {
	msg   string
	attrs map[string]string
}

func newRecorder() *recorder {
	return &recorder{mu: new(sync.Mutex), recs: new([]record)}
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	attrs := make(map[string]string)
	for _, a := range r.attrs {
		attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.recs = append(*r.recs, record{rec.Message, attrs})
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(append([]slog.Attr(nil), r.attrs...), as...)
	return &c
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

// find returns the first record for which match is true.
func (r *recorder) find(match func(record) bool) (record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range *r.recs {
		if match(rec) {
			return rec, true
		}
	}
	return record{}, false
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

// gone reports whether no process has pid.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("process %d to be gone", pid), func() bool { return gone(pid) })
}

// fnConfig returns a function running the behave handler.
func fnConfig(name string) resource.Function {
	return resource.Function{
		FunctionName:                 name,
		Handler:                      bin.behave,
		Timeout:                      10,
		MemorySize:                   256,
		ReservedConcurrentExecutions: 3,
	}
}

// newInvoker returns an Invoker closed at the end of the test, and what it logged.
func newInvoker(t *testing.T, opts Options, fns ...resource.Function) (*Invoker, *recorder) {
	t.Helper()
	rec := newRecorder()
	opts.Logger = slog.New(rec)
	inv := New(fns, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := inv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return inv, rec
}

// answer is what the behave handler returns.
type answer struct {
	Version    string            `json:"version"`
	PID        int               `json:"pid"`
	RequestID  string            `json:"requestId"`
	ARN        string            `json:"arn"`
	DeadlineMS int64             `json:"deadlineMs"`
	ChildPID   int               `json:"childPid"`
	Cwd        string            `json:"cwd"`
	Env        map[string]string `json:"env"`
	Event      json.RawMessage   `json:"event"`
}

// errorDoc is Lambda's error document, as aws-lambda-go defines it.
type errorDoc = messages.InvokeResponse_Error

func invoke(t *testing.T, inv *Invoker, function, event string) *lambda.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := inv.Invoke(ctx, function, []byte(event))
	if err != nil {
		t.Fatalf("Invoke(%s, %s): %v", function, event, err)
	}
	return res
}

// invokeOK invokes and expects success.
func invokeOK(t *testing.T, inv *Invoker, function, event string) answer {
	t.Helper()
	res := invoke(t, inv, function, event)
	if res.FunctionError != "" {
		t.Fatalf("Invoke(%s, %s): function error %s: %s", function, event, res.FunctionError, res.Payload)
	}
	var a answer
	if err := json.Unmarshal(res.Payload, &a); err != nil {
		t.Fatalf("payload %s: %v", res.Payload, err)
	}
	return a
}

// invokeErr invokes and expects a function error.
func invokeErr(t *testing.T, inv *Invoker, function, event string) errorDoc {
	t.Helper()
	res := invoke(t, inv, function, event)
	if res.FunctionError != "Unhandled" {
		t.Fatalf("Invoke(%s, %s): FunctionError %q, payload %s; want Unhandled", function, event, res.FunctionError, res.Payload)
	}
	var d errorDoc
	if err := json.Unmarshal(res.Payload, &d); err != nil {
		t.Fatalf("error payload %s: %v", res.Payload, err)
	}
	return d
}

func TestInvokeSuccessAndWarmReuse(t *testing.T) {
	t.Parallel()
	inv, _ := newInvoker(t, Options{Region: "eu-west-1", AccountID: "111122223333"}, fnConfig("hello"))
	before := time.Now()
	first := invokeOK(t, inv, "hello", `{"greeting":"hi"}`)
	if string(first.Event) != `{"greeting":"hi"}` {
		t.Errorf("event = %s", first.Event)
	}
	if first.ARN != "arn:aws:lambda:eu-west-1:111122223333:function:hello" {
		t.Errorf("invoked ARN = %q", first.ARN)
	}
	if len(first.RequestID) != 36 {
		t.Errorf("request id = %q", first.RequestID)
	}
	deadline := time.UnixMilli(first.DeadlineMS)
	if deadline.Before(before.Add(9*time.Second)) || deadline.After(time.Now().Add(10*time.Second)) {
		t.Errorf("deadline %v is not the 10 s timeout from now", deadline)
	}
	second := invokeOK(t, inv, "arn:aws:lambda:eu-west-1:111122223333:function:hello:$LATEST", `{}`)
	if second.PID != first.PID {
		t.Errorf("second invocation ran in pid %d, first in %d: the warm process was not reused", second.PID, first.PID)
	}
	if second.ARN != "arn:aws:lambda:eu-west-1:111122223333:function:hello:$LATEST" {
		t.Errorf("invoked ARN = %q, want the ARN used", second.ARN)
	}
	if second.RequestID == first.RequestID {
		t.Error("request ids repeat")
	}
}

func TestInvokeDeadlineFromContext(t *testing.T) {
	t.Parallel()
	inv, _ := newInvoker(t, Options{}, fnConfig("ctxdeadline"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	want, _ := ctx.Deadline()
	res, err := inv.Invoke(ctx, "ctxdeadline", []byte(`{}`))
	if err != nil || res.FunctionError != "" {
		t.Fatalf("Invoke: %v %+v", err, res)
	}
	var a answer
	if err := json.Unmarshal(res.Payload, &a); err != nil {
		t.Fatal(err)
	}
	if a.DeadlineMS != want.UnixMilli() {
		t.Errorf("deadline = %d, want the context's %d (earlier than the 10 s timeout)", a.DeadlineMS, want.UnixMilli())
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	fn := fnConfig("concurrent")
	fn.ReservedConcurrentExecutions = 3
	inv, _ := newInvoker(t, Options{}, fn)
	const n = 7
	pids := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			pids <- invokeOK(t, inv, "concurrent", `{"sleepMs":300}`).PID
		})
	}
	wg.Wait()
	close(pids)
	distinct := make(map[int]bool)
	for pid := range pids {
		distinct[pid] = true
	}
	if len(distinct) != 3 {
		t.Errorf("%d invocations ran in %d processes, want 3 (the limit)", n, len(distinct))
	}
	f := (*inv.fns.Load())["concurrent"]
	f.mu.Lock()
	peak := f.peak
	f.mu.Unlock()
	if peak > 3 {
		t.Errorf("%d processes ran at once, limit 3", peak)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			testTimeout(t, proto.opts)
		})
	}
}

func testTimeout(t *testing.T, opts Options) {
	fn := fnConfig("slow")
	fn.Timeout = 1
	inv, _ := newInvoker(t, opts, fn)
	warm := invokeOK(t, inv, "slow", `{}`)
	start := time.Now()
	doc := invokeErr(t, inv, "slow", `{"sleepMs":5000}`)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a 1 s timeout took %v", took)
	}
	if doc.Type != "Sandbox.Timedout" || !strings.HasSuffix(doc.Message, "Error: Task timed out after 1.00 seconds") {
		t.Errorf("error = %+v", doc)
	}
	waitGone(t, warm.PID)
	next := invokeOK(t, inv, "slow", `{}`)
	if next.PID == warm.PID {
		t.Error("the timed-out process was reused")
	}
}

func TestFunctionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		event       string
		wantType    string
		wantMessage string // substring
		wantStack   bool
		sameProcess bool // the process survives
	}{
		{name: "returned error", event: `{"error":"bad input"}`, wantType: "errorString", wantMessage: "bad input", sameProcess: true},
		{name: "response stream fails", event: `{"failStream":"stream broke"}`, wantType: "errorString", wantMessage: "stream broke", sameProcess: true},
		{name: "panic", event: `{"panic":"boom"}`, wantType: "string", wantMessage: "boom", wantStack: true},
		{name: "exit mid-invoke", event: `{"exit":3}`, wantType: "Runtime.ExitError", wantMessage: "Runtime exited with error: exit status 3"},
		{name: "exit 0 mid-invoke", event: `{"exit":0}`, wantType: "Runtime.ExitError", wantMessage: "Runtime exited without providing a reason"},
		{name: "response too large", event: `{"bigMB":7}`, wantType: "Function.ResponseSizeTooLarge", wantMessage: "Response payload size exceeded"},
	}
	for _, proto := range protocols {
		for _, tt := range tests {
			t.Run(proto.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				testFunctionError(t, proto.opts, tt.event, tt.wantType, tt.wantMessage, tt.wantStack, tt.sameProcess)
			})
		}
	}
}

// testFunctionError invokes the errs function with event and checks the error document and whether the
// process survives it.
func testFunctionError(t *testing.T, opts Options, event, wantType, wantMessage string, wantStack, sameProcess bool) {
	inv, _ := newInvoker(t, opts, fnConfig("errs"))
	before := invokeOK(t, inv, "errs", `{}`)
	doc := invokeErr(t, inv, "errs", event)
	if doc.Type != wantType || !strings.Contains(doc.Message, wantMessage) {
		t.Errorf("error = %+v, want type %q and message containing %q", doc, wantType, wantMessage)
	}
	if wantStack != (len(doc.StackTrace) > 0) {
		t.Errorf("stackTrace = %v, want one: %v", doc.StackTrace, wantStack)
	}
	if !sameProcess {
		waitGone(t, before.PID)
	}
	after := invokeOK(t, inv, "errs", `{}`)
	if (after.PID == before.PID) != sameProcess {
		t.Errorf("pid before %d, after %d; want the same process: %v", before.PID, after.PID, sameProcess)
	}
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		handler     string
		env         map[string]string
		wantType    string
		wantMessage string
		within      time.Duration
	}{
		{name: "missing executable", handler: filepath.Join(dir, "missing"), wantType: "Runtime.InvalidEntrypoint", wantMessage: "no such file or directory", within: time.Second},
		{name: "not executable", handler: notExec, wantType: "Runtime.InvalidEntrypoint", wantMessage: "permission denied", within: time.Second},
		{name: "exit before lambda.Start", handler: bin.behave, env: map[string]string{"BEHAVE_INIT": "fatal"}, wantType: "Runtime.ExitError", wantMessage: "exit status 1", within: 5 * time.Second},
		{name: "init error reported", handler: bin.behave, env: map[string]string{"BEHAVE_INIT": "initerror"}, wantType: "Runtime.ConfigError", wantMessage: "cannot load configuration", within: 5 * time.Second},
		{name: "init never ends", handler: bin.behave, env: map[string]string{"BEHAVE_INIT": "hang"}, wantType: "Sandbox.Timedout", wantMessage: "Init timed out after 0.50 seconds", within: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fn := fnConfig("broken")
			fn.Handler = tt.handler
			fn.Environment = tt.env
			inv, rec := newInvoker(t, Options{InitTimeout: 500 * time.Millisecond}, fn)
			for attempt := range 2 { // a broken function stays broken, and never hangs
				start := time.Now()
				doc := invokeErr(t, inv, "broken", `{}`)
				if took := time.Since(start); took > tt.within {
					t.Errorf("attempt %d took %v", attempt, took)
				}
				if doc.Type != tt.wantType || !strings.Contains(doc.Message, tt.wantMessage) {
					t.Errorf("attempt %d: error = %+v, want type %q and message containing %q", attempt, doc, tt.wantType, tt.wantMessage)
				}
			}
			if tt.wantType == "Runtime.InvalidEntrypoint" {
				if _, ok := rec.find(func(r record) bool {
					return r.attrs["function"] == "broken" && r.attrs["path"] == tt.handler
				}); !ok {
					t.Error("no log line names the function and the path")
				}
			}
			f := (*inv.fns.Load())["broken"]
			eventually(t, 5*time.Second, "the broken processes to be reaped", func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return len(f.procs) == 0
			})
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("SWITCHBOARD_TEST_GATEWAY_ONLY", "secret")
	fn := fnConfig("envfn")
	fn.Environment = map[string]string{"TABLE": "chat", "SHARED": "function", "AWS_LAMBDA_FUNCTION_NAME": "overridden"}
	inv, _ := newInvoker(t, Options{Region: "ap-south-1", Env: map[string]string{
		"AWS_CA_BUNDLE": "/tmp/ca.pem", "SHARED": "gateway", "AWS_ENDPOINT_URL": "https://127.0.0.1:4510",
	}}, fn)
	keys := []string{
		"TABLE", "SHARED", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "SWITCHBOARD_TEST_GATEWAY_ONLY", "PATH", "HOME",
		"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "_HANDLER",
		"AWS_REGION", "AWS_DEFAULT_REGION", "TZ", "LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV", "GOMAXPROCS",
	}
	ev, _ := json.Marshal(map[string]any{"env": keys})
	a := invokeOK(t, inv, "envfn", string(ev))
	want := map[string]string{
		"TABLE":                           "chat",
		"SHARED":                          "function",
		"AWS_CA_BUNDLE":                   "/tmp/ca.pem",
		"AWS_ENDPOINT_URL":                "https://127.0.0.1:4510",
		"AWS_LAMBDA_FUNCTION_NAME":        "envfn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/envfn",
		"_HANDLER":                        "behave",
		"AWS_REGION":                      "ap-south-1",
		"AWS_DEFAULT_REGION":              "ap-south-1",
		"TZ":                              ":UTC",
		"LAMBDA_TASK_ROOT":                filepath.Dir(bin.behave),
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"PATH":                            os.Getenv("PATH"),
		"GOMAXPROCS":                      "1", // 256 MB: a fraction of a vCPU on Lambda
	}
	for k, v := range want {
		if a.Env[k] != v {
			t.Errorf("%s = %q, want %q", k, a.Env[k], v)
		}
	}
	if v, ok := a.Env["SWITCHBOARD_TEST_GATEWAY_ONLY"]; ok {
		t.Errorf("the gateway's own variable reached the function: %q", v)
	}
	if !strings.HasPrefix(a.Env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", a.Env["AWS_LAMBDA_RUNTIME_API"])
	}
	if !strings.Contains(a.Env["AWS_LAMBDA_LOG_STREAM_NAME"], "/[$LATEST]") {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q", a.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if a.Cwd != filepath.Dir(bin.behave) {
		t.Errorf("working directory = %q, want the handler's %q", a.Cwd, filepath.Dir(bin.behave))
	}
}

func TestGOMAXPROCS(t *testing.T) {
	for _, tc := range []struct {
		name           string
		memoryMB, cpus int
		want           int
	}{
		{"smallest function", 128, 2, 1},
		{"just under one vCPU", 1768, 2, 1},
		{"one vCPU", 1769, 8, 1},
		{"just over one vCPU", 1770, 8, 2},
		{"largest function", 10240, 8, 6},
		{"more than the machine has", 10240, 2, 2},
		{"one core", 3538, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := goMaxProcs(tc.memoryMB, tc.cpus); got != tc.want {
				t.Errorf("goMaxProcs(%d MB, %d CPUs) = %d, want %d", tc.memoryMB, tc.cpus, got, tc.want)
			}
		})
	}
}

func TestGOMAXPROCSFromTheFunction(t *testing.T) {
	t.Parallel()
	fn := fnConfig("gomaxprocs")
	fn.Environment = map[string]string{"GOMAXPROCS": "3"}
	inv, _ := newInvoker(t, Options{}, fn)
	if a := invokeOK(t, inv, "gomaxprocs", `{"env":["GOMAXPROCS"]}`); a.Env["GOMAXPROCS"] != "3" {
		t.Errorf("GOMAXPROCS = %q, want the function's own 3", a.Env["GOMAXPROCS"])
	}
}

// installFile puts the executable src at dst through a temporary name renamed into place, as a build
// does. It hard-links rather than copies: a file this process holds open for writing while a parallel
// test forks cannot be executed (ETXTBSY, golang.org/issue/22315).
func installFile(t *testing.T, src, dst string) {
	t.Helper()
	tmp := dst + ".tmp"
	if err := os.Link(src, tmp); err != nil {
		t.Skipf("cannot hard-link the test handler: %v", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func TestExecutableReplaced(t *testing.T) {
	t.Parallel()
	handler := filepath.Join(t.TempDir(), "bootstrap")
	installFile(t, bin.behave, handler)
	fn := fnConfig("redeploy")
	fn.Handler = handler
	inv, _ := newInvoker(t, Options{}, fn)
	old := invokeOK(t, inv, "redeploy", `{}`)
	if old.Version != "v1" {
		t.Fatalf("version = %q", old.Version)
	}
	installFile(t, bin.behaveV2, handler)
	setNextCheck(inv, "redeploy", time.Time{}) // as though fileCheckInterval had passed since the last look
	now := invokeOK(t, inv, "redeploy", `{}`)
	if now.Version != "v2" || now.PID == old.PID {
		t.Errorf("after the rebuild: version %q in pid %d (old pid %d), want v2 in a new process", now.Version, now.PID, old.PID)
	}
	waitGone(t, old.PID)
	again := invokeOK(t, inv, "redeploy", `{}`)
	if again.PID != now.PID {
		t.Errorf("the new process was not reused: pid %d then %d", now.PID, again.PID)
	}
}

// setNextCheck sets when function next looks at its handler's files.
func setNextCheck(inv *Invoker, function string, at time.Time) {
	f := (*inv.fns.Load())[function]
	f.mu.Lock()
	f.nextCheck = at
	f.mu.Unlock()
}

// TestNewProcessRunsCurrentCode checks that starting a process looks at the handler's files whenever the
// last look was: a rebuild is never started as the old code.
func TestNewProcessRunsCurrentCode(t *testing.T) {
	t.Parallel()
	handler := filepath.Join(t.TempDir(), "bootstrap")
	installFile(t, bin.behave, handler)
	fn := fnConfig("newproc")
	fn.Handler = handler
	inv, _ := newInvoker(t, Options{}, fn)
	old := invokeOK(t, inv, "newproc", `{}`)
	setNextCheck(inv, "newproc", time.Now().Add(time.Hour)) // no periodic look during the test
	busy := make(chan answer, 1)
	go func() { busy <- invokeOK(t, inv, "newproc", `{"sleepMs":500}`) }()
	f := (*inv.fns.Load())["newproc"]
	eventually(t, 10*time.Second, "the warm process to be busy", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.procs) == 1 && f.procs[0].rt.Busy() == 1
	})
	installFile(t, bin.behaveV2, handler)
	now := invokeOK(t, inv, "newproc", `{}`)
	if now.Version != "v2" || now.PID == old.PID {
		t.Errorf("a process started after the rebuild runs %q in pid %d (old pid %d), want v2", now.Version, now.PID, old.PID)
	}
	if b := <-busy; b.Version != "v1" || b.PID != old.PID {
		t.Errorf("the invocation in flight ran %q in pid %d, want v1 in pid %d", b.Version, b.PID, old.PID)
	}
	waitGone(t, old.PID) // retired once it finished
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	inv, rec := newInvoker(t, Options{}, fnConfig("cancel"))
	warm := invokeOK(t, inv, "cancel", `{}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := inv.Invoke(ctx, "cancel", []byte(`{"say":"sleeping now","sleepMs":30000}`))
		errc <- err
	}()
	// The handler's stdout reaches the log, tagged; once it is there, the process is busy.
	eventually(t, 10*time.Second, "the handler's output", func() bool {
		_, ok := rec.find(func(r record) bool {
			return r.msg == "sleeping now" && r.attrs["function"] == "cancel" && r.attrs["stream"] == "stdout" &&
				r.attrs["pid"] == fmt.Sprint(warm.PID)
		})
		return ok
	})
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Invoke = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Invoke did not return after cancel")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("cancel took %v", took)
	}
	waitGone(t, warm.PID)
	if next := invokeOK(t, inv, "cancel", `{}`); next.PID == warm.PID {
		t.Error("the abandoned process was reused")
	}
}

func TestWaitForFreeProcessBoundedByContext(t *testing.T) {
	t.Parallel()
	fn := fnConfig("single")
	fn.ReservedConcurrentExecutions = 1
	inv, _ := newInvoker(t, Options{}, fn)
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		invokeOK(t, inv, "single", `{"sleepMs":2500}`)
	}()
	f := (*inv.fns.Load())["single"]
	eventually(t, 10*time.Second, "the only process to be busy", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.procs) == 1 && f.procs[0].rt.Busy() == 1 && f.procs[0].ready
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := inv.Invoke(ctx, "single", []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Invoke while the only process is busy = %v, want context.DeadlineExceeded", err)
	}
	<-busy
	invokeOK(t, inv, "single", `{}`) // and the process is still fine
}

func TestClose(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	inv := New([]resource.Function{fnConfig("a"), fnConfig("b")}, Options{Logger: slog.New(rec)})
	pids := []int{invokeOK(t, inv, "a", `{}`).PID, invokeOK(t, inv, "b", `{}`).PID}
	errc := make(chan error, 1)
	go func() {
		_, err := inv.Invoke(context.Background(), "a", []byte(`{"sleepMs":30000}`))
		errc <- err
	}()
	f := (*inv.fns.Load())["a"]
	eventually(t, 10*time.Second, "a second process of a", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.procs {
			if p.rt.Busy() == 1 && p.ready {
				return true
			}
		}
		return false
	})
	f.mu.Lock()
	for _, p := range f.procs {
		if p.pid != pids[0] {
			pids = append(pids, p.pid)
		}
	}
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := inv.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("process %d still exists after Close", pid)
		}
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("the invocation in flight ended with %v, want ErrClosed", err)
	}
	if _, err := inv.Invoke(context.Background(), "a", []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
	if err := inv.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	inv, _ := newInvoker(t, Options{}, fnConfig("known"))
	for _, name := range []string{"unknown", "arn:aws:lambda:us-east-1:123456789012:function:unknown", "arn:aws:s3:::known"} {
		if _, err := inv.Invoke(context.Background(), name, nil); !errors.Is(err, lambda.ErrFunctionNotFound) {
			t.Errorf("Invoke(%q) = %v, want ErrFunctionNotFound", name, err)
		}
		if inv.Has(name) {
			t.Errorf("Has(%q) = true", name)
		}
	}
	if !inv.Has("arn:aws:lambda:us-east-1:123456789012:function:known") || !inv.Has("known") {
		t.Error("Has does not know the function")
	}
}

func TestFunctionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain name", "my-fn", "my-fn"},
		{"name with qualifier", "my-fn:prod", "my-fn"},
		{"partial ARN", "123456789012:function:my-fn", "my-fn"},
		{"partial ARN with qualifier", "123456789012:function:my-fn:3", "my-fn"},
		{"ARN", "arn:aws:lambda:us-east-1:123456789012:function:my-fn", "my-fn"},
		{"ARN with qualifier", "arn:aws:lambda:us-east-1:123456789012:function:my-fn:$LATEST", "my-fn"},
		{"other partition", "arn:aws-cn:lambda:cn-north-1:123456789012:function:my-fn", "my-fn"},
		{"not a function ARN", "arn:aws:lambda:us-east-1:123456789012:layer:my-fn", ""},
		{"other service", "arn:aws:sqs:us-east-1:123456789012:my-fn", ""},
		{"too many parts", "a:b:c:d:e", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := functionName(tt.in); got != tt.want {
				t.Errorf("functionName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLineWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split across writes", []string{"hel", "lo\nwor", "ld"}, []string{"hello", "world"}},
		{"crlf", []string{"x\r\n"}, []string{"x"}},
		{"empty line", []string{"\n"}, []string{""}},
		{"over long", []string{strings.Repeat("z", maxLine+3)}, []string{strings.Repeat("z", maxLine), "zzz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			var pid atomic.Int64
			w := &lineWriter{log: slog.New(rec), stream: "stdout", pid: &pid}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.flush()
			var got []string
			for _, r := range *rec.recs {
				got = append(got, r.msg)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkInvokeWarm measures a warm invocation, for comparison with BenchmarkStat: statting the handler
// on every invocation is noise next to it.
func BenchmarkInvokeWarm(b *testing.B) {
	inv := New([]resource.Function{fnConfig("bench")}, Options{Logger: slog.New(slog.DiscardHandler)})
	defer func() { _ = inv.Close(context.Background()) }()
	ctx := context.Background()
	for b.Loop() {
		res, err := inv.Invoke(ctx, "bench", []byte(`{}`))
		if err != nil || res.FunctionError != "" {
			b.Fatal(err, res)
		}
	}
}

// BenchmarkStat measures the per-invocation check for a changed executable.
func BenchmarkStat(b *testing.B) {
	for b.Loop() {
		if _, err := statFile(bin.behave); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNoHerd checks that an invocation waiting for a busy pool is handed a process directly, rather than
// every waiting invocation waking up and looking at the pool whenever one process frees up, and that the
// handler's file is not looked at on every invocation.
func TestNoHerd(t *testing.T) {
	t.Parallel()
	fn := fnConfig("herd")
	fn.ReservedConcurrentExecutions = 2
	inv, _ := newInvoker(t, Options{}, fn)
	invokeOK(t, inv, "herd", `{}`) // one warm process
	const n = 24
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { invokeOK(t, inv, "herd", `{"sleepMs":20}`) })
	}
	wg.Wait()
	f := (*inv.fns.Load())["herd"]
	f.mu.Lock()
	looks, checks := f.looks, f.checks
	f.mu.Unlock()
	// Each invocation looks at the pool once on arrival, and again only when woken without a process (a
	// slot freed up): with a broadcast every waiter looks again each time a process asks for work.
	if looks > n+1+2 {
		t.Errorf("%d invocations looked at the pool %d times; want at most one look each (plus the slots that freed up)", n+1, looks)
	}
	if checks >= n/2 {
		t.Errorf("%d invocations checked the handler's file %d times", n+1, checks)
	}
}

// TestNoEarlyWakes guards the hand-offs of an invocation: once a process has its call, the invocation's
// goroutine sleeps until the call ends or times out. It is not woken when the process takes a queued call,
// nor when the call starts (to arm the timeout): each such wake-up is a goroutine switch on every
// invocation under load.
func TestNoEarlyWakes(t *testing.T) {
	t.Parallel()
	fn := fnConfig("handoffs")
	fn.ReservedConcurrentExecutions = 2
	inv, _ := newInvoker(t, Options{}, fn)
	invokeOK(t, inv, "handoffs", `{}`) // one warm process
	const n = 24
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { invokeOK(t, inv, "handoffs", `{"sleepMs":20}`) })
	}
	wg.Wait()
	for range 4 { // one at a time: a process is idle, or about to be, for each
		invokeOK(t, inv, "handoffs", `{}`)
	}
	f := (*inv.fns.Load())["handoffs"]
	if early := f.earlyWakes.Load(); early != 0 {
		t.Errorf("%d invocations were woken %d times while their process ran them", n+5, early)
	}
}

// TestUpdate: a reload keeps unchanged functions warm, runs changed ones in new processes once their
// running invocations have ended, adds new ones and forgets removed ones.
func TestUpdate(t *testing.T) {
	t.Parallel()
	a, b := fnConfig("a"), fnConfig("b")
	inv, _ := newInvoker(t, Options{}, a, b)
	a1 := invokeOK(t, inv, "a", `{}`)
	b1 := invokeOK(t, inv, "b", `{}`)

	// b changes while an invocation of it is running: that one finishes in its process.
	running := make(chan answer, 1)
	go func() { running <- invokeOK(t, inv, "b", `{"sleepMs": 300}`) }()
	eventually(t, 10*time.Second, "b busy", func() bool {
		f := (*inv.fns.Load())["b"]
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.procs) > 0 && f.procs[0].rt.Busy() > 0
	})
	b2cfg := fnConfig("b")
	b2cfg.Environment = map[string]string{"RELOADED": "yes"}
	if changed := inv.Update([]resource.Function{a, b2cfg, fnConfig("c")}); !slices.Equal(changed, []string{"b", "c"}) {
		t.Fatalf("changed %v, want [b c]", changed)
	}
	if got := <-running; got.PID != b1.PID {
		t.Errorf("the running invocation moved from pid %d to %d", b1.PID, got.PID)
	}
	if got := invokeOK(t, inv, "a", `{}`); got.PID != a1.PID {
		t.Errorf("unchanged function a: pid %d, want its warm process %d", got.PID, a1.PID)
	}
	b2 := invokeOK(t, inv, "b", `{"env": ["RELOADED"]}`)
	if b2.PID == b1.PID || b2.Env["RELOADED"] != "yes" {
		t.Errorf("changed function b: pid %d (old %d), RELOADED=%q; want a new process with the new environment", b2.PID, b1.PID, b2.Env["RELOADED"])
	}
	waitGone(t, b1.PID)
	invokeOK(t, inv, "c", `{}`)

	if changed := inv.Update([]resource.Function{a}); !slices.Equal(changed, []string{"b", "c"}) {
		t.Fatalf("changed %v, want [b c]", changed)
	}
	if inv.Has("b") {
		t.Error("removed function b is still served")
	}
	if _, err := inv.Invoke(context.Background(), "b", []byte(`{}`)); !errors.Is(err, lambda.ErrFunctionNotFound) {
		t.Errorf("invoking removed b: %v, want ErrFunctionNotFound", err)
	}
	waitGone(t, b2.PID)
}

// A shutdown whose budget went on other steps closes the functions with a context that has already
// ended: when no process is left to stop, nothing was cut short and Close says so — it used to return
// the context's error whenever select picked that case, half the time.
func TestCloseWithNothingRunningAndAnEndedContext(t *testing.T) {
	for i := range 50 {
		inv := New([]resource.Function{fnConfig("idle")}, Options{Logger: slog.New(slog.DiscardHandler)})
		if i%2 == 1 {
			invokeOK(t, inv, "idle", `{}`) // a process that has run and is stopped by Close
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := inv.Close(ctx); err != nil {
				t.Fatalf("Close after an invocation: %v", err)
			}
			cancel()
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := inv.Close(ctx); err != nil {
			t.Fatalf("run %d: Close with no process and an ended context: %v", i, err)
		}
	}
}
