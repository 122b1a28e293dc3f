package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/authorizer/policy"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// Lambda REQUEST authorizers of HTTP APIs, as AWS describes them in "Working with AWS Lambda authorizers
// for HTTP APIs" (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-
// authorizer.html):
//
//   - authorizerPayloadFormatVersion 1.0 sends the REST-style event (methodArn, identitySource and
//     authorizationToken as one comma-joined string) and expects an IAM policy; 2.0 sends the HTTP-style
//     event (routeArn, identitySource as an array) and expects an IAM policy, or with
//     enableSimpleResponses {"isAuthorized": bool, "context": {...}}.
//   - Identity sources are $request.header.NAME (case-insensitive), $request.querystring.NAME
//     (case-sensitive), $context.NAME and $stageVariables.NAME. When one is missing or empty the client
//     gets 401 and the function is not invoked.
//   - With authorizerResultTtlInSeconds above zero and at least one identity source, results are cached
//     under the identity sources' values: a cached IAM policy is evaluated again for each request's route
//     ARN, a cached simple response allows or denies every route.
//   - The context's values may be any JSON; they reach integrations as requestContext.authorizer.lambda.
//   - A function that fails with the message "Unauthorized" gives 401; a policy or simple response that
//     does not allow gives 403 {"message":"Forbidden"}; a function that cannot be invoked, fails otherwise,
//     times out (DefaultTimeout, AWS's 10 s) or returns an invalid response gives 500.

// HTTP API response bodies of authorizer refusals.
const (
	UnauthorizedBody        = `{"message":"Unauthorized"}`
	ForbiddenBody           = `{"message":"Forbidden"}`
	InternalServerErrorBody = `{"message":"Internal Server Error"}`
)

// MaxHTTPCacheEntries bounds an HTTP authorizer's result cache.
const MaxHTTPCacheEntries = 10_000

// MaxResultTTL is the largest authorizerResultTtlInSeconds AWS accepts.
const MaxResultTTL = time.Hour

// HTTPConfig is an HTTP API REQUEST authorizer.
type HTTPConfig struct {
	AuthorizerID string
	Name         string
	// FunctionURI is the authorizerUri, as for WebSocket authorizers (Config.FunctionURI).
	FunctionURI string
	// IdentitySource lists $request.header.NAME, $request.querystring.NAME, $context.NAME and
	// $stageVariables.NAME values.
	IdentitySource []string
	// PayloadFormatVersion is authorizerPayloadFormatVersion, "1.0" or "2.0".
	PayloadFormatVersion string
	// EnableSimpleResponses lets a 2.0 function answer {"isAuthorized": …}.
	EnableSimpleResponses bool
	// ResultTTL is authorizerResultTtlInSeconds; zero disables caching.
	ResultTTL time.Duration
	// Timeout bounds the invocation; zero means DefaultTimeout.
	Timeout time.Duration
}

func (c HTTPConfig) label() string {
	if c.Name != "" {
		return c.Name
	}
	return c.AuthorizerID
}

// identitySource is one parsed identity source.
type identitySource struct {
	kind, name string // kind: header, querystring, context, stageVariables
}

func parseHTTPIdentitySource(s string) (identitySource, error) {
	for _, k := range []string{"$request.header.", "$request.querystring.", "$context.", "$stageVariables."} {
		if strings.HasPrefix(s, k) && len(s) > len(k) {
			kind := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(k, "$"), "request."), ".")
			return identitySource{kind: kind, name: s[len(k):]}, nil
		}
	}
	return identitySource{}, fmt.Errorf("%w: identity source %q is not $request.header.NAME, $request.querystring.NAME, $context.NAME or $stageVariables.NAME", ErrConfig, s)
}

// HTTPAuthorizer runs one HTTP API Lambda authorizer and caches its results. It is safe for concurrent
// use; build it when a snapshot is compiled so that the cache lives as long as the authorizer does.
type HTTPAuthorizer struct {
	inv      lambda.Invoker
	cfg      HTTPConfig
	function string
	sources  []identitySource
	now      func() time.Time

	mu    sync.Mutex // guards cache
	cache map[string]cachedResult
}

type cachedResult struct {
	expires time.Time
	out     *httpResponse
}

// NewHTTP checks cfg and returns its authorizer. now is the clock of the cache; nil means time.Now.
func NewHTTP(inv lambda.Invoker, cfg HTTPConfig, now func() time.Time) (*HTTPAuthorizer, error) {
	fn, err := functionFromURI(cfg.FunctionURI)
	if err != nil {
		return nil, fmt.Errorf("authorizer %s: %w", cfg.label(), err)
	}
	switch cfg.PayloadFormatVersion {
	case proxyevent.PayloadV1, proxyevent.PayloadV2:
	default:
		return nil, fmt.Errorf("authorizer %s: %w: authorizerPayloadFormatVersion %q is not 1.0 or 2.0", cfg.label(), ErrConfig, cfg.PayloadFormatVersion)
	}
	if cfg.EnableSimpleResponses && cfg.PayloadFormatVersion != proxyevent.PayloadV2 {
		return nil, fmt.Errorf("authorizer %s: %w: enableSimpleResponses needs authorizerPayloadFormatVersion 2.0", cfg.label(), ErrConfig)
	}
	if cfg.ResultTTL < 0 || cfg.ResultTTL > MaxResultTTL {
		return nil, fmt.Errorf("authorizer %s: %w: authorizerResultTtlInSeconds must be 0 to 3600", cfg.label(), ErrConfig)
	}
	if cfg.ResultTTL > 0 && len(cfg.IdentitySource) == 0 {
		return nil, fmt.Errorf("authorizer %s: %w: caching needs at least one identity source", cfg.label(), ErrConfig)
	}
	a := &HTTPAuthorizer{inv: inv, cfg: cfg, function: fn, now: now, cache: map[string]cachedResult{}}
	if a.now == nil {
		a.now = time.Now
	}
	for _, s := range cfg.IdentitySource {
		src, err := parseHTTPIdentitySource(s)
		if err != nil {
			return nil, fmt.Errorf("authorizer %s: %w", cfg.label(), err)
		}
		a.sources = append(a.sources, src)
	}
	return a, nil
}

// HTTPRequest is the request being authorized.
type HTTPRequest struct {
	// Event is the request as the events need it (proxyevent.HTTPRequest, Authorizer unset).
	Event *proxyevent.HTTPRequest
	// RouteARN is the ARN the policy must allow (RouteARN).
	RouteARN string
	// Context returns a $context variable, for $context identity sources.
	Context func(name string) string
}

// HTTPDecision is the outcome of an HTTP API authorization.
type HTTPDecision struct {
	// Status is 0 when the request may proceed, else 401, 403 or 500.
	Status int
	// Body is the response body for a refusal.
	Body string
	// Err says why, for the log; nil when allowed.
	Err error
	// PrincipalID is the policy response's principalId ("" for simple responses).
	PrincipalID string
	// Context is the function's context (any JSON values), non-nil when allowed.
	Context map[string]any
	// Cached says the result came from the cache, not from the function.
	Cached bool
	// Latency is how long the function took (zero when cached or not invoked).
	Latency time.Duration
}

// Allowed says whether the request may proceed.
func (d HTTPDecision) Allowed() bool { return d.Status == 0 }

// EventAuthorizer returns requestContext.authorizer for the integration's event: the context under
// lambda (both payload formats read it there in Switchboard; AWS documents 2.0's), nil when not allowed.
func (d HTTPDecision) EventAuthorizer() *proxyevent.HTTPAuthorizer {
	if !d.Allowed() {
		return nil
	}
	return &proxyevent.HTTPAuthorizer{Lambda: d.Context}
}

func httpFail(status int, err error) HTTPDecision {
	d := HTTPDecision{Status: status, Err: err, Body: InternalServerErrorBody}
	switch status {
	case http.StatusUnauthorized:
		d.Body = UnauthorizedBody
	case http.StatusForbidden:
		d.Body = ForbiddenBody
	}
	return d
}

// RouteARN is the ARN an HTTP API authorizer's policy is evaluated on:
// arn:{partition}:execute-api:{region}:{account}:{apiID}/{stage}/{method}/{path without its leading "/"}
// (AWS's example: arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request).
func RouteARN(region, account, apiID, stage, method, path string) string {
	return "arn:" + Partition(region) + ":execute-api:" + region + ":" + account + ":" + apiID + "/" + stage + "/" + method + "/" + strings.TrimPrefix(path, "/")
}

// identityValues returns the identity sources' values; ok is false when one is missing or empty.
func (a *HTTPAuthorizer) identityValues(req *HTTPRequest) ([]string, string, bool) {
	vals := make([]string, 0, len(a.sources))
	for i, s := range a.sources {
		var v string
		switch s.kind {
		case "header":
			v = strings.Join(req.Event.Header.Values(s.name), ",")
		case "querystring":
			v = queryValue(req.Event.RawQuery, s.name)
		case "context":
			if req.Context != nil {
				v = req.Context(s.name)
			}
		case "stageVariables":
			v = req.Event.StageVariables[s.name]
		}
		if v == "" {
			return nil, a.cfg.IdentitySource[i], false
		}
		vals = append(vals, v)
	}
	return vals, "", true
}

// queryValue returns a query parameter's values joined with commas, as 2.0 events carry them.
func queryValue(raw, name string) string {
	var vs []string
	for part := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		if unescape(k) == name {
			vs = append(vs, unescape(v))
		}
	}
	return strings.Join(vs, ",")
}

// Authorize decides req: see the comment at the top of this file.
func (a *HTTPAuthorizer) Authorize(ctx context.Context, req *HTTPRequest) HTTPDecision {
	if req == nil || req.Event == nil {
		return httpFail(http.StatusInternalServerError, fmt.Errorf("%w: no request", ErrConfig))
	}
	vals, missing, ok := a.identityValues(req)
	if !ok {
		return httpFail(http.StatusUnauthorized, fmt.Errorf("%w: %s", ErrIdentitySource, missing))
	}
	key := strings.Join(vals, "\x00")
	if a.cfg.ResultTTL > 0 {
		a.mu.Lock()
		c, hit := a.cache[key]
		a.mu.Unlock()
		if hit && a.now().Before(c.expires) {
			d := a.decide(c.out, req.RouteARN)
			d.Cached = true
			return d
		}
	}

	var payload []byte
	if a.cfg.PayloadFormatVersion == proxyevent.PayloadV1 {
		payload = proxyevent.HTTPAuthorizerEventV1(req.Event, req.RouteARN, vals)
	} else {
		payload = proxyevent.HTTPAuthorizerEventV2(req.Event, req.RouteARN, vals)
	}
	timeout := a.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := time.Now()
	res, err := a.inv.Invoke(ictx, a.function, payload)
	latency := time.Since(started)

	switch {
	case ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded):
		return httpFail(http.StatusInternalServerError, fmt.Errorf("%w: %s did not answer within %v", ErrFunction, a.function, timeout))
	case err != nil:
		return httpFail(http.StatusInternalServerError, fmt.Errorf("%w: invoke %s: %w", ErrFunction, a.function, err))
	case res == nil:
		return httpFail(http.StatusInternalServerError, fmt.Errorf("%w: invoke %s: no result", ErrFunction, a.function))
	case res.FunctionError != "":
		msg := errorMessage(res.Payload)
		if msg == "Unauthorized" {
			return httpFail(http.StatusUnauthorized, ErrUnauthorized)
		}
		return httpFail(http.StatusInternalServerError, fmt.Errorf("%w: %s (%s): %q", ErrFunction, a.function, res.FunctionError, truncate(msg)))
	}
	out, err := a.parse(res.Payload)
	if err != nil {
		return httpFail(http.StatusInternalServerError, fmt.Errorf("function %s: %w", a.function, err))
	}
	if a.cfg.ResultTTL > 0 {
		a.store(key, out)
	}
	d := a.decide(out, req.RouteARN)
	d.Latency = latency
	return d
}

func (a *HTTPAuthorizer) store(key string, out *httpResponse) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= MaxHTTPCacheEntries {
		for k, c := range a.cache {
			if !now.Before(c.expires) {
				delete(a.cache, k)
			}
		}
		for k := range a.cache { // still full: make room
			if len(a.cache) < MaxHTTPCacheEntries {
				break
			}
			delete(a.cache, k)
		}
	}
	a.cache[key] = cachedResult{expires: now.Add(a.cfg.ResultTTL), out: out}
}

// httpResponse is a well-formed HTTP API authorizer result: a simple response or a policy.
type httpResponse struct {
	simple       bool
	isAuthorized bool
	principalID  string
	policy       *policy.Document
	context      map[string]any
}

func (a *HTTPAuthorizer) decide(out *httpResponse, routeARN string) HTTPDecision {
	ctx := out.context
	if ctx == nil {
		ctx = map[string]any{}
	}
	if out.simple {
		if !out.isAuthorized {
			return httpFail(http.StatusForbidden, fmt.Errorf("%w: isAuthorized is false", ErrDenied))
		}
		return HTTPDecision{Context: ctx}
	}
	if effect := out.policy.Evaluate(InvokeAction, routeARN); effect != policy.Allow {
		d := httpFail(http.StatusForbidden, fmt.Errorf("%w: %s on %s: %v", ErrDenied, InvokeAction, routeARN, effect))
		d.PrincipalID = out.principalID
		return d
	}
	return HTTPDecision{PrincipalID: out.principalID, Context: ctx}
}

// parse reads a result: with enableSimpleResponses, an object with a boolean isAuthorized (and an
// optional context object); otherwise an IAM policy response (principalId, policyDocument, context).
// Results over MaxResultSize are malformed, as for WebSocket authorizers.
func (a *HTTPAuthorizer) parse(payload []byte) (*httpResponse, error) {
	members, err := resultMembers(payload)
	if err != nil {
		return nil, err
	}
	out := &httpResponse{}
	if raw, ok := members["context"]; ok && !bytes.Equal(raw, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.context); err != nil || out.context == nil {
			return nil, fmt.Errorf("%w: context is not an object", ErrMalformed)
		}
	}
	if a.cfg.EnableSimpleResponses {
		out.simple = true
		raw, ok := members["isAuthorized"]
		if !ok || json.Unmarshal(raw, &out.isAuthorized) != nil || bytes.Equal(raw, []byte("null")) {
			return nil, fmt.Errorf("%w: isAuthorized missing or not a boolean", ErrMalformed)
		}
		return out, nil
	}
	if raw, ok := members["principalId"]; ok && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &out.principalID); err != nil {
			return nil, fmt.Errorf("%w: principalId is not a string", ErrMalformed)
		}
	}
	raw, ok := members["policyDocument"]
	if !ok {
		return nil, fmt.Errorf("%w: no policyDocument", ErrMalformed)
	}
	doc, err := policy.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: policyDocument: %w", ErrMalformed, err)
	}
	out.policy = doc
	return out, nil
}

func unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// HTTPSet keeps one HTTPAuthorizer per API stage and configuration, so that result caches survive
// snapshot swaps: an unchanged authorizer in a new snapshot keeps its cached results, a changed one starts
// empty. Each stage has its own cache, as on AWS, where ResetAuthorizersCache flushes one stage's; a
// stage's cache epoch (snapshot.Stage.AuthorizerCacheEpoch, which that call raises) that differs from the
// one the authorizer was made under replaces it with an empty one. It is safe for concurrent use.
type HTTPSet struct {
	inv lambda.Invoker
	now func() time.Time

	mu sync.Mutex
	m  map[string]epochAuthorizer
}

// epochAuthorizer is an HTTPSet entry: the authorizer and the cache epoch it was made under.
type epochAuthorizer struct {
	a     *HTTPAuthorizer
	epoch uint64
}

// NewHTTPSet returns an empty set whose authorizers invoke through inv.
func NewHTTPSet(inv lambda.Invoker, now func() time.Time) *HTTPSet {
	return &HTTPSet{inv: inv, now: now, m: map[string]epochAuthorizer{}}
}

// Authorizer returns the authorizer of apiID's stage with cfg, making it on first use or when epoch
// differs from the one it was made under. Errors are NewHTTP's.
func (s *HTTPSet) Authorizer(apiID, stage string, epoch uint64, cfg HTTPConfig) (*HTTPAuthorizer, error) {
	key := strings.Join(append([]string{apiID, stage, cfg.AuthorizerID, cfg.FunctionURI, cfg.PayloadFormatVersion,
		fmt.Sprint(cfg.EnableSimpleResponses, cfg.ResultTTL, cfg.Timeout)}, cfg.IdentitySource...), "\x00")
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && e.epoch == epoch {
		return e.a, nil
	}
	a, err := NewHTTP(s.inv, cfg, s.now)
	if err != nil {
		return nil, err
	}
	if _, ok := s.m[key]; !ok && len(s.m) >= MaxHTTPAuthorizers {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[key] = epochAuthorizer{a: a, epoch: epoch}
	return a, nil
}

// MaxHTTPAuthorizers bounds an HTTPSet.
const MaxHTTPAuthorizers = 1000
