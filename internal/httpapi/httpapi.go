// Package httpapi serves HTTP APIs: the second edge over the shared engine, beside the WebSocket one. The
// edge resolves a request's host and path to an HTTP API stage (edge.HTTPAPI); Handler then runs it
// through AWS's pipeline — CORS preflight, route match, throttling, body limit, authorization,
// integration (Lambda through lambda.Invoker, HTTP_PROXY through an http.Transport), response mapping and
// CORS headers — and answers with AWS's statuses and bodies
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api.html).
//
// AWS's answers, as the spec's §11 gathers them:
//   - no stage, no route, or a route without an integration: 404 {"message":"Not Found"};
//   - a body over 10 MB: 413 {"message":"Request Entity Too Large"};
//   - a request line and headers over 10,240 bytes: 431 {"message":"Request Header Fields Too Large"}
//     (AWS documents the quota, not the answer);
//   - throttled: 429 {"message":"Too Many Requests"};
//   - the integration's timeout passing: 503 {"message":"Service Unavailable"};
//   - a function error, a malformed result, an unreachable backend: 500 {"message":"Internal Server Error"}.
//
// Every answer carries apigw-requestid, and every refusal is logged with its reason.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/certs"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// MaxBodyBytes is the largest request body an HTTP API accepts (10 MB, AWS's HTTP API quota).
const MaxBodyBytes = 10 << 20

// MaxHeaderBytes is the largest request line plus headers an HTTP API accepts: 10,240 bytes, AWS's HTTP
// API quota "Request line and header values"
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html). The data-plane
// port's own bound (16 KB) is higher because WebSocket handshakes share the port and AWS documents no
// such quota for them.
const MaxHeaderBytes = 10240

// AWS's HTTP API answers.
const (
	bodyNotFound       = `{"message":"Not Found"}`
	bodyTooLarge       = `{"message":"Request Entity Too Large"}`
	bodyHeadersTooBig  = `{"message":"Request Header Fields Too Large"}`
	bodyThrottled      = `{"message":"Too Many Requests"}`
	bodyUnavailable    = `{"message":"Service Unavailable"}`
	bodyInternalError  = proxyevent.InternalServerErrorBody
	headerAPIRequestID = "Apigw-Requestid"
)

// Outcome is one request as the observer sees it: enough for metrics, access logs and the console.
type Outcome struct {
	APIID, Stage, RouteKey, RequestID string
	Method, Path, Protocol            string
	SourceIP, UserAgent, DomainName   string
	Time                              time.Time
	Status                            int
	ResponseLength                    int64
	Latency                           time.Duration
	// Integrated is set when the integration was called; its status, latency and error follow.
	Integrated         bool
	IntegrationStatus  int
	IntegrationLatency time.Duration
	IntegrationError   string
	// Reason names a refusal or failure in one word (not_found, throttled, too_large, headers_too_large, unauthorized,
	// forbidden, integration_timeout, integration_error, bad_response); "" on success.
	Reason string
	// Authorizer is what the route's authorizer established, nil without one.
	Authorizer *proxyevent.HTTPAuthorizer
}

// Observer is told about every request. Request must not block or keep o.
type Observer interface {
	Request(o *Outcome)
}

// Decision is an authorizer's answer: Status 0 allows (Authorizer is then what requestContext.authorizer
// carries); any other status refuses with Body and Header (www-authenticate of a JWT authorizer), Reason
// saying why for the log.
type Decision struct {
	Authorizer *proxyevent.HTTPAuthorizer
	Status     int
	Body       string
	Header     http.Header
	Reason     string
}

// AuthRequest is a request whose route has an authorizer.
type AuthRequest struct {
	Stage *snapshot.Stage
	Route *snapshot.Route
	// Event is the request as the integration would see it, without Authorizer.
	Event *proxyevent.HTTPRequest
	// HTTP is the client's request as received: a SigV4 signature covers its path, which may hold the
	// local /{apiId} prefix that Event.RawPath leaves out. Its body has been read into Event.Body.
	HTTP *http.Request
	// RoutePath is the path after the stage (or API mapping key): the path of the route ARN.
	RoutePath string
}

// Authorizer runs the authorizer of a route (JWT, Lambda or AWS_IAM).
type Authorizer interface {
	Authorize(ctx context.Context, req *AuthRequest) Decision
}

// Config wires a Handler.
type Config struct {
	// Functions invokes Lambda functions (local ones and the Lambda Invoke API).
	Functions lambda.Invoker
	// Transport carries HTTP_PROXY requests; nil means a clone of http.DefaultTransport.
	Transport *http.Transport
	// Authorizer runs route authorizers; nil refuses routes that have one (500, logged).
	Authorizer Authorizer
	// Observer is told about every request; nil observes nothing.
	Observer Observer
	Logger   *slog.Logger
	// AccountID is requestContext.accountId.
	AccountID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Services calls AWS services for integrations with an integrationSubtype; nil answers them 500.
	Services ServiceCaller
	// LogAllowed, when set, is asked before each line about a refused or failed request, so that a flood
	// of bad requests cannot flood the log (the gateway's limiter counts what it drops); metrics and
	// access logs still see every request.
	LogAllowed func() bool
}

// Handler serves HTTP API requests. It is safe for concurrent use.
type Handler struct {
	functions lambda.Invoker
	services  ServiceCaller
	proxy     *proxy
	auth      Authorizer
	obs       Observer
	log       *slog.Logger
	logOK     func() bool
	account   string
	now       func() time.Time

	mu        sync.Mutex // guards throttles
	throttles map[[2]string]*stageThrottle
}

// stageThrottle is the throttling of one stage as one snapshot compiled it.
type stageThrottle struct {
	stage *snapshot.Stage
	t     *throttle.Stage
}

// New returns a Handler.
func New(cfg Config) *Handler {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logOK := cfg.LogAllowed
	if logOK == nil {
		logOK = func() bool { return true }
	}
	return &Handler{logOK: logOK, functions: cfg.Functions, services: cfg.Services, proxy: newProxy(cfg.Transport), auth: cfg.Authorizer, obs: cfg.Observer,
		log: log, account: cfg.AccountID, now: now, throttles: make(map[[2]string]*stageThrottle)}
}

// CloseIdleConnections closes the HTTP_PROXY transport's idle connections (at shutdown).
func (h *Handler) CloseIdleConnections() { h.proxy.closeIdle() }

// throttleOf returns the stage's throttling, made again when a new snapshot replaced the stage.
func (h *Handler) throttleOf(st *snapshot.Stage) *throttle.Stage {
	key := [2]string{st.API.ID, st.Name}
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.throttles[key]; t != nil && t.stage == st {
		return t.t
	}
	t := &stageThrottle{stage: st, t: throttle.NewStage(st.DefaultRouteSettings, st.RouteSettings, h.now)}
	h.throttles[key] = t
	return t.t
}

// request is one request on its way through the pipeline.
type request struct {
	w         http.ResponseWriter
	r         *http.Request
	stage     *snapshot.Stage
	routePath string
	out       Outcome
	start     time.Time
}

// ServeHTTPAPI answers r for stage (edge.HTTPAPI).
func (h *Handler) ServeHTTPAPI(w http.ResponseWriter, r *http.Request, stage *snapshot.Stage, routePath, rawPath string) {
	now := h.now()
	q := &request{w: w, r: r, stage: stage, routePath: routePath, start: now, out: Outcome{
		APIID: stage.API.ID, Stage: stage.Name, RequestID: awsid.NewRequestID(), Method: r.Method, Path: rawPath,
		Protocol: r.Proto, SourceIP: sourceIP(r.RemoteAddr), UserAgent: r.UserAgent(), DomainName: hostName(r.Host), Time: now,
	}}
	w.Header()[headerAPIRequestID] = []string{q.out.RequestID} // already canonical: no Set to canonicalize it
	defer h.finish(q)
	if n := headerSize(r, rawPath); n > MaxHeaderBytes {
		h.refuse(q, http.StatusRequestHeaderFieldsTooLarge, bodyHeadersTooBig, "headers_too_large",
			"the request line and headers take "+strconv.Itoa(n)+" bytes, over "+strconv.Itoa(MaxHeaderBytes)+" bytes")
		return
	}
	route, params := stage.HTTPRoutes.Match(r.Method, routePath)
	if route == nil && stage.API.CORS != nil && isPreflight(r) {
		// A preflight no route takes is answered by the gateway; one that an OPTIONS, ANY or $default
		// route takes is routed like any request, authorizer included, as on AWS.
		h.preflight(q, stage.API.CORS, r.Header.Get("Origin"))
		return
	}
	if route == nil {
		h.refuse(q, http.StatusNotFound, bodyNotFound, "not_found", "no route matches "+r.Method+" "+routePath)
		return
	}
	q.out.RouteKey = route.Key
	if !h.throttleOf(stage).Allow(route.Key) {
		h.refuse(q, http.StatusTooManyRequests, bodyThrottled, "throttled", "the route's throttling limit is reached")
		return
	}
	if r.ContentLength > MaxBodyBytes {
		h.refuse(q, http.StatusRequestEntityTooLarge, bodyTooLarge, "too_large", "the body is over 10 MB")
		return
	}
	in := route.Integration
	if in == nil {
		h.refuse(q, http.StatusNotFound, bodyNotFound, "not_found", "route "+route.Key+" has no integration")
		return
	}
	var ev *proxyevent.HTTPRequest
	if route.AuthorizationType != resource.DefaultAuthorizationType && route.AuthorizationType != "" || in.Type == resource.IntegrationAWSProxy {
		body, ok := h.readBody(q)
		if !ok {
			return
		}
		ev = h.event(q, params, body)
	}
	if route.AuthorizationType != resource.DefaultAuthorizationType && route.AuthorizationType != "" {
		if !h.authorize(q, route, ev) {
			return
		}
	}
	switch {
	case in.Type == resource.IntegrationHTTPProxy:
		h.proxy.serve(h, q, route, in, params, ev)
	case in.Type == resource.IntegrationAWSProxy && in.Subtype == "":
		h.invoke(q, in, ev)
	case in.Type == resource.IntegrationAWSProxy:
		h.callService(q, in, params, ev)
	default:
		h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error",
			errors.New("integration type "+in.Type+" is not served for HTTP APIs"))
	}
}

// readBody reads the whole body within MaxBodyBytes; a larger one is answered 413 and ok is false.
func (h *Handler) readBody(q *request) ([]byte, bool) {
	if q.r.Body == nil || q.r.Body == http.NoBody {
		return nil, true
	}
	var body []byte
	var err error
	if n := q.r.ContentLength; n > 0 && n <= MaxBodyBytes {
		// net/http ends the body at its Content-Length (HTTP/1.1 and HTTP/2 alike), within the limit.
		body, err = readAll(q.r.Body, n)
		if err == nil && int64(len(body)) > n {
			err = errors.New("the body is longer than its Content-Length")
		}
	} else {
		body, err = readAll(http.MaxBytesReader(nil, q.r.Body, MaxBodyBytes), n)
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.refuse(q, http.StatusRequestEntityTooLarge, bodyTooLarge, "too_large", "the body is over 10 MB")
		return nil, false
	case err != nil:
		h.log.Debug("HTTP API request body not read", "request_id", q.out.RequestID, "err", err)
		h.refuse(q, http.StatusBadRequest, `{"message":"Bad Request"}`, "bad_request", "the body could not be read: "+err.Error())
		return nil, false
	}
	return body, true
}

// event builds the request as the payload formats describe it.
func (h *Handler) event(q *request, params map[string]string, body []byte) *proxyevent.HTTPRequest {
	r := q.r
	ev := &proxyevent.HTTPRequest{
		Method: r.Method, RawPath: q.out.Path, Path: decodePath(q.out.Path), RawQuery: r.URL.RawQuery, Protocol: r.Proto,
		Host: r.Host, Header: r.Header, Body: body, SourceIP: q.out.SourceIP, ForwardedProto: "http", ForwardedPort: localPort(r),
		RouteKey: q.out.RouteKey, PathParameters: params, StageVariables: q.stage.Variables,
		AccountID: h.account, APIID: q.out.APIID, Stage: q.out.Stage, RequestID: q.out.RequestID,
		DomainName: q.out.DomainName, DomainPrefix: domainPrefix(q.out.DomainName), Time: q.start,
	}
	if r.TLS != nil {
		ev.ForwardedProto = "https"
		if cc := certs.ClientCertFromState(r.TLS); cc != nil {
			ev.ClientCert = cc
		}
	}
	return ev
}

// authorize runs the route's authorizer; false means the request was answered.
func (h *Handler) authorize(q *request, route *snapshot.Route, ev *proxyevent.HTTPRequest) bool {
	if h.auth == nil {
		h.log.Error("HTTP API route has an authorizer but none is wired", "api_id", q.out.APIID, "stage", q.out.Stage,
			"route_key", route.Key, "authorization_type", route.AuthorizationType, "request_id", q.out.RequestID)
		h.answer(q, http.StatusInternalServerError, bodyInternalError, "authorizer_error")
		return false
	}
	d := h.auth.Authorize(q.r.Context(), &AuthRequest{Stage: q.stage, Route: route, Event: ev, HTTP: q.r, RoutePath: q.routePath})
	if d.Status != 0 {
		reason := "unauthorized"
		switch d.Status {
		case http.StatusForbidden:
			reason = "forbidden"
		case http.StatusInternalServerError:
			reason = "authorizer_error"
		}
		for k, vs := range d.Header {
			q.w.Header()[k] = vs
		}
		h.refuse(q, d.Status, d.Body, reason, d.Reason)
		return false
	}
	ev.Authorizer = d.Authorizer
	q.out.Authorizer = d.Authorizer
	return true
}

// invoke runs a Lambda integration: the event in the integration's payload format, the result read by
// the same format's rules.
func (h *Handler) invoke(q *request, in *snapshot.Integration, ev *proxyevent.HTTPRequest) {
	fn, err := lambda.FunctionFromURI(in.URI)
	if err != nil {
		h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error", err)
		return
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), in.Timeout)
	defer cancel()
	started := h.now()
	res, err := h.functions.Invoke(ctx, fn, proxyevent.HTTPEvent(in.PayloadFormatVersion, ev))
	q.out.Integrated, q.out.IntegrationLatency = true, h.now().Sub(started)
	switch {
	case err != nil:
		h.callFailed(ctx, q, err, "the integration did not answer within "+in.Timeout.String())
		return
	case res.FunctionError != "":
		q.out.IntegrationStatus = http.StatusOK
		h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error",
			errors.New("function error "+res.FunctionError+": "+truncate(string(res.Payload), 256)))
		return
	}
	q.out.IntegrationStatus = http.StatusOK
	resp, err := proxyevent.ParseHTTPResponse(in.PayloadFormatVersion, res.Payload)
	if err != nil {
		h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "bad_response", err)
		return
	}
	header := q.w.Header()
	for k, vs := range resp.Header {
		header[k] = vs
	}
	status := h.mapResponse(q, in, resp.StatusCode, header, ev)
	h.cors(q, header)
	header.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	q.w.WriteHeader(status)
	n, _ := q.w.Write(resp.Body)
	q.out.Status, q.out.ResponseLength = status, int64(n)
}

// callFailed answers an integration call that returned err: 503 {"message":"Service Unavailable"}
// when ctx, the call's context, passed the integration's timeout while the client was still there
// (timeout says so in the log), 500 {"message":"Internal Server Error"} otherwise.
func (h *Handler) callFailed(ctx context.Context, q *request, err error, timeout string) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && q.r.Context().Err() == nil {
		h.integrationFailed(q, http.StatusServiceUnavailable, bodyUnavailable, "integration_timeout", errors.New(timeout))
		return
	}
	h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error", err)
}

// integrationFailed answers a failed integration and logs why.
func (h *Handler) integrationFailed(q *request, status int, body, reason string, err error) {
	q.out.IntegrationError = err.Error()
	if h.logOK() {
		h.log.Info("HTTP API integration failed", "api_id", q.out.APIID, "stage", q.out.Stage, "route_key", q.out.RouteKey,
			"request_id", q.out.RequestID, "status", status, "reason", reason, "err", err)
	}
	h.answer(q, status, body, reason)
}

// refuse answers a request the gateway refuses itself, and logs why.
func (h *Handler) refuse(q *request, status int, body, reason, why string) {
	if h.logOK() {
		h.log.Info("HTTP API request refused", "api_id", q.out.APIID, "stage", q.out.Stage, "method", q.out.Method,
			"path", q.out.Path, "route_key", q.out.RouteKey, "source_ip", q.out.SourceIP, "request_id", q.out.RequestID,
			"status", status, "reason", why)
	}
	h.answer(q, status, body, reason)
}

// answer writes a JSON answer of the gateway's own.
func (h *Handler) answer(q *request, status int, body, reason string) {
	header := q.w.Header()
	header.Set("Content-Type", "application/json")
	header.Set("Content-Length", strconv.Itoa(len(body)))
	h.cors(q, header)
	q.w.WriteHeader(status)
	n, _ := q.w.Write([]byte(body))
	q.out.Status, q.out.ResponseLength, q.out.Reason = status, int64(n), reason
}

func (h *Handler) finish(q *request) {
	q.out.Latency = h.now().Sub(q.start)
	if h.obs != nil {
		h.obs.Request(&q.out)
	}
}

func sourceIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// domainPrefix is the first label of the domain name (AWS's domainPrefix: the API ID on execute-api).
func domainPrefix(domain string) string {
	if i := strings.IndexByte(domain, '.'); i > 0 {
		return domain[:i]
	}
	return domain
}

// localPort is the port the client connected to, for X-Forwarded-Port.
func localPort(r *http.Request) string {
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr: // the listeners' usual address: its port without formatting the IP
		return strconv.Itoa(a.Port)
	case net.Addr:
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	if r.TLS != nil {
		return "443"
	}
	return "80"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// headerSize is the size of r's request line and headers as AWS would count them: "METHOD path?query
// PROTO" with path the one AWS sees (rawPath, without the local /{apiId} prefix), then "Name: value" for
// the Host and every header value, each line with its CRLF.
func headerSize(r *http.Request, rawPath string) int {
	n := len(r.Method) + 1 + len(rawPath) + 1 + len(r.Proto) + 2
	if r.URL.RawQuery != "" {
		n += 1 + len(r.URL.RawQuery)
	}
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, vs := range r.Header {
		for _, v := range vs {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n
}
