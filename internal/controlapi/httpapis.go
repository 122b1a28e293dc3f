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
// kind takes. resource.Validate (through checkAPI) checks the members of a resource against its API's
// kind; the checks here are the ones it cannot make — members of an operation's input that the resource
// does not keep, whole operations, and answers whose AWS wording is known — and refuse with a
// BadRequestException naming the member, worded after the API reference's "Supported only for HTTP
// APIs" / "Supported only for WebSocket APIs" notes
// (https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/).

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
	if e := in.APIKeySelectionExpression; e != "" && e != resource.DefaultAPIKeySelectionExpression {
		return wsOnly("apiKeySelectionExpression")
	}
	switch in.IPAddressType {
	case "", ipAddressTypeIPv4, ipAddressTypeDualstack:
	default:
		return badRequest("ipAddressType %q is not valid; allowed values are ipv4 and dualstack", in.IPAddressType)
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
	if present["target"] || present["credentialsArn"] {
		if _, err := integrationFor(a, qc.IntegrationID); err != nil {
			return badRequest("the integration quick create made (%s) has been deleted; change or create integrations with UpdateIntegration and CreateIntegration", qc.IntegrationID)
		}
	}
	if present["routeKey"] && in.RouteKey != "" {
		if _, err := routeFor(a, qc.RouteID); err != nil {
			return badRequest("the route quick create made (%s) has been deleted; change or create routes with UpdateRoute and CreateRoute", qc.RouteID)
		}
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

// Kinds of resource quick create makes, for managed.
const (
	managedIntegration = iota
	managedRoute
	managedStage
)

// managed says whether the integration, route (by id) or stage (by name) is one quick create made.
func managed(a *catalog.API, kind int, id string) bool {
	qc := a.QuickCreate
	if qc == nil || id == "" {
		return false
	}
	switch kind {
	case managedIntegration:
		return id == qc.IntegrationID
	case managedRoute:
		return id == qc.RouteID
	}
	return id == qc.Stage
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
	return nil
}

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
	switch in.AuthorizerType {
	case "JWT":
		// AWS requires an audience to match tokens against; an empty list would accept no token.
		if jc := in.JWTConfiguration; jc != nil && len(jc.Audience) == 0 {
			return badRequest("jwtConfiguration.audience is required for JWT authorizers: at least one audience")
		}
	case "REQUEST":
		if in.JWTConfiguration != nil {
			return badRequest("jwtConfiguration is supported only for JWT authorizers")
		}
	case "":
		return badRequest("authorizerType is required; HTTP APIs have JWT and REQUEST (Lambda) authorizers")
	}
	return nil
}

// checkStageKind refuses the stage members the API's kind does not have. AWS answers "Execution logs
// are not supported on protocolType HTTP" for loggingLevel and dataTraceEnabled on HTTP API stages
// (hashicorp/terraform-provider-aws#14010).
func checkStageKind(a *catalog.API, st *resource.Stage) error {
	if !isHTTP(&a.API) {
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
