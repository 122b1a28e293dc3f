package resource

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits AWS enforces on WebSocket API resources.
const (
	MaxAPINameLength         = 128
	MaxStageVariables        = 100
	MaxStageVariableValueLen = 512
)

var (
	apiIDPattern          = regexp.MustCompile(`^[a-z0-9]{1,63}$`)
	resourceIDPattern     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	stageNamePattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	modelNamePattern      = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)
	stageVarNamePattern   = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	stageVarValuePattern  = regexp.MustCompile(`^[A-Za-z0-9\-._~:/?#&=,]+$`)
	targetPattern         = regexp.MustCompile(`^integrations/(.+)$`)
	routeParamKeyPattern  = regexp.MustCompile(`^route\.request\.((header|querystring|multivalueheader|multivaluequerystring)\.[a-zA-Z0-9._$-]+|body\.\S+)$`)
	integrationKeyPattern = regexp.MustCompile(`^integration\.request\.(header|querystring|path)\.[a-zA-Z0-9._$-]+$`)
	integrationValPattern = regexp.MustCompile(`^(route\.request\.((header|querystring|multivalueheader|multivaluequerystring)\.[a-zA-Z0-9._$-]+|body\.\S+)|stageVariables\.[A-Za-z0-9_]+|context\.[a-zA-Z0-9._$-]+|'.*')$`)
	stageVarPlaceholder   = regexp.MustCompile(`\$\{stageVariables\.[A-Za-z0-9_]+\}`)
)

// Validate checks a Bundle against the rules AWS applies when the same resources are created through
// apigatewayv2, plus the restrictions of what Switchboard serves. Run it after
// ApplyDefaults: it treats members ApplyDefaults fills in as required. It returns every problem found, in
// bundle order, or nil when the Bundle is valid. Each FieldError's Path names the offending member
// ("apis[0].routes[2].target"); a missing member is reported at its own path even though it is absent, so
// adapters fall back to the nearest parent they know.
//
// An empty Bundle is valid: it serves nothing. Checks that need runtime context — the syntax of selection
// expressions, VTL templates, integration URIs of AWS types — belong to later compile steps.
func Validate(b *Bundle) FieldErrors {
	if b == nil {
		return nil
	}
	v := &validator{}
	ids := make(map[string]int)
	for i := range b.APIs {
		a := &b.APIs[i]
		p := IndexPath("apis", i)
		if a.APIID != "" {
			if first, ok := ids[a.APIID]; ok {
				v.addf(FieldPath(p, "apiId"), "apiId %q is already used by apis[%d]; apiIds must be unique (an API without apiId gets one derived from its name)", a.APIID, first)
			} else {
				ids[a.APIID] = i
			}
		}
		v.api(p, a)
	}
	v.iam(b.IAM)
	v.usagePlans(b)
	v.domainNames(b)
	fnames := make(map[string]int)
	for i := range b.Functions {
		fn := &b.Functions[i]
		p := IndexPath("functions", i)
		if first, ok := fnames[fn.FunctionName]; ok && fn.FunctionName != "" {
			v.addf(FieldPath(p, "functionName"), "functionName %q is already used by functions[%d]", fn.FunctionName, first)
		} else {
			fnames[fn.FunctionName] = i
		}
		v.function(p, fn)
	}
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

type validator struct {
	errs FieldErrors
}

func (v *validator) addf(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// oneOf checks that value is one of allowed; "" is accepted only when it is listed.
func (v *validator) oneOf(path, member, value string, allowed ...string) {
	if slices.Contains(allowed, value) {
		return
	}
	var shown []string
	for _, a := range allowed {
		if a == "" {
			shown = append(shown, "unset")
		} else {
			shown = append(shown, a)
		}
	}
	if value == "" {
		v.addf(path, "%s is required; allowed values are %s", member, strings.Join(shown, ", "))
		return
	}
	v.addf(path, "%s %q is not supported; allowed values are %s", member, value, strings.Join(shown, ", "))
}

func (v *validator) api(p string, a *API) {
	switch n := utf8.RuneCountInString(a.Name); {
	case n == 0:
		v.addf(FieldPath(p, "name"), "name is required")
	case n > MaxAPINameLength:
		v.addf(FieldPath(p, "name"), "name is %d characters long; the limit is %d", n, MaxAPINameLength)
	}
	v.oneOf(FieldPath(p, "apiKeySelectionExpression"), "apiKeySelectionExpression", a.APIKeySelectionExpression,
		DefaultAPIKeySelectionExpression, "$context.authorizer.usageIdentifierKey")
	if a.APIID != "" && !apiIDPattern.MatchString(a.APIID) {
		v.addf(FieldPath(p, "apiId"), "apiId %q is not valid; use 1 to 63 lowercase letters and digits (it becomes a host name label)", a.APIID)
	}
	switch a.ProtocolType {
	case ProtocolWebSocket:
		if a.RouteSelectionExpression == "" {
			v.addf(FieldPath(p, "routeSelectionExpression"), "routeSelectionExpression is required for WEBSOCKET APIs, for example $request.body.action")
		}
	case ProtocolHTTP:
		v.httpAPI(p, a)
		return
	case "":
		v.addf(FieldPath(p, "protocolType"), "protocolType is required: WEBSOCKET or HTTP")
	default:
		v.addf(FieldPath(p, "protocolType"), "Invalid protocolType %q specified. Must be one of [HTTP, WEBSOCKET]", a.ProtocolType)
	}
	v.authorizers(p, a)
	if a.CorsConfiguration != nil {
		v.addf(FieldPath(p, "corsConfiguration"), "corsConfiguration is not supported for WebSocket APIs (HTTP APIs only)")
	}

	integrations := make(map[string]bool)
	for _, in := range a.Integrations {
		integrations[in.IntegrationID] = true
	}
	routeKeys := make(map[string]bool)
	routeIDs := make(map[string]int)
	for i := range a.Routes {
		rp := IndexPath(FieldPath(p, "routes"), i)
		r := &a.Routes[i]
		if r.RouteKey != "" {
			if routeKeys[r.RouteKey] {
				v.addf(FieldPath(rp, "routeKey"), "Route with key %s already exists for this API", r.RouteKey)
			}
			routeKeys[r.RouteKey] = true
		}
		if r.RouteID != "" {
			if first, ok := routeIDs[r.RouteID]; ok {
				v.addf(FieldPath(rp, "routeId"), "routeId %q is already used by routes[%d]; route ids must be unique within the API", r.RouteID, first)
			} else {
				routeIDs[r.RouteID] = i
			}
		}
		v.route(rp, r, integrations)
	}

	integrationIDs := make(map[string]bool)
	for i := range a.Integrations {
		ip := IndexPath(FieldPath(p, "integrations"), i)
		in := &a.Integrations[i]
		if in.IntegrationID != "" {
			if integrationIDs[in.IntegrationID] {
				v.addf(FieldPath(ip, "integrationId"), "Integration with id %s already exists for this API; integrationIds must be unique within the API", in.IntegrationID)
			}
			integrationIDs[in.IntegrationID] = true
		}
		v.integration(ip, in)
	}

	v.models(p, a.Models)
	modelNames := make(map[string]bool, len(a.Models))
	for _, m := range a.Models {
		modelNames[m.Name] = true
	}
	for i := range a.Routes {
		r := &a.Routes[i]
		rp := IndexPath(FieldPath(p, "routes"), i)
		for _, key := range sortedKeys(r.RequestModels) {
			if name := r.RequestModels[key]; !modelNames[name] {
				v.addf(FieldPath(FieldPath(rp, "requestModels"), key), "Invalid model identifier specified: %s is not a model of this API", name)
			}
		}
	}
	deployments := make(map[string]bool, len(a.Deployments))
	for _, d := range a.Deployments {
		deployments[d.DeploymentID] = true
	}
	deployedKeys := make(map[string]map[string]bool, len(a.Deployments))
	for _, d := range a.Deployments {
		keys := make(map[string]bool, len(d.Routes)+len(routeKeys))
		for _, r := range d.Routes {
			keys[r.RouteKey] = true
		}
		for k := range routeKeys {
			keys[k] = true // settings may be made ready for routes not deployed yet
		}
		deployedKeys[d.DeploymentID] = keys
	}
	stageNames := make(map[string]bool)
	for i := range a.Stages {
		sp := IndexPath(FieldPath(p, "stages"), i)
		s := &a.Stages[i]
		if s.StageName != "" {
			if stageNames[s.StageName] {
				v.addf(FieldPath(sp, "stageName"), "Stage %s already exists for this API; stage names must be unique within the API", s.StageName)
			}
			stageNames[s.StageName] = true
		}
		keys := routeKeys
		if d, ok := deployedKeys[s.DeploymentID]; ok {
			keys = d // a deployed stage's route settings name its deployment's routes
		}
		v.stage(sp, s, keys)
		if s.StageName == StageDefault {
			v.addf(FieldPath(sp, "stageName"), "the $default stage is for HTTP APIs only; a WebSocket API's stage is the first segment of its URL")
		}
		if s.DeploymentID != "" && !deployments[s.DeploymentID] {
			v.addf(FieldPath(sp, "deploymentId"), "Invalid deployment identifier specified %s", s.DeploymentID)
		}
	}
}

// models checks an API's models as CreateModel does: an alphanumeric name, unique in the API, and a schema.
func (v *validator) models(p string, models []Model) {
	names := make(map[string]int, len(models))
	for i := range models {
		m := &models[i]
		mp := IndexPath(FieldPath(p, "models"), i)
		switch {
		case m.Name == "":
			v.addf(FieldPath(mp, "name"), "name is required")
		case !modelNamePattern.MatchString(m.Name):
			v.addf(FieldPath(mp, "name"), "model name %q is not valid; use 1 to 128 letters and digits", m.Name)
		default:
			if first, dup := names[m.Name]; dup {
				v.addf(FieldPath(mp, "name"), "Model name %s already exists for this API (models[%d])", m.Name, first)
			}
			names[m.Name] = i
		}
		if m.Schema == "" {
			v.addf(FieldPath(mp, "schema"), "schema is required: a JSON Schema (draft 4) document")
		} else if !json.Valid([]byte(m.Schema)) {
			v.addf(FieldPath(mp, "schema"), "schema is not valid JSON")
		}
	}
}

// awsServiceURIProblem says what is wrong with uri as an AWS integration's URI
// (arn:aws:apigateway:{region}:{service}:action/{Action} or …:path/{path}, ParseAWSServiceURI, with a
// path that is not empty; or a Lambda function ARN), or "" when nothing is.
func awsServiceURIProblem(uri string) string {
	if strings.HasPrefix(uri, "arn:aws:lambda:") || strings.HasPrefix(uri, "arn:aws-") && strings.Contains(uri, ":lambda:") {
		return "" // a function ARN, as AWS_PROXY integrations accept too
	}
	u, problem := ParseAWSServiceURI(uri)
	if problem == "" && u.Action == "" && u.Path == "" {
		problem = "the resource must be action/{Action} or path/{path}"
	}
	return problem
}

func (v *validator) route(p string, r *Route, integrations map[string]bool) {
	switch {
	case r.RouteKey == "":
		v.addf(FieldPath(p, "routeKey"), "routeKey is required: $connect, $disconnect, $default or a custom key matched against the routeSelectionExpression")
	case strings.HasPrefix(r.RouteKey, "$") && r.RouteKey != RouteKeyConnect && r.RouteKey != RouteKeyDisconnect && r.RouteKey != RouteKeyDefault:
		v.addf(FieldPath(p, "routeKey"), "routeKey %q is not allowed: keys starting with $ are reserved, and the reserved keys are $connect, $disconnect and $default", r.RouteKey)
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

	v.oneOf(FieldPath(p, "authorizationType"), "authorizationType", r.AuthorizationType, "NONE", "AWS_IAM", "CUSTOM")
	switch r.AuthorizationType {
	case "AWS_IAM", "CUSTOM":
		if r.RouteKey != RouteKeyConnect {
			v.addf(FieldPath(p, "authorizationType"), "authorizationType %s is only allowed on the $connect route: authorization runs once, at connect time, and covers the whole connection", r.AuthorizationType)
		}
	}
	switch {
	case r.AuthorizationType == "CUSTOM" && r.AuthorizerID == "":
		v.addf(FieldPath(p, "authorizerId"), "authorizerId is required when authorizationType is CUSTOM")
	case r.AuthorizationType != "CUSTOM" && r.AuthorizerID != "":
		v.addf(FieldPath(p, "authorizerId"), "authorizerId is only used with authorizationType CUSTOM; set authorizationType: CUSTOM or remove authorizerId")
	}

	for _, k := range sortedKeys(r.RequestParameters) {
		if !routeParamKeyPattern.MatchString(k) {
			v.addf(FieldPath(FieldPath(p, "requestParameters"), k), "request parameter %q is not valid; use route.request.header.NAME, route.request.querystring.NAME, route.request.multivalueheader.NAME, route.request.multivaluequerystring.NAME (NAME of A-Z a-z 0-9 . _ $ -) or route.request.body.PATH", k)
		}
	}

	if r.RouteKey == RouteKeyDisconnect {
		// $disconnect runs after the socket is closed (spec §2.10): a response could never be delivered.
		switch {
		case len(r.RouteResponses) > 0:
			v.addf(FieldPath(p, "routeResponses"), "the $disconnect route cannot have route responses: it runs after the connection is closed, so nothing can be sent back")
		case r.RouteResponseSelectionExpression != "":
			v.addf(FieldPath(p, "routeResponseSelectionExpression"), "the $disconnect route cannot be two-way: it runs after the connection is closed, so nothing can be sent back")
		}
		return
	}
	if r.RouteResponseSelectionExpression != "" && r.RouteResponseSelectionExpression != RouteResponseKeyDefault {
		v.addf(FieldPath(p, "routeResponseSelectionExpression"), "routeResponseSelectionExpression %q is not supported; the only value is $default", r.RouteResponseSelectionExpression)
	}
	if len(r.RouteResponses) > 1 {
		v.addf(FieldPath(p, "routeResponses"), "a route has at most one route response (key $default); got %d", len(r.RouteResponses))
	}
	for i := range r.RouteResponses {
		rp := IndexPath(FieldPath(p, "routeResponses"), i)
		rr := &r.RouteResponses[i]
		switch rr.RouteResponseKey {
		case RouteResponseKeyDefault:
		case "":
			v.addf(FieldPath(rp, "routeResponseKey"), "routeResponseKey is required; the only key is $default")
		default:
			v.addf(FieldPath(rp, "routeResponseKey"), "routeResponseKey %q is not supported; the only key is $default", rr.RouteResponseKey)
		}
		if rr.RouteResponseID != "" && !resourceIDPattern.MatchString(rr.RouteResponseID) {
			v.addf(FieldPath(rp, "routeResponseId"), "routeResponseId %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", rr.RouteResponseID)
		}
	}
}

func (v *validator) integration(p string, in *Integration) {
	switch {
	case in.IntegrationID == "":
		v.addf(FieldPath(p, "integrationId"), "integrationId is required; routes name it in target: integrations/{integrationId}")
	case !resourceIDPattern.MatchString(in.IntegrationID):
		v.addf(FieldPath(p, "integrationId"), "integrationId %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", in.IntegrationID)
	}
	v.oneOf(FieldPath(p, "integrationType"), "integrationType", in.IntegrationType,
		IntegrationAWSProxy, IntegrationAWS, IntegrationHTTPProxy, IntegrationHTTP, IntegrationMock)

	switch in.IntegrationType {
	case IntegrationMock:
	case IntegrationHTTP, IntegrationHTTPProxy:
		if in.IntegrationURI == "" {
			v.addf(FieldPath(p, "integrationUri"), "integrationUri is required for %s integrations: an absolute http or https URL", in.IntegrationType)
		} else if msg := checkHTTPURI(in.IntegrationURI); msg != "" {
			v.addf(FieldPath(p, "integrationUri"), "integrationUri %q is not valid: %s", in.IntegrationURI, msg)
		}
	case IntegrationAWS, IntegrationAWSProxy:
		if in.IntegrationURI == "" {
			v.addf(FieldPath(p, "integrationUri"), "integrationUri is required for %s integrations: the Lambda function's invocation URI or ARN", in.IntegrationType)
		} else if problem := awsServiceURIProblem(in.IntegrationURI); in.IntegrationType == IntegrationAWS && problem != "" {
			v.addf(FieldPath(p, "integrationUri"), "integrationUri %q is not valid for AWS integrations (%s): use arn:aws:apigateway:{region}:{service}:action/{Action}, arn:aws:apigateway:{region}:{service}:path/{path}, a Lambda invocation URI (arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations) or a function ARN", in.IntegrationURI, problem)
		}
	}

	if in.TimeoutInMillis < MinTimeoutInMillis || in.TimeoutInMillis > MaxTimeoutInMillis {
		v.addf(FieldPath(p, "timeoutInMillis"), "timeoutInMillis %d is out of range; allowed is %d to %d", in.TimeoutInMillis, MinTimeoutInMillis, MaxTimeoutInMillis)
	}
	v.oneOf(FieldPath(p, "passthroughBehavior"), "passthroughBehavior", in.PassthroughBehavior, "WHEN_NO_MATCH", "NEVER", "WHEN_NO_TEMPLATES")
	v.oneOf(FieldPath(p, "connectionType"), "connectionType", in.ConnectionType, "INTERNET", "VPC_LINK")
	v.oneOf(FieldPath(p, "contentHandlingStrategy"), "contentHandlingStrategy", in.ContentHandlingStrategy, "", "CONVERT_TO_BINARY", "CONVERT_TO_TEXT")
	if in.PayloadFormatVersion != DefaultPayloadFormatVersion {
		v.addf(FieldPath(p, "payloadFormatVersion"), "payloadFormatVersion %q is not supported; WebSocket APIs use 1.0 (2.0 is for HTTP APIs)", in.PayloadFormatVersion)
	}

	for _, k := range sortedKeys(in.RequestParameters) {
		kp := FieldPath(FieldPath(p, "requestParameters"), k)
		if !integrationKeyPattern.MatchString(k) {
			v.addf(kp, "request parameter %q is not valid; use integration.request.header.NAME, integration.request.querystring.NAME or integration.request.path.NAME (NAME of A-Z a-z 0-9 . _ $ -)", k)
		}
		if val := in.RequestParameters[k]; !integrationValPattern.MatchString(val) {
			v.addf(kp, "request parameter source %q is not valid; use route.request.header.NAME, route.request.querystring.NAME, route.request.multivalueheader.NAME, route.request.multivaluequerystring.NAME, route.request.body.PATH, stageVariables.NAME, context.NAME or a single-quoted 'static value'", val)
		}
	}

	if len(in.ResponseParameters) > 0 {
		v.addf(FieldPath(p, "responseParameters"), "responseParameters are not supported for WebSocket APIs (HTTP APIs only); use integration responses")
	}
	if len(in.IntegrationResponses) == 0 {
		return
	}
	if in.IntegrationType == IntegrationAWSProxy || in.IntegrationType == IntegrationHTTPProxy {
		v.addf(FieldPath(p, "integrationResponses"), "%s integrations cannot have integration responses: the backend's response is passed through; integration responses are for AWS, HTTP and MOCK integrations", in.IntegrationType)
		return
	}
	keys := make(map[string]bool)
	for i := range in.IntegrationResponses {
		rp := IndexPath(FieldPath(p, "integrationResponses"), i)
		ir := &in.IntegrationResponses[i]
		kp := FieldPath(rp, "integrationResponseKey")
		switch k := ir.IntegrationResponseKey; {
		case k == "":
			v.addf(kp, "integrationResponseKey is required: $default or a regular expression between slashes, such as /4\\d\\d/")
		case k == IntegrationResponseKeyDefault:
		case len(k) < 3 || k[0] != '/' || k[len(k)-1] != '/':
			v.addf(kp, "integrationResponseKey %q is not valid; use $default or a non-empty regular expression between slashes, such as /4\\d\\d/", k)
		default:
			if _, err := regexp.Compile(k[1 : len(k)-1]); err != nil {
				reason := err.Error()
				var se *syntax.Error
				if errors.As(err, &se) {
					reason = string(se.Code) // without the pattern, which the message already quotes
				}
				v.addf(kp, "integrationResponseKey %q is not a valid regular expression (RE2 syntax): %s", k, reason)
			}
		}
		if k := ir.IntegrationResponseKey; k != "" {
			if keys[k] {
				v.addf(kp, "Integration response with key %s already exists for this integration", k)
			}
			keys[k] = true
		}
		if ir.IntegrationResponseID != "" && !resourceIDPattern.MatchString(ir.IntegrationResponseID) {
			v.addf(FieldPath(rp, "integrationResponseId"), "integrationResponseId %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", ir.IntegrationResponseID)
		}
		v.oneOf(FieldPath(rp, "contentHandlingStrategy"), "contentHandlingStrategy", ir.ContentHandlingStrategy, "", "CONVERT_TO_BINARY", "CONVERT_TO_TEXT")
	}
}

// checkHTTPURI returns what is wrong with an HTTP integration URI, or "". A URI that starts with a stage
// variable (http${stageVariables.tls}://…, ${stageVariables.url}) can only be checked once the stage is
// known; elsewhere placeholders are allowed and stand in for host, path or query text.
func checkHTTPURI(uri string) string {
	if strings.HasPrefix(uri, "${") {
		return ""
	}
	lower := strings.ToLower(uri)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return "it must be an absolute http:// or https:// URL"
	}
	u, err := url.Parse(stageVarPlaceholder.ReplaceAllString(uri, "stagevariable"))
	if err != nil || u.Host == "" {
		return "it must be an absolute http:// or https:// URL with a host"
	}
	return ""
}

func (v *validator) stage(p string, s *Stage, routeKeys map[string]bool) {
	switch {
	case s.StageName == "":
		v.addf(FieldPath(p, "stageName"), "stageName is required; it is the path of the WebSocket URL")
	case s.StageName == StageDefault: // HTTP APIs only; the API checks say so for WebSocket APIs
	case !stageNamePattern.MatchString(s.StageName):
		v.addf(FieldPath(p, "stageName"), "stageName %q is not valid; use 1 to 128 of A-Z a-z 0-9 _ -", s.StageName)
	}

	vp := FieldPath(p, "stageVariables")
	if n := len(s.StageVariables); n > MaxStageVariables {
		v.addf(vp, "a stage has at most %d stage variables; got %d", MaxStageVariables, n)
	}
	for _, k := range sortedKeys(s.StageVariables) {
		kp := FieldPath(vp, k)
		if !stageVarNamePattern.MatchString(k) {
			v.addf(kp, "stage variable name %q is not valid; use 1 to 64 of A-Z a-z 0-9 _", k)
		}
		val := s.StageVariables[k]
		if utf8.RuneCountInString(val) > MaxStageVariableValueLen || !stageVarValuePattern.MatchString(val) {
			v.addf(kp, "stage variable value %q is not valid; use 1 to %d of A-Z a-z 0-9 - . _ ~ : / ? # & = ,", val, MaxStageVariableValueLen)
		}
	}

	if s.DefaultRouteSettings != nil {
		v.routeSettings(FieldPath(p, "defaultRouteSettings"), s.DefaultRouteSettings)
	}
	rsp := FieldPath(p, "routeSettings")
	for _, k := range sortedKeys(s.RouteSettings) {
		kp := FieldPath(rsp, k)
		if !routeKeys[k] {
			v.addf(kp, "routeSettings key %q is not a route key of this API; routeSettings override settings per route key", k)
		}
		rs := s.RouteSettings[k]
		v.routeSettings(kp, &rs)
	}
}

func (v *validator) routeSettings(p string, rs *RouteSettings) {
	v.oneOf(FieldPath(p, "loggingLevel"), "loggingLevel", rs.LoggingLevel, "", "ERROR", "INFO", "OFF")
	if rs.ThrottlingBurstLimit < 0 {
		v.addf(FieldPath(p, "throttlingBurstLimit"), "throttlingBurstLimit %d is negative; use 0 or more requests", rs.ThrottlingBurstLimit)
	}
	if r := rs.ThrottlingRateLimit; !(r >= 0) || math.IsInf(r, 1) {
		v.addf(FieldPath(p, "throttlingRateLimit"), "throttlingRateLimit %v is not valid; use a finite number of requests per second, 0 or more", r)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// function checks a local function with Lambda's limits.
func (v *validator) function(p string, fn *Function) {
	switch {
	case fn.FunctionName == "":
		v.addf(FieldPath(p, "functionName"), "functionName is required")
	case !functionNameRE.MatchString(fn.FunctionName):
		v.addf(FieldPath(p, "functionName"), "functionName %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", fn.FunctionName)
	}
	lang, ok := RuntimeLanguage(fn.Runtime)
	if !ok {
		v.addf(FieldPath(p, "runtime"), "runtime %q is not one Switchboard runs; use one of %s", fn.Runtime, KnownRuntimes)
	}
	switch lang {
	case LanguageNode:
		if _, _, _, err := NodeHandler(fn.Handler); err != nil {
			v.addf(FieldPath(p, "handler"), "%v", err)
		}
	case LanguagePython:
		if _, _, err := PythonHandler(fn.Handler); err != nil {
			v.addf(FieldPath(p, "handler"), "%v", err)
		}
	default:
		if fn.Handler == "" {
			v.addf(FieldPath(p, "handler"), "handler is required: the executable to run (e.g. an aws-lambda-go binary)")
		}
	}
	if (lang == LanguageNode || lang == LanguagePython) && fn.CodeURI == "" {
		v.addf(FieldPath(p, "codeUri"), "codeUri is required for runtime %s: the directory holding the function's code (the handler %q is found in it)", fn.Runtime, fn.Handler)
	}
	if (lang == LanguageNode || lang == LanguagePython) && len(fn.Args) > 0 {
		v.addf(FieldPath(p, "args"), "args apply only to executables; runtime %s runs the handler string with Switchboard's bootstrap", fn.Runtime)
	}
	if fn.Timeout < 1 || fn.Timeout > 900 {
		v.addf(FieldPath(p, "timeout"), "timeout %d is out of range; allowed is 1 to 900 seconds", fn.Timeout)
	}
	if fn.MemorySize < 128 || fn.MemorySize > 10240 {
		v.addf(FieldPath(p, "memorySize"), "memorySize %d is out of range; allowed is 128 to 10240 MB", fn.MemorySize)
	}
	if fn.ReservedConcurrentExecutions < 1 || fn.ReservedConcurrentExecutions > 1000 {
		v.addf(FieldPath(p, "reservedConcurrentExecutions"), "reservedConcurrentExecutions %d is out of range; allowed is 1 to 1000", fn.ReservedConcurrentExecutions)
	}
	for name := range fn.Environment {
		if !envNameRE.MatchString(name) {
			v.addf(FieldPath(FieldPath(p, "environment"), name), "environment variable name %q is not valid; use a letter followed by letters, digits and _", name)
		}
	}
}

var envNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

var authorizerIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// identitySourceRE is what WebSocket REQUEST authorizers accept as identity sources.
var identitySourceRE = regexp.MustCompile(`^(route\.request\.(header|querystring)\.[a-zA-Z0-9._$-]+|stageVariables\.[A-Za-z0-9_]+|context\.[A-Za-z0-9_.]+)$`)

// authorizers checks the API's Lambda authorizers and that CUSTOM routes name one of them.
func (v *validator) authorizers(p string, a *API) {
	ids := map[string]int{}
	for i, au := range a.Authorizers {
		ap := IndexPath(FieldPath(p, "authorizers"), i)
		switch {
		case !authorizerIDRE.MatchString(au.AuthorizerID):
			v.addf(FieldPath(ap, "authorizerId"), "authorizerId %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", au.AuthorizerID)
		default:
			if first, dup := ids[au.AuthorizerID]; dup {
				v.addf(FieldPath(ap, "authorizerId"), "authorizerId %q is already used by authorizers[%d]", au.AuthorizerID, first)
			}
			ids[au.AuthorizerID] = i
		}
		if au.Name == "" {
			v.addf(FieldPath(ap, "name"), "name is required")
		}
		if au.AuthorizerType != "REQUEST" {
			v.addf(FieldPath(ap, "authorizerType"), "authorizerType %q is not supported; WebSocket APIs allow REQUEST (Lambda) authorizers only", au.AuthorizerType)
		}
		if au.AuthorizerURI == "" {
			v.addf(FieldPath(ap, "authorizerUri"), "authorizerUri is required: the Lambda function, e.g. arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations")
		}
		for j, src := range au.IdentitySource {
			if !identitySourceRE.MatchString(src) {
				v.addf(IndexPath(FieldPath(ap, "identitySource"), j), "identity source %q is not valid; use route.request.header.NAME, route.request.querystring.NAME, stageVariables.NAME or context.NAME", src)
			}
		}
	}
	for i, r := range a.Routes {
		if r.AuthorizationType == "CUSTOM" && r.AuthorizerID != "" {
			if _, ok := ids[r.AuthorizerID]; !ok {
				v.addf(FieldPath(IndexPath(FieldPath(p, "routes"), i), "authorizerId"), "authorizerId %q names no authorizer of this API; declare it under authorizers", r.AuthorizerID)
			}
		}
	}
}

var accessKeyRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

// iam checks the IAM stand-in: unique, well-formed access keys with a secret and a JSON policy.
func (v *validator) iam(cfg *IAM) {
	if cfg == nil {
		return
	}
	keys := map[string]int{}
	for i, u := range cfg.Users {
		p := IndexPath("iam.users", i)
		if !accessKeyRE.MatchString(u.AccessKeyID) {
			v.addf(FieldPath(p, "accessKeyId"), "accessKeyId %q is not valid; use 16 to 128 of A-Z 0-9, like AKIAIOSFODNN7EXAMPLE", u.AccessKeyID)
		} else if first, dup := keys[u.AccessKeyID]; dup {
			v.addf(FieldPath(p, "accessKeyId"), "accessKeyId %q is already used by iam.users[%d]", u.AccessKeyID, first)
		} else {
			keys[u.AccessKeyID] = i
		}
		if u.SecretAccessKey == "" {
			v.addf(FieldPath(p, "secretAccessKey"), "secretAccessKey is required")
		}
		if !json.Valid([]byte(u.Policy)) {
			v.addf(FieldPath(p, "policy"), "policy must be an IAM policy document in JSON, e.g. {\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"execute-api:*\",\"Resource\":\"*\"}]}")
		}
	}
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// usagePlans checks API keys and usage plans: ids, key values of 20 to 128 characters (AWS's rule), and
// that plans name existing API stages and keys.
func (v *validator) usagePlans(b *Bundle) {
	keys := map[string]int{}
	values := map[string]int{}
	for i, k := range b.APIKeys {
		p := IndexPath("apiKeys", i)
		if !keyIDRE.MatchString(k.ID) {
			v.addf(FieldPath(p, "id"), "id %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", k.ID)
		} else if first, dup := keys[k.ID]; dup {
			v.addf(FieldPath(p, "id"), "id %q is already used by apiKeys[%d]", k.ID, first)
		} else {
			keys[k.ID] = i
		}
		if n := len(k.Value); n < 20 || n > 128 {
			v.addf(FieldPath(p, "value"), "value must be 20 to 128 characters long (it has %d)", n)
		} else if first, dup := values[k.Value]; dup {
			v.addf(FieldPath(p, "value"), "value is already the value of apiKeys[%d]", first)
		} else {
			values[k.Value] = i
		}
	}
	stages := map[[2]string]bool{}
	httpAPIs := map[string]bool{}
	for _, a := range b.APIs {
		httpAPIs[a.APIID] = a.IsHTTP()
		for _, st := range a.Stages {
			stages[[2]string{a.APIID, st.StageName}] = true
		}
	}
	plans := map[string]int{}
	for i, pl := range b.UsagePlans {
		p := IndexPath("usagePlans", i)
		if !keyIDRE.MatchString(pl.ID) {
			v.addf(FieldPath(p, "id"), "id %q is not valid; use 1 to 64 of A-Z a-z 0-9 _ -", pl.ID)
		} else if first, dup := plans[pl.ID]; dup {
			v.addf(FieldPath(p, "id"), "id %q is already used by usagePlans[%d]", pl.ID, first)
		} else {
			plans[pl.ID] = i
		}
		for j, s := range pl.APIStages {
			if httpAPIs[s.APIID] {
				v.addf(IndexPath(FieldPath(p, "apiStages"), j), "API %q is an HTTP API; API keys and usage plans are not supported for HTTP APIs", s.APIID)
				continue
			}
			if !stages[[2]string{s.APIID, s.Stage}] {
				v.addf(IndexPath(FieldPath(p, "apiStages"), j), "no API %q with stage %q is declared", s.APIID, s.Stage)
			}
		}
		if t := pl.Throttle; t != nil && (t.RateLimit < 0 || t.BurstLimit < 0) {
			v.addf(FieldPath(p, "throttle"), "rateLimit and burstLimit must not be negative")
		}
		if q := pl.Quota; q != nil {
			v.oneOf(FieldPath(FieldPath(p, "quota"), "period"), "period", q.Period, "DAY", "WEEK", "MONTH")
			if q.Limit <= 0 {
				v.addf(FieldPath(FieldPath(p, "quota"), "limit"), "limit must be positive")
			}
			if q.Offset < 0 {
				v.addf(FieldPath(FieldPath(p, "quota"), "offset"), "offset must not be negative")
			}
		}
		for j, id := range pl.KeyIDs {
			if _, ok := keys[id]; !ok {
				v.addf(IndexPath(FieldPath(p, "keyIds"), j), "no API key with id %q is declared under apiKeys", id)
			}
		}
	}
}

var (
	domainNameRE    = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	mappingKeyRE    = regexp.MustCompile(`^[A-Za-z0-9$\-_.+!*'()]*$`)
	maxMappingKeyLn = 300
)

// domainNames checks custom domains and their API mappings with AWS's rules
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-mappings.html): a domain maps
// WebSocket APIs or HTTP APIs, not both; HTTP API mapping keys may have several levels (v1/orders).
func (v *validator) domainNames(b *Bundle) {
	stages := map[[2]string]bool{}
	protocols := map[string]string{}
	for _, a := range b.APIs {
		protocols[a.APIID] = a.ProtocolType
		for _, st := range a.Stages {
			stages[[2]string{a.APIID, st.StageName}] = true
		}
	}
	names := map[string]int{}
	for i, d := range b.DomainNames {
		p := IndexPath("domainNames", i)
		name := strings.ToLower(d.DomainName)
		switch {
		case !domainNameRE.MatchString(name) || len(name) > 253:
			v.addf(FieldPath(p, "domainName"), "domainName %q is not a valid host name (a wildcard is allowed as the first label: *.example.com)", d.DomainName)
		default:
			if first, dup := names[name]; dup {
				v.addf(FieldPath(p, "domainName"), "domainName %q is already declared by domainNames[%d]", d.DomainName, first)
			}
			names[name] = i
		}
		if len(d.DomainNameConfigurations) > 1 {
			v.addf(FieldPath(p, "domainNameConfigurations"), "at most one configuration is allowed")
		}
		for j, c := range d.DomainNameConfigurations {
			cp := IndexPath(FieldPath(p, "domainNameConfigurations"), j)
			if c.EndpointType != "" && c.EndpointType != "REGIONAL" {
				v.addf(FieldPath(cp, "endpointType"), "endpointType %q is not supported; WebSocket APIs use REGIONAL domain names", c.EndpointType)
			}
			if c.SecurityPolicy != "" && c.SecurityPolicy != "TLS_1_2" {
				v.addf(FieldPath(cp, "securityPolicy"), "securityPolicy %q is not supported; WebSocket custom domains allow TLS_1_2 only", c.SecurityPolicy)
			}
			if (c.CertificateFile == "") != (c.PrivateKeyFile == "") {
				v.addf(cp, "certificateFile and privateKeyFile go together")
			}
			if c.AutomaticCertificate && c.CertificateFile != "" {
				v.addf(FieldPath(cp, "automaticCertificate"), "automaticCertificate and certificateFile exclude each other")
			}
			if c.AutomaticCertificate && (b.ACME == nil || b.ACME.Directory == "") {
				v.addf(FieldPath(cp, "automaticCertificate"), "automaticCertificate needs an acme section with the ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory")
			}
			if c.AutomaticCertificate && strings.HasPrefix(d.DomainName, "*.") {
				v.addf(FieldPath(cp, "automaticCertificate"), "wildcard domains cannot get certificates over http-01; give certificateFile and privateKeyFile")
			}
		}
		hasCert := false
		for _, c := range d.DomainNameConfigurations {
			hasCert = hasCert || c.CertificateFile != ""
		}
		if d.MutualTLSAuthentication != nil && !hasCert {
			v.addf(FieldPath(p, "mutualTlsAuthentication"), "mutual TLS needs the domain's own certificate: set certificateFile and privateKeyFile in domainNameConfigurations")
		}
		if m := d.MutualTLSAuthentication; m != nil && m.TruststoreURI == "" {
			v.addf(FieldPath(FieldPath(p, "mutualTlsAuthentication"), "truststoreUri"), "truststoreUri is required: a PEM bundle of the CAs whose client certificates are accepted")
		}
		keys := map[string]int{}
		firstProto, firstAt := "", 0
		for j, m := range d.APIMappings {
			mp := IndexPath(FieldPath(p, "apiMappings"), j)
			if !stages[[2]string{m.APIID, m.Stage}] {
				v.addf(mp, "no API %q with stage %q is declared", m.APIID, m.Stage)
			}
			proto := protocols[m.APIID]
			switch {
			case proto == "":
			case firstProto == "":
				firstProto, firstAt = proto, j
			case proto != firstProto:
				v.addf(FieldPath(mp, "apiId"), "BadRequestException: domain %s maps %s API %q (apiMappings[%d]); a domain maps WebSocket APIs or HTTP APIs, not both", d.DomainName, firstProto, d.APIMappings[firstAt].APIID, firstAt)
			}
			switch {
			case len(m.APIMappingKey) > maxMappingKeyLn:
				v.addf(FieldPath(mp, "apiMappingKey"), "apiMappingKey is %d characters long; the limit is %d", len(m.APIMappingKey), maxMappingKeyLn)
			case proto == ProtocolHTTP:
				if m.APIMappingKey != "" && !httpMappingKeyRE.MatchString(m.APIMappingKey) {
					v.addf(FieldPath(mp, "apiMappingKey"), "apiMappingKey %q is not valid; HTTP API mappings allow path segments of letters, digits and $-_.+!*'() separated by single / (no leading or trailing /)", m.APIMappingKey)
				}
			case !mappingKeyRE.MatchString(m.APIMappingKey):
				v.addf(FieldPath(mp, "apiMappingKey"), "apiMappingKey %q is not valid; WebSocket API mappings allow letters, digits and $-_.+!*'() (no /)", m.APIMappingKey)
			}
			if first, dup := keys[m.APIMappingKey]; dup {
				if m.APIMappingKey == "" {
					v.addf(FieldPath(mp, "apiMappingKey"), "ConflictException: domain %s already has an API mapping with an empty key (apiMappings[%d])", d.DomainName, first)
				} else {
					v.addf(FieldPath(mp, "apiMappingKey"), "ConflictException: domain %s already has an API mapping with key %q (apiMappings[%d])", d.DomainName, m.APIMappingKey, first)
				}
			} else {
				keys[m.APIMappingKey] = j
			}
		}
	}
}
