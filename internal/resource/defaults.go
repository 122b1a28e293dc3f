package resource

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
)

// More defaults AWS fills in, beside the ones declared with the types.
const (
	// DefaultErrorMessageSelectionExpression is what AWS fills in as integrationResponseSelectionExpression
	// for AWS (Lambda custom) integrations: the response key is matched against the function's error
	// message.
	DefaultErrorMessageSelectionExpression = "${integration.response.body.errorMessage}"
	// RouteResponseKeyDefault is the only route response key (and the only routeResponseSelectionExpression)
	// a WebSocket API supports.
	RouteResponseKeyDefault = "$default"
	// IntegrationResponseKeyDefault is the catch-all integration response key.
	IntegrationResponseKeyDefault = "$default"
)

// Lengths of generated identifiers, matching the identifiers AWS hands out (spec §13).
const (
	apiIDLength   = 10
	childIDLength = 7
)

// ApplyDefaults fills in, in place, every member AWS fills in when the resource is created, so that what a
// user reads back from Switchboard matches what AWS returns for the same definition. The WebSocket
// defaults are (HTTP APIs: see applyHTTPIntegrationDefaults, and routeSelectionExpression
// $request.method $request.path):
//
//   - api: apiKeySelectionExpression $request.header.x-api-key;
//   - route: authorizationType NONE;
//   - integration: timeoutInMillis 29000, passthroughBehavior WHEN_NO_MATCH, payloadFormatVersion 1.0,
//     connectionType INTERNET, integrationMethod POST for HTTP and HTTP_PROXY, and
//     integrationResponseSelectionExpression ${integration.response.statuscode} for MOCK and HTTP or
//     ${integration.response.body.errorMessage} for AWS (proxy types get none, as on AWS).
//
// Identifiers are filled in too, deterministically, so that URLs and control-plane ids stay the same
// across restarts and reloads of the same definition:
//
//   - an API without apiId gets 10 characters of [a-z0-9] derived from its name;
//   - a route without routeId gets 7 characters of [a-z0-9] derived from (apiId, routeKey), a route
//     response from (apiId, routeKey, routeResponseKey), an integration response from (apiId,
//     integrationId, integrationResponseKey).
//
// Generated child ids never repeat an id already used in the same API: on a clash (explicit id or hash
// collision) the next candidate is derived by appending a counter to the inputs. ApplyDefaults never
// overwrites a member that is set, and does nothing with a nil Bundle; run Validate after it.
func ApplyDefaults(b *Bundle) {
	if b == nil {
		return
	}
	for i := range b.APIs {
		applyAPIDefaults(&b.APIs[i])
	}
	for i := range b.Functions {
		fn := &b.Functions[i]
		if fn.Timeout == 0 {
			fn.Timeout = DefaultFunctionTimeout
		}
		if fn.MemorySize == 0 {
			fn.MemorySize = DefaultFunctionMemorySize
		}
		if fn.ReservedConcurrentExecutions == 0 {
			fn.ReservedConcurrentExecutions = DefaultFunctionConcurrency
		}
	}
}

// Defaults of local functions: Lambda's timeout and memory size, and a modest process limit.
const (
	DefaultFunctionTimeout     = 3
	DefaultFunctionMemorySize  = 128
	DefaultFunctionConcurrency = 10
)

func applyAPIDefaults(a *API) {
	if a.APIID == "" {
		a.APIID = derivedID(apiIDLength, "api", a.Name)
	}
	if a.APIKeySelectionExpression == "" {
		a.APIKeySelectionExpression = DefaultAPIKeySelectionExpression
	}
	if a.IsHTTP() && a.RouteSelectionExpression == "" {
		a.RouteSelectionExpression = RouteSelectionExpressionHTTP
	}

	// Collect explicit ids first so generated ones avoid them whatever the order of declaration.
	used := make(map[string]bool)
	for _, r := range a.Routes {
		used[r.RouteID] = true
		for _, rr := range r.RouteResponses {
			used[rr.RouteResponseID] = true
		}
	}
	for _, in := range a.Integrations {
		for _, ir := range in.IntegrationResponses {
			used[ir.IntegrationResponseID] = true
		}
	}
	for _, m := range a.Models {
		used[m.ModelID] = true
	}
	delete(used, "")
	// next remembers, per set of inputs, the counter to try after a clash, so that many resources with
	// the same inputs (duplicate keys, which Validate rejects) cost linear time, not quadratic.
	next := make(map[string]int)
	newID := func(kind string, parts ...string) string {
		inputs := append([]string{a.APIID}, parts...)
		id := derivedID(childIDLength, kind, inputs...)
		if !used[id] {
			used[id] = true
			return id
		}
		key := kind + "\x00" + strings.Join(inputs, "\x00")
		n := next[key]
		for {
			n++
			id = derivedID(childIDLength, kind, append(inputs, strconv.Itoa(n))...)
			if !used[id] {
				break
			}
		}
		next[key] = n
		used[id] = true
		return id
	}

	for i := range a.Routes {
		r := &a.Routes[i]
		if r.RouteID == "" {
			r.RouteID = newID("route", r.RouteKey)
		}
		if r.AuthorizationType == "" {
			r.AuthorizationType = DefaultAuthorizationType
		}
		for j := range r.RouteResponses {
			rr := &r.RouteResponses[j]
			if rr.RouteResponseID == "" {
				rr.RouteResponseID = newID("routeResponse", r.RouteKey, rr.RouteResponseKey)
			}
		}
	}

	for i := range a.Models {
		if m := &a.Models[i]; m.ModelID == "" {
			m.ModelID = newID("model", m.Name)
		}
	}

	if a.IsHTTP() {
		applyHTTPIntegrationDefaults(a)
		return
	}
	for i := range a.Integrations {
		in := &a.Integrations[i]
		if in.TimeoutInMillis == 0 {
			in.TimeoutInMillis = DefaultTimeoutInMillis
		}
		if in.PassthroughBehavior == "" {
			in.PassthroughBehavior = DefaultPassthroughBehavior
		}
		if in.PayloadFormatVersion == "" {
			in.PayloadFormatVersion = DefaultPayloadFormatVersion
		}
		if in.ConnectionType == "" {
			in.ConnectionType = DefaultConnectionType
		}
		switch in.IntegrationType {
		case IntegrationHTTP, IntegrationHTTPProxy:
			if in.IntegrationMethod == "" {
				in.IntegrationMethod = DefaultIntegrationMethod
			}
		}
		if in.IntegrationResponseSelectionExpression == "" {
			switch in.IntegrationType {
			case IntegrationMock, IntegrationHTTP:
				in.IntegrationResponseSelectionExpression = DefaultStatusCodeSelectionExpression
			case IntegrationAWS:
				in.IntegrationResponseSelectionExpression = DefaultErrorMessageSelectionExpression
			}
		}
		for j := range in.IntegrationResponses {
			ir := &in.IntegrationResponses[j]
			if ir.IntegrationResponseID == "" {
				ir.IntegrationResponseID = newID("integrationResponse", in.IntegrationID, ir.IntegrationResponseKey)
			}
		}
	}
}

// derivedID returns n characters of [a-z0-9]: the base-36 form of the first 8 bytes of the SHA-256 of kind
// and parts (NUL-separated so that ("ab","c") and ("a","bc") differ), reduced modulo 36^n and zero-padded.
func derivedID(n int, kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	v := binary.BigEndian.Uint64(h.Sum(nil)[:8])
	mod := uint64(1)
	for range n {
		mod *= 36
	}
	s := strconv.FormatUint(v%mod, 36)
	return strings.Repeat("0", n-len(s)) + s
}

// applyHTTPIntegrationDefaults fills in what AWS fills in on an HTTP API's integrations (the CLI's
// create-integration examples for HTTP APIs): timeoutInMillis 30000, connectionType INTERNET,
// payloadFormatVersion 1.0 where 1.0 is the only choice (HTTP_PROXY, AWS service integrations) and
// integrationMethod POST for Lambda. A Lambda integration's payloadFormatVersion is left for the user to
// choose, as AWS requires it; HTTP APIs have no passthroughBehavior or integration response selection.
func applyHTTPIntegrationDefaults(a *API) {
	for i := range a.Integrations {
		in := &a.Integrations[i]
		if in.TimeoutInMillis == 0 {
			in.TimeoutInMillis = DefaultHTTPTimeoutInMillis
		}
		if in.ConnectionType == "" {
			in.ConnectionType = DefaultConnectionType
		}
		switch {
		case in.IntegrationType == IntegrationHTTPProxy, in.IntegrationSubtype != "":
			if in.PayloadFormatVersion == "" {
				in.PayloadFormatVersion = DefaultPayloadFormatVersion
			}
		case in.IntegrationType == IntegrationAWSProxy:
			if in.IntegrationMethod == "" {
				in.IntegrationMethod = DefaultIntegrationMethod
			}
		}
	}
}
