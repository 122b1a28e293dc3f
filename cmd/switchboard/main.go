// Command switchboard runs a self-hosted WebSocket API gateway that speaks Amazon API Gateway v2's dialect.
//
//	switchboard serve [--config FILE] [--listen ADDR] …   run the gateway
//	switchboard validate FILE…                           check config files and print every error
//	switchboard import --template FILE …                 write a template's equivalent config file
//	switchboard version                                  print the version and VCS revision
//	switchboard help [COMMAND]                           print the usage of switchboard or of COMMAND
package main

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cfntemplate"
	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/filewatch"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/lambda/bootstrap"
	"github.com/switchboard-gw/switchboard/internal/localca"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/throttle"
	"github.com/switchboard-gw/switchboard/internal/wsconn"
)

//go:embed default.yaml
var defaultConfig []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var exit exitError
		if !errors.As(err, &exit) {
			fmt.Fprintln(os.Stderr, "switchboard:", err)
		}
		os.Exit(1)
	}
}

// exitError is an error whose message has already been printed.
type exitError struct{ error }

const usage = `Switchboard — a self-hosted WebSocket API gateway in Amazon API Gateway v2's dialect.

Usage:
  switchboard serve [flags]        run the gateway (the built-in demo API without --config)
  switchboard validate FILE...     check config files; print every error with file, line and field,
                                   and warnings about what is valid but cannot work as meant
                   [--template FILE...]  check CloudFormation / SAM / cdk synth templates the same way
  switchboard import --template FILE...  write the templates' equivalent Switchboard config to stdout
  switchboard version              print the version and the VCS revision it was built from
  switchboard help [COMMAND]       print this, or the flags of COMMAND

Run "switchboard help serve" (or "switchboard serve -h") for the serve flags.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{errors.New("no command")}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "import":
		return importTemplates(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo()))
		return nil
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
	return exitError{errors.New("unknown command")}
}

// help prints the usage of switchboard, or of one command with its flags.
func help(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch args[0] {
	case "serve":
		fs, _ := serveFlags(stdout)
		fs.Usage()
	case "validate":
		fs, _ := validateFlags(stdout)
		fs.Usage()
	case "version":
		fmt.Fprintln(stdout, "usage: switchboard version\n\nPrints the version and the VCS revision switchboard was built from.")
	case "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
		return exitError{errors.New("unknown command")}
	}
	return nil
}

// versionLine describes the build: the module version ("(devel)" for a build from a checkout), the VCS
// revision and time with a "+modified" mark for uncommitted changes, and the Go version. go build and
// go install record the VCS details; go run does not, and then the line says so.
func versionLine(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "switchboard (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	revision := "revision unknown (built without VCS information, e.g. by go run)"
	if r := settings["vcs.revision"]; r != "" {
		revision = "revision " + r
		if t := settings["vcs.time"]; t != "" {
			revision += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			revision += " +modified"
		}
	}
	return fmt.Sprintf("switchboard %s, %s, %s", version, revision, info.GoVersion)
}

// parseFlags parses args with fs. -h and --help print the usage to stdout and end the command
// successfully (help is not an error); other flag errors have been printed by fs.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (helped bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return true, nil
	}
	if err != nil {
		return false, exitError{err}
	}
	return false, nil
}

// validateOptions are validate's flags.
type validateOptions struct {
	templates templateFlags
	region    string
}

// validateFlags declares validate's flags on a new FlagSet that prints to out.
func validateFlags(out io.Writer) (*flag.FlagSet, *validateOptions) {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: switchboard validate [flags] FILE...\n\n"+
			"Checks config files and prints every error with file, line and field, then warnings about what is\n"+
			"valid but cannot work as meant. Exits 1 when a file has errors; warnings alone exit 0.")
		fs.PrintDefaults()
	}
	o := &validateOptions{}
	o.templates.add(fs)
	fs.StringVar(&o.region, "region", "us-east-1", "AWS region templates are evaluated for (AWS::Region)")
	return fs, o
}

func validate(args []string, stdout, stderr io.Writer) error {
	fs, o := validateFlags(stderr)
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 && len(o.templates.paths) == 0 {
		fs.Usage()
		return exitError{errors.New("no files")}
	}
	failed := false
	if err := validateTemplates(&o.templates, o.region, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		failed = true
	}
	for _, name := range files {
		f, err := loadAndCompile(name)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
			continue
		}
		for _, w := range f.Warnings() {
			fmt.Fprintln(stderr, "warning:", w)
		}
		routes := 0
		for _, a := range f.Bundle.APIs {
			routes += len(a.Routes)
		}
		fmt.Fprintf(stdout, "%s: ok (%d APIs, %d routes)\n", name, len(f.Bundle.APIs), routes)
	}
	if failed {
		return exitError{errors.New("invalid config")}
	}
	return nil
}

// loadAndCompile loads a config file and compiles it, locating every error in the file.
func loadAndCompile(name string) (*configfile.File, error) {
	f, err := configfile.Load(name)
	if err != nil {
		return nil, err
	}
	if _, err := snapshot.Compile(f.Bundle); err != nil {
		return nil, f.Locate(err)
	}
	return f, nil
}

// serveOptions are serve's flags.
type serveOptions struct {
	configPath, dataDir, listen, controlListen, region, logLevel, tlsCert, tlsKey string
	controlRate, perIP                                                            float64
	node                                                                          uint
	idle, maxDur                                                                  time.Duration
	maxConns                                                                      int
	templates                                                                     templateFlags
	createTables                                                                  bool
	metricsListen                                                                 string
	metricsTokenFile                                                              string
	shutdownGrace                                                                 time.Duration
	pprof                                                                         bool
	runtimeAPIOnly                                                                bool
	cluster                                                                       clusterFlags
}

// serveFlags declares serve's flags on a new FlagSet that prints to out; `serve -h` and `help serve`
// both print from it.
func serveFlags(out io.Writer) (*flag.FlagSet, *serveOptions) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: switchboard serve [flags]\n\nRuns the gateway: the APIs of --config (the built-in demo API without it) and those created\nthrough the control plane. Flags:")
		fs.PrintDefaults()
	}
	o := &serveOptions{}
	fs.StringVar(&o.configPath, "config", "", "YAML file declaring the APIs to serve (default: the built-in demo API)")
	fs.StringVar(&o.dataDir, "data", "", "directory for the gateway's state (default: switchboard under the user cache directory)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "data-plane and @connections address; binding beyond loopback is an explicit choice")
	fs.StringVar(&o.controlListen, "control-listen", "127.0.0.1:8081", "control-plane (apigatewayv2 REST API) address for the AWS CLI and SDKs (--endpoint-url); empty: no control plane")
	fs.Float64Var(&o.controlRate, "control-rate-limit", 0, "control-plane requests per second, bursts of 4x (AWS: 10); 0: no limit")
	fs.StringVar(&o.region, "region", "us-east-1", "AWS region the gateway presents itself as")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.UintVar(&o.node, "node", 0, "node ID (0-65535), encoded in every connection ID")
	fs.DurationVar(&o.idle, "idle-timeout", 10*time.Minute, "close connections with no data message in either direction for this long")
	fs.DurationVar(&o.maxDur, "max-connection-duration", 2*time.Hour, "close connections older than this")
	fs.IntVar(&o.maxConns, "max-connections", throttle.DefaultMaxConnections, "most connections this node holds; more are refused with 429 (negative: no limit)")
	fs.Float64Var(&o.perIP, "new-connections-per-ip", throttle.DefaultPerIP.Rate, "new connections per second one source IP may open, with a burst of twice that; 0 for no limit")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate for wss:// and https:// on the data-plane port (default: one from a local CA in the state directory)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	o.templates.add(fs)
	fs.BoolVar(&o.createTables, "create-tables", false, "create the templates' DynamoDB tables on the local DynamoDB that AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) names, when they do not exist")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "address serving only /metrics, /healthz and /readyz for scrapers and probes; empty: none")
	fs.StringVar(&o.metricsTokenFile, "metrics-token-file", "", "file holding a bearer token that lets scrapers beyond loopback read /metrics while iam.enforce is on (Prometheus: authorization.credentials_file)")
	fs.DurationVar(&o.shutdownGrace, "shutdown-grace", 10*time.Second, "on SIGTERM/SIGINT, how long closing connections (1001, paced over its first half), their $disconnect and in-flight work may take")
	fs.BoolVar(&o.runtimeAPIOnly, "lambda-runtime-api-only", false, "run every local Go function through the Lambda Runtime API; by default an aws-lambda-go binary that serves the go1.x runtime's RPC protocol is driven over it (one exchange per invocation instead of two HTTP requests)")
	fs.BoolVar(&o.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on the control and metrics listeners")
	o.cluster.declare(fs)
	return fs, o
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, o := serveFlags(stderr)
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if o.node > 65535 {
		return fmt.Errorf("--node %d: must be at most 65535", o.node)
	}
	if o.shutdownGrace <= 0 {
		return errors.New("--shutdown-grace must be positive")
	}
	if o.idle <= 0 || o.maxDur <= 0 {
		return errors.New("--idle-timeout and --max-connection-duration must be positive")
	}
	if err := o.cluster.check(fs); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	metricsToken, err := readMetricsToken(o.metricsTokenFile)
	if err != nil {
		return err
	}

	// The files are watched from before they are read, so that an edit made while the gateway starts
	// (an npm install can take a while) is not missed.
	files := o.templates.paths
	if o.configPath != "" {
		files = append([]string{o.configPath}, files...)
	}
	watcher := filewatch.New(files...)
	f, templates, err := loadConfig(o)
	if err != nil {
		return err
	}
	for _, w := range f.Warnings() {
		log.Warn("config: " + w.Error())
	}
	if o.createTables {
		if err := createTables(ctx, templates, o.region, getenv, log); err != nil {
			return err
		}
	}
	dir, err := stateDir(o.dataDir, getenv)
	if err != nil {
		return err
	}
	tlsConfig, caBundle, err := serverTLS(dir, o.listen, o.region, o.tlsCert, o.tlsKey)
	if err != nil {
		return err
	}
	log.Info("TLS on the data-plane port", "trust", caBundle)
	fnEnv := functionEnv(os.Environ(), getenv)
	nodeSDK := filepath.Join(dir, "nodejs-sdk")
	g, err := gateway.New(gateway.Options{
		Guard:                guardConfig(o.maxConns, o.perIP),
		TLS:                  tlsConfig,
		CABundle:             caBundle,
		FunctionEnv:          fnEnv,
		RuntimeDir:           filepath.Join(dir, "runtimes"),
		NodeSDKDir:           nodeSDK,
		LambdaRuntimeAPIOnly: o.runtimeAPIOnly,
		ACMEStorage:          filepath.Join(dir, "acme"),
		Listen:               o.listen,
		ControlListen:        o.controlListen,
		ControlRateLimit:     o.controlRate,
		MetricsListen:        o.metricsListen,
		MetricsToken:         metricsToken,
		ShutdownTimeout:      o.shutdownGrace,
		Pprof:                o.pprof,
		LogDir:               filepath.Join(dir, "logs"),
		Stdout:               stdout,
		CatalogFile:          filepath.Join(dir, "catalog.json"),
		Region:               o.region,
		Node:                 cluster.NodeID(o.node),
		Cluster:              o.cluster.options(dir, o.node),
		Bundle:               f.Bundle,
		Templates:            gatewayTemplates(log, templates),
		Limits:               wsconn.Config{IdleTimeout: o.idle, MaxDuration: o.maxDur},
		Logger:               log,
	})
	if errors.Is(err, gateway.ErrCatalog) || errors.Is(err, gateway.ErrConflict) {
		return err
	}
	if err != nil {
		return f.Locate(err)
	}
	fns := f.Bundle.Functions
	for _, t := range templates {
		fns = append(fns, t.Bundle.Functions...)
	}
	if err := ensureNodeSDK(ctx, nodeSDK, fns, log); err != nil {
		return err
	}
	// SIGHUP reloads the configuration: caught from before the gateway is ready.
	hup, stopHUP := notifyHUP()
	defer stopHUP()
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	select {
	case <-g.Ready():
		log.Info("state directory", "dir", dir)
		printEndpoints(stdout, g)
	case err := <-done:
		return err
	}
	if len(files) == 0 {
		return <-done
	}
	// The configuration file and templates are served anew when one changes, and on SIGHUP.
	watchCtx, stopWatching := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		watchAndReload(watchCtx, g, watcher, func() (*resource.Bundle, func(error) error, error) {
			f, templates, err := loadConfig(o)
			if err != nil {
				return nil, nil, err
			}
			// What the templates do not serve was logged at start; a reload does not repeat it.
			merged, err := gateway.MergeTemplates(f.Bundle, gatewayTemplates(slog.New(slog.DiscardHandler), templates))
			if err != nil {
				return nil, nil, err
			}
			return merged, f.Locate, nil
		}, hup, log)
	}()
	err = <-done
	stopWatching()
	<-watching
	return err
}

// functionEnv is what local functions get from Switchboard's environment (names from environ, values
// through getenv): the user's credentials, so their SDK calls are signed with them, and AWS_ENDPOINT_URL and
// every AWS_ENDPOINT_URL_<SERVICE> (the SDKs' standard settings), so their calls to other AWS services go
// where the user points them.
func functionEnv(environ []string, getenv func(string) string) map[string]string {
	env := map[string]string{}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if k == "AWS_ENDPOINT_URL" || strings.HasPrefix(k, "AWS_ENDPOINT_URL_") {
			if v := getenv(k); v != "" {
				env[k] = v
			}
		}
	}
	return env
}

// ensureNodeSDK installs the AWS SDK for JavaScript v3 for Node.js functions into sdk ({state}/nodejs-sdk)
// with npm on first use, when the config has any Node.js function. An install that fails is logged with
// the command to run by hand, and the gateway starts anyway: handlers that do not import the SDK still
// work. Only the end of ctx is an error.
func ensureNodeSDK(ctx context.Context, sdk string, fns []resource.Function, log *slog.Logger) error {
	node := false
	for _, fn := range fns {
		if lang, _ := resource.RuntimeLanguage(fn.Runtime); lang == resource.LanguageNode {
			node = true
		}
	}
	if !node || bootstrap.NodeSDKInstalled(sdk) {
		return nil
	}
	log.Info("installing the AWS SDK for JavaScript v3 for Node.js functions (once)", "dir", sdk, "packages", strings.Join(bootstrap.NodeSDKPackages, " "))
	if _, err := bootstrap.EnsureNodeSDK(ctx, sdk); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("the AWS SDK for JavaScript is not available to Node.js functions; handlers importing it will fail with Runtime.ImportModuleError", "error", err, "fix", bootstrap.NodeSDKCommand(sdk))
	}
	return nil
}

// loadConfig reads the config file (the built-in demo config when neither it nor a template is given)
// and the templates, each compiled on its own so that its errors name places in it.
func loadConfig(o *serveOptions) (*configfile.File, []*cfntemplate.Template, error) {
	var f *configfile.File
	var err error
	switch {
	case o.configPath != "":
		f, err = loadAndCompile(o.configPath)
	case len(o.templates.paths) > 0:
		f, err = configfile.Parse("(no config file)", []byte("apis: []"))
	default:
		f, err = configfile.Parse("(built-in demo config)", defaultConfig)
	}
	if err != nil {
		return nil, nil, err
	}
	templates, err := o.templates.load(o.region)
	if err != nil {
		return nil, nil, err
	}
	return f, templates, nil
}

// serverTLS loads the user's certificate, or one issued by the local CA in the state directory for
// localhost, the loopback addresses, the listen host and *.execute-api.{region}.amazonaws.com (the host
// local functions' SDKs connect to for @connections; their bootstraps send it to this gateway). It
// returns the PEM file clients should trust.
func serverTLS(dir, listen, region, certFile, keyFile string) (*tls.Config, string, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, "", errors.New("--tls-cert and --tls-key go together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, "", fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}}, certFile, nil
	}
	hosts := append(append([]string(nil), localca.DefaultHosts...), localca.ExecuteAPIHost(region))
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" && !slices.Contains(hosts, host) {
		hosts = append(hosts, host)
	}
	ca, err := localca.Ensure(filepath.Join(dir, "tls"), hosts)
	if err != nil {
		return nil, "", err
	}
	return &tls.Config{Certificates: []tls.Certificate{ca.Certificate}}, ca.CertFile, nil
}

// guardConfig turns the connection-flood flags into the guard's configuration.
func guardConfig(maxConns int, perIP float64) throttle.GuardConfig {
	g := throttle.GuardConfig{MaxConnections: maxConns, PerIP: throttle.Limits{Rate: perIP, Burst: int(2 * perIP)}}
	if perIP <= 0 {
		g.PerIP = throttle.Unlimited()
	}
	return g
}

// stateDir resolves and creates the state directory.
func stateDir(flagValue string, getenv func(string) string) (string, error) {
	dir := flagValue
	if dir == "" {
		base := getenv("XDG_CACHE_HOME")
		if base == "" {
			home := getenv("HOME")
			if home == "" {
				return "", errors.New("no --data given and neither XDG_CACHE_HOME nor HOME is set")
			}
			base = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(base, "switchboard")
	}
	// Absolute: functions run in their handlers' directories and get paths inside it (AWS_CA_BUNDLE).
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return dir, nil
}

// printEndpoints tells the user where each API stage answers.
func printEndpoints(w io.Writer, g *gateway.Gateway) {
	set := g.Snapshot()
	ids := make([]string, 0, len(set.APIs))
	for id := range set.APIs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		api := set.APIs[id]
		stages := make([]string, 0, len(api.Stages))
		for s := range api.Stages {
			stages = append(stages, s)
		}
		sort.Strings(stages)
		for _, s := range stages {
			fmt.Fprintf(&b, "API %s (%s) stage %s:\n  WebSocket:    ws://%s/%s/%s  (or wss://)\n  @connections: http://%s/%s/%s/@connections/{connectionId}  (or https://)\n",
				api.Name, id, s, g.Addr(), id, s, g.Addr(), id, s)
		}
	}
	if addr := g.ControlAddr(); addr != "" {
		fmt.Fprintf(&b, "Control plane (apigatewayv2): http://%s  (aws apigatewayv2 ... --endpoint-url http://%s)\n", addr, addr)
	}
	fmt.Fprint(w, b.String())
}

// readMetricsToken reads the bearer token of --metrics-token-file (surrounding white space removed, as
// Prometheus does with credentials_file); "" without a file.
func readMetricsToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--metrics-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 16 {
		return "", fmt.Errorf("--metrics-token-file %s: the token must have at least 16 characters, it has %d", path, len(token))
	}
	return token, nil
}
