// Package localinvoke runs Lambda functions as local processes: the unmodified handler executable (an
// aws-lambda-go binary, a custom runtime's bootstrap) talks to a Lambda Runtime API that Switchboard serves
// itself (package runtimeapi), so functions run with no Docker and no AWS.
//
// Each function has a pool of processes, started lazily, like Lambda's execution environments: a warm
// process takes one invocation at a time, concurrent invocations start more processes up to the function's
// reserved concurrency, and beyond that they wait in line: a process that asks for work is handed the first
// waiting invocation, and only that one is woken. Every process has its own Runtime API
// listener on 127.0.0.1, so Switchboard always knows which process is idle in GET /next and which is busy.
// A process that overruns the function timeout, or whose invocation is abandoned, is killed; one that
// exits is replaced on demand; one whose executable changed on disk is retired, so rebuilding a handler is
// enough to deploy it (the handler's files are looked at every fileCheckInterval, 100 ms, and whenever a
// process starts). Whatever a process started ends with it (its process group is killed once it is
// reaped), and on Linux the processes end with the gateway even when it is killed (dieWithParent).
//
// Functions with a Node.js or Python runtime run the machine's node or python3 on a bootstrap shipped in
// the binary (package bootstrap) in their codeUri; CheckRuntimes verifies at start that the interpreters
// are there and recent enough. A change to any file under their codeUri retires their processes, as a
// rebuilt executable does (see codeID).
//
// Processes get a clean environment, as on AWS: the function's variables, Options.Env, the variables
// Lambda defines (AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, …), and from Switchboard's
// own environment only PATH and HOME.
package localinvoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/lambda/bootstrap"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Defaults of Options fields left zero.
const (
	// DefaultRegion is the region functions run in when Options.Region is empty.
	DefaultRegion = "us-east-1"
	// DefaultAccountID is the account in function ARNs when Options.AccountID is empty.
	DefaultAccountID = "123456789012"
	// DefaultInitTimeout is Lambda's limit on the init phase.
	DefaultInitTimeout = 10 * time.Second
	// DefaultStopGrace is how long a stopped process has between SIGTERM and SIGKILL.
	DefaultStopGrace = 2 * time.Second
)

// Lambda's defaults for resource.Function fields left zero (the configuration loader normally fills them).
const (
	defaultTimeout     = 3   // seconds
	defaultMemorySize  = 128 // MB
	defaultConcurrency = 10
)

// CheckRuntimes finds the interpreter of every Node.js and Python function in fns (see bootstrap.Find), so
// that a missing or too old node or python3 is reported at start rather than at the first invocation. The
// error is resource.FieldErrors, one per function that cannot run, at its runtime member (functions[i] of
// a bundle whose Functions are fns), so that the config loader can point at the line. It also returns the
// interpreters found, by language, for logging.
func CheckRuntimes(ctx context.Context, fns []resource.Function) (map[resource.Language]*bootstrap.Interpreter, error) {
	found := map[resource.Language]*bootstrap.Interpreter{}
	failed := map[resource.Language]error{}
	var errs resource.FieldErrors
	for i, fn := range fns {
		lang, _ := resource.RuntimeLanguage(fn.Runtime)
		if lang != resource.LanguageNode && lang != resource.LanguagePython {
			continue
		}
		if _, ok := found[lang]; !ok && failed[lang] == nil {
			in, err := bootstrap.Find(ctx, lang)
			if err != nil {
				failed[lang] = err
			} else {
				found[lang] = in
			}
		}
		if err := failed[lang]; err != nil {
			errs = append(errs, &resource.FieldError{
				Path:    resource.FieldPath(resource.IndexPath("functions", i), "runtime"),
				Message: fmt.Sprintf("function %s (runtime %s) cannot run: %v", fn.FunctionName, fn.Runtime, err),
			})
		}
	}
	if len(errs) > 0 {
		return found, errs
	}
	return found, nil
}

// ErrClosed is returned by Invoke once Close has begun.
var ErrClosed = errors.New("local lambda invoker closed")

// MaxRequestPayload is Lambda's limit on a synchronous invocation's event (6 MiB): Lambda refuses a larger
// one with RequestEntityTooLargeException before any function runs.
const MaxRequestPayload = 6 * 1024 * 1024

// Options configures an Invoker.
type Options struct {
	// Region is the region functions run in: AWS_REGION, AWS_DEFAULT_REGION and their ARNs
	// (DefaultRegion when empty).
	Region string
	// Env holds variables set for every function process, under the function's own Environment, which
	// wins: for example AWS_CA_BUNDLE, AWS credentials or AWS_ENDPOINT_URL chosen by the gateway.
	Env map[string]string
	// Logger receives the processes' output, line by line (keys function, stream, pid), and lifecycle
	// events (nil: slog.Default()).
	Logger *slog.Logger
	// AccountID is used in function ARNs (DefaultAccountID when empty).
	AccountID string
	// InitTimeout bounds the time from starting a process to its first GET /next
	// (DefaultInitTimeout when zero).
	InitTimeout time.Duration
	// StopGrace is how long a process has to exit after SIGTERM before it gets SIGKILL
	// (DefaultStopGrace when zero).
	StopGrace time.Duration
	// RuntimeDir is where the Node.js and Python bootstraps are written on first use (a directory under
	// os.TempDir() when empty).
	RuntimeDir string
	// NodeSDKDir holds the AWS SDK for JavaScript v3 (NODE_DIR/node_modules/@aws-sdk/...) that Node.js
	// handlers can import without shipping it, as on Lambda; empty provides none.
	NodeSDKDir string
	// GatewayAddr returns the gateway's data-plane address (host:port) once it listens. Node.js and
	// Python processes get it as SWITCHBOARD_GATEWAY_ADDR, and their bootstraps send connections to
	// *.execute-api.{region}.amazonaws.com there. Nil or "": no redirection.
	GatewayAddr func() string
	// OnStart, when set, is called with the function's name each time a process is started for it (a
	// cold start), for metrics. It must not block.
	OnStart func(function string)
	// RuntimeAPIOnly runs every executable through the Runtime API. Otherwise a Go executable built with
	// aws-lambda-go's RPC support is given _LAMBDA_SERVER_PORT as well and driven over the go1.x runtime's
	// protocol: one exchange per invocation instead of two HTTP requests (see goRPCCapable).
	RuntimeAPIOnly bool
}

// Invoker runs the configured functions as local processes. It implements lambda.Invoker; its methods are
// safe for concurrent use.
type Invoker struct {
	opts   Options
	log    *slog.Logger
	fns    atomic.Pointer[map[string]*function] // the functions served, replaced by Update
	closed atomic.Bool

	mu      sync.Mutex  // guards retired and serialises Update
	retired []*function // replaced by Update and still running a process; Close stops them too

	wg        sync.WaitGroup         // every goroutine of every process
	starter   *starter               // starts every process (from one thread, on Linux: dieWithParent)
	bootstrap func() (string, error) // installs the bootstraps once; their directory
}

var _ lambda.Invoker = (*Invoker)(nil)

// New returns an Invoker for fns; no process starts until a function is invoked. Function fields left
// zero get Lambda's defaults (timeout 3 s, 128 MB, concurrency 10).
func New(fns []resource.Function, opts Options) *Invoker {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = DefaultInitTimeout
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	if opts.RuntimeDir == "" {
		opts.RuntimeDir = filepath.Join(os.TempDir(), fmt.Sprintf("switchboard-runtimes-%d", os.Getuid()))
	}
	i := &Invoker{opts: opts, log: opts.Logger, starter: newStarter()}
	i.bootstrap = sync.OnceValues(func() (string, error) { return bootstrap.Install(opts.RuntimeDir) })
	m := make(map[string]*function, len(fns))
	for _, cfg := range fns {
		m[cfg.FunctionName] = newFunction(i, cfg)
	}
	i.fns.Store(&m)
	return i
}

// Update serves fns from now on, as a reload of the configuration asks: a function whose configuration
// is unchanged keeps its warm processes; a changed or removed one is retired — invocations already
// running on it finish, and its processes stop once idle — and new invocations start processes of the
// new configuration. It returns the names of the functions added, changed or removed.
func (i *Invoker) Update(fns []resource.Function) []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	old := *i.fns.Load()
	next := make(map[string]*function, len(fns))
	var changed []string
	for _, cfg := range fns {
		f := newFunction(i, cfg)
		if prev, ok := old[cfg.FunctionName]; ok && reflect.DeepEqual(prev.cfg, f.cfg) {
			f = prev
		} else {
			changed = append(changed, cfg.FunctionName)
		}
		next[cfg.FunctionName] = f
	}
	for name, prev := range old {
		if next[name] != prev {
			if _, kept := next[name]; !kept {
				changed = append(changed, name)
			}
			i.retired = append(i.retired, prev)
		}
	}
	i.fns.Store(&next)
	// Retire after the swap, so that invocations that look again find the new functions.
	for name, prev := range old {
		if next[name] != prev {
			prev.retire()
		}
	}
	i.retired = slices.DeleteFunc(i.retired, (*function).idle)
	slices.Sort(changed)
	return changed
}

// all returns the functions served and those retired that may still run a process.
func (i *Invoker) all() []*function {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := slices.Clone(i.retired)
	for _, f := range *i.fns.Load() {
		out = append(out, f)
	}
	return out
}

// Has reports whether nameOrARN names one of the Invoker's functions, so that the gateway can route
// AWS_PROXY integrations to it rather than to the Lambda Invoke API.
func (i *Invoker) Has(nameOrARN string) bool {
	_, ok := (*i.fns.Load())[functionName(nameOrARN)]
	return ok
}

// Invoke runs the function named by function (a name, NAME:QUALIFIER, a partial or a full function ARN;
// qualifiers are accepted and ignored, as every function here is $LATEST) with payload. A function that
// fails, times out or crashes is a Result with FunctionError "Unhandled"; err is for an unknown function
// (lambda.ErrFunctionNotFound), a closed Invoker (ErrClosed), an event over MaxRequestPayload
// (lambda.ErrRequestTooLarge), and ctx ending (ctx.Err(); a process still
// busy with the abandoned event is killed).
func (i *Invoker) Invoke(ctx context.Context, function string, payload []byte) (*lambda.Result, error) {
	for {
		res, err := i.invoke(ctx, function, payload)
		if !errors.Is(err, errRetired) {
			return res, err
		}
		// A reload replaced the function while this call waited for a process: run the new one.
	}
}

func (i *Invoker) invoke(ctx context.Context, function string, payload []byte) (*lambda.Result, error) {
	f, ok := (*i.fns.Load())[functionName(function)]
	if !ok {
		return nil, fmt.Errorf("%w: %s", lambda.ErrFunctionNotFound, function)
	}
	if i.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(payload) > MaxRequestPayload {
		f.log.Warn("invocation refused: the event is over Lambda's limit", "bytes", len(payload), "limit", MaxRequestPayload)
		return nil, fmt.Errorf("invoke %s: %w: Request must be smaller than %d bytes for the InvokeFunction operation",
			f.name, lambda.ErrRequestTooLarge, MaxRequestPayload)
	}
	arn := f.arn
	if strings.HasPrefix(function, "arn:") {
		arn = function
	} else if _, q, ok := strings.Cut(function, ":"); ok && !strings.Contains(q, ":") {
		arn += ":" + q
	}
	return f.invoke(ctx, arn, payload)
}

// Close stops every process: SIGTERM, then SIGKILL after Options.StopGrace or as soon as ctx ends, and
// waits until all have exited and every goroutine is done. Invocations in flight end with ErrClosed, and
// later ones fail with it. It returns ctx's error when ctx ended while a process was still running.
func (i *Invoker) Close(ctx context.Context) error {
	i.closed.Store(true)
	fns := i.all()
	for _, f := range fns {
		f.close()
	}
	done := make(chan struct{})
	go func() {
		i.wg.Wait()
		close(done)
	}()
	defer i.starter.stop() // every process has exited
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		killed := 0
		for _, f := range fns {
			killed += f.killAll()
		}
		<-done
		if killed == 0 {
			// Nothing was left to stop: ctx had ended (a shutdown whose budget went on other steps)
			// when every process had already exited, and select picked either case at random.
			return nil
		}
		return fmt.Errorf("close local functions: %w", ctx.Err())
	}
}

// functionName extracts the function name from a name, NAME:QUALIFIER, ACCOUNT:function:NAME[:QUALIFIER]
// or arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]; it returns "" for anything else.
//
// It splits s into a fixed array rather than with strings.Split: it runs twice per invocation (Has, then
// Invoke), and Split's slice was the invocation path's only allocation in this package besides the
// result (FuzzFunctionName holds it to the Split version).
func functionName(s string) string {
	var buf [9]string // Split's parts while there are at most 9; any name has at most 8
	parts := lambda.SplitColons(s, buf[:])
	switch {
	case parts[0] == "arn":
		if (len(parts) == 7 || len(parts) == 8) && parts[2] == "lambda" && parts[5] == "function" {
			return parts[6]
		}
		return ""
	case len(parts) == 1:
		return s
	case len(parts) == 2:
		return parts[0]
	case (len(parts) == 3 || len(parts) == 4) && parts[1] == "function":
		return parts[2]
	}
	return ""
}
