// Package edge is the data plane's front door: it resolves each request's host and path to an API stage
// (or to the @connections API), decides the WebSocket handshake by running $connect before upgrading, and
// then owns the connection's session — the glue between the socket (wsconn), the registry and dispatch.
package edge

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awserr"
	"github.com/switchboard-gw/switchboard/internal/certs"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/mgmtapi"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/throttle"
	"github.com/switchboard-gw/switchboard/internal/wsconn"
)

// Edge is the data-plane http.Handler.
type Edge struct {
	ctx       context.Context // lifetime of the gateway: events run under it
	snapshots *snapshot.Holder
	registry  *registry.Registry
	dispatch  *dispatch.Dispatcher
	mgmt      *mgmtapi.Handler
	upgrader  *wsconn.Upgrader
	limits    wsconn.Config
	guard     *throttle.Guard
	log       *slog.Logger
	obs       Observer
	httpAPI   HTTPAPI // nil: HTTP APIs are not served
	records   Records // nil when the node is alone

	mu       sync.Mutex // guards the fields below
	live     map[*session]struct{}
	draining bool
	drained  chan struct{} // closed when draining and no session is left
}

// Config wires an Edge.
type Config struct {
	Snapshots *snapshot.Holder
	Registry  *registry.Registry
	Dispatch  *dispatch.Dispatcher
	Mgmt      *mgmtapi.Handler
	Limits    wsconn.Config
	Logger    *slog.Logger
	// Guard admits new connections (connection floods); nil admits all.
	Guard *throttle.Guard
	// Observer is told about connections, messages and refusals (metrics); nil observes nothing.
	Observer Observer
	// HTTPAPI serves requests that resolve to HTTP APIs; nil leaves them to the WebSocket endpoints.
	HTTPAPI HTTPAPI
	// Records keeps connections' records in a cluster's store; nil for a node alone.
	Records Records
}

// Observer is told what the edge sees, for metrics. Its methods must not block.
type Observer interface {
	// Opened and Closed bracket every accepted connection.
	Opened(c *dispatch.Connection)
	Closed(c *dispatch.Connection)
	// Message reports a data message from (in) or to (out) the connection; data must not be kept.
	Message(c *dispatch.Connection, out bool, data []byte)
	// Refused counts a request the edge refused itself: reason is one fixed word (connection_guard,
	// mutual_tls, unknown_endpoint, shutting_down, bad_handshake, upgrade_required, cluster).
	Refused(reason string, status int)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) Opened(*dispatch.Connection)                {}
func (nopObserver) Closed(*dispatch.Connection)                {}
func (nopObserver) Message(*dispatch.Connection, bool, []byte) {}
func (nopObserver) Refused(string, int)                        {}

// New returns an Edge. ctx bounds every event the edge starts.
func New(ctx context.Context, cfg Config) *Edge {
	var obs Observer = nopObserver{}
	if cfg.Observer != nil {
		obs = cfg.Observer
	}
	return &Edge{
		ctx:       ctx,
		snapshots: cfg.Snapshots,
		registry:  cfg.Registry,
		dispatch:  cfg.Dispatch,
		mgmt:      cfg.Mgmt,
		upgrader:  wsconn.NewUpgrader(cfg.Limits),
		limits:    cfg.Limits,
		guard:     cfg.Guard,
		log:       cfg.Logger,
		obs:       obs,
		httpAPI:   cfg.HTTPAPI,
		records:   cfg.Records,
		live:      make(map[*session]struct{}),
		drained:   make(chan struct{}),
	}
}

// ServeHTTP answers handshakes, plain HTTP requests to WebSocket endpoints, @connections calls, and
// hands requests for HTTP APIs to the HTTPAPI handler.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	set := e.snapshots.Load()
	if e.httpAPI != nil {
		if ht, ok := resolveHTTP(set, r.Host, r.URL.EscapedPath(), connOf(r)); ok {
			e.serveHTTPAPI(w, r, ht)
			return
		}
	}
	t := resolve(set, r.Host, r.URL.Path, connOf(r))
	switch {
	case t.mgmt:
		e.mgmt.Serve(w, r, t.scope, t.apiID, t.connID)
	case t.stage == nil:
		e.refuse(w, r, t)
	default:
		e.handshake(w, r, t)
	}
}

// connOf is the TLS state of the connection r arrived on, as resolve needs it.
func connOf(r *http.Request) conn {
	if r.TLS == nil {
		return conn{}
	}
	return conn{tls: true, serverName: r.TLS.ServerName, verified: len(r.TLS.VerifiedChains) > 0}
}

// refuse answers a request that reaches no endpoint, or one it may not use: 403 before any upgrade, as
// API Gateway answers unknown stages and disabled endpoints; a ForbiddenException on @connections paths,
// which the SDKs decode. The log says why: at info level for security refusals (mutual TLS), at debug
// level for unknown endpoints.
func (e *Edge) refuse(w http.ResponseWriter, r *http.Request, t target) {
	level := slog.LevelDebug
	if t.denied {
		level = slog.LevelInfo
	}
	e.log.Log(r.Context(), level, "request refused", "host", r.Host, "path", r.URL.Path,
		"source_ip", sourceIP(r.RemoteAddr), "management", t.mgmtPath, "reason", t.reason)
	why := "unknown_endpoint"
	if t.denied {
		why = "mutual_tls"
	}
	e.obs.Refused(why, http.StatusForbidden)
	if t.mgmtPath {
		awserr.Write(w, awserr.New(http.StatusForbidden, awserr.TypeForbidden, "Forbidden"))
		return
	}
	writeJSON(w, http.StatusForbidden, `{"message":"Forbidden"}`)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// handshake validates the upgrade request, runs $connect, and upgrades when it allows. A plain request
// anywhere under the stage gets 426; a handshake must name the stage exactly.
func (e *Edge) handshake(w http.ResponseWriter, r *http.Request, t target) {
	st := t.stage
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		e.log.Debug("plain HTTP request to a WebSocket endpoint", "host", r.Host, "path", r.URL.Path,
			"api_id", st.API.ID, "stage", st.Name, "status", http.StatusUpgradeRequired)
		e.obs.Refused("upgrade_required", http.StatusUpgradeRequired)
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		writeJSON(w, http.StatusUpgradeRequired, `{"message":"Upgrade Required: this is a WebSocket endpoint"}`)
		return
	}
	if t.extra {
		e.refuse(w, r, target{reason: t.reason + " " + st.API.ID + "/" + st.Name})
		return
	}
	if r.Method != http.MethodGet || r.Header.Get("Sec-WebSocket-Key") == "" {
		e.log.Info("handshake refused: not a valid WebSocket handshake", "host", r.Host, "path", r.URL.Path,
			"source_ip", sourceIP(r.RemoteAddr), "method", r.Method, "status", http.StatusBadRequest)
		e.obs.Refused("bad_handshake", http.StatusBadRequest)
		writeJSON(w, http.StatusBadRequest, `{"message":"Bad Request: not a valid WebSocket handshake"}`)
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		e.log.Info("handshake refused: WebSocket version", "host", r.Host, "path", r.URL.Path,
			"source_ip", sourceIP(r.RemoteAddr), "version", r.Header.Get("Sec-WebSocket-Version"), "status", http.StatusUpgradeRequired)
		e.obs.Refused("bad_handshake", http.StatusUpgradeRequired)
		w.Header().Set("Sec-WebSocket-Version", "13")
		writeJSON(w, http.StatusUpgradeRequired, `{"message":"Upgrade Required: WebSocket version 13 only"}`)
		return
	}
	// connectedAt is taken once, here, to the millisecond: the events, GetConnection and the logs all
	// report this value.
	now := time.Now()
	c := &dispatch.Connection{
		ID:          e.registry.NewConnectionID(),
		APIID:       st.API.ID,
		Stage:       st.Name,
		DomainName:  r.Host,
		ConnectedAt: now.UnixMilli(),
		Identity:    proxyevent.Identity{SourceIP: sourceIP(r.RemoteAddr), UserAgent: r.Header.Get("User-Agent")},
		Proto:       "http",
		Port:        localPort(r),
	}
	if r.TLS != nil {
		c.Proto = "https"
		if cc := certs.ClientCertFromState(r.TLS); cc != nil {
			c.Identity.ClientCert = cc
		}
	}
	// The connection guard's slot is held for the connection's life: released on every refusal below,
	// or by the read loop when the connection ends.
	release := func() {}
	if e.guard != nil {
		ok, rel := e.guard.Admit(c.Identity.SourceIP, now)
		if !ok {
			e.log.Info("handshake refused by the connection guard", "source_ip", c.Identity.SourceIP, "status", http.StatusTooManyRequests)
			e.obs.Refused("connection_guard", http.StatusTooManyRequests)
			writeJSON(w, http.StatusTooManyRequests, `{"message":"Too Many Requests"}`)
			return
		}
		release = rel
	}
	handedOff := false
	defer func() {
		if !handedOff {
			release()
		}
	}()
	hs := &dispatch.Handshake{Header: r.Header, Query: r.URL.Query(), Request: r}
	var recorded func() error // the connection's record, started while the $connect integration runs
	if e.records != nil {
		hs.Authorized = func() { recorded = e.records.Record(r.Context(), c) }
	}
	dec := e.dispatch.Connect(r.Context(), c, hs)
	if !dec.Accepted() {
		e.log.Info("handshake rejected by $connect", "conn_id", c.ID, "api_id", c.APIID, "stage", c.Stage, "status", dec.Status)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(dec.Status)
		_, _ = w.Write(dec.Body)
		e.unrecord(w, r, c, recorded)
		return
	}
	s := &session{edge: e, info: c}
	if !e.track(s) {
		e.log.Info("handshake refused: shutting down", "conn_id", c.ID, "source_ip", c.Identity.SourceIP, "status", http.StatusServiceUnavailable)
		e.obs.Refused("shutting_down", http.StatusServiceUnavailable)
		writeJSON(w, http.StatusServiceUnavailable, `{"message":"Service Unavailable: shutting down"}`)
		e.unrecord(w, r, c, recorded)
		return
	}
	if e.records != nil {
		if recorded == nil {
			recorded = e.records.Record(r.Context(), c)
		}
		if err := recorded(); err != nil {
			e.untrack(s)
			e.log.Error("handshake refused after $connect allowed it: the connection cannot be recorded in the cluster", "conn_id", c.ID, "err", err, "status", http.StatusServiceUnavailable)
			e.obs.Refused("cluster", http.StatusServiceUnavailable)
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"Service Unavailable"}`)
			return
		}
	}
	e.registry.Register(c.ID, s)
	conn, err := e.upgrader.Upgrade(w, r, dec.Subprotocol, time.UnixMilli(c.ConnectedAt), s)
	if err != nil {
		s.fail()
		e.registry.Unregister(c.ID)
		if e.records != nil {
			e.records.Forget(r.Context(), c, nil)
		}
		e.untrack(s)
		e.log.Info("upgrade failed", "conn_id", c.ID, "err", err)
		return
	}
	s.attach(conn)
	e.obs.Opened(c)
	e.log.Debug("connected", "conn_id", c.ID, "api_id", c.APIID, "stage", c.Stage, "connected_at", c.ConnectedAt)
	// The read loop runs on its own goroutine so that this handler returns and net/http releases the
	// request and its per-connection buffers: they would otherwise stay alive as long as the socket.
	// Drain waits for it through track/untrack.
	handedOff = true
	go func() {
		conn.Serve()
		e.obs.Closed(c)
		e.untrack(s)
		release()
	}()
}

// unrecord removes the record of a connection refused after its record was started, once the refusal
// is on its way: the connection never opened, so no $disconnect runs for it.
func (e *Edge) unrecord(w http.ResponseWriter, r *http.Request, c *dispatch.Connection, recorded func() error) {
	if recorded == nil {
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if recorded() == nil {
		e.records.Forget(context.WithoutCancel(r.Context()), c, nil)
	}
}

func (e *Edge) track(s *session) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.draining {
		return false
	}
	e.live[s] = struct{}{}
	return true
}

func (e *Edge) untrack(s *session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.live, s)
	if e.draining && len(e.live) == 0 {
		select {
		case <-e.drained:
		default:
			close(e.drained)
		}
	}
}

// Drain refuses new connections, closes every open one with 1001 "Going away" in batches paced over the
// first half of the time left before ctx's deadline (so that clients do not all reconnect in the same
// instant; drain.go), and waits until all have run $disconnect or ctx ends.
func (e *Edge) Drain(ctx context.Context) error {
	e.mu.Lock()
	e.draining = true
	sessions := make([]*session, 0, len(e.live))
	for s := range e.live {
		sessions = append(sessions, s)
	}
	if len(e.live) == 0 {
		select {
		case <-e.drained:
		default:
			close(e.drained)
		}
	}
	e.mu.Unlock()
	e.goAwayPaced(ctx, sessions) // drain.go
	select {
	case <-e.drained:
		return nil
	case <-ctx.Done():
		return errors.New("connections still open at the shutdown deadline")
	}
}

// Connections lists the accepted connections (the development console's view).
func (e *Edge) Connections() []*dispatch.Connection {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*dispatch.Connection, 0, len(e.live))
	for s := range e.live {
		out = append(out, s.info)
	}
	return out
}

// session finds the live session of connection id.
func (e *Edge) session(id string) *session {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.live {
		if s.info.ID == id {
			return s
		}
	}
	return nil
}

// Inject handles data as a message from connection id, as if its client had sent it (the development
// console's "send as the client"); registry.ErrGone when there is no such connection.
func (e *Edge) Inject(id string, data []byte) error {
	s := e.session(id)
	if s == nil {
		return registry.ErrGone
	}
	if c, gone := s.socket(); gone || c == nil {
		return registry.ErrGone
	}
	s.OnMessage(nil, data)
	return nil
}

// Session returns connection id's registry.Session (to post to or disconnect it), or nil.
func (e *Edge) Session(id string) registry.Session {
	if s := e.session(id); s != nil {
		return s
	}
	return nil
}

// Live counts open connections.
func (e *Edge) Live() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.live)
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// localPort is the gateway port the request arrived on.
func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	return ""
}

func sourceIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}
