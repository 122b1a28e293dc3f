// Package gateway is Switchboard's composition root: it compiles the configuration into a snapshot, builds
// the registry, bus, dispatcher, integrations, management API and edge, and runs them with a defined start
// and stop order. It is the only package that knows the concrete implementations (membus, httpbackend, …).
package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/accesslog"
	"github.com/switchboard-gw/switchboard/internal/acme"
	"github.com/switchboard-gw/switchboard/internal/authorizer"
	"github.com/switchboard-gw/switchboard/internal/authorizer/usageplan"
	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/certs"
	"github.com/switchboard-gw/switchboard/internal/cluster"
	"github.com/switchboard-gw/switchboard/internal/cluster/membus"
	"github.com/switchboard-gw/switchboard/internal/console"
	"github.com/switchboard-gw/switchboard/internal/controlapi"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/edge"
	"github.com/switchboard-gw/switchboard/internal/egress"
	"github.com/switchboard-gw/switchboard/internal/httpapi"
	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/integration/awsproxy"
	"github.com/switchboard-gw/switchboard/internal/integration/awsservice"
	"github.com/switchboard-gw/switchboard/internal/integration/httpbackend"
	"github.com/switchboard-gw/switchboard/internal/integration/mock"
	"github.com/switchboard-gw/switchboard/internal/jwtauth"
	"github.com/switchboard-gw/switchboard/internal/lambda/localinvoke"
	"github.com/switchboard-gw/switchboard/internal/metrics"
	"github.com/switchboard-gw/switchboard/internal/mgmtapi"
	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/throttle"
	"github.com/switchboard-gw/switchboard/internal/wsconn"
)

// Options configure a Gateway. Zero values mean the defaults.
type Options struct {
	// Listen is the data-plane and @connections address; default 127.0.0.1:8080.
	Listen string
	// Region is the AWS region the gateway claims to be in; default us-east-1.
	Region string
	// Node is this process's node ID, encoded in every connection ID it issues.
	Node cluster.NodeID
	// Hub joins this gateway to other in-process gateways (tests); nil makes a private hub.
	Hub *membus.Hub
	// Cluster, when set, joins this node to a cluster over NATS instead (see ClusterOptions).
	Cluster *ClusterOptions
	// Bundle is the APIs to serve.
	Bundle *resource.Bundle
	// Templates are more bundles served beside Bundle: what CloudFormation, SAM and CDK templates declare
	// (package cfntemplate). Their APIs, domain names and functions join Bundle's; like the config
	// file's, they are read-only through the control plane.
	Templates []Template
	// Limits are the per-connection limits; zero fields take API Gateway's values.
	Limits wsconn.Config
	// ShutdownTimeout bounds a graceful stop; default 10s.
	ShutdownTimeout time.Duration
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// TLS, when set, makes the data-plane port answer TLS clients too (wss:// and https:// on the same
	// port as ws:// and http://). Its minimum version is raised to TLS 1.2.
	TLS *tls.Config
	// CABundle is the PEM file that clients of the gateway's TLS certificate should trust; local
	// functions get it as AWS_CA_BUNDLE.
	CABundle string
	// Account is the AWS account ID in ARNs (method ARNs of authorizers and IAM policies); default
	// 123456789012.
	Account string
	// Guard limits connections per node and new connections per source IP; zero fields take the
	// defaults of package throttle.
	Guard throttle.GuardConfig
	// ACMEStorage is the directory for ACME accounts and certificates (domains with
	// automaticCertificate); ACMERootCAs trusts the ACME server's HTTPS (nil: the system's roots);
	// ACMEHTTPPort is the port ACME servers connect to for http-01 challenges (default 80).
	ACMEStorage  string
	ACMERootCAs  *x509.CertPool
	ACMEHTTPPort int
	// ControlListen is the control-plane (apigatewayv2 REST API) address; empty serves no control plane.
	// It also serves /metrics, /healthz and /readyz.
	ControlListen string
	// MetricsListen, when set, is an address serving only /metrics, /healthz and /readyz, for operators
	// who keep the control plane closed.
	MetricsListen string
	// MetricsToken, when set, is a bearer token that lets a scraper beyond loopback read /metrics while
	// signatures are enforced (Prometheus cannot sign with SigV4); empty: SigV4 only.
	MetricsToken string
	// Pprof serves Go's profiler at /debug/pprof/ next to /metrics (same access rules).
	Pprof bool
	// LogDir holds the stages' access logs: a stage whose accessLogSettings.destinationArn names the
	// log group NAME writes to LogDir/NAME.log ("/" in NAME becomes "_"). Stdout receives the access logs
	// of stages whose destinationArn is "stdout" (nil discards them).
	LogDir string
	Stdout io.Writer
	// ControlRateLimit, when positive, limits the control plane to this many requests per second, with
	// bursts of four times as many, all callers together (AWS's account limit is 10 with bursts of 40).
	ControlRateLimit float64
	// CatalogFile keeps the control plane's catalog between runs; empty keeps it in memory only.
	CatalogFile string
	// FunctionEnv is added to every local function's environment (under the function's own variables):
	// typically AWS credentials. Without AWS_ACCESS_KEY_ID, functions get placeholder credentials so that
	// SDK clients can sign their calls to the gateway.
	FunctionEnv map[string]string
	// RuntimeDir is where the Node.js and Python bootstraps are written (a temporary directory when empty);
	// NodeSDKDir holds the AWS SDK for JavaScript v3 that Node.js handlers import without shipping it
	// (none when empty). See package bootstrap.
	RuntimeDir string
	NodeSDKDir string
	// LambdaRuntimeAPIOnly runs every local executable through the Lambda Runtime API, never over the
	// go1.x runtime's protocol (see localinvoke.Options.RuntimeAPIOnly).
	LambdaRuntimeAPIOnly bool
}

// Template is the bundle of one template, with the name its conflicts are reported under.
type Template struct {
	Name   string
	Bundle *resource.Bundle
}

// ErrConflict is wrapped by New's error when the config file and the templates declare the same API id,
// function name or domain name: each compiled on its own, so the problem is between them.
var ErrConflict = errors.New("conflicting declarations")

// ErrCatalog is wrapped by New's error when the saved catalog, together with the config file, does not
// load: the file compiled on its own, so the problem is between the two.
var ErrCatalog = errors.New("the catalog")

// Gateway is one running Switchboard node.
type Gateway struct {
	opts      Options
	log       *slog.Logger
	snapshots snapshot.Holder
	registry  *registry.Registry
	http      *httpbackend.Invoker
	functions *functions
	iam       *authorizer.IAM // nil unless signatures are enforced
	catalog   *catalog.Catalog
	keys      atomic.Pointer[usageplan.Engine] // API keys and usage plans, replaced with the catalog
	// static is the configuration's sections the catalog does not hold (functions, IAM, ACME): the
	// bundle of New, then of the last Reload.
	static   atomic.Pointer[resource.Bundle]
	reloadMu sync.Mutex // serialises Reload
	metrics  *metrics.Metrics
	stopping atomic.Bool // set when shutdown begins: /readyz answers 503 from then on
	// sinks are the access logs' destinations; stageLogs the access log of each stage being served,
	// replaced with the snapshot.
	sinks     *accesslog.Sinks
	stageLogs atomic.Pointer[map[stageKey]stageLog]
	console   *console.Console // the development console, on the control listener
	cluster   *clusterNode     // nil when the node is alone
	shared    *sharedState     // the shared catalog and usage counts; nil when the node is alone

	ready       chan struct{}
	mu          sync.Mutex
	addr        string
	controlAddr string
	metricsAddr string
	edge        *edge.Edge

	// The forward proxy local functions reach through HTTPS_PROXY, so that SDK calls to the default
	// execute-api hostnames come here (nil without local functions). It listens from New, since the
	// processes' environment names its address, and is served by Run.
	egress   *egress.Proxy
	egressLn net.Listener
}

// supported lists the integration types this build can invoke.
var supported = map[string]bool{resource.IntegrationMock: true, resource.IntegrationHTTPProxy: true, resource.IntegrationAWSProxy: true,
	resource.IntegrationHTTP: true, resource.IntegrationAWS: true}

// New compiles the bundle and prepares a Gateway; it listens only in Run. A bundle that does not compile,
// or uses integration types this build cannot run, is an error that names every problem.
func New(opts Options) (_ *Gateway, err error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:8080"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	opts.Limits = withDefaults(opts.Limits)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Bundle == nil {
		opts.Bundle = &resource.Bundle{}
	}
	if len(opts.Templates) > 0 {
		merged, err := MergeTemplates(opts.Bundle, opts.Templates)
		if err != nil {
			return nil, err
		}
		opts.Bundle = merged
	}
	// The file alone first, so that its errors name places in the file; the catalog then serves it.
	if _, err := snapshot.Compile(opts.Bundle); err != nil {
		return nil, err
	}
	if err := checkSupported(opts.Bundle); err != nil {
		return nil, err
	}
	if err := checkAccessLogs(opts.Bundle); err != nil {
		return nil, err
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	g := &Gateway{opts: opts, log: opts.Logger, ready: make(chan struct{}), http: httpbackend.New(), metrics: metrics.New()}
	g.sinks = accesslog.NewSinks(g.openDestination, 4096, func() { g.metrics.LogDropped("access") })
	g.console = console.New(consoleGateway{g}, opts.Logger.With("component", "console"), func() { g.metrics.LogDropped("console") })
	g.static.Store(opts.Bundle)
	g.functions = &functions{region: opts.Region}
	// A missing or too old node or python3 stops the start, naming the functions that need it.
	if err := g.checkRuntimes(opts.Bundle.Functions); err != nil {
		return nil, err
	}
	g.registry = registry.New(opts.Node, nil)
	if opts.Cluster != nil {
		if err := g.openCluster(); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				g.cluster.close()
			}
		}()
	}
	if iamCfg := opts.Bundle.IAM; iamCfg != nil && iamCfg.Enforce {
		checker, err := authorizer.NewIAM(iamCfg.Users, opts.Region)
		if err != nil {
			return nil, err
		}
		g.iam = checker
	}
	// The config file's APIs, domains, keys and plans go into the catalog next to those made through the
	// control plane; the catalog decides what is served, and Open serves it (g.apply).
	var store catalog.Store
	if opts.CatalogFile != "" {
		store = &catalog.FileStore{Path: opts.CatalogFile}
	}
	if opts.Cluster != nil {
		// The cluster's catalog is shared through JetStream (runShared joins it); the data directory's
		// file is a single node's.
		g.shared, store = &sharedState{}, nil
		if opts.CatalogFile != "" {
			opts.Logger.Info("cluster: the control plane's catalog is the cluster's shared one; the data directory's catalog file is not used",
				"file", opts.CatalogFile)
		}
	}
	g.catalog, err = catalog.Open(context.Background(), catalog.Options{Store: store, Apply: g.apply, Joining: g.shared != nil,
		Logger: opts.Logger.With("component", "catalog")}, &resource.Bundle{
		APIs: opts.Bundle.APIs, DomainNames: opts.Bundle.DomainNames, APIKeys: opts.Bundle.APIKeys, UsagePlans: opts.Bundle.UsagePlans})
	if err != nil {
		// Not wrapped with %w: the paths of these errors index the catalog, not the config file.
		where := opts.CatalogFile
		if where == "" {
			where = "(in memory)"
		}
		return nil, fmt.Errorf("%w %s with this config: %v", ErrCatalog, where, err)
	}
	// Local functions, and the egress proxy their environment names, exist from the start even when there
	// are none yet: a reload may add some.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the functions' egress proxy: %w", err)
	}
	g.egressLn = ln
	g.egress = &egress.Proxy{Gateway: g.functionsGatewayAddr, Log: opts.Logger.With("component", "egress")}
	g.functions.local = localinvoke.New(opts.Bundle.Functions, localinvoke.Options{
		Region:      opts.Region,
		Env:         functionEnv(opts, "http://"+ln.Addr().String()),
		Logger:      opts.Logger.With("component", "lambda"),
		RuntimeDir:  opts.RuntimeDir,
		NodeSDKDir:  opts.NodeSDKDir,
		GatewayAddr: g.functionsGatewayAddr,
		OnStart:     g.metrics.ColdStart,

		RuntimeAPIOnly: opts.LambdaRuntimeAPIOnly,
	})
	return g, nil
}

// checkRuntimes finds the interpreters of fns' Node.js and Python functions, and logs which it uses.
func (g *Gateway) checkRuntimes(fns []resource.Function) error {
	found, err := localinvoke.CheckRuntimes(context.Background(), fns)
	if err != nil {
		return err
	}
	for lang, in := range found {
		g.log.Info("local functions' runtime", "language", string(lang), "path", in.Path, "version", in.Version)
	}
	return nil
}

// apply compiles what the catalog serves (APIs, domain names, API keys, usage plans) together with the
// config file's static sections (functions, IAM, ACME), and makes it what the data plane reads.
func (g *Gateway) apply(_ context.Context, served *resource.Bundle) error {
	b := *served
	static := g.static.Load()
	b.Functions, b.IAM, b.ACME = static.Functions, static.IAM, static.ACME
	set, err := snapshot.Compile(&b)
	if err != nil {
		return err
	}
	if err := checkSupported(&b); err != nil {
		return err
	}
	if err := checkAccessLogs(&b); err != nil {
		return err
	}
	logs, err := g.accessLogs(&b)
	if err != nil {
		return err
	}
	keys, plans := usagePlans(&b)
	g.stageLogs.Store(&logs)
	engine := usageplan.Next(g.keys.Load(), keys, plans, time.Now)
	if g.shared != nil {
		engine.Share(&g.shared.usage)
	}
	g.keys.Store(engine)
	g.snapshots.Store(set)
	g.metrics.Snapshot(set.Version)
	return nil
}

// Reload serves bundle — the configuration file (and templates) read again — in place of the one the
// gateway runs: its APIs, domain names, API keys and usage plans replace the configuration's in the
// catalog, compiled and swapped in one step, so open connections keep working and a bundle that does not
// compile changes nothing (the error names what is wrong, as New's does). Functions are updated: changed
// ones run new processes once their running invocations end, unchanged ones stay warm. IAM, ACME and the
// certificate files and mutual TLS of custom domains are read at start only: a reload that changes them
// is refused (the TLS listener would otherwise serve new domains with the old truststores).
func (g *Gateway) Reload(ctx context.Context, b *resource.Bundle) error {
	if b == nil {
		b = &resource.Bundle{}
	}
	if _, err := snapshot.Compile(b); err != nil {
		return err
	}
	if err := checkSupported(b); err != nil {
		return err
	}
	if err := checkAccessLogs(b); err != nil {
		return err
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	prev := g.static.Load()
	next := *b
	if !reflect.DeepEqual(prev.IAM, b.IAM) {
		g.log.Warn("reload: the iam section changed; it takes effect at the next start")
		next.IAM = prev.IAM
	}
	if !reflect.DeepEqual(prev.ACME, b.ACME) {
		g.log.Warn("reload: the acme section changed; it takes effect at the next start")
		next.ACME = prev.ACME
	}
	if !reflect.DeepEqual(tlsDomains(prev), tlsDomains(b)) {
		// The TLS listener's certificates and truststores are built at start; serving a changed mutual-TLS
		// domain with them could verify its clients against another domain's truststore (a wildcard's).
		return errors.New("reload refused: custom domains' certificates or mutual TLS changed; restart Switchboard to apply them (the previous configuration keeps serving)")
	}
	functionsChanged := !reflect.DeepEqual(prev.Functions, b.Functions)
	if functionsChanged {
		if err := g.checkRuntimes(b.Functions); err != nil {
			return err
		}
		if changed := g.functions.local.Update(b.Functions); len(changed) > 0 {
			g.log.Info("reload: functions updated; their next invocations run the new configuration", "functions", strings.Join(changed, ","))
		}
	}
	g.static.Store(&next)
	err := g.catalog.ReplaceConfig(ctx, &resource.Bundle{APIs: b.APIs, DomainNames: b.DomainNames, APIKeys: b.APIKeys, UsagePlans: b.UsagePlans})
	if err != nil {
		g.static.Store(prev)
		if functionsChanged {
			g.functions.local.Update(prev.Functions)
		}
		return err
	}
	return nil
}

// controlHandler is the control plane, behind SigV4 (service apigateway) when signatures are enforced.
func (g *Gateway) controlHandler() http.Handler {
	var h http.Handler = controlapi.New(controlapi.Config{Catalog: g.catalog, Region: g.opts.Region, Account: g.opts.Account,
		APIEndpoint: g.apiEndpoint, Logger: g.log.With("component", "control")})
	if g.iam != nil {
		h = controlapi.RequireIAM(h, g.iam.ForService("apigateway"), g.opts.Region)
	}
	if r := g.opts.ControlRateLimit; r > 0 {
		h = controlapi.Throttle(h, throttle.Limits{Rate: r, Burst: max(1, int(4*r))}, nil)
	}
	return g.observeHandler(h)
}

// apiEndpoint is the apiEndpoint the control plane reports: the data-plane address in the
// /{apiId}/{stage} form, which needs no DNS. A wildcard listen address is reported as loopback.
func (g *Gateway) apiEndpoint(apiID string) string {
	host, port, err := net.SplitHostPort(g.Addr())
	if err != nil {
		return "ws://" + g.Addr() + "/" + apiID
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "ws://" + net.JoinHostPort(host, port) + "/" + apiID
}

func checkSupported(b *resource.Bundle) error {
	var errs resource.FieldErrors
	for i, a := range b.APIs {
		for j, in := range a.Integrations {
			if !supported[in.IntegrationType] {
				path := resource.FieldPath(resource.IndexPath(resource.FieldPath(resource.IndexPath("apis", i), "integrations"), j), "integrationType")
				errs = append(errs, &resource.FieldError{Path: path, Message: in.IntegrationType + " integrations are not supported yet; use AWS_PROXY, HTTP_PROXY or MOCK"})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// acmeManager prepares automatic certificates for the domains that ask for them; nil when none do.
func (g *Gateway) acmeManager() (*acme.Manager, error) {
	b := g.opts.Bundle
	var names []string
	for _, d := range b.DomainNames {
		for _, c := range d.DomainNameConfigurations {
			if c.AutomaticCertificate {
				names = append(names, d.DomainName)
			}
		}
	}
	if len(names) == 0 || b.ACME == nil {
		return nil, nil
	}
	if g.opts.ACMEStorage == "" {
		return nil, errors.New("automatic certificates need a state directory for ACME (Options.ACMEStorage)")
	}
	return acme.New(acme.Config{Directory: b.ACME.Directory, Email: b.ACME.Email, Storage: g.opts.ACMEStorage,
		RootCAs: g.opts.ACMERootCAs, HTTPPort: g.opts.ACMEHTTPPort, Logger: g.log.With("component", "acme")}, names)
}

// domainCerts lists the custom domains that have their own certificate (and maybe a truststore).
func domainCerts(b *resource.Bundle) []certs.Domain {
	var out []certs.Domain
	for _, d := range b.DomainNames {
		cd := certs.Domain{Name: d.DomainName}
		for _, c := range d.DomainNameConfigurations {
			cd.CertFile, cd.KeyFile = c.CertificateFile, c.PrivateKeyFile
		}
		if m := d.MutualTLSAuthentication; m != nil {
			cd.TruststoreFile = m.TruststoreURI
		}
		if cd.CertFile != "" {
			out = append(out, cd)
		}
	}
	return out
}

// tlsDomains lists what the TLS listener was built from: every domain with certificate files or mutual
// TLS, with its files and truststore.
func tlsDomains(b *resource.Bundle) []certs.Domain {
	var out []certs.Domain
	for _, d := range b.DomainNames {
		cd := certs.Domain{Name: strings.ToLower(d.DomainName)}
		for _, c := range d.DomainNameConfigurations {
			cd.CertFile, cd.KeyFile = c.CertificateFile, c.PrivateKeyFile
		}
		if m := d.MutualTLSAuthentication; m != nil {
			cd.TruststoreFile = m.TruststoreURI
			if cd.TruststoreFile == "" {
				cd.TruststoreFile = "(mutual TLS)"
			}
		}
		if cd.CertFile != "" || cd.TruststoreFile != "" {
			out = append(out, cd)
		}
	}
	slices.SortFunc(out, func(a, b certs.Domain) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// usagePlans converts the bundle's keys and usage plans for the usage-plan engine.
func usagePlans(b *resource.Bundle) ([]usageplan.Key, []usageplan.Plan) {
	keys := make([]usageplan.Key, 0, len(b.APIKeys))
	for _, k := range b.APIKeys {
		keys = append(keys, usageplan.Key{ID: k.ID, Name: k.Name, Value: k.Value, Enabled: k.Enabled})
	}
	plans := make([]usageplan.Plan, 0, len(b.UsagePlans))
	for _, p := range b.UsagePlans {
		plan := usageplan.Plan{ID: p.ID, Name: p.Name, KeyIDs: p.KeyIDs}
		for _, s := range p.APIStages {
			plan.Stages = append(plan.Stages, usageplan.Stage{APIID: s.APIID, Stage: s.Stage})
		}
		if t := p.Throttle; t != nil && (t.RateLimit > 0 || t.BurstLimit > 0) {
			plan.Throttle = &throttle.Limits{Rate: t.RateLimit, Burst: t.BurstLimit}
		}
		if q := p.Quota; q != nil {
			plan.Quota = &usageplan.Quota{Limit: q.Limit, Period: q.Period, Offset: q.Offset}
		}
		plans = append(plans, plan)
	}
	return keys, plans
}

// keyChecker adapts the current usage-plan engine to dispatch.APIKeyChecker; the engine is replaced on
// every catalog change.
type keyChecker struct {
	p *atomic.Pointer[usageplan.Engine]
}

func (k keyChecker) Check(apiID, stage, value string) (status int, keyID, reason string) {
	outcome, keyID := k.p.Load().Check(apiID, stage, value)
	return outcome.Status(), keyID, outcome.Reason()
}

// functionEnv is what every local function gets from the gateway: the CA to trust for
// https://{domainName}/{stage} callbacks, the egress proxy that brings calls to the default execute-api
// hostnames here, and credentials for its SDK clients to sign with. A function's own environment wins
// over all of it (so a function that sets HTTPS_PROXY uses its own proxy).
func functionEnv(opts Options, proxy string) map[string]string {
	env := map[string]string{}
	if opts.CABundle != "" {
		env["AWS_CA_BUNDLE"] = opts.CABundle
	}
	if proxy != "" {
		// Both spellings: Go reads either, Python's urllib and curl prefer the lower-case ones. Loopback
		// destinations (a local DynamoDB, the Runtime API) never go through it.
		for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"} {
			env[k] = proxy
		}
		env["NO_PROXY"] = "localhost,127.0.0.1,::1"
		env["no_proxy"] = env["NO_PROXY"]
	}
	for k, v := range opts.FunctionEnv {
		env[k] = v
	}
	if env["AWS_ACCESS_KEY_ID"] == "" {
		env["AWS_ACCESS_KEY_ID"] = "switchboard"
		env["AWS_SECRET_ACCESS_KEY"] = "switchboard"
	}
	return env
}

func withDefaults(l wsconn.Config) wsconn.Config {
	d := wsconn.DefaultConfig()
	if l.MaxFrameSize == 0 {
		l.MaxFrameSize = d.MaxFrameSize
	}
	if l.MaxMessageSize == 0 {
		l.MaxMessageSize = d.MaxMessageSize
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxDuration == 0 {
		l.MaxDuration = d.MaxDuration
	}
	if l.SendQueueBytes == 0 {
		l.SendQueueBytes = d.SendQueueBytes
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.ReadBufferSize == 0 {
		l.ReadBufferSize = d.ReadBufferSize
	}
	return l
}

// Ready is closed once the gateway accepts connections.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// functionsGatewayAddr is the data-plane address local functions reach the gateway at: Addr, with a
// wildcard listen address (0.0.0.0, ::) replaced by the loopback one.
func (g *Gateway) functionsGatewayAddr() string {
	addr := g.Addr()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// Addr is the bound data-plane address; valid after Ready.
func (g *Gateway) Addr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addr
}

// ControlAddr is the bound control-plane address; valid after Ready, empty without a control plane.
func (g *Gateway) ControlAddr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.controlAddr
}

// MetricsAddr is the bound --metrics-listen address; valid after Ready, empty without one.
func (g *Gateway) MetricsAddr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.metricsAddr
}

// Metrics is the gateway's metrics, for the product wiring to count what happens outside it (reloads).
func (g *Gateway) Metrics() *metrics.Metrics { return g.metrics }

// Snapshot returns the snapshot being served.
func (g *Gateway) Snapshot() *snapshot.Set { return g.snapshots.Load() }

// Connections counts this node's open connections.
func (g *Gateway) Connections() int { return g.registry.Len() }

// Run serves until ctx ends, then stops in order: stop accepting, close WebSockets with 1001 and run their
// $disconnect, wait for in-flight messages, drop backend connections. It returns when all of that is done
// or the shutdown timeout has passed.
func (g *Gateway) Run(ctx context.Context) error {
	hub := g.opts.Hub
	if hub == nil {
		hub = membus.NewHub()
	}
	if g.egressLn != nil {
		// Deferred first, so it stops last: functions may call out until they are stopped.
		srv := &http.Server{Handler: g.egress, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.Serve(g.egressLn)
		}()
		defer func() {
			_ = srv.Close()
			g.egress.Close()
			<-done
		}()
	}
	if g.cluster != nil {
		defer g.cluster.close()
		g.registry.SetBus(g.cluster)
		sharedDone := make(chan struct{})
		sharedCtx, stopShared := context.WithCancel(context.WithoutCancel(ctx))
		go func() {
			defer close(sharedDone)
			g.runShared(sharedCtx)
		}()
		defer func() { stopShared(); <-sharedDone }()
	} else {
		bus, detach, err := hub.Attach(g.opts.Node, g.registry.Handle)
		if err != nil {
			return err
		}
		defer detach()
		g.registry.SetBus(bus)
	}

	ln, err := net.Listen("tcp", g.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", g.opts.Listen, err)
	}
	var reloads sync.WaitGroup
	defer reloads.Wait()
	var acmeMgr *acme.Manager // answers http-01 challenges on the data-plane port
	reloadCtx, stopReloads := context.WithCancel(ctx)
	defer stopReloads()
	if g.opts.TLS != nil {
		cfg := g.opts.TLS.Clone()
		if cfg.MinVersion < tls.VersionTLS12 {
			cfg.MinVersion = tls.VersionTLS12
		}
		cfg.NextProtos = []string{"http/1.1"} // WebSocket upgrades need HTTP/1.1
		mgr, err := g.acmeManager()
		if err != nil {
			_ = ln.Close()
			return err
		}
		acmeMgr = mgr
		if mgr != nil {
			defer mgr.Close()
			reloads.Go(func() {
				if err := mgr.Obtain(reloadCtx); err != nil && reloadCtx.Err() == nil {
					g.log.Error("automatic certificates", "err", err)
				}
			})
		}
		if domains := domainCerts(g.opts.Bundle); len(domains) > 0 && len(cfg.Certificates) > 0 {
			// Custom domains' certificates by SNI, over the default certificate; files are re-read
			// when they change.
			store, err := certs.New(domains, cfg.Certificates[0], g.log.With("component", "tls"))
			if err != nil {
				_ = ln.Close()
				return err
			}
			cfg = store.TLSConfig()
			reloads.Go(func() { _ = store.Run(reloadCtx, 2*time.Second) })
		}
		if mgr != nil {
			// Managed names first; every other name as before.
			next := cfg.GetCertificate
			fallback := cfg.Certificates
			cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				if c, err := mgr.GetCertificate(hello); c != nil || err != nil {
					return c, err
				}
				if next != nil {
					return next(hello)
				}
				if len(fallback) > 0 {
					return &fallback[0], nil
				}
				return nil, nil
			}
		}
		ln = edge.SniffTLS(ln, cfg)
	}
	// Events run under their own context: it outlives ctx by the drain so that $disconnect can run.
	eventCtx, cancelEvents := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelEvents()
	var mgmtAuth mgmtapi.Auth
	if g.iam != nil {
		mgmtAuth = mgmtapi.Auth{IAM: g.iam, Region: g.opts.Region, Account: g.opts.Account}
	}
	var iam dispatch.IAMChecker // stays a nil interface when signatures are not enforced
	if g.iam != nil {
		iam = g.iam
	}
	obs := &observer{m: g.metrics, snapshots: &g.snapshots, log: g.log.With("component", "execution"),
		limit: newLogLimiter(100, 200), accessLogs: &g.stageLogs, console: g.console}
	fns := observedFunctions{next: g.functions, m: g.metrics, console: g.console}
	// Each invoker is traced (trace.go): the console and dataTraceEnabled see what integrations received.
	traced := func(inv integration.Invoker) integration.Invoker { return tracedInvoker{next: inv, obs: obs} }
	d := dispatch.New(&g.snapshots, map[string]integration.Invoker{
		resource.IntegrationMock:      traced(mock.Invoker{}),
		resource.IntegrationHTTPProxy: traced(g.http),
		resource.IntegrationAWSProxy:  traced(awsproxy.New(fns)),
		resource.IntegrationHTTP:      traced(g.http),
		resource.IntegrationAWS: traced(awsservice.New(awsservice.Config{Functions: fns, Region: g.opts.Region,
			Credentials: &lazyCredentials{region: g.opts.Region}, Getenv: os.Getenv})),
	}, dispatch.Auth{Functions: fns, Region: g.opts.Region, Account: g.opts.Account, IAM: iam,
		APIKeys: keyChecker{&g.keys}}, g.log)
	defer func() {
		if err := g.sinks.Close(); err != nil {
			g.log.Error("close access logs", "err", err)
		}
	}()
	d.SetObserver(obs)
	mgmt := mgmtapi.New(g.registry, mgmtAuth, g.log)
	mgmt.SetObserver(obs)
	httpAuth := &httpapi.Authorizers{JWT: jwtauth.NewSet(nil, nil), Lambda: authorizer.NewHTTPSet(fns, nil),
		Region: g.opts.Region, Account: g.opts.Account}
	if g.iam != nil {
		httpAuth.IAM = g.iam
	}
	httpAPIs := httpapi.New(httpapi.Config{Functions: fns, Observer: &httpObserver{o: obs, account: g.opts.Account}, Logger: g.log.With("component", "httpapi"),
		AccountID: g.opts.Account, Authorizer: httpAuth, Services: newServiceCaller(fns, g.opts.Region),
		LogAllowed: obs.refusalLogAllowed})
	defer httpAPIs.CloseIdleConnections()
	e := edge.New(eventCtx, edge.Config{
		HTTPAPI:   httpAPIs,
		Snapshots: &g.snapshots,
		Registry:  g.registry,
		Dispatch:  d,
		Mgmt:      mgmt,
		Observer:  obs,
		Limits:    g.opts.Limits,
		Logger:    g.log,
		Guard:     throttle.NewGuard(g.opts.Guard),
		Records:   g.records(),
	})
	if g.cluster != nil {
		if err := g.cluster.start(eventCtx, g.registry.Handle, d, e); err != nil {
			return err
		}
		g.registry.SetNodes(g.ClusterNodes)
	}
	// Connections accepted but without a request yet would hold http.Server.Shutdown for 5 seconds
	// (clients' pools leave them behind); they are tracked so the shutdown can close them at once.
	var fresh sync.Map // net.Conn in http.StateNew
	var handler http.Handler = e
	if acmeMgr != nil {
		handler = acmeMgr.HTTPChallengeHandler(handler)
	}
	if g.cluster != nil {
		handler = g.cluster.admit(handler)
	}
	srv := &http.Server{
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				fresh.Store(c, struct{}{})
			} else {
				fresh.Delete(c)
			}
		},
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	var control *http.Server
	controlErr := make(chan error, 1)
	if g.opts.ControlListen != "" {
		cln, err := net.Listen("tcp", g.opts.ControlListen)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("control plane: listen on %s: %w", g.opts.ControlListen, err)
		}
		control = &http.Server{Handler: g.controlHandler(), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)}
		g.mu.Lock()
		g.controlAddr = cln.Addr().String()
		g.mu.Unlock()
		go func() { controlErr <- control.Serve(cln) }()
		g.log.Info("control plane listening", "addr", g.controlAddr)
	}
	if g.opts.MetricsListen != "" {
		mln, err := net.Listen("tcp", g.opts.MetricsListen)
		if err != nil {
			_ = ln.Close()
			if control != nil {
				_ = control.Close()
				<-controlErr
			}
			return fmt.Errorf("metrics: listen on %s: %w", g.opts.MetricsListen, err)
		}
		// Served until Run returns, so that /readyz answers 503 throughout the drain.
		msrv := &http.Server{Handler: g.observeHandler(nil), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)}
		g.mu.Lock()
		g.metricsAddr = mln.Addr().String()
		g.mu.Unlock()
		mdone := make(chan struct{})
		go func() {
			defer close(mdone)
			_ = msrv.Serve(mln)
		}()
		defer func() {
			_ = msrv.Close()
			<-mdone
		}()
		if g.iam != nil && g.opts.MetricsToken == "" {
			// Nothing silent: say how a scraper beyond loopback gets in.
			g.log.Info("metrics listening; with iam.enforce, scrapers beyond loopback need a SigV4 signature or the --metrics-token-file bearer token", "addr", g.metricsAddr)
		} else if g.iam != nil {
			g.log.Info("metrics listening; scrapers beyond loopback need the --metrics-token-file bearer token (or a SigV4 signature)", "addr", g.metricsAddr)
		} else {
			g.log.Info("metrics listening", "addr", g.metricsAddr)
		}
	}
	g.mu.Lock()
	g.addr, g.edge = ln.Addr().String(), e
	g.mu.Unlock()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	g.log.Info("data plane listening", "addr", g.addr, "node", g.opts.Node)
	close(g.ready)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if control != nil {
			_ = control.Close()
			<-controlErr
		}
		return fmt.Errorf("serve %s: %w", g.addr, err)
	case err := <-controlErr:
		_ = srv.Close()
		<-serveErr
		return fmt.Errorf("serve the control plane on %s: %w", g.ControlAddr(), err)
	}
	g.stopping.Store(true)
	g.log.Info("shutting down", "connections", e.Live())
	stopCtx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
	defer cancel()
	var errs []error
	if control != nil {
		if err := control.Shutdown(stopCtx); err != nil {
			errs = append(errs, fmt.Errorf("stop the control plane: %w", err))
		}
		if err := <-controlErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	srv.SetKeepAlivesEnabled(false)
	fresh.Range(func(c, _ any) bool {
		_ = c.(net.Conn).Close()
		return true
	})
	if err := srv.Shutdown(stopCtx); err != nil {
		errs = append(errs, fmt.Errorf("stop accepting: %w", err))
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	if err := e.Drain(stopCtx); err != nil {
		errs = append(errs, err)
	}
	waited := make(chan struct{})
	go func() { d.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-stopCtx.Done():
		// Events still running at the grace's end are cut; Run says so whatever happens next (the
		// functions' processes may be gone by the time they are stopped, which then reports nothing).
		cancelEvents()
		<-waited
		errs = append(errs, fmt.Errorf("events still running were cut at the end of the %v shutdown grace: %w", g.opts.ShutdownTimeout, stopCtx.Err()))
	}
	if g.cluster != nil {
		// Every connection is closed and its $disconnect ran: the others may forget this node now.
		if err := g.cluster.leave(stopCtx); err != nil {
			g.log.Warn("cluster: could not say this node left; the others declare it gone after its heartbeats stop", "err", err)
		}
	}
	g.http.CloseIdleConnections()
	// Functions stop last: $disconnect events of the drain may still have needed them.
	if err := g.functions.close(stopCtx); err != nil {
		errs = append(errs, fmt.Errorf("stop functions: %w", err))
	}
	g.log.Info("stopped")
	return errors.Join(errs...)
}
