package resource

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// validHTTPBundle returns an HTTP API that uses most HTTP API members and passes Validate after
// ApplyDefaults; each test case breaks one thing.
func validHTTPBundle() *Bundle {
	maxAge := 300
	creds := true
	return &Bundle{APIs: []API{{
		APIID:        "pets",
		Name:         "pets",
		ProtocolType: ProtocolHTTP,
		CorsConfiguration: &Cors{
			AllowOrigins: []string{"https://example.com"}, AllowMethods: []string{"GET", "post", "*"},
			AllowHeaders: []string{"authorization"}, ExposeHeaders: []string{"x-total"}, MaxAge: &maxAge, AllowCredentials: &creds,
		},
		Authorizers: []Authorizer{
			{AuthorizerID: "jwt1", Name: "cognito", AuthorizerType: AuthorizerTypeJWT, IdentitySource: []string{"$request.header.Authorization"},
				JWTConfiguration: &JWTConfiguration{Issuer: "https://issuer.example.com", Audience: []string{"client1"}}},
			{AuthorizerID: "lam1", Name: "lambda", AuthorizerType: AuthorizerTypeRequest, AuthorizerURI: "arn:aws:lambda:us-east-1:123456789012:function:auth",
				AuthorizerPayloadFormatVersion: "2.0", EnableSimpleResponses: true, AuthorizerResultTTLInSeconds: 300,
				IdentitySource: []string{"$request.header.Authorization", "$context.routeKey", "$stageVariables.x", "$request.querystring.t"}},
		},
		Routes: []Route{
			{RouteKey: "GET /pets/{id}", Target: "integrations/lambda", AuthorizationType: AuthorizationJWT, AuthorizerID: "jwt1", AuthorizationScopes: []string{"pets/read"}},
			{RouteKey: "ANY /pets/{proxy+}", Target: "integrations/backend", AuthorizationType: "CUSTOM", AuthorizerID: "lam1"},
			{RouteKey: "POST /", Target: "integrations/sqs", AuthorizationType: "AWS_IAM"},
			{RouteKey: RouteKeyDefault, Target: "integrations/backend"},
		},
		Integrations: []Integration{
			{IntegrationID: "lambda", IntegrationType: IntegrationAWSProxy, IntegrationURI: "arn:aws:lambda:us-east-1:123456789012:function:pets", PayloadFormatVersion: "2.0"},
			{IntegrationID: "backend", IntegrationType: IntegrationHTTPProxy, IntegrationURI: "https://backend.example.com/{proxy}", IntegrationMethod: "ANY",
				TLSConfig: &TLSConfig{ServerNameToVerify: "backend.example.com"},
				RequestParameters: map[string]string{
					"append:header.x-stage":      "$context.stage",
					"overwrite:querystring.page": "$request.querystring.p",
					"remove:header.x-secret":     "''",
					"overwrite:path":             "/v2$request.path",
				},
				ResponseParameters: map[string]map[string]string{"404": {"overwrite:statuscode": "410", "append:header.x-gone": "yes", "remove:header.server": "''"}},
			},
			{IntegrationID: "sqs", IntegrationType: IntegrationAWSProxy, IntegrationSubtype: "SQS-SendMessage",
				RequestParameters: map[string]string{"QueueUrl": "$stageVariables.queue", "MessageBody": "$request.body"}},
		},
		Stages: []Stage{{StageName: StageDefault, AutoDeploy: true, RouteSettings: map[string]RouteSettings{"GET /pets/{id}": {ThrottlingBurstLimit: 5}}}, {StageName: "dev"}},
	}}}
}

func TestValidateHTTPAPI(t *testing.T) {
	api := func(b *Bundle) *API { return &b.APIs[0] }
	tests := []struct {
		name   string
		before func(*Bundle)
		want   []string
	}{
		{name: "valid"},
		{name: "braced route selection expression", before: func(b *Bundle) { api(b).RouteSelectionExpression = RouteSelectionExpressionHTTPBraced }},
		{name: "other route selection expression", before: func(b *Bundle) { api(b).RouteSelectionExpression = "$request.body.action" },
			want: []string{`apis[0].routeSelectionExpression: routeSelectionExpression "$request.body.action" is not valid for HTTP APIs`}},
		{name: "WebSocket route key", before: func(b *Bundle) { api(b).Routes[3].RouteKey = "$connect" },
			want: []string{`apis[0].routes[3].routeKey: invalid route key "$connect"`}},
		{name: "duplicate route key", before: func(b *Bundle) { api(b).Routes[2].RouteKey = "GET /pets/{id}" },
			want: []string{"apis[0].routes[2].routeKey: Route with key GET /pets/{id} already exists for this API"}},
		{name: "JWT route with REQUEST authorizer", before: func(b *Bundle) { api(b).Routes[0].AuthorizerID = "lam1" },
			want: []string{`apis[0].routes[0].authorizerId: authorizerId "lam1" is a REQUEST authorizer; authorizationType JWT needs a JWT authorizer`}},
		{name: "scopes without JWT", before: func(b *Bundle) { api(b).Routes[1].AuthorizationScopes = []string{"a"} },
			want: []string{"apis[0].routes[1].authorizationScopes: authorizationScopes are checked by JWT authorizers only"}},
		{name: "api key required", before: func(b *Bundle) { api(b).Routes[3].APIKeyRequired = true },
			want: []string{"apis[0].routes[3].apiKeyRequired: API keys are not supported for HTTP APIs"}},
		{name: "route responses", before: func(b *Bundle) { api(b).Routes[3].RouteResponses = []RouteResponse{{RouteResponseKey: "$default"}} },
			want: []string{"apis[0].routes[3].routeResponses: routeResponses is not supported for HTTP APIs"}},
		{name: "JWT without issuer", before: func(b *Bundle) { api(b).Authorizers[0].JWTConfiguration = nil },
			want: []string{"apis[0].authorizers[0].jwtConfiguration.issuer: jwtConfiguration.issuer is required"}},
		{name: "JWT with two identity sources", before: func(b *Bundle) {
			api(b).Authorizers[0].IdentitySource = []string{"$request.header.a", "$request.header.b"}
		},
			want: []string{"apis[0].authorizers[0].identitySource: a JWT authorizer has exactly one identity source"}},
		{name: "JWT with context identity source", before: func(b *Bundle) { api(b).Authorizers[0].IdentitySource = []string{"$context.x"} },
			want: []string{`apis[0].authorizers[0].identitySource[0]: identity source "$context.x" is not valid for a JWT authorizer`}},
		{name: "REQUEST without payload version", before: func(b *Bundle) { api(b).Authorizers[1].AuthorizerPayloadFormatVersion = "" },
			want: []string{"apis[0].authorizers[1].authorizerPayloadFormatVersion: authorizerPayloadFormatVersion is required"}},
		{name: "simple responses with 1.0", before: func(b *Bundle) { api(b).Authorizers[1].AuthorizerPayloadFormatVersion = "1.0" },
			want: []string{"apis[0].authorizers[1].enableSimpleResponses: enableSimpleResponses needs authorizerPayloadFormatVersion 2.0"}},
		{name: "ttl too long", before: func(b *Bundle) { api(b).Authorizers[1].AuthorizerResultTTLInSeconds = 3601 },
			want: []string{"apis[0].authorizers[1].authorizerResultTtlInSeconds: authorizerResultTtlInSeconds 3601 is out of range"}},
		{name: "WebSocket identity source", before: func(b *Bundle) { api(b).Authorizers[1].IdentitySource = []string{"route.request.header.x"} },
			want: []string{`apis[0].authorizers[1].identitySource[0]: identity source "route.request.header.x" is not valid`}},
		{name: "Lambda without payload version", before: func(b *Bundle) { api(b).Integrations[0].PayloadFormatVersion = "" },
			want: []string{"apis[0].integrations[0].payloadFormatVersion: payloadFormatVersion is required for Lambda integrations of HTTP APIs"}},
		{name: "HTTP_PROXY with 2.0", before: func(b *Bundle) { api(b).Integrations[1].PayloadFormatVersion = "2.0" },
			want: []string{`apis[0].integrations[1].payloadFormatVersion: payloadFormatVersion "2.0" is not supported for HTTP_PROXY integrations`}},
		{name: "HTTP_PROXY without method", before: func(b *Bundle) { api(b).Integrations[1].IntegrationMethod = "" },
			want: []string{"apis[0].integrations[1].integrationMethod: integrationMethod is required for HTTP_PROXY integrations"}},
		{name: "MOCK integration", before: func(b *Bundle) { api(b).Integrations[1].IntegrationType = IntegrationMock },
			want: []string{`apis[0].integrations[1].integrationType: integrationType "MOCK" is not supported; allowed values are AWS_PROXY, HTTP_PROXY`}},
		{name: "VPC link ARN", before: func(b *Bundle) {
			api(b).Integrations[1].ConnectionType = "VPC_LINK"
			api(b).Integrations[1].IntegrationURI = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2"
		}, want: []string{"apis[0].integrations[1].integrationUri: integrationUri \"arn:aws:elasticloadbalancing"}},
		{name: "VPC link URL", before: func(b *Bundle) { api(b).Integrations[1].ConnectionType = "VPC_LINK" }},
		{name: "timeout above 30 s", before: func(b *Bundle) { api(b).Integrations[1].TimeoutInMillis = 30001 },
			want: []string{"apis[0].integrations[1].timeoutInMillis: timeoutInMillis 30001 is out of range; allowed is 50 to 30000"}},
		{name: "WebSocket parameter key", before: func(b *Bundle) { api(b).Integrations[1].RequestParameters["integration.request.header.x"] = "'a'" },
			want: []string{`apis[0].integrations[1].requestParameters.integration.request.header.x: request parameter "integration.request.header.x" is not valid`}},
		{name: "reserved header mapped", before: func(b *Bundle) { api(b).Integrations[1].RequestParameters["overwrite:header.X-Amz-Date"] = "x" },
			want: []string{"apis[0].integrations[1].requestParameters.overwrite:header.X-Amz-Date: header X-Amz-Date is reserved"}},
		{name: "response key not a status", before: func(b *Bundle) { api(b).Integrations[1].ResponseParameters["2xx"] = map[string]string{} },
			want: []string{`apis[0].integrations[1].responseParameters.2xx: responseParameters key "2xx" is not a status code`}},
		{name: "response key path", before: func(b *Bundle) { api(b).Integrations[1].ResponseParameters["404"]["overwrite:path"] = "/x" },
			want: []string{`apis[0].integrations[1].responseParameters.404.overwrite:path: response parameter "overwrite:path" is not valid`}},
		{name: "unknown subtype", before: func(b *Bundle) { api(b).Integrations[2].IntegrationSubtype = "SNS-Publish" },
			want: []string{`apis[0].integrations[2].integrationSubtype: integrationSubtype "SNS-Publish" is not supported`}},
		{name: "templates", before: func(b *Bundle) { api(b).Integrations[1].RequestTemplates = map[string]string{"$default": "x"} },
			want: []string{"apis[0].integrations[1].requestTemplates: requestTemplates is not supported for HTTP APIs"}},
		{name: "cors max age", before: func(b *Bundle) { n := 86401; api(b).CorsConfiguration.MaxAge = &n },
			want: []string{"apis[0].corsConfiguration.maxAge: maxAge 86401 is out of range"}},
		{name: "cors credentials with any origin", before: func(b *Bundle) { api(b).CorsConfiguration.AllowOrigins = []string{"*"} },
			want: []string{"apis[0].corsConfiguration.allowCredentials: allowCredentials cannot be true when allowOrigins contains *"}},
		{name: "cors method", before: func(b *Bundle) { api(b).CorsConfiguration.AllowMethods = []string{"FETCH"} },
			want: []string{`apis[0].corsConfiguration.allowMethods[0]: allowMethods entry "FETCH" is not valid`}},
		{name: "route settings for unknown key", before: func(b *Bundle) { api(b).Stages[0].RouteSettings["GET /nope"] = RouteSettings{} },
			want: []string{`apis[0].stages[0].routeSettings.GET /nope: routeSettings key "GET /nope" is not a route key of this API`}},
		{name: "usage plan on HTTP API", before: func(b *Bundle) {
			b.UsagePlans = []UsagePlan{{ID: "p1", APIStages: []UsagePlanStage{{APIID: "pets", Stage: "dev"}}}}
		}, want: []string{`usagePlans[0].apiStages[0]: API "pets" is an HTTP API; API keys and usage plans are not supported`}},
		{name: "domain with multi-level key", before: func(b *Bundle) {
			b.DomainNames = []DomainName{{DomainName: "api.example.com", APIMappings: []APIMapping{{APIID: "pets", Stage: "dev", APIMappingKey: "v1/pets"}, {APIID: "pets", Stage: StageDefault}}}}
		}},
		{name: "domain with bad multi-level key", before: func(b *Bundle) {
			b.DomainNames = []DomainName{{DomainName: "api.example.com", APIMappings: []APIMapping{{APIID: "pets", Stage: "dev", APIMappingKey: "v1//pets"}}}}
		}, want: []string{`domainNames[0].apiMappings[0].apiMappingKey: apiMappingKey "v1//pets" is not valid; HTTP API mappings`}},
		{name: "domain mixing WebSocket and HTTP", before: func(b *Bundle) {
			b.APIs = append(b.APIs, API{APIID: "chat", Name: "chat", ProtocolType: ProtocolWebSocket, RouteSelectionExpression: "$request.body.action", Stages: []Stage{{StageName: "prod"}}})
			b.DomainNames = []DomainName{{DomainName: "api.example.com", APIMappings: []APIMapping{{APIID: "pets", Stage: "dev", APIMappingKey: "pets"}, {APIID: "chat", Stage: "prod", APIMappingKey: "chat"}}}}
		}, want: []string{`domainNames[0].apiMappings[1].apiId: BadRequestException: domain api.example.com maps HTTP API "pets" (apiMappings[0]); a domain maps WebSocket APIs or HTTP APIs, not both`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := validHTTPBundle()
			if tt.before != nil {
				tt.before(b)
			}
			ApplyDefaults(b)
			errs := Validate(b)
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() returned %d errors, want %d:\n%v", len(errs), len(tt.want), errs)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tt.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, e.Error(), tt.want[i])
				}
			}
		})
	}
}

func TestApplyDefaultsHTTPAPI(t *testing.T) {
	b := validHTTPBundle()
	ApplyDefaults(b)
	a := b.APIs[0]
	if a.RouteSelectionExpression != RouteSelectionExpressionHTTP || a.APIKeySelectionExpression != DefaultAPIKeySelectionExpression {
		t.Errorf("selection expressions = %q, %q", a.RouteSelectionExpression, a.APIKeySelectionExpression)
	}
	type got struct {
		timeout                                       int
		conn, method, payload, passthrough, selection string
	}
	want := []got{
		{30000, "INTERNET", "POST", "2.0", "", ""},
		{30000, "INTERNET", "ANY", "1.0", "", ""},
		{30000, "INTERNET", "", "1.0", "", ""},
	}
	for i, in := range a.Integrations {
		g := got{in.TimeoutInMillis, in.ConnectionType, in.IntegrationMethod, in.PayloadFormatVersion, in.PassthroughBehavior, in.IntegrationResponseSelectionExpression}
		if g != want[i] {
			t.Errorf("integrations[%d] defaults = %+v, want %+v", i, g, want[i])
		}
	}
}

func TestParseHTTPRouteKey(t *testing.T) {
	tests := []struct {
		key     string
		want    HTTPRouteKey
		wantErr string
	}{
		{key: "$default", want: HTTPRouteKey{Default: true}},
		{key: "GET /", want: HTTPRouteKey{Method: "GET", Path: "/"}},
		{key: "ANY /pets/{id}/toys", want: HTTPRouteKey{Method: "ANY", Path: "/pets/{id}/toys", Segments: []PathSegment{{Literal: "pets"}, {Param: "id"}, {Literal: "toys"}}}},
		{key: "DELETE /{proxy+}", want: HTTPRouteKey{Method: "DELETE", Path: "/{proxy+}", Segments: []PathSegment{{Param: "proxy", Greedy: true}}}},
		{key: "GET", wantErr: "use $default or METHOD /path"},
		{key: "get /pets", wantErr: `method "get" is not one of`},
		{key: "FETCH /pets", wantErr: `method "FETCH" is not one of`},
		{key: "GET pets", wantErr: "the path must start with /"},
		{key: "GET /pets/", wantErr: "empty segment"},
		{key: "GET //pets", wantErr: "empty segment"},
		{key: "GET /{proxy+}/x", wantErr: "must be the last segment"},
		{key: "GET /a{b}", wantErr: "mixes text and a path variable"},
		{key: "GET /{}", wantErr: "is not valid; use {name}"},
		{key: "GET /{a}/{a}", wantErr: `path variable "a" is used twice`},
		{key: "GET /a b", wantErr: "holds a space"},
		{key: "$connect", wantErr: "use $default or METHOD /path"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := ParseHTTPRouteKey(tt.key)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrRouteKey) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseHTTPRouteKey(%q) error = %v, want one containing %q", tt.key, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseHTTPRouteKey(%q) = %+v, %v; want %+v", tt.key, got, err, tt.want)
			}
		})
	}
}

func FuzzParseHTTPRouteKey(f *testing.F) {
	for _, s := range []string{"$default", "GET /", "ANY /pets/{id}", "POST /{proxy+}", "GET /a{b}", "GET //", "PUT /{a}/{a+}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		rk, err := ParseHTTPRouteKey(key)
		if err != nil {
			if !errors.Is(err, ErrRouteKey) {
				t.Fatalf("error %v does not wrap ErrRouteKey", err)
			}
			return
		}
		if rk.Default {
			return
		}
		// A parsed key prints back as itself, and only its last segment may be greedy.
		var b strings.Builder
		b.WriteString(rk.Method + " ")
		if len(rk.Segments) == 0 {
			b.WriteString("/")
		}
		for i, s := range rk.Segments {
			b.WriteString("/")
			switch {
			case s.Param == "":
				b.WriteString(s.Literal)
			case s.Greedy:
				if i != len(rk.Segments)-1 {
					t.Fatalf("greedy segment %d of %d in %q", i, len(rk.Segments), key)
				}
				b.WriteString("{" + s.Param + "+}")
			default:
				b.WriteString("{" + s.Param + "}")
			}
		}
		if b.String() != key {
			t.Fatalf("ParseHTTPRouteKey(%q) prints back as %q", key, b.String())
		}
	})
}

func TestValidateSubtypeParameters(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		want   []string
	}{
		{name: "complete", params: map[string]string{"QueueUrl": "q", "MessageBody": "$request.body", "Region": "eu-west-1"}},
		{name: "required missing", params: map[string]string{"QueueUrl": "q"},
			want: []string{"apis[0].integrations[2].requestParameters.MessageBody: integrationSubtype SQS-SendMessage requires the request parameter MessageBody"}},
		{name: "unknown parameter", params: map[string]string{"QueueUrl": "q", "MessageBody": "b", "Body": "x"},
			want: []string{"apis[0].integrations[2].requestParameters.Body: request parameter Body is not a parameter of integrationSubtype SQS-SendMessage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := validHTTPBundle()
			b.APIs[0].Integrations[2].RequestParameters = tt.params
			ApplyDefaults(b)
			errs := Validate(b)
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors", errs, len(tt.want))
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tt.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, e, tt.want[i])
				}
			}
		})
	}
}
