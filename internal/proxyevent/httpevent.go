package proxyevent

import (
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Lambda events of an HTTP API route (spec §11.2), payload formats 2.0 and 1.0, as AWS documents them
// in "Create AWS Lambda proxy integrations for HTTP APIs" (developer guide, http-api-develop-integrations-
// lambda) and as aws-lambda-go's events.APIGatewayV2HTTPRequest and events.APIGatewayProxyRequest read
// them. Both are written by hand into one buffer, keys in the order of AWS's documented examples.

// Payload format versions of an HTTP API integration or Lambda authorizer.
const (
	PayloadV1 = "1.0"
	PayloadV2 = "2.0"
)

// HTTPRequest is one request to an HTTP API route, with what the router learned about it: everything the
// two payload formats are made of.
type HTTPRequest struct {
	// Method is the request method, "GET".
	Method string
	// RawPath is the path as the client sent it, percent-encoding kept; on a named stage it starts with
	// the stage segment (/dev/pets/1), on the $default stage it does not. It is rawPath (2.0).
	RawPath string
	// Path is RawPath decoded: requestContext.http.path (2.0), path and requestContext.path (1.0).
	Path string
	// RawQuery is the query string without "?", as sent.
	RawQuery string
	// Protocol is "HTTP/1.1" or "HTTP/2.0".
	Protocol string
	// Host is the Host the client sent (net/http keeps it out of Header); empty means DomainName.
	Host string
	// Header holds the request headers as net/http read them.
	Header http.Header
	// Body is the request body.
	Body []byte
	// SourceIP is the client's address without port.
	SourceIP string
	// ForwardedProto and ForwardedPort say how the client reached the gateway; empty means "https" and
	// "443" ("80" for "http").
	ForwardedProto, ForwardedPort string
	// TraceID is the X-Amzn-Trace-Id to send when the client sent none; empty means a new one.
	TraceID string

	// RouteKey is the matched route's key, "GET /pets/{id}" or "$default".
	RouteKey string
	// PathParameters are the route's {name} and {name+} values; nil when it has none.
	PathParameters map[string]string
	// StageVariables are the stage's variables; nil or empty when it has none.
	StageVariables map[string]string

	// AccountID, APIID, Stage, RequestID, DomainName and DomainPrefix are requestContext's members of
	// those names (RequestID is also 1.0's extendedRequestId).
	AccountID, APIID, Stage, RequestID, DomainName, DomainPrefix string
	// Time is when the request arrived.
	Time time.Time
	// ClientCert describes the client certificate of a mutual-TLS custom domain (certs.ClientCert),
	// nil without one.
	ClientCert any
	// Authorizer is what the route's authorizer established; nil when the route has none.
	Authorizer *HTTPAuthorizer
}

// HTTPAuthorizer is requestContext.authorizer: one of its members is set.
type HTTPAuthorizer struct {
	// JWT is set by a JWT authorizer.
	JWT *JWTAuthorization
	// Lambda is the context a Lambda authorizer returned (values keep their JSON types); an authorizer
	// that returned no context gives an empty, non-nil map.
	Lambda map[string]any
	// IAM is set for AWS_IAM routes.
	IAM *IAMAuthorization
}

// JWTAuthorization is requestContext.authorizer.jwt: the token's claims, each as the string AWS makes of
// it, and its scopes (nil when it has none).
type JWTAuthorization struct {
	Claims map[string]string
	Scopes []string
}

// IAMAuthorization is requestContext.authorizer.iam: who signed the request.
type IAMAuthorization struct {
	AccessKey, AccountID, CallerID, PrincipalOrgID, UserARN, UserID string
}

// IsTextMediaType says whether a body of this Content-Type reaches the function as text. Other bodies,
// and bodies without a Content-Type, are base64-encoded with isBase64Encoded true: AWS's HTTP APIs infer
// the encoding from the Content-Type (AWS Compute Blog, "Handling binary data using Amazon API Gateway
// HTTP APIs"), and the types passed as text are text/*, application/json, application/javascript,
// application/xml and the +json and +xml suffixes (the list of Lambda function URLs, which share the 2.0
// payload). application/x-www-form-urlencoded is not among them: AWS base64-encodes form posts.
func IsTextMediaType(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/javascript", mt == "application/xml":
		return true
	case strings.HasPrefix(mt, "application/") && (strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")):
		return true
	}
	return false
}

// httpHeader is one header of an event: its name as written and its values (one, when values is nil).
type httpHeader struct {
	name   string
	one    string
	values []string
}

func (h *httpHeader) last() string {
	if h.values == nil {
		return h.one
	}
	return h.values[len(h.values)-1]
}

// lowerNames are the lower-case forms of common canonical header names, so that 2.0 events do not
// allocate one for each.
var lowerNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Content-Length", "Content-Type", "Cookie", "Host", "Origin", "Referer", "User-Agent", "X-Amzn-Trace-Id",
		"X-Api-Key", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Requested-With"} {
		m[n] = strings.ToLower(n)
	}
	return m
}()

// eventHeaders returns the headers an HTTP API event carries, sorted by name (bytewise, as AWS's captures
// are): the client's, less the hop-by-hop ones and Content-Length, plus Content-Length (the body's
// length; AWS sends "0" for a request without a body), Host, X-Amzn-Trace-Id (the client's or a new
// one), X-Forwarded-For (the client's value with the source IP appended), X-Forwarded-Port and
// X-Forwarded-Proto (replacing the client's). lower writes every name in lower case (2.0); otherwise
// names are net/http's canonical form (1.0: AWS keeps the client's spelling, which net/http has lost).
// Cookie headers are left out when dropCookie is set (2.0 moves them to cookies).
func eventHeaders(r *HTTPRequest, lower, dropCookie bool) []httpHeader {
	hs := make([]httpHeader, 0, len(r.Header)+6)
	name := func(canonical string) string {
		if !lower {
			return canonical
		}
		if l, ok := lowerNames[canonical]; ok {
			return l
		}
		return strings.ToLower(canonical)
	}
	var xff []string
	trace := false
	for k, vs := range r.Header {
		ck := k
		if _, ok := lowerNames[k]; !ok {
			ck = http.CanonicalHeaderKey(k)
		}
		switch {
		case len(vs) == 0, hopByHop[ck], ck == "Host", ck == "X-Forwarded-Port", ck == "X-Forwarded-Proto":
			continue
		case ck == "Cookie" && dropCookie:
			continue
		case ck == "X-Forwarded-For":
			xff = vs
			continue
		case ck == "X-Amzn-Trace-Id":
			trace = true
		}
		if len(vs) == 1 {
			hs = append(hs, httpHeader{name: name(ck), one: vs[0]})
		} else {
			hs = append(hs, httpHeader{name: name(ck), values: vs})
		}
	}
	host := r.Host
	if host == "" {
		host = r.DomainName
	}
	proto, port := forwarded(r.ForwardedProto, r.ForwardedPort)
	forwardedFor := r.SourceIP
	if len(xff) > 0 {
		forwardedFor = strings.Join(xff, ", ") + ", " + r.SourceIP
	}
	hs = append(hs,
		httpHeader{name: name("Content-Length"), one: strconv.Itoa(len(r.Body))},
		httpHeader{name: name("Host"), one: host},
		httpHeader{name: name("X-Forwarded-For"), one: forwardedFor},
		httpHeader{name: name("X-Forwarded-Port"), one: port},
		httpHeader{name: name("X-Forwarded-Proto"), one: proto})
	if !trace {
		t := r.TraceID
		if t == "" {
			t = NewTraceID(r.Time)
		}
		hs = append(hs, httpHeader{name: name("X-Amzn-Trace-Id"), one: t})
	}
	slices.SortFunc(hs, func(a, b httpHeader) int { return strings.Compare(a.name, b.name) })
	return hs
}

func forwarded(proto, port string) (string, string) {
	if proto == "" {
		proto = "https"
	}
	if port == "" {
		port = "443"
		if proto == "http" {
			port = "80"
		}
	}
	return proto, port
}

// queryParam is one query parameter: its decoded name and values in order.
type queryParam struct {
	name   string
	values []string
}

// parseQuery splits a raw query string into parameters, names sorted, values in the order sent. A part
// without "=" is a parameter with an empty value; "+" is a space; a part whose escapes are invalid keeps
// its raw text rather than being dropped (AWS passes such requests on).
func parseQuery(raw string) []queryParam {
	if raw == "" {
		return nil
	}
	var ps []queryParam
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		i := slices.IndexFunc(ps, func(p queryParam) bool { return p.name == k })
		if i < 0 {
			ps = append(ps, queryParam{name: k, values: []string{v}})
		} else {
			ps[i].values = append(ps[i].values, v)
		}
	}
	slices.SortFunc(ps, func(a, b queryParam) int { return strings.Compare(a.name, b.name) })
	return ps
}

func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// splitCookies returns the cookies of every Cookie header, each "name=value" pair on its own, as 2.0's
// cookies member carries them.
func splitCookies(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Cookie") {
		for c := range strings.SplitSeq(v, ";") {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

// appendEventBody appends the body as the event carries it, a JSON string, and says whether it is
// base64-encoded (a binary body is encoded straight into the event).
func appendEventBody(b []byte, r *HTTPRequest) ([]byte, bool) {
	if IsTextMediaType(r.Header.Get("Content-Type")) {
		return AppendJSONString(b, string(r.Body)), false
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, r.Body)
	return append(b, '"'), true
}

// jsonWriter appends a JSON object's members.
type jsonWriter struct {
	b     []byte
	first bool
}

func (w *jsonWriter) open() { w.b = append(w.b, '{'); w.first = true }

func (w *jsonWriter) close() { w.b = append(w.b, '}'); w.first = false }

func (w *jsonWriter) key(name string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonWriter) str(name, v string) { w.key(name); w.b = AppendJSONString(w.b, v) }

// strOrNull writes null for "".
func (w *jsonWriter) strOrNull(name, v string) {
	w.key(name)
	if v == "" {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = AppendJSONString(w.b, v)
}

func (w *jsonWriter) raw(name string, v []byte) { w.key(name); w.b = append(w.b, v...) }

func (w *jsonWriter) strings(name string, vs []string) {
	w.key(name)
	if vs == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.strs(vs)
}

func (w *jsonWriter) stringMap(name string, m map[string]string) {
	w.key(name)
	w.b = appendStringMap(w.b, m)
}

// HTTPEventV2 returns the payload format 2.0 event of r: version, routeKey, rawPath, rawQueryString,
// cookies (when the request has any; the Cookie headers are then not among headers), headers (names in
// lower case, repeated headers joined with commas), queryStringParameters (when there is a query string;
// repeated names joined with commas), requestContext, body (when there is one), pathParameters (when the
// route has any), isBase64Encoded and stageVariables (when the stage has any): the members and the order
// of AWS's documented example. requestContext.authentication is present only with a client certificate,
// requestContext.authorizer only on authorized routes.
func HTTPEventV2(r *HTTPRequest) []byte { return appendEventV2(r, nil) }

// authorizerEvent is what a Lambda authorizer event adds to an integration event: its type, the ARN the
// policy is evaluated on and the identity sources' values. Authorizer events carry no body.
type authorizerEvent struct {
	arn      string
	identity []string
}

// HTTPAuthorizerEventV2 returns the payload format 2.0 event of a Lambda authorizer ("Working with AWS
// Lambda authorizers for HTTP APIs"): version, type "REQUEST", routeArn, identitySource (the identity
// sources' values, in order), then the members of the 2.0 integration event but body and isBase64Encoded,
// with pathParameters and stageVariables last, and no requestContext.authorizer.
func HTTPAuthorizerEventV2(r *HTTPRequest, routeARN string, identity []string) []byte {
	return appendEventV2(r, &authorizerEvent{arn: routeARN, identity: identity})
}

func appendEventV2(r *HTTPRequest, auth *authorizerEvent) []byte {
	headers := eventHeaders(r, true, true)
	w := jsonWriter{b: make([]byte, 0, 768+len(r.Body)*4/3+64*len(headers))}
	w.open()
	w.str("version", PayloadV2)
	if auth != nil {
		w.str("type", "REQUEST")
		w.str("routeArn", auth.arn)
		if auth.identity == nil {
			auth.identity = []string{}
		}
		w.strings("identitySource", auth.identity)
	}
	w.str("routeKey", r.RouteKey)
	w.str("rawPath", r.RawPath)
	w.str("rawQueryString", r.RawQuery)
	if cookies := splitCookies(r.Header); len(cookies) > 0 {
		w.strings("cookies", cookies)
	}
	w.key("headers")
	w.b = append(w.b, '{')
	for i, h := range headers {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = AppendJSONString(w.b, h.name)
		w.b = append(w.b, ':')
		if h.values == nil {
			w.b = AppendJSONString(w.b, h.one)
		} else {
			w.b = appendJoined(w.b, h.values)
		}
	}
	w.b = append(w.b, '}')
	if params := parseQuery(r.RawQuery); len(params) > 0 {
		w.key("queryStringParameters")
		w.b = append(w.b, '{')
		for i, p := range params {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = AppendJSONString(w.b, p.name)
			w.b = append(w.b, ':')
			w.b = appendJoined(w.b, p.values)
		}
		w.b = append(w.b, '}')
	}

	w.key("requestContext")
	w.open()
	w.str("accountId", r.AccountID)
	w.str("apiId", r.APIID)
	if r.ClientCert != nil {
		w.key("authentication")
		w.open()
		w.raw("clientCert", Encode(r.ClientCert))
		w.close()
	}
	if r.Authorizer != nil && auth == nil {
		w.key("authorizer")
		w.appendAuthorizerV2(r.Authorizer)
	}
	w.str("domainName", r.DomainName)
	w.str("domainPrefix", r.DomainPrefix)
	w.key("http")
	w.open()
	w.str("method", r.Method)
	w.str("path", r.Path)
	w.str("protocol", r.Protocol)
	w.str("sourceIp", r.SourceIP)
	w.str("userAgent", r.Header.Get("User-Agent"))
	w.close()
	w.str("requestId", r.RequestID)
	w.str("routeKey", r.RouteKey)
	w.str("stage", r.Stage)
	w.str("time", formatRequestTime(r.Time))
	w.key("timeEpoch")
	w.b = strconv.AppendInt(w.b, r.Time.UnixMilli(), 10)
	w.close()

	if auth != nil {
		if len(r.PathParameters) > 0 {
			w.stringMap("pathParameters", r.PathParameters)
		}
		if len(r.StageVariables) > 0 {
			w.stringMap("stageVariables", r.StageVariables)
		}
		w.close()
		return w.b
	}
	b64 := false
	if len(r.Body) > 0 {
		w.key("body")
		w.b, b64 = appendEventBody(w.b, r)
	}
	if len(r.PathParameters) > 0 {
		w.stringMap("pathParameters", r.PathParameters)
	}
	w.key("isBase64Encoded")
	w.b = strconv.AppendBool(w.b, b64)
	if len(r.StageVariables) > 0 {
		w.stringMap("stageVariables", r.StageVariables)
	}
	w.close()
	return w.b
}

func (w *jsonWriter) appendAuthorizerV2(a *HTTPAuthorizer) {
	w.open()
	switch {
	case a.JWT != nil:
		w.key("jwt")
		w.open()
		w.stringMap("claims", a.JWT.Claims)
		w.strings("scopes", a.JWT.Scopes)
		w.close()
	case a.IAM != nil:
		w.key("iam")
		w.open()
		w.str("accessKey", a.IAM.AccessKey)
		w.str("accountId", a.IAM.AccountID)
		w.str("callerId", a.IAM.CallerID)
		w.raw("cognitoIdentity", []byte("null"))
		w.str("principalOrgId", a.IAM.PrincipalOrgID)
		w.str("userArn", a.IAM.UserARN)
		w.str("userId", a.IAM.UserID)
		w.close()
	case a.Lambda != nil:
		w.raw("lambda", Encode(a.Lambda))
	}
	w.close()
}

// HTTPEventV1 returns the payload format 1.0 event of r, the REST-style event with "version": "1.0": the
// members and order of AWS's documented example and of a captured event (spring-cloud-function's
// CustomRuntimeEventLoopTest): resource and requestContext.resourcePath and resourceId are the route key's
// path (the route key itself for $default: "$default"); headers keep net/http's canonical names, with a
// header's last value, and multiValueHeaders all of them; queryStringParameters holds a parameter's
// first value (AWS's HTTP API example shows parameter1 "value1" of ["value1", "value2"], where REST APIs
// take the last) and multiValueQueryStringParameters all of them, both null without a query string; pathParameters and stageVariables are
// null when empty; body is null without a body. requestContext.identity carries every member, null when
// unknown; requestContext.authorizer is present only on authorized routes: {"claims", "scopes"} for JWT,
// the Lambda authorizer's context object for Lambda (the REST-style place: AWS documents only 2.0's
// authorizer.lambda), and for IAM the identity members are filled in instead.
func HTTPEventV1(r *HTTPRequest) []byte { return appendEventV1(r, nil) }

// HTTPAuthorizerEventV1 returns the payload format 1.0 event of a Lambda authorizer: version, type
// "REQUEST", methodArn, identitySource and authorizationToken (both the identity sources' values joined
// with commas), then the members of the 1.0 integration event but body and isBase64Encoded, and no
// requestContext.authorizer.
func HTTPAuthorizerEventV1(r *HTTPRequest, methodARN string, identity []string) []byte {
	return appendEventV1(r, &authorizerEvent{arn: methodARN, identity: identity})
}

func appendEventV1(r *HTTPRequest, auth *authorizerEvent) []byte {
	headers := eventHeaders(r, false, false)
	w := jsonWriter{b: make([]byte, 0, 1280+len(r.Body)*4/3+96*len(headers))}
	w.open()
	w.str("version", PayloadV1)
	if auth != nil {
		joined := strings.Join(auth.identity, ",")
		w.str("type", "REQUEST")
		w.str("methodArn", auth.arn)
		w.str("identitySource", joined)
		w.str("authorizationToken", joined)
	}
	resource := resourcePath(r.RouteKey)
	w.str("resource", resource)
	w.str("path", r.Path)
	w.str("httpMethod", r.Method)
	w.key("headers")
	w.b = append(w.b, '{')
	for i, h := range headers {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = AppendJSONString(w.b, h.name)
		w.b = append(w.b, ':')
		w.b = AppendJSONString(w.b, h.last())
	}
	w.b = append(w.b, '}')
	w.key("multiValueHeaders")
	w.b = append(w.b, '{')
	for i, h := range headers {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = AppendJSONString(w.b, h.name)
		w.b = append(w.b, ':')
		if h.values == nil {
			w.b = append(w.b, '[')
			w.b = AppendJSONString(w.b, h.one)
			w.b = append(w.b, ']')
		} else {
			w.strs(h.values)
		}
	}
	w.b = append(w.b, '}')
	params := parseQuery(r.RawQuery)
	w.queryParams("queryStringParameters", params, false)
	w.queryParams("multiValueQueryStringParameters", params, true)

	w.key("requestContext")
	w.open()
	w.str("accountId", r.AccountID)
	w.str("apiId", r.APIID)
	if a := r.Authorizer; a != nil && a.IAM == nil && auth == nil {
		w.key("authorizer")
		switch {
		case a.JWT != nil:
			w.open()
			w.stringMap("claims", a.JWT.Claims)
			w.strings("scopes", a.JWT.Scopes)
			w.close()
		default:
			w.b = append(w.b, Encode(a.Lambda)...)
		}
	}
	w.str("domainName", r.DomainName)
	w.str("domainPrefix", r.DomainPrefix)
	w.str("extendedRequestId", r.RequestID)
	w.str("httpMethod", r.Method)
	w.key("identity")
	w.open()
	var iam IAMAuthorization
	if r.Authorizer != nil && r.Authorizer.IAM != nil {
		iam = *r.Authorizer.IAM
	}
	w.strOrNull("accessKey", iam.AccessKey)
	w.strOrNull("accountId", iam.AccountID)
	w.strOrNull("caller", iam.CallerID)
	w.raw("cognitoAmr", []byte("null"))
	w.raw("cognitoAuthenticationProvider", []byte("null"))
	w.raw("cognitoAuthenticationType", []byte("null"))
	w.raw("cognitoIdentityId", []byte("null"))
	w.raw("cognitoIdentityPoolId", []byte("null"))
	w.strOrNull("principalOrgId", iam.PrincipalOrgID)
	w.str("sourceIp", r.SourceIP)
	w.strOrNull("user", iam.UserID)
	w.str("userAgent", r.Header.Get("User-Agent"))
	w.strOrNull("userArn", iam.UserARN)
	if r.ClientCert != nil {
		w.raw("clientCert", Encode(r.ClientCert))
	}
	w.close()
	w.str("path", r.Path)
	w.str("protocol", r.Protocol)
	w.str("requestId", r.RequestID)
	w.str("requestTime", formatRequestTime(r.Time))
	w.key("requestTimeEpoch")
	w.b = strconv.AppendInt(w.b, r.Time.UnixMilli(), 10)
	w.str("resourceId", resourceID(r.RouteKey))
	w.str("resourcePath", resource)
	w.str("stage", r.Stage)
	w.close()

	w.key("pathParameters")
	if len(r.PathParameters) == 0 {
		w.b = append(w.b, "null"...)
	} else {
		w.b = appendStringMap(w.b, r.PathParameters)
	}
	w.key("stageVariables")
	if len(r.StageVariables) == 0 {
		w.b = append(w.b, "null"...)
	} else {
		w.b = appendStringMap(w.b, r.StageVariables)
	}
	if auth != nil {
		w.close()
		return w.b
	}
	b64 := false
	w.key("body")
	if len(r.Body) == 0 {
		w.b = append(w.b, "null"...)
	} else {
		w.b, b64 = appendEventBody(w.b, r)
	}
	w.key("isBase64Encoded")
	w.b = strconv.AppendBool(w.b, b64)
	w.close()
	return w.b
}

// queryParams writes payload 1.0's query parameters under name: null when there are none, otherwise an
// object of each parameter's first value, or with multi of all its values.
func (w *jsonWriter) queryParams(name string, params []queryParam, multi bool) {
	w.key(name)
	if len(params) == 0 {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '{')
	for i, p := range params {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = AppendJSONString(w.b, p.name)
		w.b = append(w.b, ':')
		if multi {
			w.strs(p.values)
		} else {
			w.b = AppendJSONString(w.b, p.values[0])
		}
	}
	w.b = append(w.b, '}')
}

func (w *jsonWriter) strs(vs []string) {
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = AppendJSONString(w.b, v)
	}
	w.b = append(w.b, ']')
}

// resourcePath is a 1.0 event's resource: the route key's path ("/pets/{id}" of "GET /pets/{id}"), or the
// route key itself when it has no path ("$default").
func resourcePath(routeKey string) string {
	if _, p, ok := strings.Cut(routeKey, " "); ok {
		return p
	}
	return routeKey
}

// resourceID is a 1.0 event's requestContext.resourceId: the route key ("$default" in AWS's capture of a
// $default route; for other routes AWS sends an opaque route ID, and the key names the route as well).
func resourceID(routeKey string) string { return routeKey }

// HTTPEvent returns the event of r in the given payload format version: "1.0", anything else is 2.0.
func HTTPEvent(version string, r *HTTPRequest) []byte {
	if version == PayloadV1 {
		return HTTPEventV1(r)
	}
	return HTTPEventV2(r)
}

// appendJoined appends vs joined with commas as one JSON string.
func appendJoined(b []byte, vs []string) []byte {
	if len(vs) == 1 {
		return AppendJSONString(b, vs[0])
	}
	return AppendJSONString(b, strings.Join(vs, ","))
}
