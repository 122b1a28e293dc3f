package resource

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// HTTP API constants (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api.html).
const (
	// RouteSelectionExpressionHTTP is the routeSelectionExpression AWS fills in for HTTP APIs;
	// RouteSelectionExpressionHTTPBraced is the other spelling it accepts. Both mean "method and path".
	RouteSelectionExpressionHTTP       = "$request.method $request.path"
	RouteSelectionExpressionHTTPBraced = "${request.method} ${request.path}"
	// StageDefault is the stage an HTTP API serves at the root of its endpoint, without a stage segment.
	StageDefault = "$default"
	// PayloadFormatVersion2 is the HTTP API Lambda event format 2.0 (1.0 is DefaultPayloadFormatVersion).
	PayloadFormatVersion2 = "2.0"
	// DefaultHTTPTimeoutInMillis and MaxHTTPTimeoutInMillis are an HTTP API integration's default and
	// maximum timeout (30 s, where WebSocket APIs have 29 s).
	DefaultHTTPTimeoutInMillis = 30000
	MaxHTTPTimeoutInMillis     = 30000
	// MaxAuthorizerResultTTL is the longest an HTTP API Lambda authorizer's result may be cached.
	MaxAuthorizerResultTTL = 3600
	// MethodAny is the route key method that matches every method not routed explicitly on a path.
	MethodAny = "ANY"
	// AuthorizationJWT is the authorizationType of routes guarded by a JWT authorizer.
	AuthorizationJWT = "JWT"
	// AuthorizerTypeJWT and AuthorizerTypeRequest are the authorizer types of HTTP APIs.
	AuthorizerTypeJWT     = "JWT"
	AuthorizerTypeRequest = "REQUEST"
)

// HTTPMethods are the methods an HTTP API route key may name, besides ANY.
var HTTPMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// IsHTTP reports whether the API is an HTTP API.
func (a *API) IsHTTP() bool { return a.ProtocolType == ProtocolHTTP }

// PathSegment is one segment of an HTTP API route path: literal text, a path variable {name}, or a
// greedy path variable {name+} (last segment only).
type PathSegment struct {
	Literal string
	Param   string
	Greedy  bool
}

// HTTPRouteKey is a parsed HTTP API route key: "$default", or "METHOD /path" with the path's segments.
// The root path "/" has no segments.
type HTTPRouteKey struct {
	Default  bool
	Method   string
	Path     string
	Segments []PathSegment
}

// ErrRouteKey is wrapped by every error ParseHTTPRouteKey returns.
var ErrRouteKey = errors.New("invalid route key")

var pathParamNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ParseHTTPRouteKey parses an HTTP API route key as CreateRoute accepts it
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html): $default,
// or a method (ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS), one space and a path starting with /
// whose segments are literal text, {name} or, as the last segment only, the greedy {name+}. Empty
// segments (//), partial variables (/a{b}) and a variable name used twice are refused.
func ParseHTTPRouteKey(key string) (HTTPRouteKey, error) {
	if key == RouteKeyDefault {
		return HTTPRouteKey{Default: true}, nil
	}
	method, path, ok := strings.Cut(key, " ")
	if !ok {
		return HTTPRouteKey{}, fmt.Errorf("%w %q: use $default or METHOD /path, such as GET /pets/{id}", ErrRouteKey, key)
	}
	if method != MethodAny && !containsString(HTTPMethods, method) {
		return HTTPRouteKey{}, fmt.Errorf("%w %q: method %q is not one of ANY, %s", ErrRouteKey, key, method, strings.Join(HTTPMethods, ", "))
	}
	if !strings.HasPrefix(path, "/") {
		return HTTPRouteKey{}, fmt.Errorf("%w %q: the path must start with /", ErrRouteKey, key)
	}
	rk := HTTPRouteKey{Method: method, Path: path}
	if path == "/" {
		return rk, nil
	}
	parts := strings.Split(path[1:], "/")
	seen := map[string]bool{}
	for i, part := range parts {
		switch {
		case part == "":
			return HTTPRouteKey{}, fmt.Errorf("%w %q: the path has an empty segment (// or a trailing /)", ErrRouteKey, key)
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			name := part[1 : len(part)-1]
			greedy := strings.HasSuffix(name, "+")
			name = strings.TrimSuffix(name, "+")
			if !pathParamNameRE.MatchString(name) {
				return HTTPRouteKey{}, fmt.Errorf("%w %q: path variable %q is not valid; use {name} or {name+} with a name of A-Z a-z 0-9 _ . -", ErrRouteKey, key, part)
			}
			if greedy && i != len(parts)-1 {
				return HTTPRouteKey{}, fmt.Errorf("%w %q: the greedy path variable %s must be the last segment", ErrRouteKey, key, part)
			}
			if seen[name] {
				return HTTPRouteKey{}, fmt.Errorf("%w %q: path variable %q is used twice", ErrRouteKey, key, name)
			}
			seen[name] = true
			rk.Segments = append(rk.Segments, PathSegment{Param: name, Greedy: greedy})
		case strings.ContainsAny(part, "{}"):
			return HTTPRouteKey{}, fmt.Errorf("%w %q: segment %q mixes text and a path variable; a variable is a whole segment, {name}", ErrRouteKey, key, part)
		case strings.ContainsAny(part, " ?#"):
			return HTTPRouteKey{}, fmt.Errorf("%w %q: segment %q holds a space, ? or #", ErrRouteKey, key, part)
		default:
			rk.Segments = append(rk.Segments, PathSegment{Literal: part})
		}
	}
	return rk, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	// httpParamKeyRE is an HTTP API parameter mapping request key
	// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html).
	httpParamKeyRE = regexp.MustCompile(`^((append|overwrite|remove):(header|querystring)\.[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+|overwrite:path)$`)
	// httpResponseParamKeyRE is a response mapping key.
	httpResponseParamKeyRE = regexp.MustCompile(`^((append|overwrite|remove):header\.[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+|overwrite:statuscode)$`)
	// httpIdentitySourceRE is an HTTP API Lambda authorizer identity source.
	httpIdentitySourceRE = regexp.MustCompile(`^\$(request\.(header|querystring)\.[A-Za-z0-9._$-]+|context\.[A-Za-z0-9._$-]+|stageVariables\.[A-Za-z0-9_]+)$`)
	// jwtIdentitySourceRE is a JWT authorizer identity source: a header or query parameter.
	jwtIdentitySourceRE = regexp.MustCompile(`^\$request\.(header|querystring)\.[A-Za-z0-9._$-]+$`)
	httpMappingKeyRE    = regexp.MustCompile(`^[A-Za-z0-9$\-_.+!*'()]+(/[A-Za-z0-9$\-_.+!*'()]+)*$`)
)

// reservedHTTPHeaders are the headers parameter mapping cannot change
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html#http-api-mapping-reserved-headers).
var reservedHTTPHeaders = map[string]bool{
	"authorization": true, "connection": true, "content-encoding": true, "content-length": true,
	"content-location": true, "forwarded": true, "keep-alive": true, "origin": true,
	"proxy-authenticate": true, "proxy-authorization": true, "te": true, "trailers": true,
	"transfer-encoding": true, "upgrade": true, "x-forwarded-for": true, "x-forwarded-host": true,
	"x-forwarded-proto": true, "via": true,
}

// ReservedHTTPHeader reports whether parameter mapping may not touch the header name: AWS's list, plus
// every access-control-*, apigw-*, x-amz-* and x-amzn-* name.
func ReservedHTTPHeader(name string) bool {
	n := strings.ToLower(name)
	if reservedHTTPHeaders[n] {
		return true
	}
	for _, p := range []string{"access-control-", "apigw-", "x-amz-", "x-amzn-"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// IntegrationSubtypes are the AWS service actions an HTTP API AWS_PROXY integration may name
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-aws-services-reference.html).
var IntegrationSubtypes = []string{
	"EventBridge-PutEvents", "SQS-SendMessage", "SQS-ReceiveMessage", "SQS-DeleteMessage", "SQS-PurgeQueue",
	"AppConfig-GetConfiguration", "Kinesis-PutRecord", "StepFunctions-StartExecution",
	"StepFunctions-StartSyncExecution", "StepFunctions-StopExecution",
}

// httpAPI checks the members of an HTTP API: route key syntax, the integration types and members HTTP
// APIs have, JWT and Lambda authorizers, CORS, and the $default stage. WebSocket-only members (route
// responses, models, templates, integration responses) are refused with a message saying so.
func (v *validator) httpAPI(p string, a *API) {
	switch a.RouteSelectionExpression {
	case "", RouteSelectionExpressionHTTP, RouteSelectionExpressionHTTPBraced:
	default:
		v.addf(FieldPath(p, "routeSelectionExpression"), "routeSelectionExpression %q is not valid for HTTP APIs; the only value is %s", a.RouteSelectionExpression, RouteSelectionExpressionHTTP)
	}
	if len(a.Models) > 0 {
		v.addf(FieldPath(p, "models"), "models are not supported for HTTP APIs (WebSocket APIs only)")
	}
	if a.DisableSchemaValidation {
		v.addf(FieldPath(p, "disableSchemaValidation"), "disableSchemaValidation is not supported for HTTP APIs (WebSocket APIs only)")
	}
	if c := a.CorsConfiguration; c != nil {
		v.cors(FieldPath(p, "corsConfiguration"), c)
	}
	authorizers := map[string]string{}
	for i := range a.Authorizers {
		au := &a.Authorizers[i]
		authorizers[au.AuthorizerID] = au.AuthorizerType
		v.httpAuthorizer(IndexPath(FieldPath(p, "authorizers"), i), au)
	}
	integrations := map[string]bool{}
	for _, in := range a.Integrations {
		integrations[in.IntegrationID] = true
	}
	routeKeys := map[string]bool{}
	for i := range a.Routes {
		r := &a.Routes[i]
		rp := IndexPath(FieldPath(p, "routes"), i)
		if r.RouteKey != "" {
			if routeKeys[r.RouteKey] {
				v.addf(FieldPath(rp, "routeKey"), "Route with key %s already exists for this API", r.RouteKey)
			}
			routeKeys[r.RouteKey] = true
		}
		v.httpRoute(rp, r, integrations, authorizers)
	}
	ids := map[string]bool{}
	for i := range a.Integrations {
		in := &a.Integrations[i]
		ip := IndexPath(FieldPath(p, "integrations"), i)
		if in.IntegrationID != "" {
			if ids[in.IntegrationID] {
				v.addf(FieldPath(ip, "integrationId"), "Integration with id %s already exists for this API; integrationIds must be unique within the API", in.IntegrationID)
			}
			ids[in.IntegrationID] = true
		}
		v.httpIntegration(ip, in)
	}
	stageNames := map[string]bool{}
	for i := range a.Stages {
		s := &a.Stages[i]
		sp := IndexPath(FieldPath(p, "stages"), i)
		if stageNames[s.StageName] && s.StageName != "" {
			v.addf(FieldPath(sp, "stageName"), "Stage %s already exists for this API; stage names must be unique within the API", s.StageName)
		}
		stageNames[s.StageName] = true
		keys := routeKeys
		for _, d := range a.Deployments {
			if d.DeploymentID == s.DeploymentID {
				keys = map[string]bool{}
				for k := range routeKeys {
					keys[k] = true
				}
				for _, r := range d.Routes {
					keys[r.RouteKey] = true
				}
			}
		}
		v.stage(sp, s, keys)
		if s.DeploymentID != "" {
			found := false
			for _, d := range a.Deployments {
				found = found || d.DeploymentID == s.DeploymentID
			}
			if !found {
				v.addf(FieldPath(sp, "deploymentId"), "Invalid deployment identifier specified %s", s.DeploymentID)
			}
		}
	}
}

// cors checks a corsConfiguration with AWS's limits: maxAge -1 to 86400, methods from the HTTP set or *,
// and allowCredentials only with explicit origins (AWS refuses it with the * origin).
func (v *validator) cors(p string, c *Cors) {
	if c.MaxAge != nil && (*c.MaxAge < -1 || *c.MaxAge > 86400) {
		v.addf(FieldPath(p, "maxAge"), "maxAge %d is out of range; allowed is -1 to 86400 seconds", *c.MaxAge)
	}
	for i, m := range c.AllowMethods {
		if m != "*" && !containsString(HTTPMethods, strings.ToUpper(m)) {
			v.addf(IndexPath(FieldPath(p, "allowMethods"), i), "allowMethods entry %q is not valid; use *, %s", m, strings.Join(HTTPMethods, ", "))
		}
	}
	if c.AllowCredentials != nil && *c.AllowCredentials && containsString(c.AllowOrigins, "*") {
		v.addf(FieldPath(p, "allowCredentials"), "allowCredentials cannot be true when allowOrigins contains *; list the origins instead")
	}
	for i, o := range c.AllowOrigins {
		if o == "" {
			v.addf(IndexPath(FieldPath(p, "allowOrigins"), i), "allowOrigins entry is empty; use * or an origin such as https://example.com")
		}
	}
}

func (v *validator) httpAuthorizer(p string, au *Authorizer) {
	if au.Name == "" {
		v.addf(FieldPath(p, "name"), "name is required")
	}
	if !authorizerIDRE.MatchString(au.AuthorizerID) {
		v.addf(FieldPath(p, "authorizerId"), "authorizerId %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", au.AuthorizerID)
	}
	switch au.AuthorizerType {
	case AuthorizerTypeJWT:
		jc := au.JWTConfiguration
		switch {
		case jc == nil || jc.Issuer == "":
			v.addf(FieldPath(p, "jwtConfiguration.issuer"), "jwtConfiguration.issuer is required for JWT authorizers: the token issuer's URL, e.g. https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example")
		case !strings.HasPrefix(jc.Issuer, "https://") && !strings.HasPrefix(jc.Issuer, "http://"):
			v.addf(FieldPath(p, "jwtConfiguration.issuer"), "jwtConfiguration.issuer %q is not a URL; its /.well-known/openid-configuration names the keys", jc.Issuer)
		}
		if jc != nil && len(jc.Audience) > 50 {
			v.addf(FieldPath(p, "jwtConfiguration.audience"), "jwtConfiguration.audience has %d entries; the limit is 50", len(jc.Audience))
		}
		if len(au.IdentitySource) != 1 {
			v.addf(FieldPath(p, "identitySource"), "a JWT authorizer has exactly one identity source, e.g. $request.header.Authorization; got %d", len(au.IdentitySource))
		} else if !jwtIdentitySourceRE.MatchString(au.IdentitySource[0]) {
			v.addf(IndexPath(FieldPath(p, "identitySource"), 0), "identity source %q is not valid for a JWT authorizer; use $request.header.NAME or $request.querystring.NAME", au.IdentitySource[0])
		}
		if au.AuthorizerURI != "" {
			v.addf(FieldPath(p, "authorizerUri"), "authorizerUri is only for REQUEST (Lambda) authorizers")
		}
		if au.AuthorizerPayloadFormatVersion != "" || au.EnableSimpleResponses || au.AuthorizerResultTTLInSeconds != 0 {
			v.addf(p, "authorizerPayloadFormatVersion, enableSimpleResponses and authorizerResultTtlInSeconds are only for REQUEST (Lambda) authorizers")
		}
	case AuthorizerTypeRequest:
		if au.AuthorizerURI == "" {
			v.addf(FieldPath(p, "authorizerUri"), "authorizerUri is required: the Lambda function, e.g. arn:aws:lambda:us-east-1:123456789012:function:auth")
		}
		switch au.AuthorizerPayloadFormatVersion {
		case DefaultPayloadFormatVersion:
			if au.EnableSimpleResponses {
				v.addf(FieldPath(p, "enableSimpleResponses"), "enableSimpleResponses needs authorizerPayloadFormatVersion 2.0")
			}
		case PayloadFormatVersion2:
		case "":
			v.addf(FieldPath(p, "authorizerPayloadFormatVersion"), "authorizerPayloadFormatVersion is required for REQUEST authorizers of HTTP APIs; use 1.0 or 2.0")
		default:
			v.addf(FieldPath(p, "authorizerPayloadFormatVersion"), "authorizerPayloadFormatVersion %q is not supported; use 1.0 or 2.0", au.AuthorizerPayloadFormatVersion)
		}
		if t := au.AuthorizerResultTTLInSeconds; t < 0 || t > MaxAuthorizerResultTTL {
			v.addf(FieldPath(p, "authorizerResultTtlInSeconds"), "authorizerResultTtlInSeconds %d is out of range; allowed is 0 to %d", t, MaxAuthorizerResultTTL)
		}
		if au.AuthorizerResultTTLInSeconds > 0 && len(au.IdentitySource) == 0 {
			v.addf(FieldPath(p, "identitySource"), "identitySource is required when authorizerResultTtlInSeconds is above 0: the cache is keyed by the identity sources")
		}
		for j, src := range au.IdentitySource {
			if !httpIdentitySourceRE.MatchString(src) {
				v.addf(IndexPath(FieldPath(p, "identitySource"), j), "identity source %q is not valid; use $request.header.NAME, $request.querystring.NAME, $context.NAME or $stageVariables.NAME", src)
			}
		}
	default:
		v.addf(FieldPath(p, "authorizerType"), "authorizerType %q is not supported; HTTP APIs allow JWT and REQUEST (Lambda) authorizers", au.AuthorizerType)
	}
}

func (v *validator) httpRoute(p string, r *Route, integrations map[string]bool, authorizers map[string]string) {
	if r.RouteKey == "" {
		v.addf(FieldPath(p, "routeKey"), "routeKey is required: $default or METHOD /path, such as GET /pets/{id}")
	} else if _, err := ParseHTTPRouteKey(r.RouteKey); err != nil {
		v.addf(FieldPath(p, "routeKey"), "%v", err)
	}
	if r.RouteID != "" && !resourceIDPattern.MatchString(r.RouteID) {
		v.addf(FieldPath(p, "routeId"), "routeId %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", r.RouteID)
	}
	if r.Target != "" {
		m := targetPattern.FindStringSubmatch(r.Target)
		switch {
		case m == nil:
			v.addf(FieldPath(p, "target"), "target %q is not valid; use integrations/{integrationId}", r.Target)
		case !integrations[m[1]]:
			v.addf(FieldPath(p, "target"), "target %q names no integration of this API; declare an integration with integrationId %q", r.Target, m[1])
		}
	}
	v.oneOf(FieldPath(p, "authorizationType"), "authorizationType", r.AuthorizationType, "NONE", "AWS_IAM", "CUSTOM", AuthorizationJWT)
	switch r.AuthorizationType {
	case "CUSTOM", AuthorizationJWT:
		want := AuthorizerTypeRequest
		if r.AuthorizationType == AuthorizationJWT {
			want = AuthorizerTypeJWT
		}
		switch typ, ok := authorizers[r.AuthorizerID]; {
		case r.AuthorizerID == "":
			v.addf(FieldPath(p, "authorizerId"), "authorizerId is required when authorizationType is %s", r.AuthorizationType)
		case !ok:
			v.addf(FieldPath(p, "authorizerId"), "authorizerId %q names no authorizer of this API; declare it under authorizers", r.AuthorizerID)
		case typ != want:
			v.addf(FieldPath(p, "authorizerId"), "authorizerId %q is a %s authorizer; authorizationType %s needs a %s authorizer", r.AuthorizerID, typ, r.AuthorizationType, want)
		}
	default:
		if r.AuthorizerID != "" {
			v.addf(FieldPath(p, "authorizerId"), "authorizerId is only used with authorizationType CUSTOM or JWT")
		}
	}
	if len(r.AuthorizationScopes) > 0 && r.AuthorizationType != AuthorizationJWT {
		v.addf(FieldPath(p, "authorizationScopes"), "authorizationScopes are checked by JWT authorizers only; set authorizationType JWT or remove them")
	}
	if len(r.AuthorizationScopes) > 10 {
		v.addf(FieldPath(p, "authorizationScopes"), "a route has at most 10 authorization scopes; got %d", len(r.AuthorizationScopes))
	}
	if r.APIKeyRequired {
		v.addf(FieldPath(p, "apiKeyRequired"), "API keys are not supported for HTTP APIs (WebSocket and REST APIs only)")
	}
	for _, m := range []struct {
		member string
		set    bool
	}{
		{"routeResponses", len(r.RouteResponses) > 0},
		{"routeResponseSelectionExpression", r.RouteResponseSelectionExpression != ""},
		{"requestModels", len(r.RequestModels) > 0},
		{"modelSelectionExpression", r.ModelSelectionExpression != ""},
		{"requestParameters", len(r.RequestParameters) > 0},
	} {
		if m.set {
			v.addf(FieldPath(p, m.member), "%s is not supported for HTTP APIs (WebSocket APIs only); map parameters on the integration instead", m.member)
		}
	}
}

func (v *validator) httpIntegration(p string, in *Integration) {
	switch {
	case in.IntegrationID == "":
		v.addf(FieldPath(p, "integrationId"), "integrationId is required; routes name it in target: integrations/{integrationId}")
	case !resourceIDPattern.MatchString(in.IntegrationID):
		v.addf(FieldPath(p, "integrationId"), "integrationId %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", in.IntegrationID)
	}
	v.oneOf(FieldPath(p, "integrationType"), "integrationType", in.IntegrationType, IntegrationAWSProxy, IntegrationHTTPProxy)
	v.oneOf(FieldPath(p, "connectionType"), "connectionType", in.ConnectionType, "INTERNET", "VPC_LINK")
	switch in.IntegrationType {
	case IntegrationAWSProxy:
		switch {
		case in.IntegrationSubtype != "":
			if !containsString(IntegrationSubtypes, in.IntegrationSubtype) {
				v.addf(FieldPath(p, "integrationSubtype"), "integrationSubtype %q is not supported; use one of %s", in.IntegrationSubtype, strings.Join(IntegrationSubtypes, ", "))
			}
			v.subtypeParameters(p, in)
			if in.PayloadFormatVersion != DefaultPayloadFormatVersion {
				v.addf(FieldPath(p, "payloadFormatVersion"), "payloadFormatVersion %q is not supported for AWS service integrations; use 1.0", in.PayloadFormatVersion)
			}
		case in.IntegrationURI == "":
			v.addf(FieldPath(p, "integrationUri"), "integrationUri is required for AWS_PROXY integrations: the Lambda function's ARN or invocation URI")
		default:
			switch in.PayloadFormatVersion {
			case DefaultPayloadFormatVersion, PayloadFormatVersion2:
			case "":
				v.addf(FieldPath(p, "payloadFormatVersion"), "payloadFormatVersion is required for Lambda integrations of HTTP APIs; use 1.0 or 2.0")
			default:
				v.addf(FieldPath(p, "payloadFormatVersion"), "payloadFormatVersion %q is not supported; use 1.0 or 2.0", in.PayloadFormatVersion)
			}
		}
	case IntegrationHTTPProxy:
		if in.IntegrationSubtype != "" {
			v.addf(FieldPath(p, "integrationSubtype"), "integrationSubtype is only for AWS_PROXY integrations")
		}
		if in.PayloadFormatVersion != DefaultPayloadFormatVersion {
			v.addf(FieldPath(p, "payloadFormatVersion"), "payloadFormatVersion %q is not supported for HTTP_PROXY integrations; use 1.0", in.PayloadFormatVersion)
		}
		if in.IntegrationMethod == "" {
			v.addf(FieldPath(p, "integrationMethod"), "integrationMethod is required for HTTP_PROXY integrations: ANY (pass the client's method) or a method such as GET")
		} else if in.IntegrationMethod != MethodAny && !containsString(HTTPMethods, in.IntegrationMethod) {
			v.addf(FieldPath(p, "integrationMethod"), "integrationMethod %q is not valid; use ANY, %s", in.IntegrationMethod, strings.Join(HTTPMethods, ", "))
		}
		switch {
		case in.IntegrationURI == "":
			v.addf(FieldPath(p, "integrationUri"), "integrationUri is required for HTTP_PROXY integrations: an absolute http or https URL")
		case in.ConnectionType == "VPC_LINK" && strings.HasPrefix(in.IntegrationURI, "arn:"):
			v.addf(FieldPath(p, "integrationUri"), "integrationUri %q is a load balancer or Cloud Map ARN; Switchboard has no VPC links: give the backend's http or https URL (connectionType VPC_LINK is then served directly)", in.IntegrationURI)
		default:
			if msg := checkHTTPURI(in.IntegrationURI); msg != "" {
				v.addf(FieldPath(p, "integrationUri"), "integrationUri %q is not valid: %s", in.IntegrationURI, msg)
			}
		}
	}
	if in.TimeoutInMillis < MinTimeoutInMillis || in.TimeoutInMillis > MaxHTTPTimeoutInMillis {
		v.addf(FieldPath(p, "timeoutInMillis"), "timeoutInMillis %d is out of range; allowed is %d to %d", in.TimeoutInMillis, MinTimeoutInMillis, MaxHTTPTimeoutInMillis)
	}
	for _, m := range []struct {
		member string
		set    bool
	}{
		{"passthroughBehavior", in.PassthroughBehavior != ""},
		{"contentHandlingStrategy", in.ContentHandlingStrategy != ""},
		{"requestTemplates", len(in.RequestTemplates) > 0},
		{"templateSelectionExpression", in.TemplateSelectionExpression != ""},
		{"integrationResponseSelectionExpression", in.IntegrationResponseSelectionExpression != ""},
		{"integrationResponses", len(in.IntegrationResponses) > 0},
	} {
		if m.set {
			v.addf(FieldPath(p, m.member), "%s is not supported for HTTP APIs (WebSocket APIs only); HTTP APIs map requests and responses with requestParameters and responseParameters", m.member)
		}
	}
	rp := FieldPath(p, "requestParameters")
	for _, k := range sortedKeys(in.RequestParameters) {
		if in.IntegrationSubtype != "" {
			continue // the action's own parameter names, checked when the integration is compiled
		}
		if !httpParamKeyRE.MatchString(k) {
			v.addf(FieldPath(rp, k), "request parameter %q is not valid; use append:header.NAME, overwrite:header.NAME, remove:header.NAME, the same with querystring.NAME, or overwrite:path", k)
		} else if _, name, ok := strings.Cut(k, "header."); ok && ReservedHTTPHeader(name) {
			v.addf(FieldPath(rp, k), "header %s is reserved and cannot be mapped", name)
		}
	}
	resp := FieldPath(p, "responseParameters")
	for _, code := range sortedKeys(in.ResponseParameters) {
		cp := FieldPath(resp, code)
		if n, err := strconv.Atoi(code); err != nil || n < 200 || n > 599 || len(code) != 3 {
			v.addf(cp, "responseParameters key %q is not a status code; use 200 to 599", code)
		}
		for _, k := range sortedKeys(in.ResponseParameters[code]) {
			if !httpResponseParamKeyRE.MatchString(k) {
				v.addf(FieldPath(cp, k), "response parameter %q is not valid; use append:header.NAME, overwrite:header.NAME, remove:header.NAME or overwrite:statuscode", k)
			} else if _, name, ok := strings.Cut(k, "header."); ok && ReservedHTTPHeader(name) {
				v.addf(FieldPath(cp, k), "header %s is reserved and cannot be mapped", name)
			}
		}
	}
	if in.TLSConfig != nil && in.IntegrationType == IntegrationAWSProxy {
		v.addf(FieldPath(p, "tlsConfig"), "tlsConfig is only for HTTP_PROXY integrations")
	}
}
