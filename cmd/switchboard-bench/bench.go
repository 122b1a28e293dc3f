package main

// The parent: flags, the scenarios, and the order they run in.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// settings are the run's flags.
type settings struct {
	Conns    int           // idle connections for the first RSS point
	MaxConns int           // idle connections for the second RSS point
	Clients  int           // concurrent clients in the round-trip and @connections scenarios
	Duration time.Duration // measured time of each round-trip and @connections scenario
	MsgSize  int           // bytes per message
	Only     map[string]bool
	Markdown bool
	Profile  string // directory for the gateway processes' CPU profiles, if any
	// PostRate is the cluster scenario's fixed rate of @connections POSTs per second for its open-loop
	// figures, on each path; 0: a quarter of the remote path's closed-loop rate measured in the same run.
	PostRate float64
	// ConnectWork is how long the backend's /connect takes before it answers in the cluster scenario's
	// second pair of single and clustered handshakes (a $connect that writes to a store); 0: no such pair.
	ConnectWork time.Duration
	// PeerCache is where the peers scenario installs serverless-offline with npm.
	PeerCache string
}

// runEnv is what run needs from its caller.
type runEnv struct {
	Exe     string    // the switchboard-bench binary, re-executed for the servers
	Stdout  io.Writer // the results
	Stderr  io.Writer // progress and the servers' standard error
	Command string    // the command line, as reported
}

// defaultConnectWork is -connect-work's default: about what a DynamoDB PutItem takes from a Lambda
// function in the same region (single-digit milliseconds), the work of the seeds' chat app's $connect.
const defaultConnectWork = 2 * time.Millisecond

// warmConns is how many connections each server gets, with one round trip each, before its baseline RSS.
const warmConns = 8

// fdReserve is the descriptors kept free besides the idle connections (pipes, listeners, HTTP clients).
const fdReserve = 200

// scenario names for -only, and the ones run by default (peers needs node and npm, and installs packages).
var (
	scenarios        = []string{"rss", "rtt", "connect", "mapping", "mgmt", "broadcast", "peers", "http", "httplambda", "cluster"}
	defaultScenarios = []string{"rss", "rtt", "connect", "mapping", "mgmt", "broadcast"}
)

func parseFlags(args []string, stderr io.Writer) (*settings, error) {
	fs := flag.NewFlagSet("switchboard-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := &settings{}
	fs.IntVar(&s.Conns, "conns", 10000, "idle connections for the first RSS-per-connection figure")
	fs.IntVar(&s.MaxConns, "max-conns", 19000, "idle connections for the second RSS-per-connection figure (the most one process can hold)")
	fs.IntVar(&s.Clients, "clients", 64, "concurrent clients for round trips and @connections POSTs")
	fs.DurationVar(&s.Duration, "duration", 10*time.Second, "measured duration of each throughput scenario")
	fs.IntVar(&s.MsgSize, "msg-size", 100, "bytes per message")
	only := fs.String("only", strings.Join(defaultScenarios, ","), "scenarios to run: comma-separated subset of "+strings.Join(scenarios, ","))
	fs.BoolVar(&s.Markdown, "markdown", false, "print a Markdown section instead of a plain table")
	fs.StringVar(&s.Profile, "profile", "", "write a CPU profile of each gateway process to `DIR`/gateway-N.pprof (a cluster node: gateway-N-node-I.pprof), its allocations to gateway-N[-node-I].allocs.pprof; of each raw Lambda bridge to lambdabridge-N[.allocs].pprof")
	fs.Float64Var(&s.PostRate, "post-rate", 0, "@connections POSTs per second of the cluster scenario's fixed-rate (open-loop) figures, to each of the local and the remote owner at once; 0: a quarter of the remote owner's closed-loop rate in the same run")
	fs.DurationVar(&s.ConnectWork, "connect-work", defaultConnectWork, "how long the cluster scenario's $connect backend takes before it answers in a second pair of single-node and clustered handshakes, as a $connect that writes to a store (a DynamoDB PutItem) does; 0: no such pair")
	fs.StringVar(&s.PeerCache, "peer-cache", defaultPeerCache(), "`DIR` where the peers scenario installs serverless-offline with npm (once)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	s.Only = map[string]bool{}
	for _, name := range strings.Split(*only, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !strings.Contains(","+strings.Join(scenarios, ",")+",", ","+name+",") {
			return nil, fmt.Errorf("-only: unknown scenario %q (want %s)", name, strings.Join(scenarios, ", "))
		}
		s.Only[name] = true
	}
	switch {
	case s.Conns < 1 || s.MaxConns < 0:
		return nil, errors.New("-conns must be positive and -max-conns not negative")
	case s.Clients < 1 || s.Clients > 4096:
		return nil, errors.New("-clients must be between 1 and 4096")
	case s.Duration <= 0 || s.Duration > time.Hour:
		return nil, errors.New("-duration must be positive and at most 1h")
	case s.MsgSize < 1 || s.MsgSize > 32*1024:
		return nil, errors.New("-msg-size must be between 1 and 32768 (one frame)")
	case !(s.PostRate >= 0 && s.PostRate <= 1e6):
		return nil, errors.New("-post-rate must be between 0 (a quarter of the remote closed-loop rate) and 1000000 per second")
	case s.ConnectWork < 0 || s.ConnectWork > maxConnectWork:
		return nil, fmt.Errorf("-connect-work must be between 0 (no such pair) and %v", maxConnectWork)
	}
	limit := fileLimit() - warmConns - fdReserve
	if s.Conns > limit || s.MaxConns > limit {
		return nil, fmt.Errorf("-conns and -max-conns must be at most %d here (open-files limit %d)", limit, fileLimit())
	}
	return s, nil
}

// results holds every figure of one run. Zero values mean "not measured".
type results struct {
	Settings *settings
	RSS      map[string]*rssResult // "raw", "switchboard"
	RTT      map[string]*rttResult // "raw", "bridge", "mock", "proxy", "lambda", "lambda-bridge", "lambda-node", "lambda-python", "sls-inprocess", "sls-default", and "plain" and "mapped" (the mapping scenario)
	// Handshakes are the handshake scenarios: "plain" (no $connect route), "function" ($connect routed to
	// the local function), and the raw Lambda bridge's "bridge-plain" (no $connect) and "bridge-connect"
	// ($connect invoking the function).
	Handshakes map[string]*hsResult
	// ColdStarts are the first round trip through each local function of a fresh gateway (process start,
	// runtime init and the invocation), by route: "lambda", "lambda-node", "lambda-python".
	ColdStarts map[string]time.Duration
	Mgmt       *mgmtResult
	// Broadcast is one message to -conns connections: "raw" (gws's Broadcaster), "switchboard" (the
	// management extension's Broadcast).
	Broadcast map[string]*broadcastResult
	// HTTP is the http scenarios: "reverseproxy" (httputil.ReverseProxy), "switchboard" (an HTTP API's
	// HTTP_PROXY route); httplambda: "sls-httpapi" (serverless-offline), "switchboard-lambda".
	HTTP map[string]*httpResult
	// Cluster is the cluster scenario (three gateway processes over embedded NATS).
	Cluster  *clusterResult
	Warnings []string
	Errors   []string
}

func (r *results) warnf(stderr io.Writer, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Warnings = append(r.Warnings, msg)
	logf(stderr, "warning: %s", msg)
}

// run parses args, runs the chosen scenarios and prints the results. Scenarios that fail are reported and
// the others still run; the error lists the failures.
func run(ctx context.Context, args []string, env runEnv) (*results, error) {
	stderr := &lockedWriter{w: env.Stderr}
	s, err := parseFlags(args, stderr)
	if err != nil {
		return nil, err
	}
	res := &results{Settings: s, RSS: map[string]*rssResult{}, RTT: map[string]*rttResult{}, Handshakes: map[string]*hsResult{},
		Broadcast: map[string]*broadcastResult{}, ColdStarts: map[string]time.Duration{}, HTTP: map[string]*httpResult{}}
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	b := &bench{s: s, env: env, stderr: stderr, res: res, dialer: &wsDialer{}, dir: dir}
	fail := func(scenario string, err error) {
		if err != nil && (ctx.Err() == nil || len(res.Errors) == 0) {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", scenario, err))
			logf(stderr, "%s failed: %v", scenario, err)
		}
	}
	if s.Only["rtt"] {
		if b.langs, err = b.prepareLangFunctions(ctx); err != nil {
			return nil, err
		}
	}
	if s.Only["rtt"] || s.Only["mgmt"] || s.Only["http"] || s.Only["cluster"] {
		be, err := b.start(ctx, "backend")
		if err != nil {
			return nil, err
		}
		b.backend = be
		defer func() { fail("backend", be.stop()) }()
	}
	steps := []struct {
		scenario, name string
		run            func(context.Context) error
	}{
		{"rss", "rss raw", b.rssRaw},
		{"rss", "rss switchboard", b.rssGateway},
		{"rtt", "rtt raw", b.rttRaw},
		{"rtt", "rtt bridge", b.rttBridge},
		{"rtt", "rtt switchboard", b.rttGateway},
		{"rtt", "rtt lambda bridge", b.rttLambdaBridge},
		{"peers", "peers", b.peers},
		{"connect", "handshakes", b.handshakes},
		{"mapping", "mapping", b.mapping},
		{"mgmt", "mgmt", b.mgmt},
		{"broadcast", "broadcast raw", b.broadcastRaw},
		{"broadcast", "broadcast switchboard", b.broadcastGateway},
		{"http", "http", b.httpProxy},
		{"httplambda", "httplambda", b.httpLambda},
		{"cluster", "cluster", b.cluster},
	}
	for _, st := range steps {
		if s.Only[st.scenario] && ctx.Err() == nil {
			fail(st.name, st.run(ctx))
		}
	}
	if err := report(env.Stdout, res, env.Command); err != nil {
		return res, err
	}
	if len(res.Errors) > 0 {
		return res, errors.New(strings.Join(res.Errors, "; "))
	}
	return res, nil
}

// bench is the state of one run.
type bench struct {
	s       *settings
	env     runEnv
	stderr  io.Writer
	res     *results
	dialer  *wsDialer
	dir     string
	backend *child
	configs int
	bridges int // Lambda bridges started, for their profiles' names
	// langs are the interpreted echo functions every gateway serves (those whose interpreter is installed).
	langs []langFunction
}

// start starts a server process of kind listening on a free loopback port, and logs it.
func (b *bench) start(ctx context.Context, kind string, args ...string) (*child, error) {
	return b.startUnless(ctx, nil, kind, args...)
}

// startUnless is start, given up (errStartAborted) if abort closes before the server listens.
func (b *bench) startUnless(ctx context.Context, abort <-chan struct{}, kind string, args ...string) (*child, error) {
	c, err := startChild(ctx, abort, b.env.Exe, b.stderr, kind, append([]string{"-listen", "127.0.0.1:0"}, args...)...)
	if err != nil {
		return nil, err
	}
	logf(b.stderr, "%s server pid %d listening on %s", kind, c.pid(), c.addr)
	return c, nil
}

// startTogether starts a server of kind for each of args at once — servers that each wait for the
// others before they listen, as a cluster's do — and returns them in args' order. When one fails to
// start, the others are stopped at once, not left waiting out startChild's timeout for a peer that will
// never come, and the error says which failed and why; no server is left running then.
func (b *bench) startTogether(ctx context.Context, kind string, args [][]string) ([]*child, error) {
	cs := make([]*child, len(args))
	errs := make([]error, len(args))
	abort := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for i := range args {
		wg.Go(func() {
			cs[i], errs[i] = b.startUnless(ctx, abort, kind, args[i]...)
			if errs[i] != nil {
				once.Do(func() { close(abort) })
			}
		})
	}
	wg.Wait()
	var err error
	for i, e := range errs {
		if e != nil && !errors.Is(e, errStartAborted) {
			err = joinErr(err, fmt.Errorf("%s %d of %d: %w", kind, i+1, len(args), e))
		}
	}
	if err != nil {
		_ = stopAll(cs)
		return nil, err
	}
	return cs, nil
}

// functionEnv is the local function's environment: with -profile, where its processes write profiles.
func (b *bench) functionEnv() map[string]string {
	if b.s.Profile == "" {
		return nil
	}
	dir, err := filepath.Abs(b.s.Profile)
	if err != nil {
		return nil
	}
	return map[string]string{functionProfileEnv: dir}
}

// defaultPeerCache is where serverless-offline is installed unless -peer-cache says otherwise.
func defaultPeerCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "switchboard-bench", "serverless-offline")
}

// What a gateway's $connect route does.
const (
	connectNone     = ""         // no $connect route
	connectBackend  = "backend"  // HTTP_PROXY to the backend's /connect, which records the connection ID
	connectFunction = "function" // AWS_PROXY to the local echo function
)

// startGateway writes a config file and starts a gateway child with it; connect is one of connectNone,
// connectBackend and connectFunction.
func (b *bench) startGateway(ctx context.Context, connect string) (*child, error) {
	backendAddr := "127.0.0.1:9" // the discard port: never called in scenarios without a backend
	if b.backend != nil {
		backendAddr = b.backend.addr
	}
	b.configs++
	path := filepath.Join(b.dir, fmt.Sprintf("gateway-%d.yaml", b.configs))
	if err := os.WriteFile(path, []byte(gatewayConfig(backendAddr, b.env.Exe, connect, b.functionEnv(), b.langs)), 0o600); err != nil {
		return nil, err
	}
	return b.startGatewayFile(ctx, path)
}

// startGatewayFile starts a gateway child serving the config file at path, with a CPU profile and an
// allocation profile (gateway-N.allocs.pprof) when -profile is set.
func (b *bench) startGatewayFile(ctx context.Context, path string) (*child, error) {
	prof, err := b.profileArgs(fmt.Sprintf("gateway-%d", b.configs))
	if err != nil {
		return nil, err
	}
	return b.start(ctx, "gateway", append([]string{"-config", path}, prof...)...)
}

// profileArgs are a gateway's or a Lambda bridge's arguments for a CPU profile DIR/name.pprof and an allocation profile
// DIR/name.allocs.pprof when -profile DIR is set, none otherwise.
func (b *bench) profileArgs(name string) ([]string, error) {
	if b.s.Profile == "" {
		return nil, nil
	}
	prof, err := filepath.Abs(filepath.Join(b.s.Profile, name+".pprof"))
	if err != nil {
		return nil, err
	}
	allocs := strings.TrimSuffix(prof, ".pprof") + ".allocs.pprof"
	logf(b.stderr, "%s: CPU profile %s, allocation profile %s", name, prof, allocs)
	return []string{"-cpuprofile", prof, "-allocprofile", allocs}, nil
}

// stageURL is the WebSocket URL of the bench API's stage on a gateway.
func stageURL(addr string) string { return "ws://" + addr + "/" + benchAPIID + "/" + benchStage }

// The bench API.
const (
	benchAPIID = "bench"
	benchStage = "b"
	// plainReply and mappedReply are what the mapping scenario's two routes answer: the same text, from a
	// static template and from one that reads $context.
	plainReply  = `{"action":"echo","route":"mapped","stage":"b"}`
	mappedReply = plainReply
	// mockReply is what the MOCK route answers.
	mockReply = `{"action":"echo","data":"0123456789012345678901234567890123456789012345678901234567890123456789"}`
	// functionConcurrency is how many processes the local echo function may run.
	functionConcurrency = 8
)

// gatewayConfig is the gateway's YAML config: a MOCK route "mock", an HTTP_PROXY route "proxy" to the
// backend's /echo, an AWS_PROXY route "lambda" to a local function that is this executable run as
// "handler", an AWS_PROXY route per interpreted echo function in langs (the route named by its key), and,
// unless connect is connectNone, a $connect route: to the backend's /connect, passing the connection ID in
// X-Connection-Id (connectBackend), or to the local function (connectFunction).
func gatewayConfig(backendAddr, exe, connect string, env map[string]string, langs []langFunction) string {
	environment := ""
	if len(env) > 0 {
		data, _ := json.Marshal(env) // YAML accepts JSON
		environment = "    environment: " + string(data) + "\n"
	}
	connectRoute := ""
	switch connect {
	case connectBackend:
		connectRoute = "      - {routeKey: $connect, target: integrations/connect}\n"
	case connectFunction:
		connectRoute = "      - {routeKey: $connect, target: integrations/fn}\n"
	}
	var langIntegrations, langRoutes, langFunctions strings.Builder
	for _, f := range langs {
		fmt.Fprintf(&langIntegrations, `      - integrationId: %s
        integrationType: AWS_PROXY
        integrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:%s/invocations
`, f.name, f.name)
		fmt.Fprintf(&langRoutes, "      - {routeKey: %s, target: integrations/%s, routeResponses: [{routeResponseKey: $default}]}\n", f.key, f.name)
		fmt.Fprintf(&langFunctions, `  - functionName: %s
    runtime: %s
    codeUri: %s
    handler: echo.handler
    reservedConcurrentExecutions: %d
`, f.name, f.runtime, strconv.Quote(f.dir), langConcurrency)
	}
	return `apis:
  - name: bench
    apiId: ` + benchAPIID + `
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: mock
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses:
          - integrationResponseKey: $default
            responseTemplates: {"$default": '` + mockReply + `'}
      - integrationId: backend
        integrationType: HTTP_PROXY
        integrationUri: http://` + backendAddr + `/echo
      - integrationId: connect
        integrationType: HTTP_PROXY
        integrationUri: http://` + backendAddr + `/connect
        requestParameters: {integration.request.header.X-Connection-Id: context.connectionId}
      - integrationId: plain
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses:
          - integrationResponseKey: $default
            responseTemplates: {"$default": '` + plainReply + `'}
      - integrationId: mapped
        integrationType: MOCK
        templateSelectionExpression: \$default
        requestTemplates:
          $default: |
            #set($body = $input.path('$'))
            {
              "statusCode": 200,
              "action": "$body.action",
              "connectionId": "$context.connectionId",
              "requestId": "$context.requestId",
              "data": "$util.escapeJavaScript($body.data)",
              "size": $body.data.length()
            }
        integrationResponses:
          - integrationResponseKey: /2\d\d/
            responseTemplates: {"$default": '{"action":"echo","route":"$context.routeKey","stage":"$context.stage"}'}
          - integrationResponseKey: $default
            responseTemplates: {"$default": '{"action":"error"}'}
      - integrationId: fn
        integrationType: AWS_PROXY
        integrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:echo/invocations
` + langIntegrations.String() + `    routes:
` + connectRoute + `      - {routeKey: mock, target: integrations/mock, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: proxy, target: integrations/backend, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: lambda, target: integrations/fn, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: plain, target: integrations/plain, routeResponses: [{routeResponseKey: $default}]}
      - routeKey: mapped
        target: integrations/mapped
        routeResponses: [{routeResponseKey: $default}]
        modelSelectionExpression: $request.body.action
        requestModels: {mapped: message}
` + langRoutes.String() + `    models:
      - name: message
        contentType: application/json
        schema: '{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": {"action": {"type": "string"}, "data": {"type": "string", "maxLength": 131072}}, "required": ["action", "data"]}'
    stages:
      - stageName: ` + benchStage + `
functions:
  - functionName: echo
    handler: ` + strconv.Quote(exe) + `
    args: [handler]
` + environment + `    reservedConcurrentExecutions: ` + strconv.Itoa(functionConcurrency) + `
` + langFunctions.String()
}

// machine describes where the run happens.
type machine struct {
	CPUs       int
	CPUModel   string
	GoVersion  string
	GOMAXPROCS int
	Kernel     string
	FileLimit  int
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), FileLimit: fileLimit()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	return m
}

// commandLine is the command as the user typed it, as near as can be told: "go run" builds the binary
// under a go-build directory.
func commandLine(argv []string) string {
	name := "switchboard-bench"
	if len(argv) > 0 && strings.Contains(argv[0], "go-build") {
		name = "go run ./cmd/switchboard-bench"
	}
	parts := []string{name}
	for _, a := range argv[1:] {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/:@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
