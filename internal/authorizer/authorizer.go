// Package authorizer runs Lambda REQUEST authorizers on $connect, the CUSTOM authorization type of a
// WebSocket API (spec §5.3): it checks the identity sources, sends the authorizer event, reads the IAM
// policy the function returns and turns the outcome into the handshake status API Gateway would answer.
//
// Choices where AWS's behaviour is not documented (spec §15):
//   - Timeout (§15.16): DefaultTimeout is 10 s, the Lambda-authorizer timeout HTTP APIs document, not the
//     29 s integration timeout: a handshake should not hang for half a minute on authorization, and an
//     authorizer that needs more than 10 s is broken. A timeout is a 500, like any authorizer failure.
//   - Context types (§15.15): requestContext.authorizer of later Lambda events keeps the JSON types the
//     function returned (numbers stay numbers, booleans stay booleans), as REST APIs' Lambda events do;
//     $context.authorizer.* in templates and selection expressions is stringified (Decision.ContextVar).
//   - A context value that is null is dropped rather than rejected; objects and arrays are rejected (500).
//   - requestContext.authorizer carries principalId, integrationLatency (the authorizer call's duration in
//     whole milliseconds, a JSON number, as REST and WebSocket events of Lambda-authorized connections
//     carry it and as the aws-lambda TypeScript definitions type it: APIGatewayEventLambdaAuthorizerContext
//     has principalId: string and integrationLatency: number) and the context keys, flattened. Context
//     keys named principalId or integrationLatency are overridden by API Gateway's own values.
//   - The 8 KB result limit is applied to the function's response with insignificant whitespace removed.
package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/authorizer/policy"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// DefaultTimeout is how long Authorize waits for the function when Config.Timeout is zero; see the package
// documentation for why 10 s.
const DefaultTimeout = 10 * time.Second

// MaxResultSize is the largest authorizer result API Gateway accepts (8 KB); larger ones are malformed.
const MaxResultSize = 8 << 10

// MaxPolicyResourceLength is the longest Resource entry of a returned policy API Gateway accepts.
const MaxPolicyResourceLength = 512

// InvokeAction is the IAM action a policy must allow on the method ARN for the connection to proceed.
const InvokeAction = "execute-api:Invoke"

// Errors that explain a Decision's status, for logs. Match them with errors.Is on Decision.Err.
var (
	// ErrIdentitySource: an identity source is missing or empty (401, function not invoked).
	ErrIdentitySource = errors.New("identity source missing or empty")
	// ErrUnauthorized: the function failed with the error message "Unauthorized" (401).
	ErrUnauthorized = errors.New("authorizer returned Unauthorized")
	// ErrDenied: the returned policy does not allow execute-api:Invoke on the method ARN (403).
	ErrDenied = errors.New("policy does not allow the request")
	// ErrMalformed: the function's result is not a valid authorizer response (500).
	ErrMalformed = errors.New("malformed authorizer response")
	// ErrFunction: the function failed with another error, or timed out (500).
	ErrFunction = errors.New("authorizer function error")
	// ErrConfig: the authorizer or the request cannot be used as configured (500).
	ErrConfig = errors.New("authorizer misconfigured")
)

// Config is a REQUEST authorizer (apigatewayv2 Authorizer) as Authorize needs it.
type Config struct {
	AuthorizerID string
	Name         string
	// FunctionURI is the authorizerUri: arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/
	// functions/{functionArn}/invocations as AWS documents it, a bare function ARN, or (a Switchboard
	// extension, for locally run functions) a plain function name.
	FunctionURI string
	// IdentitySource lists the values that must be present and non-empty before the function is invoked:
	// route.request.header.{name}, route.request.querystring.{name}, stageVariables.{name},
	// context.{name}; a leading "$" is tolerated.
	IdentitySource []string
	// Timeout bounds the invocation; zero means DefaultTimeout.
	Timeout time.Duration
}

// Validate reports configuration errors Authorize would otherwise answer with 500 on every handshake,
// so that they can be rejected when the configuration is loaded.
func (c Config) Validate() error {
	if _, err := functionFromURI(c.FunctionURI); err != nil {
		return fmt.Errorf("authorizer %s: %w", c.label(), err)
	}
	for _, s := range c.IdentitySource {
		if _, _, err := parseIdentitySource(s); err != nil {
			return fmt.Errorf("authorizer %s: %w", c.label(), err)
		}
	}
	return nil
}

func (c Config) label() string {
	if c.Name != "" {
		return c.Name
	}
	return c.AuthorizerID
}

// Request is the $connect handshake being authorized.
type Request struct {
	// Header holds the handshake's headers as net/http gives them, plus Host (which net/http keeps
	// apart); the event adds what AWS adds (see Event).
	Header http.Header
	// Query is the handshake's query string.
	Query url.Values
	// StageVariables are the stage's variables.
	StageVariables map[string]string
	// Context is the requestContext the $connect event will carry, with the connection id already
	// allocated (the authorizer sees it too).
	Context *proxyevent.RequestContext
	// MethodARN is the ARN the policy must allow, normally MethodARN(region, account, apiID, stage,
	// "$connect").
	MethodARN string
}

// Decision is the outcome of a $connect authorization.
type Decision struct {
	// Status is 0 when the connection may proceed, else the handshake status: 401, 403 or 500.
	Status int
	// PrincipalID is the principalId the function returned (also set on 403, for logs).
	PrincipalID string
	// Context is the function's context object, values string, bool or json.Number.
	Context map[string]any
	// UsageIdentifierKey is the API key the function chose, for usage plans.
	UsageIdentifierKey string
	// Err explains a non-zero Status, wrapping one of the Err* values of this package; nil when allowed.
	Err error
	// Latency is how long the function took to answer (zero when it was not invoked): it becomes
	// requestContext.authorizer.integrationLatency.
	Latency time.Duration
}

// Allowed reports whether the connection may proceed.
func (d Decision) Allowed() bool { return d.Status == 0 }

// RequestContextAuthorizer returns requestContext.authorizer for the Lambda events of an allowed
// connection: principalId, integrationLatency (whole milliseconds, a JSON number) and the context keys,
// flattened, with their JSON types kept. It is nil when the decision is not an allow.
func (d Decision) RequestContextAuthorizer() map[string]any {
	if !d.Allowed() {
		return nil
	}
	m := make(map[string]any, len(d.Context)+2)
	for k, v := range d.Context {
		m[k] = v
	}
	m["principalId"] = d.PrincipalID
	m["integrationLatency"] = d.Latency.Milliseconds()
	return m
}

// ContextVar returns $context.authorizer.{name} as mapping templates and selection expressions see it:
// principalId, integrationLatency, usageIdentifierKey, or a context key, stringified (numbers as the
// function wrote them, booleans as true/false). It is "" for unknown names.
func (d Decision) ContextVar(name string) string {
	switch name {
	case "principalId":
		return d.PrincipalID
	case "integrationLatency":
		return strconv.FormatInt(d.Latency.Milliseconds(), 10)
	case "usageIdentifierKey":
		if d.UsageIdentifierKey != "" {
			return d.UsageIdentifierKey
		}
	}
	switch v := d.Context[name].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// partitions maps region prefixes to the ARN partitions that are not "aws".
var partitions = []struct{ prefix, partition string }{
	{"cn-", "aws-cn"},
	{"us-gov-", "aws-us-gov"},
	{"us-iso-", "aws-iso"},
	{"us-isob-", "aws-iso-b"},
}

// MethodARN returns the method ARN of a WebSocket route:
// arn:{partition}:execute-api:{region}:{account}:{apiID}/{stage}/{routeKey} (no HTTP verb, unlike REST
// APIs), the partition following from the region as in AWS.
func MethodARN(region, account, apiID, stage, routeKey string) string {
	return "arn:" + Partition(region) + ":execute-api:" + region + ":" + account + ":" + apiID + "/" + stage + "/" + routeKey
}

// Partition is the ARN partition of region: aws, aws-cn or aws-us-gov.
func Partition(region string) string {
	for _, p := range partitions {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// Authorize runs cfg's function for req and decides the handshake, per spec §5.3.6:
//   - an identity source missing or empty → 401, without invoking the function;
//   - the function failing with errorMessage exactly "Unauthorized" → 401;
//   - a policy that does not allow execute-api:Invoke on req.MethodARN (explicit Deny or no match) → 403;
//   - a malformed result, any other function error, a timeout, a failed invocation → 500;
//   - otherwise the connection is allowed (Status 0).
//
// The function is invoked on every call: AWS does not cache WebSocket authorizer results.
func Authorize(ctx context.Context, inv lambda.Invoker, cfg Config, req *Request) Decision {
	if req == nil || req.Context == nil {
		return fail(http.StatusInternalServerError, fmt.Errorf("%w: request has no requestContext", ErrConfig))
	}
	for _, src := range cfg.IdentitySource {
		present, err := identityPresent(src, req)
		if err != nil {
			return fail(http.StatusInternalServerError, fmt.Errorf("authorizer %s: %w", cfg.label(), err))
		}
		if !present {
			return fail(http.StatusUnauthorized, fmt.Errorf("%w: %s", ErrIdentitySource, src))
		}
	}
	if req.MethodARN == "" {
		return fail(http.StatusInternalServerError, fmt.Errorf("%w: no method ARN", ErrConfig))
	}
	function, err := functionFromURI(cfg.FunctionURI)
	if err != nil {
		return fail(http.StatusInternalServerError, fmt.Errorf("authorizer %s: %w", cfg.label(), err))
	}

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := time.Now()
	res, err := inv.Invoke(ictx, function, Event(req))
	latency := time.Since(started)
	d := decide(ctx, ictx, function, timeout, req.MethodARN, res, err)
	d.Latency = latency
	return d
}

// decide turns the function's answer into a Decision.
func decide(ctx, ictx context.Context, function string, timeout time.Duration, methodARN string, res *lambda.Result, err error) Decision {
	switch {
	case ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded):
		return fail(http.StatusInternalServerError, fmt.Errorf("%w: %s did not answer within %v", ErrFunction, function, timeout))
	case err != nil:
		return fail(http.StatusInternalServerError, fmt.Errorf("%w: invoke %s: %w", ErrFunction, function, err))
	case res == nil:
		return fail(http.StatusInternalServerError, fmt.Errorf("%w: invoke %s: no result", ErrFunction, function))
	case res.FunctionError != "":
		msg := errorMessage(res.Payload)
		if msg == "Unauthorized" {
			return fail(http.StatusUnauthorized, ErrUnauthorized)
		}
		return fail(http.StatusInternalServerError, fmt.Errorf("%w: %s (%s): %q", ErrFunction, function, res.FunctionError, truncate(msg)))
	}

	out, err := parseResponse(res.Payload)
	if err != nil {
		return fail(http.StatusInternalServerError, fmt.Errorf("function %s: %w", function, err))
	}
	d := Decision{PrincipalID: out.principalID, Context: out.context, UsageIdentifierKey: out.usageIdentifierKey}
	if effect := out.policy.Evaluate(InvokeAction, methodARN); effect != policy.Allow {
		d.Status = http.StatusForbidden
		d.Err = fmt.Errorf("%w: %s on %s: %v", ErrDenied, InvokeAction, methodARN, effect)
	}
	return d
}

func fail(status int, err error) Decision {
	return Decision{Status: status, Err: err}
}

// response is a well-formed authorizer result.
type response struct {
	principalID        string
	policy             *policy.Document
	context            map[string]any
	usageIdentifierKey string
}

// resultMembers reads an authorizer result's top-level members: it must be a JSON object of at most
// MaxResultSize bytes once compacted. Errors wrap ErrMalformed.
func resultMembers(payload []byte) (map[string]json.RawMessage, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", ErrMalformed, err)
	}
	if compact.Len() > MaxResultSize {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrMalformed, compact.Len(), MaxResultSize)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(compact.Bytes(), &members); err != nil || members == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	return members, nil
}

// parseResponse reads an authorizer result (spec §5.3.5). Member names are matched exactly, as AWS does.
// Errors wrap ErrMalformed.
func parseResponse(payload []byte) (*response, error) {
	members, err := resultMembers(payload)
	if err != nil {
		return nil, err
	}
	out := &response{}

	raw, ok := members["principalId"]
	if !ok || json.Unmarshal(raw, &out.principalID) != nil || bytes.Equal(raw, []byte("null")) {
		return nil, fmt.Errorf("%w: principalId missing or not a string", ErrMalformed)
	}

	raw, ok = members["policyDocument"]
	if !ok {
		return nil, fmt.Errorf("%w: no policyDocument", ErrMalformed)
	}
	doc, err := policy.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: policyDocument: %w", ErrMalformed, err)
	}
	for _, st := range doc.Statements {
		for _, list := range [][]string{st.Resources, st.NotResources} {
			for _, r := range list {
				if len(r) > MaxPolicyResourceLength {
					return nil, fmt.Errorf("%w: policy resource of %d characters, over %d", ErrMalformed, len(r), MaxPolicyResourceLength)
				}
			}
		}
	}
	out.policy = doc

	if raw, ok := members["context"]; ok && !bytes.Equal(raw, []byte("null")) {
		if out.context, err = contextValues(raw); err != nil {
			return nil, err
		}
	}

	if raw, ok := members["usageIdentifierKey"]; ok {
		if err := json.Unmarshal(raw, &out.usageIdentifierKey); err != nil {
			return nil, fmt.Errorf("%w: usageIdentifierKey is not a string", ErrMalformed)
		}
	}
	return out, nil
}

// contextValues decodes the context object: string, number (kept as json.Number) and boolean values;
// null values are dropped; anything else is malformed.
func contextValues(raw json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: context is not an object", ErrMalformed)
	}
	for k, v := range m {
		switch v.(type) {
		case string, json.Number, bool:
		case nil:
			delete(m, k)
		default:
			return nil, fmt.Errorf("%w: context value %q is not a string, number or boolean", ErrMalformed, k)
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// errorMessage returns the errorMessage of a function's error document, or the whole payload when it is
// not one.
func errorMessage(payload []byte) string {
	var doc struct {
		ErrorMessage *string `json:"errorMessage"`
	}
	if err := json.Unmarshal(payload, &doc); err != nil || doc.ErrorMessage == nil {
		return string(bytes.TrimSpace(payload))
	}
	return *doc.ErrorMessage
}

func truncate(s string) string {
	if len(s) > 256 {
		s = strings.ToValidUTF8(s[:256], "") + "…"
	}
	return s
}

// Identity source kinds.
const (
	sourceHeader      = "route.request.header."
	sourceQuery       = "route.request.querystring."
	sourceStageVar    = "stageVariables."
	sourceContextVar  = "context."
	identityPrefixMsg = "route.request.header., route.request.querystring., stageVariables. or context."
)

func parseIdentitySource(s string) (kind, name string, err error) {
	t := strings.TrimPrefix(s, "$")
	for _, k := range []string{sourceHeader, sourceQuery, sourceStageVar, sourceContextVar} {
		if strings.HasPrefix(t, k) && len(t) > len(k) {
			return k, t[len(k):], nil
		}
	}
	return "", "", fmt.Errorf("%w: identity source %q is not %s followed by a name", ErrConfig, s, identityPrefixMsg)
}

// identityPresent reports whether the identity source src has a non-empty value in req. A header or query
// parameter given several times counts by its last value, the one the event's single-value maps carry.
func identityPresent(src string, req *Request) (bool, error) {
	kind, name, err := parseIdentitySource(src)
	if err != nil {
		return false, err
	}
	switch kind {
	case sourceHeader:
		return last(req.Header.Values(name)) != "", nil
	case sourceQuery:
		return last(req.Query[name]) != "", nil
	case sourceStageVar:
		return req.StageVariables[name] != "", nil
	default:
		return req.Context.Var(name) != "", nil
	}
}

func last(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// errBadURI reports an authorizerUri that does not name a Lambda function.
var errBadURI = fmt.Errorf("%w: authorizer URI does not name a Lambda function", ErrConfig)

// functionFromURI names the authorizer's function (lambda.FunctionFromURI); a URI that names none is a
// configuration error.
func functionFromURI(uri string) (string, error) {
	fn, err := lambda.FunctionFromURI(uri)
	if err != nil {
		return "", fmt.Errorf("%w: authorizerUri: %w", ErrConfig, err)
	}
	return fn, nil
}
