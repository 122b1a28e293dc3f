package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/accesslog"
	"github.com/switchboard-gw/switchboard/internal/awserr"
	"github.com/switchboard-gw/switchboard/internal/console"
	"github.com/switchboard-gw/switchboard/internal/controlapi"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/edge"
	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/metrics"
	"github.com/switchboard-gw/switchboard/internal/mgmtapi"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// observer turns what dispatch, the edge and the management API report into metrics and execution logs.
type observer struct {
	m         *metrics.Metrics
	snapshots *snapshot.Holder
	log       *slog.Logger
	limit     *logLimiter
	// accessLogs is the access log of each stage being served.
	accessLogs *atomic.Pointer[map[stageKey]stageLog]
	// console receives live events while a console page watches.
	console *console.Console
}

var (
	_ dispatch.Observer = (*observer)(nil)
	_ edge.Observer     = (*observer)(nil)
	_ mgmtapi.Observer  = (*observer)(nil)
)

// Event counts the event as API Gateway's metrics do and writes the stage's execution log line.
func (o *observer) Event(ev dispatch.Outcome) {
	c := ev.Conn
	switch ev.EventType {
	case proxyevent.EventConnect:
		o.m.Connect(c.APIID, c.Stage)
	case proxyevent.EventMessage:
		o.m.Message(c.APIID, c.Stage, ev.RouteKey)
	}
	switch {
	case ev.ClientError:
		o.m.ClientError(c.APIID, c.Stage, ev.RouteKey)
		where := "message"
		if ev.EventType == proxyevent.EventConnect {
			where = "handshake"
		}
		o.m.Refused(where, ev.Reason)
	case ev.EventType == proxyevent.EventConnect && ev.Status >= 300:
		// The $connect integration refused the handshake (or failed): the edge logs it.
		o.m.Refused("handshake", "connect_integration")
	}
	if !o.executionLog(ev) && ev.ClientError && unloggedRefusal[ev.Reason] {
		o.refusalLog(ev)
	}
	o.accessLog(&ev)
	if o.console.Watching() {
		ce := console.Event{Type: "route", ConnectionID: c.ID, RouteKey: ev.RouteKey, Status: ev.Status, Error: ev.Error}
		if ev.EventType != proxyevent.EventMessage {
			ce.RouteKey = ev.EventType
			if ev.RouteKey != "" {
				ce.RouteKey = ev.RouteKey
			}
		}
		if ev.Integrated {
			ms := float64(ev.IntegrationLatency.Microseconds()) / 1000
			ce.LatencyMs = &ms
		}
		o.console.Publish(ce)
	}
}

// unloggedRefusal lists the refusals no other part logs (API keys, IAM and authorizers are logged by
// dispatch, integration failures by the invocation).
var unloggedRefusal = map[string]bool{"no_route": true, "throttled": true, "no_stage": true}

// refusalLog writes an info line for a refusal the stage's execution log did not already show, so that
// the Forbidden and Too Many Requests frames are visible at the default log level; rate-limited like
// execution lines.
func (o *observer) refusalLog(ev dispatch.Outcome) {
	if !o.limit.allow(time.Now()) {
		o.m.LogDropped("refusal")
		return
	}
	c := ev.Conn
	msg := "message refused"
	if ev.EventType == proxyevent.EventConnect {
		msg = "handshake refused"
	}
	o.log.LogAttrs(context.Background(), slog.LevelInfo, msg, slog.String("api_id", c.APIID), slog.String("stage", c.Stage),
		slog.String("conn_id", c.ID), slog.String("route_key", ev.RouteKey), slog.String("request_id", ev.RequestID),
		slog.Int("status", ev.Status), slog.String("error", ev.Error), slog.String("reason", ev.Reason))
}

// accessLog writes the event's line to its stage's access log, if the stage has one.
func (o *observer) accessLog(ev *dispatch.Outcome) {
	logs := o.accessLogs.Load()
	if logs == nil {
		return
	}
	c := ev.Conn
	sl, ok := (*logs)[stageKey{c.APIID, c.Stage}]
	if !ok {
		return
	}
	rc := ev.Context
	if rc == nil {
		// Refused before the event's context was made: what is known of the connection.
		rc = &proxyevent.RequestContext{APIID: c.APIID, Stage: c.Stage, ConnectionID: c.ID, ConnectedAt: c.ConnectedAt,
			DomainName: c.DomainName, Identity: c.Identity, EventType: ev.EventType, RouteKey: ev.RouteKey}
		rc.SetRequestTime(time.Now())
	}
	r := accesslog.Record{Context: rc, Status: ev.Status, ErrorMessage: ev.Error, ResponseType: responseType(ev),
		Integrated: ev.Integrated, IntegrationStatus: ev.IntegrationStatus, IntegrationLatency: ev.IntegrationLatency}
	if ev.Reason == "integration_error" || ev.Reason == "integration_timeout" {
		r.IntegrationError = ev.Error
	}
	sl.sink.Write(sl.format.Append(make([]byte, 0, 256), &r))
}

// executionLog writes one line per event at the stage's loggingLevel (the route's setting, else the
// stage's default): ERROR logs refused and failed events, INFO every event; OFF or unset logs nothing.
// Lines beyond the rate limit are dropped and counted. It reports whether the event's level asked for a
// line.
func (o *observer) executionLog(ev dispatch.Outcome) bool {
	c := ev.Conn
	failed := ev.Status >= 300 || ev.Error != ""
	level, dataTrace := o.loggingLevel(c.APIID, c.Stage, ev.RouteKey)
	switch {
	case level == "INFO":
	case level == "ERROR" && failed:
	default:
		return false
	}
	if !o.limit.allow(time.Now()) {
		o.m.LogDropped("execution")
		return true
	}
	lvl := slog.LevelInfo
	if failed {
		lvl = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("api_id", c.APIID), slog.String("stage", c.Stage), slog.String("conn_id", c.ID),
		slog.String("event_type", ev.EventType), slog.String("route_key", ev.RouteKey), slog.String("request_id", ev.RequestID),
		slog.Int("status", ev.Status)}
	if failed {
		attrs = append(attrs, slog.String("error", ev.Error), slog.String("reason", ev.Reason))
	}
	if dataTrace && ev.Body != nil {
		// dataTraceEnabled: the message itself, cut at maxTraceData bytes.
		data, cut := ev.Body, false
		if len(data) > maxTraceData {
			data, cut = data[:maxTraceData], true
		}
		attrs = append(attrs, slog.String("data", string(data)), slog.Bool("data_truncated", cut))
	}
	o.log.LogAttrs(context.Background(), lvl, "execution", attrs...)
	return true
}

// maxTraceData bounds the message text an execution line carries with dataTraceEnabled.
const maxTraceData = 1024

// loggingLevel is the stage's execution logging level for route (the route's setting, else the
// stage's default) and whether it traces data (dataTraceEnabled in either).
func (o *observer) loggingLevel(apiID, stage, route string) (level string, dataTrace bool) {
	api := o.snapshots.Load().API(apiID)
	if api == nil {
		return "", false
	}
	st := api.Stages[stage]
	if st == nil {
		return "", false
	}
	if d := st.DefaultRouteSettings; d != nil {
		level, dataTrace = d.LoggingLevel, d.DataTraceEnabled
	}
	if rs, ok := st.RouteSettings[route]; ok {
		if rs.LoggingLevel != "" {
			level = rs.LoggingLevel
		}
		dataTrace = dataTrace || rs.DataTraceEnabled
	}
	return level, dataTrace
}

// Integration counts IntegrationLatency, IntegrationError (the integration answered 4XX/5XX or failed)
// and ExecutionError (it did not answer in time).
func (o *observer) Integration(rc *proxyevent.RequestContext, status int, latency time.Duration, err error) {
	o.m.IntegrationLatency(rc.APIID, rc.Stage, rc.RouteKey, latency)
	switch {
	case errors.Is(err, integration.ErrTimeout):
		o.m.ExecutionError(rc.APIID, rc.Stage, rc.RouteKey)
	case err != nil || status >= 400:
		o.m.IntegrationError(rc.APIID, rc.Stage, rc.RouteKey)
	}
}

// Authorization counts authorizer outcomes.
func (o *observer) Authorization(c *dispatch.Connection, authType, outcome string) {
	o.m.Authorizer(c.APIID, c.Stage, authType, outcome)
}

// Opened counts an open connection.
func (o *observer) Opened(c *dispatch.Connection) {
	o.m.ConnectionOpened(c.APIID, c.Stage)
	if o.console.Watching() {
		cc := consoleConnection(c)
		o.console.Publish(console.Event{Type: "connect", ConnectionID: c.ID, Connection: &cc})
	}
}

// Closed uncounts it. The console learns of the close, with its code, from ConnectionClosed.
func (o *observer) Closed(c *dispatch.Connection) {
	o.m.ConnectionClosed(c.APIID, c.Stage)
}

// Message counts data messages; messages to clients also count in MessageCount (AWS counts both
// directions), without a route.
func (o *observer) Message(c *dispatch.Connection, out bool, data []byte) {
	if o.console.Watching() {
		typ := "in"
		if out {
			typ = "out"
		}
		o.console.Publish(console.Event{Type: typ, ConnectionID: c.ID, Data: string(data)})
	}
	if out {
		o.m.WebSocketMessage(metrics.Out, len(data))
		o.m.Message(c.APIID, c.Stage, "")
		return
	}
	o.m.WebSocketMessage(metrics.In, len(data))
}

// Refused counts the edge's own refusals.
func (o *observer) Refused(reason string, _ int) { o.m.Refused("endpoint", reason) }

// Call counts @connections calls, and refusals by their error type. A 410, which the management API
// logs at debug level only (routine for backends that fan out), is logged here at info level through
// the rate limit, so that a flood of them stays bounded.
func (o *observer) Call(operation, id string, status int, reason string) {
	o.m.Management(operation, status)
	if status < 400 {
		return
	}
	o.m.Refused("management", reason)
	if status == 410 {
		if !o.limit.allow(time.Now()) {
			o.m.LogDropped("refusal")
			return
		}
		o.log.LogAttrs(context.Background(), slog.LevelInfo, "@connections refused: gone", slog.String("operation", operation),
			slog.String("conn_id", id), slog.Int("status", status), slog.String("type", reason))
	}
}

// logLimiter is a token bucket for log lines: rate per second, bursts of burst. A flood of refusals
// writes a bounded number of lines; the rest are counted in switchboard_log_lines_dropped_total.
type logLimiter struct {
	rate, burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLogLimiter(rate, burst float64) *logLimiter {
	return &logLimiter{rate: rate, burst: burst, tokens: burst}
}

func (l *logLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// observedFunctions counts Lambda invocations, their outcomes and durations per function, and shows
// the events and answers of traced ones (trace.go).
type observedFunctions struct {
	next    lambda.Invoker
	m       *metrics.Metrics
	console *console.Console
}

// Invoke invokes next and counts the outcome: ok, function_error (the function failed), too_large (the
// event was over Lambda's 6 MiB limit and the function did not run) or error (it could not be reached).
func (f observedFunctions) Invoke(ctx context.Context, function string, payload []byte) (*lambda.Result, error) {
	start := time.Now()
	res, err := f.next.Invoke(ctx, function, payload)
	outcome := "ok"
	switch {
	case errors.Is(err, lambda.ErrRequestTooLarge):
		outcome = "too_large"
	case err != nil:
		outcome = "error"
	case res != nil && res.FunctionError != "":
		outcome = "function_error"
	}
	latency := time.Since(start)
	f.m.Invocation(function, outcome, latency)
	f.noteFunction(ctx, function, payload, res, latency, err)
	return res, err
}

// health answers /healthz (the process serves HTTP) and /readyz (listeners up, a snapshot loaded, not
// shutting down), for load balancers and Kubernetes probes.
func (g *Gateway) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := g.notReady(); why != "" {
			g.log.Info("readiness probe answered 503", "source_ip", r.RemoteAddr, "reason", why)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + why + "\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// notReady says why the gateway is not ready, or "" when it is.
func (g *Gateway) notReady() string {
	select {
	case <-g.ready:
	default:
		return "the data plane is not listening yet"
	}
	if g.stopping.Load() {
		return "shutting down"
	}
	if g.snapshots.Load() == nil {
		return "no configuration snapshot loaded"
	}
	return g.ClusterStatus()
}

// observeHandler serves /metrics, /healthz and /readyz, and everything else with next (nil: 404; the
// --metrics-listen listener). When signatures are enforced, /metrics from beyond loopback needs a
// credential on both listeners: a SigV4 signature (service apigateway, action apigateway:GET on the
// path), as the control plane does, or — because a Prometheus scrape configuration cannot sign with
// SigV4 (it offers basic auth, bearer tokens, OAuth 2.0 and TLS) — the bearer token of
// --metrics-token-file. Without either the scrape is refused and logged. Probes stay open; the profiler
// keeps the SigV4 rule on both.
func (g *Gateway) observeHandler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	g.health(mux)
	mux.Handle("GET /metrics", g.scrapeAuth(g.metrics.Handler()))
	if g.opts.Pprof {
		mux.Handle("/debug/pprof/", g.loopbackOrSigned(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", g.loopbackOrSigned(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("/debug/pprof/profile", g.loopbackOrSigned(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", g.loopbackOrSigned(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", g.loopbackOrSigned(http.HandlerFunc(pprof.Trace)))
	}
	if next != nil {
		mux.Handle(consolePrefix, g.consoleHandler())
		mux.Handle("/", next)
	}
	return mux
}

// scrapeAuth serves h as loopbackOrSigned does, and also to a request whose Authorization header carries
// the --metrics-token-file bearer token (compared in constant time).
func (g *Gateway) scrapeAuth(h http.Handler) http.Handler {
	if g.iam == nil {
		return h
	}
	guarded := g.loopbackOrSigned(h)
	token := []byte(g.opts.MetricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(token) > 0 {
			if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				if subtle.ConstantTimeCompare([]byte(got), token) == 1 {
					h.ServeHTTP(w, r)
					return
				}
				g.log.Info("observability request refused: wrong bearer token", "path", r.URL.Path,
					"source_ip", r.RemoteAddr, "status", http.StatusForbidden)
				g.metrics.Refused("observability", "token")
				awserr.Write(w, awserr.New(http.StatusForbidden, awserr.TypeForbidden, "The bearer token is not the one in --metrics-token-file"))
				return
			}
		}
		guarded.ServeHTTP(w, r)
	})
}

// loopbackOrSigned serves h to loopback clients, and to others only with a SigV4 signature allowed
// apigateway:GET on the path when signatures are enforced (refusals are logged by RequireIAM).
func (g *Gateway) loopbackOrSigned(h http.Handler) http.Handler {
	if g.iam == nil {
		return h
	}
	signed := controlapi.RequireIAM(h, g.iam.ForService("apigateway"), g.opts.Region)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fromLoopback(r) {
			h.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		signed.ServeHTTP(sw, r)
		if sw.status == http.StatusForbidden {
			g.log.Info("observability request refused: not signed or not allowed", "path", r.URL.Path,
				"source_ip", r.RemoteAddr, "status", sw.status, "type", w.Header().Get("X-Amzn-ErrorType"))
			g.metrics.Refused("observability", "signature")
		}
	})
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// fromLoopback reports whether r came from a loopback address.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
