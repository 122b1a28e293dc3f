package controlapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/openapi"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// HTTP APIs share the apigatewayv2 operations with WebSocket APIs; what differs is which members each
// kind takes. The checks here refuse a member used on the wrong kind of API with a BadRequestException
// naming it, worded after the API reference's "Supported only for HTTP APIs" / "Supported only for
// WebSocket APIs" notes (https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/), and quoting
// AWS's own message where one is known.

// isHTTP says a is an HTTP API.
func isHTTP(a *resource.API) bool { return a.ProtocolType == resource.ProtocolHTTP }

// wsOnly is the refusal of a WebSocket-only member on an HTTP API.
func wsOnly(member string) error {
	return badRequest("%s is supported only for WebSocket APIs; this is an HTTP API", member)
}

// wsOnlyResources is the refusal of a kind of resource only WebSocket APIs have.
func wsOnlyResources(kind string) error {
	return badRequest("%s are supported only for WebSocket APIs; this is an HTTP API", kind)
}

// httpOnly is the refusal of an HTTP-only member on a WebSocket API.
func httpOnly(member string) error {
	return badRequest("%s is supported only for HTTP APIs; this is a WebSocket API", member)
}

// apiEndpointFor is an API's apiEndpoint: the configured WebSocket endpoint, with an http(s) scheme for
// HTTP APIs (AWS: wss://{apiId}.execute-api… and https://{apiId}.execute-api…).
func (s *server) apiEndpointFor(a *resource.API) string {
	ep := s.cfg.APIEndpoint(a.APIID)
	if isHTTP(a) {
		if rest, ok := strings.CutPrefix(ep, "wss://"); ok {
			return "https://" + rest
		}
		if rest, ok := strings.CutPrefix(ep, "ws://"); ok {
			return "http://" + rest
		}
	}
	return ep
}

// checkHTTP checks CreateApi's and UpdateApi's members for an HTTP API and fills in its route
// selection expression, the only one HTTP APIs have.
func (in *apiInput) checkHTTP() error {
	switch in.RouteSelectionExpression {
	case "", openapi.RouteSelectionExpression, "${request.method} ${request.path}":
		in.RouteSelectionExpression = openapi.RouteSelectionExpression
	default:
		return badRequest("routeSelectionExpression %q is not valid for HTTP APIs; it must be %s", in.RouteSelectionExpression, openapi.RouteSelectionExpression)
	}
	if in.DisableSchemaValidation {
		return wsOnly("disableSchemaValidation")
	}
	if e := in.APIKeySelectionExpression; e != "" && e != resource.DefaultAPIKeySelectionExpression {
		return wsOnly("apiKeySelectionExpression")
	}
	switch in.IPAddressType {
	case "", ipAddressTypeIPv4, ipAddressTypeDualstack:
	default:
		return badRequest("ipAddressType %q is not valid; allowed values are ipv4 and dualstack", in.IPAddressType)
	}
	if c := in.CorsConfiguration; c != nil && c.MaxAge != nil && (*c.MaxAge < -1 || *c.MaxAge > 86400) {
		return badRequest("corsConfiguration.maxAge %d is out of range; allowed is -1 to 86400", *c.MaxAge)
	}
	return nil
}

// checkQuickCreate refuses CreateApi's routeKey and credentialsArn without target: they describe what
// quick create makes for target.
func (in *apiInput) checkQuickCreate() error {
	if in.Target != "" {
		return nil
	}
	for _, m := range []struct{ name, value string }{{"routeKey", in.RouteKey}, {"credentialsArn", in.CredentialsARN}} {
		if m.value != "" {
			return badRequest("%s is a quick create member: it needs target, the Lambda function ARN or HTTP URL the API integrates with", m.name)
		}
	}
	return nil
}

// quickCreateIntegration is the integration quick create makes for target: AWS_PROXY with payload
// format 2.0 for a Lambda function ARN, HTTP_PROXY with method ANY and payload format 1.0 for a URL
// (CLI examples create-api and get-integrations).
func quickCreateIntegration(target, credentialsARN string) (resource.Integration, error) {
	in := resource.Integration{CredentialsARN: credentialsARN}
	switch {
	case strings.HasPrefix(target, "arn:"):
		in.IntegrationType = resource.IntegrationAWSProxy
		in.IntegrationMethod = "POST"
		in.PayloadFormatVersion = "2.0"
	case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
		in.IntegrationType = resource.IntegrationHTTPProxy
		in.IntegrationMethod = "ANY"
		in.PayloadFormatVersion = "1.0"
	default:
		return in, badRequest("target %q is not valid; use a Lambda function ARN or an http(s) URL", target)
	}
	in.IntegrationURI = target
	in.ConnectionType = resource.DefaultConnectionType
	return in, nil
}

// quickCreate makes the integration, route and autoDeploy $default stage of a quick-created HTTP API, as
// AWS does, and records them as managed by API Gateway (apiGatewayManaged in their outputs).
func quickCreate(a *catalog.API, in *apiInput, now time.Time) error {
	integ, err := quickCreateIntegration(in.Target, in.CredentialsARN)
	if err != nil {
		return err
	}
	integ.IntegrationID = a.NewChildID()
	a.Integrations = append(a.Integrations, integ)
	key := in.RouteKey
	if key == "" {
		key = resource.RouteKeyDefault
	}
	route := resource.Route{RouteID: a.NewChildID(), RouteKey: key, Target: "integrations/" + integ.IntegrationID,
		AuthorizationType: resource.DefaultAuthorizationType}
	a.Routes = append(a.Routes, route)
	a.Stages = append(a.Stages, resource.Stage{StageName: resource.RouteKeyDefault, AutoDeploy: true})
	touchStage(a, resource.RouteKeyDefault, now)
	a.QuickCreate = &catalog.QuickCreate{IntegrationID: integ.IntegrationID, RouteID: route.RouteID, Stage: resource.RouteKeyDefault}
	return nil
}

// quickUpdate applies UpdateApi's quick create members to a quick-created API: target replaces the
// managed integration's URI and type, routeKey the managed route's key, credentialsArn the
// integration's credentials. An API that was not quick created has nothing they could change.
func quickUpdate(a *catalog.API, in *apiInput, present map[string]bool) error {
	if !present["target"] && !present["routeKey"] && !present["credentialsArn"] {
		return nil
	}
	qc := a.QuickCreate
	if qc == nil {
		return badRequest("target, routeKey and credentialsArn change the resources quick create made; API %s was not quick created", a.APIID)
	}
	for i := range a.Integrations {
		integ := &a.Integrations[i]
		if integ.IntegrationID != qc.IntegrationID {
			continue
		}
		if present["target"] {
			if in.Target == "" {
				return badRequest("target cannot be removed from a quick-created API; give a Lambda function ARN or an http(s) URL")
			}
			next, err := quickCreateIntegration(in.Target, integ.CredentialsARN)
			if err != nil {
				return err
			}
			if next.IntegrationType != integ.IntegrationType {
				integ.IntegrationMethod, integ.PayloadFormatVersion = next.IntegrationMethod, next.PayloadFormatVersion
			}
			integ.IntegrationType, integ.IntegrationURI = next.IntegrationType, next.IntegrationURI
		}
		if present["credentialsArn"] {
			integ.CredentialsARN = in.CredentialsARN
		}
	}
	if present["routeKey"] && in.RouteKey != "" {
		for i := range a.Routes {
			route := &a.Routes[i]
			if route.RouteID != qc.RouteID || route.RouteKey == in.RouteKey {
				continue
			}
			for _, other := range a.Routes {
				if other.RouteKey == in.RouteKey {
					return conflict("Route with key %s already exists for this API", in.RouteKey)
				}
			}
			if err := routeKeyInUse(a, route.RouteKey); err != nil {
				return err
			}
			route.RouteKey = in.RouteKey
		}
	}
	return nil
}

// managed says whether id (a route or integration id, or a stage name) is one quick create made.
func managed(a *catalog.API, id string) bool {
	qc := a.QuickCreate
	return qc != nil && id != "" && (id == qc.IntegrationID || id == qc.RouteID || id == qc.Stage)
}

// checkRouteKind refuses the route members the API's kind does not have.
func checkRouteKind(a *catalog.API, in *routeInput) error {
	if !isHTTP(&a.API) {
		return nil
	}
	switch {
	case in.APIKeyRequired:
		return wsOnly("apiKeyRequired")
	case in.ModelSelectionExpression != "":
		return wsOnly("modelSelectionExpression")
	case len(in.RequestModels) > 0:
		return wsOnly("requestModels")
	case len(in.RequestParameters) > 0:
		return wsOnly("requestParameters")
	case in.RouteResponseSelectionExpression != "":
		return wsOnly("routeResponseSelectionExpression")
	}
	return nil
}

// checkHTTPRouteAuth checks an HTTP API route's authorization: JWT names a JWT authorizer, CUSTOM a
// REQUEST authorizer, and scopes go with JWT only.
func checkHTTPRouteAuth(a *catalog.API, r *resource.Route) error {
	switch r.AuthorizationType {
	case "JWT", "CUSTOM":
		if r.AuthorizerID == "" {
			return badRequest("authorizerId is required when authorizationType is %s", r.AuthorizationType)
		}
		au, err := authorizerFor(a, r.AuthorizerID)
		if err != nil {
			return badRequest("Invalid authorizer identifier specified %s in authorizerId", r.AuthorizerID)
		}
		want := "JWT"
		if r.AuthorizationType == "CUSTOM" {
			want = "REQUEST"
		}
		if au.AuthorizerType != want {
			return badRequest("authorizationType %s needs a %s authorizer; authorizer %s is %s", r.AuthorizationType, want, au.AuthorizerID, au.AuthorizerType)
		}
	case "", resource.DefaultAuthorizationType, "AWS_IAM":
	default:
		return badRequest("authorizationType %q is not valid; HTTP APIs use NONE, JWT, AWS_IAM or CUSTOM", r.AuthorizationType)
	}
	if len(r.AuthorizationScopes) > 0 && r.AuthorizationType != "JWT" {
		return badRequest("authorizationScopes are supported only for routes with authorizationType JWT")
	}
	if len(r.AuthorizationScopes) > 10 {
		return badRequest("authorizationScopes: a route has at most 10 scopes; got %d", len(r.AuthorizationScopes))
	}
	return nil
}

// checkIntegrationKind refuses the integration members the API's kind does not have.
func checkIntegrationKind(a *catalog.API, in *integrationInput) error {
	if !isHTTP(&a.API) {
		if len(in.ResponseParameters) > 0 {
			return httpOnly("responseParameters")
		}
		if in.IntegrationSubtype != "" {
			return httpOnly("integrationSubtype")
		}
		return nil
	}
	switch in.IntegrationType {
	case resource.IntegrationAWSProxy, resource.IntegrationHTTPProxy:
	default:
		// AWS's own words (aws/aws-cli#6363).
		return badRequest("Currently, an API with a protocol type of HTTP may only be associated with proxy integrations (AWS_PROXY, HTTP_PROXY)")
	}
	switch {
	case in.ContentHandlingStrategy != "":
		return wsOnly("contentHandlingStrategy")
	case in.PassthroughBehavior != "":
		return wsOnly("passthroughBehavior")
	case len(in.RequestTemplates) > 0:
		return wsOnly("requestTemplates")
	case in.TemplateSelectionExpression != "":
		return wsOnly("templateSelectionExpression")
	}
	switch in.PayloadFormatVersion {
	case "", "1.0":
	case "2.0":
		if in.IntegrationType != resource.IntegrationAWSProxy {
			return badRequest("payloadFormatVersion 2.0 is supported only for AWS_PROXY (Lambda) integrations; HTTP_PROXY integrations use 1.0")
		}
	default:
		return badRequest("payloadFormatVersion %q is not valid; use 1.0 or 2.0", in.PayloadFormatVersion)
	}
	if in.IntegrationSubtype != "" && in.IntegrationType != resource.IntegrationAWSProxy {
		return badRequest("integrationSubtype is supported only for AWS_PROXY integrations")
	}
	if t := in.TimeoutInMillis; t != nil && (*t < resource.MinTimeoutInMillis || *t > httpMaxTimeout) {
		return badRequest("timeoutInMillis %d is out of range; allowed is %d to %d", *t, resource.MinTimeoutInMillis, httpMaxTimeout)
	}
	return nil
}

// httpMaxTimeout is HTTP APIs' longest integration timeout (30 s; WebSocket APIs: 29 s).
const httpMaxTimeout = 30000

// checkAuthorizerKind checks an authorizer's members against the API's kind.
func checkAuthorizerKind(a *catalog.API, in *authorizerInput) error {
	if in.Name == "" {
		return badRequest("name is required")
	}
	if !isHTTP(&a.API) {
		return in.check()
	}
	if in.IdentityValidationExpression != "" {
		return wsOnly("identityValidationExpression")
	}
	if t := in.AuthorizerResultTTLInSeconds; t != nil && (*t < 0 || *t > 3600) {
		return badRequest("authorizerResultTtlInSeconds %d is out of range; allowed is 0 to 3600", *t)
	}
	switch in.AuthorizerType {
	case "JWT":
		jc := in.JWTConfiguration
		if jc == nil || jc.Issuer == "" {
			return badRequest("jwtConfiguration.issuer is required for JWT authorizers")
		}
		if len(jc.Audience) == 0 {
			return badRequest("jwtConfiguration.audience is required for JWT authorizers: at least one audience")
		}
		if len(jc.Audience) > 50 {
			return badRequest("jwtConfiguration.audience: a JWT authorizer has at most 50 audiences; got %d", len(jc.Audience))
		}
		if len(in.IdentitySource) != 1 {
			return badRequest("identitySource of a JWT authorizer is one expression, such as $request.header.Authorization")
		}
		switch {
		case in.AuthorizerURI != "":
			return badRequest("authorizerUri is supported only for REQUEST authorizers")
		case in.AuthorizerPayloadFormatVersion != "":
			return badRequest("authorizerPayloadFormatVersion is supported only for REQUEST authorizers")
		case in.EnableSimpleResponses:
			return badRequest("enableSimpleResponses is supported only for REQUEST authorizers")
		case in.AuthorizerResultTTLInSeconds != nil && *in.AuthorizerResultTTLInSeconds != 0:
			return badRequest("authorizerResultTtlInSeconds is supported only for REQUEST authorizers")
		}
	case "REQUEST":
		if in.JWTConfiguration != nil {
			return badRequest("jwtConfiguration is supported only for JWT authorizers")
		}
		switch in.AuthorizerPayloadFormatVersion {
		case "1.0", "2.0":
		case "":
			return badRequest("authorizerPayloadFormatVersion is required for REQUEST authorizers of HTTP APIs: 1.0 or 2.0")
		default:
			return badRequest("authorizerPayloadFormatVersion %q is not valid; use 1.0 or 2.0", in.AuthorizerPayloadFormatVersion)
		}
		if in.EnableSimpleResponses && in.AuthorizerPayloadFormatVersion != "2.0" {
			return badRequest("enableSimpleResponses is supported only with authorizerPayloadFormatVersion 2.0")
		}
		if in.AuthorizerResultTTLInSeconds != nil && *in.AuthorizerResultTTLInSeconds > 0 && len(in.IdentitySource) == 0 {
			return badRequest("identitySource is required when authorizer caching is enabled (authorizerResultTtlInSeconds > 0)")
		}
	case "":
		return badRequest("authorizerType is required; HTTP APIs have JWT and REQUEST (Lambda) authorizers")
	default:
		return badRequest("authorizerType %q is not valid; HTTP APIs have JWT and REQUEST (Lambda) authorizers", in.AuthorizerType)
	}
	return nil
}

// checkStageKind refuses the stage members the API's kind does not have. AWS answers "Execution logs
// are not supported on protocolType HTTP" for loggingLevel and dataTraceEnabled on HTTP API stages
// (hashicorp/terraform-provider-aws#14010).
func checkStageKind(a *catalog.API, st *resource.Stage) error {
	if !isHTTP(&a.API) {
		if st.StageName == resource.RouteKeyDefault {
			return badRequest("Stage name $default is supported only for HTTP APIs")
		}
		return nil
	}
	if st.ClientCertificateID != "" {
		return wsOnly("clientCertificateId")
	}
	settings := []*resource.RouteSettings{st.DefaultRouteSettings}
	for k := range st.RouteSettings {
		rs := st.RouteSettings[k]
		settings = append(settings, &rs)
	}
	for _, rs := range settings {
		if rs != nil && ((rs.LoggingLevel != "" && rs.LoggingLevel != "OFF") || rs.DataTraceEnabled) {
			return badRequest("Execution logs are not supported on protocolType HTTP")
		}
	}
	return nil
}

// deleteCORS is DeleteCorsConfiguration: DELETE /v2/apis/{apiId}/cors → 204. The CORS configuration is
// the API's, not a deployment's (snapshot compiles it from the API), so from this change on the gateway
// answers preflights for the API no more and adds no CORS headers.
func (s *server) deleteCORS(w http.ResponseWriter, r *http.Request) error {
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		if !isHTTP(&a.API) {
			return badRequest("DeleteCorsConfiguration is supported only for HTTP APIs; this is a WebSocket API")
		}
		a.CorsConfiguration = nil
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}
