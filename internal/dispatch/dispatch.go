// Package dispatch runs one WebSocket event through a route: it loads the current snapshot once, selects the
// route ($connect and $disconnect by lifecycle, messages by the API's route selection expression with the
// $default fallback), invokes the integration under its timeout, and turns the outcome into what API
// Gateway's clients see — a handshake status, a two-way reply, or one of the exact error frames.
package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/authorizer"
	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// Connection is what dispatch knows of a connection: fixed at $connect and repeated in every event.
type Connection struct {
	ID          string
	APIID       string
	Stage       string
	DomainName  string
	ConnectedAt int64 // epoch milliseconds
	Identity    proxyevent.Identity
	// Port and Proto say how the client reached the gateway (X-Forwarded-Port/-Proto in Lambda events).
	Port  string
	Proto string
	// Authorizer is the Lambda authorizer's output for this connection (requestContext.authorizer).
	Authorizer map[string]any

	// apiKey is the API key presented at $connect (by the API's apiKeySelectionExpression), kept when
	// some route of the stage needs one; set by Connect, read-only afterwards.
	apiKey   string
	inflight atomic.Int32 // messages of this connection being integrated in the background
}

// Caller is the connection an event came from, as far as dispatch needs to answer it.
type Caller interface {
	// Reply sends data to the connection; dispatch calls it only from goroutines serving that connection.
	Reply(data []byte) error
}

// Handshake is the $connect request.
type Handshake struct {
	Header http.Header
	Query  url.Values
	// Request is the handshake itself, for signature checks.
	Request *http.Request
	// Authorized, when set, is called once the $connect route's authorizer (if any) has allowed the
	// connection and its integration is about to run: the connection's identity, authorizer context and
	// API key are final, so work that needs them (a cluster's connection record) can run meanwhile.
	Authorized func()
}

// Decision is the outcome of $connect: Status 2xx accepts the connection, anything else rejects the
// handshake with that status and Body.
type Decision struct {
	Status      int
	Subprotocol string
	Body        []byte
}

// Accepted reports whether the handshake may be upgraded.
func (d Decision) Accepted() bool { return d.Status >= 200 && d.Status < 300 }

// Dispatcher routes events. It is safe for concurrent use.
type Dispatcher struct {
	snapshots *snapshot.Holder
	invokers  map[string]integration.Invoker
	log       *slog.Logger
	auth      Auth
	throttles sync.Map // *snapshot.Stage → *throttle.Stage: buckets live as long as the stage's snapshot
	// maxInflight is how many messages of one connection may be integrated concurrently; past it the
	// connection's read loop waits, so a flood from one client slows that client only.
	maxInflight int32
	background  *workers
	obs         Observer // nil observes nothing
}

// Observer is told how events end, for metrics and logs. Its methods are called on the event's goroutine
// and must not block.
type Observer interface {
	// Event reports one $connect, message or $disconnect as its client saw it.
	Event(o Outcome)
	// Integration reports one integration call: its HTTP status (0 when there was no answer), its
	// duration and its error.
	Integration(rc *proxyevent.RequestContext, status int, latency time.Duration, err error)
	// Authorization reports the outcome of one $connect authorization step: authType is AWS_IAM, CUSTOM or
	// API_KEY, outcome allowed, denied or error.
	Authorization(c *Connection, authType, outcome string)
}

// Outcome is one event as its client saw it.
type Outcome struct {
	Conn      *Connection
	EventType string // proxyevent.EventConnect, EventMessage or EventDisconnect
	RouteKey  string // the route chosen; empty when none matched
	RequestID string
	// Status is the handshake's status, or for a message 200 when no error frame was sent and otherwise
	// the status behind the error frame (403, 429, 500, 504).
	Status int
	// Error is the message of the error frame or refused handshake ("Forbidden", "Limit Exceeded", …).
	Error string
	// ClientError marks a refusal before any integration ran (API Gateway's ClientError metric); Reason
	// then says why in one word: no_route, throttled, api_key, iam, authorizer, no_stage.
	ClientError bool
	Reason      string
	// Context is the event's requestContext (nil for a handshake refused before it was made).
	Context *proxyevent.RequestContext
	// Body is the message a MESSAGE event carried (for dataTraceEnabled); observers must not keep it.
	Body []byte
	// Integrated is set when an integration was called, with its status (0 without an answer) and
	// duration.
	Integrated         bool
	IntegrationStatus  int
	IntegrationLatency time.Duration
}

// SetObserver makes obs the dispatcher's observer; call it before the first event.
func (d *Dispatcher) SetObserver(obs Observer) { d.obs = obs }

func (d *Dispatcher) observe(o Outcome) {
	if d.obs != nil {
		d.obs.Event(o)
	}
}

func (d *Dispatcher) observeAuth(c *Connection, authType, outcome string) {
	if d.obs != nil {
		d.obs.Authorization(c, authType, outcome)
	}
}

// refusal is an Outcome for a client error.
func refusal(c *Connection, eventType, routeKey string, rc *proxyevent.RequestContext, status int, message, reason string) Outcome {
	o := Outcome{Conn: c, EventType: eventType, RouteKey: routeKey, Status: status, Error: message, ClientError: true,
		Reason: reason, Context: rc}
	if rc != nil {
		o.RequestID = rc.RequestID
	}
	return o
}

// withBody sets o's message body.
func withBody(o Outcome, body []byte) Outcome {
	o.Body = body
	return o
}

// integrated records an integration call in o.
func (o *Outcome) integrated(resp *integration.Response, start time.Time) {
	o.Integrated, o.IntegrationLatency = true, time.Since(start)
	if resp != nil {
		o.IntegrationStatus = resp.StatusCode
	}
}

// Auth is what $connect authorization needs from the gateway.
type Auth struct {
	// Functions invokes Lambda authorizers.
	Functions lambda.Invoker
	// Region and Account make method ARNs.
	Region, Account string
	// IAM checks SigV4 signatures on AWS_IAM routes; nil when signatures are not enforced.
	IAM IAMChecker
	// APIKeys checks the keys of routes with apiKeyRequired; nil refuses every such request.
	APIKeys APIKeyChecker
}

// APIKeyChecker checks an API key presented for a stage against the usage plans, counting one request
// against the key's plan throttle and quota: status 0 lets the request through, 403 (missing, unknown or
// disabled key, or one in no plan for the stage) or 429 (plan throttle or quota) refuse it, and reason
// says why in words for the log. keyID is the key's ID when the key is known.
type APIKeyChecker interface {
	Check(apiID, stage, value string) (status int, keyID, reason string)
}

// IAMChecker verifies a signed request and the signer's permission for action on resource.
type IAMChecker interface {
	Check(r *http.Request, body []byte, action, resource string) error
}

// New returns a Dispatcher that reads snapshots from h and invokes integrations by type.
func New(h *snapshot.Holder, invokers map[string]integration.Invoker, auth Auth, log *slog.Logger) *Dispatcher {
	return &Dispatcher{snapshots: h, invokers: invokers, auth: auth, log: log, maxInflight: 16, background: newWorkers()}
}

// limiter returns the stage's throttling buckets.
func (d *Dispatcher) limiter(st *snapshot.Stage) *throttle.Stage {
	if v, ok := d.throttles.Load(st); ok {
		return v.(*throttle.Stage)
	}
	v, _ := d.throttles.LoadOrStore(st, throttle.NewStage(st.DefaultRouteSettings, st.RouteSettings, time.Now))
	return v.(*throttle.Stage)
}

// Wait blocks until every background message has finished and the goroutines that ran them have ended.
func (d *Dispatcher) Wait() { d.background.Wait() }

func (d *Dispatcher) stage(c *Connection) *snapshot.Stage {
	api := d.snapshots.Load().API(c.APIID)
	if api == nil {
		return nil
	}
	return api.Stages[c.Stage]
}

func (d *Dispatcher) requestContext(c *Connection, routeKey, eventType string, now time.Time) *proxyevent.RequestContext {
	id := awsid.NewRequestID()
	rc := &proxyevent.RequestContext{
		RouteKey:          routeKey,
		EventType:         eventType,
		ExtendedRequestID: id,
		RequestID:         id,
		MessageDirection:  "IN",
		Stage:             c.Stage,
		ConnectedAt:       c.ConnectedAt,
		Identity:          c.Identity,
		DomainName:        c.DomainName,
		ConnectionID:      c.ID,
		APIID:             c.APIID,
		Authorizer:        c.Authorizer,
		ForwardedPort:     c.Port,
		ForwardedProto:    c.Proto,
	}
	rc.SetRequestTime(now)
	return rc
}

// Connect runs the $connect route for a handshake. Without a $connect route, or one without an
// integration, the connection is accepted.
func (d *Dispatcher) Connect(ctx context.Context, c *Connection, hs *Handshake) Decision {
	st := d.stage(c)
	if st == nil {
		d.observe(refusal(c, proxyevent.EventConnect, resource.RouteKeyConnect, nil, http.StatusForbidden, "Forbidden", "no_stage"))
		return Decision{Status: http.StatusForbidden, Body: []byte(`{"message":"Forbidden"}`)}
	}
	if !d.limiter(st).Allow(resource.RouteKeyConnect) {
		d.observe(refusal(c, proxyevent.EventConnect, resource.RouteKeyConnect, nil, http.StatusTooManyRequests, "Too Many Requests", "throttled"))
		return Decision{Status: http.StatusTooManyRequests, Body: []byte(`{"message":"Too Many Requests"}`)}
	}
	route := st.Route(resource.RouteKeyConnect)
	if route == nil {
		keepKey(c, st, hs.Header, "")
		if d.obs != nil {
			d.observe(Outcome{Conn: c, EventType: proxyevent.EventConnect, Status: http.StatusOK,
				Context: d.requestContext(c, resource.RouteKeyConnect, proxyevent.EventConnect, time.Now())})
		}
		return Decision{Status: http.StatusOK}
	}
	rc := d.requestContext(c, resource.RouteKeyConnect, proxyevent.EventConnect, time.Now())
	if dec, ok := d.authorize(ctx, c, st, route, hs, rc); !ok {
		return dec
	}
	o := Outcome{Conn: c, EventType: proxyevent.EventConnect, RouteKey: resource.RouteKeyConnect, RequestID: rc.RequestID, Context: rc}
	dec := d.connect(ctx, route, st, hs, rc, &o)
	o.Status = dec.Status
	d.observe(o)
	return dec
}

// connect checks the $connect route's required request parameters and runs its integration, if it has
// one.
func (d *Dispatcher) connect(ctx context.Context, route *snapshot.Route, st *snapshot.Stage, hs *Handshake, rc *proxyevent.RequestContext, o *Outcome) Decision {
	req := &integration.Request{Context: rc, Header: hs.Header, Query: hs.Query, StageVariables: st.Variables}
	if missing := missingParameters(route, req); len(missing) > 0 {
		c := o.Conn
		d.log.Info("handshake refused: missing required request parameters", "conn_id", c.ID, "api_id", c.APIID,
			"stage", c.Stage, "route_key", route.Key, "request_id", rc.RequestID, "parameters", missing)
		o.Error, o.Reason = "Bad request", "missing_parameters"
		return Decision{Status: http.StatusBadRequest, Body: missingBody(missing)}
	}
	if route.Integration == nil {
		return Decision{Status: http.StatusOK}
	}
	if hs.Authorized != nil {
		hs.Authorized()
	}
	start := time.Now()
	var (
		resp *integration.Response
		err  error
	)
	if route.Integration.Type == resource.IntegrationMock {
		resp, err = d.invoke(ctx, route, req) // no I/O and a short chain: not worth a hand-off
	} else {
		resp, err = d.invokeOnWorker(ctx, route, req)
	}
	o.integrated(resp, start)
	switch {
	case errors.Is(err, integration.ErrTimeout):
		o.Error, o.Reason = "Endpoint request timed out", "integration_timeout"
		return Decision{Status: http.StatusGatewayTimeout, Body: []byte(`{"message": "Endpoint request timed out"}`)}
	case err != nil:
		o.Error, o.Reason = "Internal server error", "integration_error"
		return Decision{Status: http.StatusBadGateway, Body: []byte(`{"message": "Internal server error"}`)}
	}
	dec := Decision{Status: resp.StatusCode, Body: resp.Body}
	if resp.Header != nil {
		dec.Subprotocol = resp.Header.Get("Sec-WebSocket-Protocol")
	}
	return dec
}

// Message routes one text message from c. Integrations that do I/O run in the background (up to a limit
// per connection); MOCK integrations answer inline.
func (d *Dispatcher) Message(ctx context.Context, c *Connection, caller Caller, body []byte) {
	now := time.Now()
	st := d.stage(c)
	var route *snapshot.Route
	if st != nil {
		route = selectRoute(st, body)
	}
	if route == nil {
		rc := d.requestContext(c, "", proxyevent.EventMessage, now)
		d.observe(withBody(refusal(c, proxyevent.EventMessage, "", rc, http.StatusForbidden, "Forbidden", "no_route"), body))
		d.reply(caller, c, errorFrame("Forbidden", c.ID, rc.RequestID))
		return
	}
	rc := d.requestContext(c, route.Key, proxyevent.EventMessage, now)
	if !d.limiter(st).Allow(route.Key) {
		d.observe(withBody(refusal(c, proxyevent.EventMessage, route.Key, rc, http.StatusTooManyRequests, "Too Many Requests", "throttled"), body))
		d.reply(caller, c, errorFrame("Too Many Requests", c.ID, rc.RequestID))
		return
	}
	if route.APIKeyRequired {
		// The key kept from $connect, checked and counted against its usage plan for every message.
		status, keyID, reason := d.checkKey(c, st)
		if status != 0 {
			d.log.Info("message refused: API key", "conn_id", c.ID, "api_id", c.APIID, "stage", c.Stage,
				"route_key", route.Key, "request_id", rc.RequestID, "status", status, "reason", reason)
			d.observe(withBody(refusal(c, proxyevent.EventMessage, route.Key, rc, status, keyFrameMessage(status), "api_key"), body))
			d.reply(caller, c, errorFrame(keyFrameMessage(status), c.ID, rc.RequestID))
			return
		}
		rc.Identity.APIKey, rc.Identity.APIKeyID = c.apiKey, keyID
	}
	rc.MessageID = awsid.NewRequestID()
	req := &integration.Request{Context: rc, Body: body, StageVariables: st.Variables}
	if reason := validate(route, req); reason != "" {
		d.log.Info("message refused: request validation", "conn_id", c.ID, "api_id", c.APIID, "stage", c.Stage,
			"route_key", route.Key, "request_id", rc.RequestID, "reason", reason)
		d.reply(caller, c, errorFrame("Bad request body", c.ID, rc.RequestID))
		return
	}
	if route.Integration == nil || route.Integration.Type == resource.IntegrationMock || c.inflight.Load() >= d.maxInflight {
		d.message(ctx, c, caller, route, req)
		return
	}
	c.inflight.Add(1)
	d.background.Go(func() {
		defer c.inflight.Add(-1)
		d.message(ctx, c, caller, route, req)
	})
}

// selectRoute evaluates the route selection expression; $connect and $disconnect are never selected by it.
func selectRoute(st *snapshot.Stage, body []byte) *snapshot.Route {
	if key, ok := selexpr.SelectRouteKey(st.RouteSelection, body); ok && key != resource.RouteKeyConnect && key != resource.RouteKeyDisconnect {
		if r := st.Routes[key]; r != nil {
			return r
		}
	}
	return st.Routes[resource.RouteKeyDefault]
}

func (d *Dispatcher) message(ctx context.Context, c *Connection, caller Caller, route *snapshot.Route, req *integration.Request) {
	rc := req.Context
	if route.Integration == nil {
		d.log.Warn("route has no integration", "conn_id", c.ID, "api_id", c.APIID, "stage", c.Stage, "route_key", route.Key, "request_id", rc.RequestID)
		d.observe(Outcome{Conn: c, EventType: proxyevent.EventMessage, RouteKey: route.Key, RequestID: rc.RequestID,
			Status: http.StatusInternalServerError, Error: "Internal server error", Reason: "no_integration", Context: rc, Body: req.Body})
		d.reply(caller, c, errorFrame("Internal server error", c.ID, rc.RequestID))
		return
	}
	start := time.Now()
	resp, err := d.invoke(ctx, route, req)
	o := Outcome{Conn: c, EventType: proxyevent.EventMessage, RouteKey: route.Key, RequestID: rc.RequestID, Status: http.StatusOK, Context: rc, Body: req.Body}
	o.integrated(resp, start)
	switch {
	case errors.Is(err, integration.ErrTimeout):
		o.Status, o.Error, o.Reason = http.StatusGatewayTimeout, "Endpoint request timed out", "integration_timeout"
		d.observe(o)
		d.reply(caller, c, errorFrame("Endpoint request timed out", c.ID, rc.RequestID))
		return
	case errors.Is(err, integration.ErrUnsupportedMediaType):
		o.Status, o.Error, o.Reason = http.StatusUnsupportedMediaType, "Unsupported Media Type", "unsupported_media_type"
		d.observe(o)
		d.reply(caller, c, errorFrame("Unsupported Media Type", c.ID, rc.RequestID))
		return
	case err != nil:
		o.Status, o.Error, o.Reason = http.StatusInternalServerError, "Internal server error", "integration_error"
		d.observe(o)
		d.reply(caller, c, errorFrame("Internal server error", c.ID, rc.RequestID))
		return
	}
	d.observe(o)
	if route.TwoWay && len(resp.Body) > 0 {
		d.reply(caller, c, resp.Body)
	}
}

// Disconnect runs the $disconnect route, best effort: its answer is ignored.
func (d *Dispatcher) Disconnect(ctx context.Context, c *Connection, code int, reason string) {
	d.observeClose(c, code, reason)
	st := d.stage(c)
	if st == nil {
		return
	}
	route := st.Route(resource.RouteKeyDisconnect)
	if route == nil || route.Integration == nil {
		return
	}
	rc := d.requestContext(c, resource.RouteKeyDisconnect, proxyevent.EventDisconnect, time.Now())
	rc.DisconnectStatusCode = code
	rc.DisconnectReason = &reason
	start := time.Now()
	resp, err := d.invoke(ctx, route, &integration.Request{Context: rc, StageVariables: st.Variables})
	o := Outcome{Conn: c, EventType: proxyevent.EventDisconnect, RouteKey: route.Key, RequestID: rc.RequestID, Status: http.StatusOK, Context: rc}
	o.integrated(resp, start)
	if err != nil {
		o.Status, o.Error, o.Reason = http.StatusInternalServerError, "Internal server error", "integration_error"
	}
	d.observe(o)
}

// invokeOnWorker is invoke run on one of the background workers, waited for. Every handshake comes on a
// goroutine of its own (net/http's, new for each connection) whose stack the integration's call chain
// (the event, the invokers, the local function's hand-off) grew, copying it, on most handshakes with an
// integrated $connect: 4.7% of the gateway's CPU with $connect routed to a local function. A worker
// keeps its grown stack; the hand-off costs two goroutine switches.
func (d *Dispatcher) invokeOnWorker(ctx context.Context, route *snapshot.Route, req *integration.Request) (*integration.Response, error) {
	var (
		resp *integration.Response
		err  error
	)
	done := make(chan struct{})
	d.background.Go(func() {
		defer close(done)
		resp, err = d.invoke(ctx, route, req)
	})
	<-done
	return resp, err
}

func (d *Dispatcher) invoke(ctx context.Context, route *snapshot.Route, req *integration.Request) (*integration.Response, error) {
	in := route.Integration
	inv := d.invokers[in.Type]
	rc := req.Context
	if inv == nil {
		d.log.Error("no invoker for integration type", "integration_type", in.Type, "conn_id", rc.ConnectionID, "route_key", route.Key, "request_id", rc.RequestID)
		return nil, errors.New("unsupported integration type " + in.Type)
	}
	// validate → template → integrate → respond: the request template (MapRequest), the backend, the
	// integration response (MapResponse); proxy integrations pass through both.
	mapped, err := integration.MapRequest(in, req)
	if err == nil {
		start := time.Now()
		var resp *integration.Response
		resp, err = inv.Invoke(ctx, in, mapped)
		if d.obs != nil {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			d.obs.Integration(rc, status, time.Since(start), err)
		}
		if err == nil {
			if resp, err = integration.MapResponse(in, mapped, resp); err == nil {
				return resp, nil
			}
		}
	}
	d.log.Warn("integration failed", "conn_id", rc.ConnectionID, "api_id", rc.APIID, "stage", rc.Stage,
		"route_key", route.Key, "request_id", rc.RequestID, "integration_id", in.ID, "err", err)
	return nil, err
}

func (d *Dispatcher) reply(caller Caller, c *Connection, data []byte) {
	if err := caller.Reply(data); err != nil {
		d.log.Debug("reply not delivered", "conn_id", c.ID, "err", err)
	}
}

// errorFrame renders API Gateway's error frame byte for byte, including its irregular spacing:
// {"message": "Forbidden", "connectionId":"…", "requestId":"…"}
func errorFrame(message, connectionID, requestID string) []byte {
	b := make([]byte, 0, 64+len(message)+len(connectionID)+len(requestID))
	b = append(b, `{"message": "`...)
	b = append(b, message...)
	b = append(b, `", "connectionId":"`...)
	b = append(b, connectionID...)
	b = append(b, `", "requestId":"`...)
	b = append(b, requestID...)
	b = append(b, `"}`...)
	return b
}

// authorize runs the $connect route's authorization: SigV4 for AWS_IAM (when signatures are enforced),
// the Lambda authorizer for CUSTOM. ok is false when the handshake must be refused with dec.
func (d *Dispatcher) authorize(ctx context.Context, c *Connection, st *snapshot.Stage, route *snapshot.Route,
	hs *Handshake, rc *proxyevent.RequestContext) (dec Decision, ok bool) {
	usageIdentifierKey := "" // the authorizer's API key, for $context.authorizer.usageIdentifierKey
	methodARN := authorizer.MethodARN(d.auth.Region, d.auth.Account, c.APIID, c.Stage, resource.RouteKeyConnect)
	switch route.AuthorizationType {
	case "AWS_IAM":
		if d.auth.IAM == nil || hs.Request == nil {
			return Decision{}, true
		}
		if err := d.auth.IAM.Check(hs.Request, nil, "execute-api:Invoke", methodARN); err != nil {
			d.log.Info("handshake refused by IAM", "conn_id", c.ID, "api_id", c.APIID, "stage", c.Stage, "err", err)
			d.observeAuth(c, "AWS_IAM", "denied")
			d.observe(refusal(c, proxyevent.EventConnect, resource.RouteKeyConnect, rc, http.StatusForbidden, "Forbidden", "iam"))
			return Decision{Status: http.StatusForbidden, Body: []byte(`{"message":"Forbidden"}`)}, false
		}
		d.observeAuth(c, "AWS_IAM", "allowed")
	case "CUSTOM":
		au := route.Authorizer
		if au == nil {
			d.observeAuth(c, "CUSTOM", "error")
			d.observe(Outcome{Conn: c, EventType: proxyevent.EventConnect, RouteKey: resource.RouteKeyConnect, RequestID: rc.RequestID,
				Status: http.StatusInternalServerError, Error: "Internal server error", Reason: "no_authorizer", Context: rc})
			return Decision{Status: http.StatusInternalServerError, Body: []byte(`{"message": "Internal server error"}`)}, false
		}
		res := authorizer.Authorize(ctx, d.auth.Functions, authorizer.Config{AuthorizerID: au.ID, Name: au.Name, FunctionURI: au.URI, IdentitySource: au.IdentitySource},
			&authorizer.Request{Header: hs.Header, Query: hs.Query, StageVariables: st.Variables, Context: rc, MethodARN: methodARN})
		if !res.Allowed() {
			d.log.Info("handshake refused by authorizer", "conn_id", c.ID, "api_id", c.APIID, "stage", c.Stage, "authorizer", au.Name, "status", res.Status, "err", res.Err)
			outcome := "denied"
			if res.Status >= 500 {
				outcome = "error"
			}
			d.observeAuth(c, "CUSTOM", outcome)
			d.observe(refusal(c, proxyevent.EventConnect, resource.RouteKeyConnect, rc, res.Status, authorizerMessage(res.Status), "authorizer"))
			return Decision{Status: res.Status, Body: []byte(authorizerBody(res.Status))}, false
		}
		d.observeAuth(c, "CUSTOM", "allowed")
		c.Authorizer = res.RequestContextAuthorizer()
		rc.Authorizer = c.Authorizer
		usageIdentifierKey = res.UsageIdentifierKey
	}
	keepKey(c, st, hs.Header, usageIdentifierKey)
	if route.APIKeyRequired {
		status, keyID, reason := d.checkKey(c, st)
		if status != 0 {
			d.log.Info("handshake refused: API key", "conn_id", c.ID, "api_id", c.APIID, "stage", c.Stage,
				"route_key", resource.RouteKeyConnect, "status", status, "reason", reason)
			d.observeAuth(c, "API_KEY", "denied")
			d.observe(refusal(c, proxyevent.EventConnect, resource.RouteKeyConnect, rc, status, keyFrameMessage(status), "api_key"))
			return Decision{Status: status, Body: []byte(keyBody(status))}, false
		}
		d.observeAuth(c, "API_KEY", "allowed")
		// $connect required the key: every event of the connection shows it.
		c.Identity.APIKey, c.Identity.APIKeyID = c.apiKey, keyID
		rc.Identity = c.Identity
	}
	return Decision{}, true
}

// authorizerKeySelection is the apiKeySelectionExpression that takes the key from the Lambda authorizer.
const authorizerKeySelection = "$context.authorizer.usageIdentifierKey"

// keepKey reads the API key the handshake presents, by the stage's apiKeySelectionExpression — the
// x-api-key header, or the authorizer's usageIdentifierKey — and keeps it for the connection when some
// route of the stage requires a key, whether or not $connect itself does (AWS reads the key once, at
// $connect, and later messages are checked with it).
func keepKey(c *Connection, st *snapshot.Stage, h http.Header, usageIdentifierKey string) {
	if !st.NeedsAPIKey {
		return
	}
	if st.APIKeySelection == authorizerKeySelection {
		c.apiKey = usageIdentifierKey
		return
	}
	c.apiKey = h.Get("x-api-key")
}

// checkKey checks the connection's kept key for st, counting one request against its usage plan.
func (d *Dispatcher) checkKey(c *Connection, st *snapshot.Stage) (status int, keyID, reason string) {
	if d.auth.APIKeys == nil {
		return http.StatusForbidden, "", "no usage plans configured"
	}
	return d.auth.APIKeys.Check(st.API.ID, st.Name, c.apiKey)
}

func keyBody(status int) string {
	if status == http.StatusTooManyRequests {
		return `{"message":"Limit Exceeded"}`
	}
	return `{"message":"Forbidden"}`
}

// keyFrameMessage is the error frame's message for a refused API key: Limit Exceeded for 429.
func keyFrameMessage(status int) string {
	if status == http.StatusTooManyRequests {
		return "Limit Exceeded"
	}
	return "Forbidden"
}

// authorizerMessage is the message of a refused handshake, in API Gateway's words.
func authorizerMessage(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	}
	return "Internal server error"
}

// authorizerBody is the JSON body of a refused handshake, in API Gateway's words.
func authorizerBody(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return `{"message":"Unauthorized"}`
	case http.StatusForbidden:
		return `{"message":"Forbidden"}`
	}
	return `{"message": "Internal server error"}`
}
