// Command switchboard runs a self-hosted WebSocket API gateway that speaks Amazon API Gateway v2's dialect.
//
//	switchboard serve [--config FILE] [--listen ADDR] …   run the gateway
//	switchboard validate FILE…                           check config files and print every error
//	switchboard import --template FILE …                 write a template's equivalent config file
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
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/localca"
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
  switchboard validate FILE...     check config files; print every error with file, line and field
                   [--template FILE...]  check CloudFormation / SAM / cdk synth templates the same way
  switchboard import --template FILE...  write the templates' equivalent Switchboard config to stdout

Run "switchboard serve -h" for the serve flags.
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
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
	return exitError{errors.New("unknown command")}
}

func validate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf templateFlags
	tf.add(fs)
	region := fs.String("region", "us-east-1", "AWS region templates are evaluated for (AWS::Region)")
	if err := fs.Parse(args); err != nil {
		return exitError{err}
	}
	files := fs.Args()
	if len(files) == 0 && len(tf.paths) == 0 {
		fmt.Fprintln(stderr, "usage: switchboard validate FILE... [--template FILE...]")
		return exitError{errors.New("no files")}
	}
	failed := false
	if err := validateTemplates(&tf, *region, stdout); err != nil {
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

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML file declaring the APIs to serve (default: the built-in demo API)")
	dataDir := fs.String("data", "", "directory for the gateway's state (default: switchboard under the user cache directory)")
	listen := fs.String("listen", "127.0.0.1:8080", "data-plane and @connections address; binding beyond loopback is an explicit choice")
	controlListen := fs.String("control-listen", "127.0.0.1:8081", "control-plane (apigatewayv2 REST API) address for the AWS CLI and SDKs (--endpoint-url); empty: no control plane")
	controlRate := fs.Float64("control-rate-limit", 0, "control-plane requests per second, bursts of 4x (AWS: 10); 0: no limit")
	region := fs.String("region", "us-east-1", "AWS region the gateway presents itself as")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	node := fs.Uint("node", 0, "node ID (0-65535), encoded in every connection ID")
	idle := fs.Duration("idle-timeout", 10*time.Minute, "close connections with no data message in either direction for this long")
	maxDur := fs.Duration("max-connection-duration", 2*time.Hour, "close connections older than this")
	maxConns := fs.Int("max-connections", throttle.DefaultMaxConnections, "most connections this node holds; more are refused with 429 (negative: no limit)")
	perIP := fs.Float64("new-connections-per-ip", throttle.DefaultPerIP.Rate, "new connections per second one source IP may open, with a burst of twice that; 0 for no limit")
	tlsCert := fs.String("tls-cert", "", "PEM certificate for wss:// and https:// on the data-plane port (default: one from a local CA in the state directory)")
	tlsKey := fs.String("tls-key", "", "PEM private key for --tls-cert")
	var tf templateFlags
	tf.add(fs)
	if err := fs.Parse(args); err != nil {
		return exitError{err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	if *node > 65535 {
		return fmt.Errorf("--node %d: must be at most 65535", *node)
	}
	if *idle <= 0 || *maxDur <= 0 {
		return errors.New("--idle-timeout and --max-connection-duration must be positive")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var f *configfile.File
	var err error
	switch {
	case *configPath != "":
		f, err = loadAndCompile(*configPath)
	case len(tf.paths) > 0:
		f, err = configfile.Parse("(no config file)", []byte("apis: []"))
	default:
		f, err = configfile.Parse("(built-in demo config)", defaultConfig)
	}
	if err != nil {
		return err
	}
	templates, err := tf.load(*region)
	if err != nil {
		return err
	}
	dir, err := stateDir(*dataDir, getenv)
	if err != nil {
		return err
	}
	tlsConfig, caBundle, err := serverTLS(dir, *listen, *tlsCert, *tlsKey)
	if err != nil {
		return err
	}
	log.Info("TLS on the data-plane port", "trust", caBundle)
	// Local functions sign their SDK calls with the user's credentials when there are any.
	fnEnv := map[string]string{}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if v := getenv(k); v != "" {
			fnEnv[k] = v
		}
	}
	g, err := gateway.New(gateway.Options{
		Guard:            guardConfig(*maxConns, *perIP),
		TLS:              tlsConfig,
		CABundle:         caBundle,
		FunctionEnv:      fnEnv,
		ACMEStorage:      filepath.Join(dir, "acme"),
		Listen:           *listen,
		ControlListen:    *controlListen,
		ControlRateLimit: *controlRate,
		CatalogFile:      filepath.Join(dir, "catalog.json"),
		Region:           *region,
		Node:             cluster.NodeID(*node),
		Bundle:           f.Bundle,
		Templates:        gatewayTemplates(log, templates),
		Limits:           wsconn.Config{IdleTimeout: *idle, MaxDuration: *maxDur},
		Logger:           log,
	})
	if errors.Is(err, gateway.ErrCatalog) || errors.Is(err, gateway.ErrConflict) {
		return err
	}
	if err != nil {
		return f.Locate(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	select {
	case <-g.Ready():
		log.Info("state directory", "dir", dir)
		printEndpoints(stdout, g)
	case err := <-done:
		return err
	}
	return <-done
}

// serverTLS loads the user's certificate, or one issued by the local CA in the state directory for
// localhost, the loopback addresses and the listen host. It returns the PEM file clients should trust.
func serverTLS(dir, listen, certFile, keyFile string) (*tls.Config, string, error) {
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
	hosts := append([]string(nil), localca.DefaultHosts...)
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
