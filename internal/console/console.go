// Package console is the development console: a web page embedded in the binary (no CDN, no build step)
// that shows the APIs, stages, routes and integrations being served, the live connections with their
// identity and authorizer context, and a live log of every connection's frames (in and out, the route
// chosen, the integration's status and latency, the exact request each integration or function received
// and what it answered, how the connection closed), with buttons to send a message as the client, post to
// the connection as a backend (@connections), and disconnect it.
//
// It reads the gateway through small interfaces and streams what happens as Server-Sent Events. The
// gateway mounts it on the control listener behind its access rules (loopback, or SigV4 when IAM is
// enforced); actions also need the X-Switchboard-Console header (which a cross-site form cannot send)
// and a loopback Host (no DNS rebinding).
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

//go:embed assets
var assets embed.FS

// ErrGone is what Actions return for a connection that does not exist (any more): the page shows AWS's
// 410.
var ErrGone = errors.New("connection gone")

// Connection is one live connection as the console shows it.
type Connection struct {
	ID          string         `json:"connectionId"`
	APIID       string         `json:"apiId"`
	Stage       string         `json:"stage"`
	ConnectedAt int64          `json:"connectedAt"`
	SourceIP    string         `json:"sourceIp"`
	UserAgent   string         `json:"userAgent,omitempty"`
	Authorizer  map[string]any `json:"authorizer,omitempty"`
}

// Gateway is what the console reads and does.
type Gateway interface {
	// Snapshot is the configuration being served.
	Snapshot() *snapshot.Set
	// Connections lists the live connections (in a cluster, every node's).
	Connections() []Connection
	// SendAsClient handles data as a message from connection id (routed like one the client sent).
	SendAsClient(ctx context.Context, id string, data []byte) error
	// Post sends data to connection id, as @connections PostToConnection does.
	Post(ctx context.Context, id string, data []byte) error
	// Disconnect closes connection id, as DeleteConnection does.
	Disconnect(ctx context.Context, id string) error
}

// Event is one thing that happened, as the page receives it.
type Event struct {
	Type         string      `json:"type"` // connect, disconnect, in, out, route, integration
	Time         int64       `json:"time"` // epoch milliseconds
	Connection   *Connection `json:"connection,omitempty"`
	ConnectionID string      `json:"connectionId"`
	Data         string      `json:"data,omitempty"` // a frame's text, cut at maxData bytes
	Truncated    bool        `json:"truncated,omitempty"`
	RouteKey     string      `json:"routeKey,omitempty"`
	Status       int         `json:"status,omitempty"`
	Error        string      `json:"error,omitempty"`
	LatencyMs    *float64    `json:"integrationLatencyMs,omitempty"`
	// CloseCode and CloseReason say how a connection closed (disconnect events): what its $disconnect
	// event carries as disconnectStatusCode and disconnectReason, also when there is no such route.
	CloseCode   int    `json:"closeCode,omitempty"`
	CloseReason string `json:"closeReason,omitempty"`
	// Integration is what one integration or function call received and answered (integration events).
	Integration *Trace `json:"integration,omitempty"`
}

// Trace is one integration or function call as its backend saw it: the exact request it received (for
// AWS_PROXY and Lambda integrations the event the function was invoked with, for the others the body
// after request templates) and what it answered, before response templates.
type Trace struct {
	IntegrationID   string `json:"integrationId,omitempty"`
	IntegrationType string `json:"integrationType,omitempty"`
	IntegrationURI  string `json:"integrationUri,omitempty"`
	// Function is the Lambda function invoked, when there was one; FunctionError its
	// X-Amz-Function-Error (the response is then the function's error document).
	Function      string `json:"function,omitempty"`
	FunctionError string `json:"functionError,omitempty"`
	// Authorizer is set when the function is a Lambda authorizer.
	Authorizer bool `json:"authorizer,omitempty"`
	// Request and Response are cut at maxTrace bytes.
	Request           string  `json:"request"`
	RequestTruncated  bool    `json:"requestTruncated,omitempty"`
	Response          string  `json:"response"`
	ResponseTruncated bool    `json:"responseTruncated,omitempty"`
	Status            int     `json:"status,omitempty"` // the integration's HTTP status; 0 without an answer
	Error             string  `json:"error,omitempty"`  // why the call failed
	LatencyMs         float64 `json:"latencyMs"`
}

// maxData bounds the frame text an event carries.
const maxData = 4096

// maxTrace bounds each of an integration event's request and response.
const maxTrace = 32 << 10

// subscriberQueue bounds each page's pending events; a page that falls behind loses events (counted).
const subscriberQueue = 1024

// Console serves the page, its API and the event stream.
type Console struct {
	gw      Gateway
	log     *slog.Logger
	dropped func() // an event not delivered to a slow page

	mu   sync.Mutex
	subs map[chan []byte]struct{}
	n    atomic.Int32 // len(subs), read without the lock on every event
}

// New returns a Console; dropped (may be nil) is called for each event a slow page did not get.
func New(gw Gateway, log *slog.Logger, dropped func()) *Console {
	if dropped == nil {
		dropped = func() {}
	}
	return &Console{gw: gw, log: log, dropped: dropped, subs: map[chan []byte]struct{}{}}
}

// Watching reports whether a page is subscribed; publishers skip building events otherwise.
func (c *Console) Watching() bool { return c.n.Load() > 0 }

// Publish sends ev to every subscribed page.
func (c *Console) Publish(ev Event) {
	if !c.Watching() {
		return
	}
	if ev.Time == 0 {
		ev.Time = time.Now().UnixMilli()
	}
	if len(ev.Data) > maxData {
		ev.Data, ev.Truncated = ev.Data[:maxData], true
	}
	if t := ev.Integration; t != nil {
		if len(t.Request) > maxTrace {
			t.Request, t.RequestTruncated = t.Request[:maxTrace], true
		}
		if len(t.Response) > maxTrace {
			t.Response, t.ResponseTruncated = t.Response[:maxTrace], true
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- b:
		default:
			c.dropped()
		}
	}
}

// Handler serves the console under prefix (e.g. "/console/").
func (c *Console) Handler(prefix string) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET "+prefix, http.StripPrefix(prefix, http.FileServerFS(static)))
	mux.HandleFunc("GET "+prefix+"api/state", c.state)
	mux.HandleFunc("GET "+prefix+"api/events", c.events)
	mux.HandleFunc("POST "+prefix+"api/connections/{id}/{action}", c.action)
	return securityHeaders(mux)
}

// securityHeaders keeps the page in its own frame and to its own origin.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

type routeJSON struct {
	RouteKey          string `json:"routeKey"`
	AuthorizationType string `json:"authorizationType,omitempty"`
	APIKeyRequired    bool   `json:"apiKeyRequired,omitempty"`
	TwoWay            bool   `json:"twoWay,omitempty"`
	IntegrationType   string `json:"integrationType,omitempty"`
	IntegrationURI    string `json:"integrationUri,omitempty"`
}

type stageJSON struct {
	APIID  string      `json:"apiId"`
	Name   string      `json:"apiName"`
	Stage  string      `json:"stage"`
	Routes []routeJSON `json:"routes"`
}

type stateJSON struct {
	SnapshotVersion uint64       `json:"snapshotVersion"`
	Stages          []stageJSON  `json:"stages"`
	Connections     []Connection `json:"connections"`
}

func (c *Console) state(w http.ResponseWriter, _ *http.Request) {
	out := stateJSON{Stages: []stageJSON{}, Connections: c.gw.Connections()}
	if set := c.gw.Snapshot(); set != nil {
		out.SnapshotVersion = set.Version
		for _, api := range set.APIs {
			for _, st := range api.Stages {
				sj := stageJSON{APIID: api.ID, Name: api.Name, Stage: st.Name, Routes: []routeJSON{}}
				for _, r := range st.Routes {
					rj := routeJSON{RouteKey: r.Key, AuthorizationType: r.AuthorizationType, APIKeyRequired: r.APIKeyRequired, TwoWay: r.TwoWay}
					if in := r.Integration; in != nil {
						rj.IntegrationType, rj.IntegrationURI = in.Type, in.URI
					}
					sj.Routes = append(sj.Routes, rj)
				}
				slices.SortFunc(sj.Routes, func(a, b routeJSON) int { return strings.Compare(a.RouteKey, b.RouteKey) })
				out.Stages = append(out.Stages, sj)
			}
		}
		slices.SortFunc(out.Stages, func(a, b stageJSON) int {
			return strings.Compare(a.APIID+"/"+a.Stage, b.APIID+"/"+b.Stage)
		})
	}
	if out.Connections == nil {
		out.Connections = []Connection{}
	}
	slices.SortFunc(out.Connections, func(a, b Connection) int { return int(a.ConnectedAt - b.ConnectedAt) })
	writeJSON(w, http.StatusOK, out)
}

// events streams Server-Sent Events until the page goes away.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan []byte, subscriberQueue)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.n.Store(int32(len(c.subs)))
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.n.Store(int32(len(c.subs)))
		c.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, ": switchboard console\n\n")
	flusher.Flush()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-ch:
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			flusher.Flush()
		case <-keepAlive.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// ActionHeader must be on every action request: browsers send it only from the console's own origin.
const ActionHeader = "X-Switchboard-Console"

// maxActionBody bounds what a button sends (a message is at most 128 KiB).
const maxActionBody = 128 << 10

func (c *Console) action(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(ActionHeader) == "" || !loopbackHost(r.Host) {
		c.log.Info("console action refused", "source_ip", r.RemoteAddr, "host", r.Host, "reason", "missing "+ActionHeader+" header or not a loopback Host")
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Forbidden: console actions need the " + ActionHeader + " header and a loopback Host"})
		return
	}
	id, act := r.PathValue("id"), r.PathValue("action")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxActionBody+1))
	if err != nil || len(body) > maxActionBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request entity too large: the maximum is 131072 bytes"})
		return
	}
	switch act {
	case "send":
		err = c.gw.SendAsClient(r.Context(), id, body)
	case "post":
		err = c.gw.Post(r.Context(), id, body)
	case "disconnect":
		err = c.gw.Disconnect(r.Context(), id)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "unknown action " + act + "; want send, post or disconnect"})
		return
	}
	switch {
	case errors.Is(err, ErrGone):
		// What @connections answers for a connection that is gone.
		c.log.Info("console action on a gone connection", "conn_id", id, "action", act, "status", http.StatusGone)
		writeJSON(w, http.StatusGone, map[string]string{"message": "GoneException: connection " + id + " is gone (410)"})
	case err != nil:
		c.log.Warn("console action failed", "conn_id", id, "action", act, "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"message": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"message": act + " done"})
	}
}

// loopbackHost reports whether host (with or without port) names the loopback interface.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
