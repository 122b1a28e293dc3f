package resource

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// validBundle returns a bundle that uses most features and passes Validate after ApplyDefaults; each test
// case breaks one thing.
func validBundle() *Bundle {
	return &Bundle{APIs: []API{{
		APIID:                    "chat",
		Name:                     "chat",
		ProtocolType:             ProtocolWebSocket,
		RouteSelectionExpression: "$request.body.action",
		Authorizers: []Authorizer{{AuthorizerID: "auth1", Name: "tokens", AuthorizerType: "REQUEST",
			AuthorizerURI: "arn:aws:lambda:us-east-1:123456789012:function:auth", IdentitySource: []string{"route.request.header.Authorization"}}},
		Routes: []Route{
			{
				RouteKey:          RouteKeyConnect,
				Target:            "integrations/backend",
				AuthorizationType: "CUSTOM",
				AuthorizerID:      "auth1",
				RequestParameters: map[string]ParameterConstraint{
					"route.request.querystring.token": {Required: true},
					"route.request.header.X-Trace_Id": {},
					"route.request.body.user.name":    {},
				},
			},
			{RouteKey: RouteKeyDisconnect, Target: "integrations/backend"},
			{RouteKey: "sendmessage", Target: "integrations/backend", RouteResponses: []RouteResponse{{RouteResponseKey: "$default"}}},
			{RouteKey: "ping", Target: "integrations/pong", RouteResponseSelectionExpression: "$default", RouteResponses: []RouteResponse{{RouteResponseKey: "$default"}}},
			{RouteKey: RouteKeyDefault},
		},
		Integrations: []Integration{
			{
				IntegrationID:   "backend",
				IntegrationType: IntegrationHTTPProxy,
				IntegrationURI:  "http://127.0.0.1:9000/${stageVariables.path}",
				RequestParameters: map[string]string{
					"integration.request.header.connectionId": "context.connectionId",
					"integration.request.header.x-user":       "route.request.body.user.name",
					"integration.request.querystring.token":   "route.request.querystring.token",
					"integration.request.querystring.stage":   "stageVariables.path",
					"integration.request.path.static":         "'fixed value'",
				},
			},
			{
				IntegrationID:    "pong",
				IntegrationType:  IntegrationMock,
				RequestTemplates: map[string]string{"$default": `{"statusCode": 200}`},
				IntegrationResponses: []IntegrationResponse{
					{IntegrationResponseKey: "$default"},
					{IntegrationResponseKey: `/4\d\d/`, ContentHandlingStrategy: "CONVERT_TO_TEXT"},
				},
			},
			{IntegrationID: "lambda", IntegrationType: IntegrationAWS, IntegrationURI: "arn:aws:lambda:us-east-1:123456789012:function:f", TimeoutInMillis: 50},
			{IntegrationID: "dynamic", IntegrationType: IntegrationHTTP, IntegrationURI: "${stageVariables.url}/x", TimeoutInMillis: 29000},
		},
		Stages: []Stage{{
			StageName:            "dev",
			StageVariables:       map[string]string{"path": "events", "url": "https://example.com:8443/a?b=c&d=e,f#g"},
			DefaultRouteSettings: &RouteSettings{LoggingLevel: "ERROR", ThrottlingBurstLimit: 10, ThrottlingRateLimit: 2.5},
			RouteSettings:        map[string]RouteSettings{"ping": {LoggingLevel: "INFO"}},
		}},
	}}}
}

func TestValidateValid(t *testing.T) {
	b := validBundle()
	ApplyDefaults(b)
	if errs := Validate(b); errs != nil {
		t.Fatalf("Validate() = %v, want nil", errs)
	}
	if errs := Validate(&Bundle{}); errs != nil {
		t.Errorf("Validate(empty) = %v, want nil", errs)
	}
	if errs := Validate(nil); errs != nil {
		t.Errorf("Validate(nil) = %v, want nil", errs)
	}
}

func TestValidate(t *testing.T) {
	api := func(b *Bundle) *API { return &b.APIs[0] }
	route := func(b *Bundle, i int) *Route { return &b.APIs[0].Routes[i] }
	integ := func(b *Bundle, i int) *Integration { return &b.APIs[0].Integrations[i] }
	stage := func(b *Bundle) *Stage { return &b.APIs[0].Stages[0] }

	tests := []struct {
		name string
		// before runs before ApplyDefaults, after runs after it (to break what defaults would fill).
		before, after func(b *Bundle)
		// want is "path: message fragment" for every expected error, in order.
		want []string
	}{
		// api
		{name: "api name missing", before: func(b *Bundle) { api(b).Name = "" }, want: []string{"apis[0].name: name is required"}},
		{name: "api name too long", before: func(b *Bundle) { api(b).Name = strings.Repeat("é", 129) }, want: []string{"apis[0].name: name is 129 characters long; the limit is 128"}},
		{name: "api name 128 runes ok", before: func(b *Bundle) { api(b).Name = strings.Repeat("é", 128) }},
		{name: "cors on a WebSocket API", before: func(b *Bundle) { api(b).CorsConfiguration = &Cors{} }, want: []string{"apis[0].corsConfiguration: corsConfiguration is not supported for WebSocket APIs"}},
		{name: "$default stage on a WebSocket API", before: func(b *Bundle) { stage(b).StageName = StageDefault }, want: []string{"apis[0].stages[0].stageName: the $default stage is for HTTP APIs only"}},
		{name: "response parameters on a WebSocket API", before: func(b *Bundle) {
			api(b).Integrations[0].ResponseParameters = map[string]map[string]string{"200": {"overwrite:statuscode": "201"}}
		}, want: []string{"apis[0].integrations[0].responseParameters: responseParameters are not supported for WebSocket APIs"}},
		{name: "protocol missing", before: func(b *Bundle) { api(b).ProtocolType = "" }, want: []string{"apis[0].protocolType: protocolType is required"}},
		{name: "authorizer type JWT", before: func(b *Bundle) { api(b).Authorizers[0].AuthorizerType = "JWT" }, want: []string{"apis[0].authorizers[0].authorizerType: authorizerType \"JWT\" is not supported"}},
		{name: "authorizer without uri", before: func(b *Bundle) { api(b).Authorizers[0].AuthorizerURI = "" }, want: []string{"apis[0].authorizers[0].authorizerUri: authorizerUri is required"}},
		{name: "bad identity source", before: func(b *Bundle) { api(b).Authorizers[0].IdentitySource = []string{"method.request.header.X"} }, want: []string{"apis[0].authorizers[0].identitySource[0]: identity source"}},
		{name: "route names a missing authorizer", before: func(b *Bundle) { api(b).Routes[0].AuthorizerID = "nope" }, want: []string{"apis[0].routes[0].authorizerId: authorizerId \"nope\" names no authorizer"}},
		{name: "iam bad access key", before: func(b *Bundle) {
			b.IAM = &IAM{Users: []IAMUser{{AccessKeyID: "short", SecretAccessKey: "s", Policy: "{}"}}}
		}, want: []string{"iam.users[0].accessKeyId: accessKeyId \"short\" is not valid"}},
		{name: "iam policy not JSON", before: func(b *Bundle) {
			b.IAM = &IAM{Users: []IAMUser{{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "s", Policy: "Allow all"}}}
		}, want: []string{"iam.users[0].policy: policy must be an IAM policy document in JSON"}},
		{name: "protocol unknown", before: func(b *Bundle) { api(b).ProtocolType = "websocket" }, want: []string{`apis[0].protocolType: Invalid protocolType "websocket" specified. Must be one of [HTTP, WEBSOCKET]`}},
		{name: "route selection expression missing", before: func(b *Bundle) { api(b).RouteSelectionExpression = "" }, want: []string{"apis[0].routeSelectionExpression: routeSelectionExpression is required for WEBSOCKET APIs"}},
		{name: "api key selection expression unknown", before: func(b *Bundle) { api(b).APIKeySelectionExpression = "$request.header.key" }, want: []string{`apis[0].apiKeySelectionExpression: apiKeySelectionExpression "$request.header.key" is not supported; allowed values are $request.header.x-api-key, $context.authorizer.usageIdentifierKey`}},
		{name: "api key selection expression authorizer ok", before: func(b *Bundle) { api(b).APIKeySelectionExpression = "$context.authorizer.usageIdentifierKey" }},
		{name: "api id invalid", before: func(b *Bundle) { api(b).APIID = "Chat_1" }, want: []string{`apis[0].apiId: apiId "Chat_1" is not valid; use 1 to 63 lowercase letters and digits`}},
		{name: "api id too long", before: func(b *Bundle) { api(b).APIID = strings.Repeat("a", 64) }, want: []string{"apis[0].apiId: apiId"}},
		{
			name: "api id duplicate",
			before: func(b *Bundle) {
				other := validBundle().APIs[0]
				other.Name = "other"
				b.APIs = append(b.APIs, other)
			},
			want: []string{`apis[1].apiId: apiId "chat" is already used by apis[0]`},
		},
		{
			// AWS allows APIs with the same name; only ids must differ.
			name: "api name duplicate is allowed",
			before: func(b *Bundle) {
				other := validBundle().APIs[0]
				other.APIID = "other"
				b.APIs = append(b.APIs, other)
			},
			want: nil,
		},

		// routes
		{name: "route key missing", before: func(b *Bundle) { route(b, 2).RouteKey = "" }, want: []string{"apis[0].routes[2].routeKey: routeKey is required"}},
		{name: "route key duplicate", before: func(b *Bundle) { route(b, 4).RouteKey = "sendmessage" }, want: []string{"apis[0].routes[4].routeKey: Route with key sendmessage already exists for this API"}},
		{name: "route key reserved prefix", before: func(b *Bundle) { route(b, 2).RouteKey = "$send" }, want: []string{`apis[0].routes[2].routeKey: routeKey "$send" is not allowed: keys starting with $ are reserved`}},
		{name: "route target malformed", before: func(b *Bundle) { route(b, 2).Target = "backend" }, want: []string{`apis[0].routes[2].target: target "backend" is not valid; use integrations/{integrationId}`}},
		{name: "route target unknown integration", before: func(b *Bundle) { route(b, 2).Target = "integrations/nope" }, want: []string{`apis[0].routes[2].target: target "integrations/nope" names no integration of this API`}},
		{name: "route authorization type unknown", before: func(b *Bundle) { route(b, 0).AuthorizationType = "JWT"; route(b, 0).AuthorizerID = "" }, want: []string{`apis[0].routes[0].authorizationType: authorizationType "JWT" is not supported; allowed values are NONE, AWS_IAM, CUSTOM`}},
		{name: "route custom without authorizer", before: func(b *Bundle) { route(b, 0).AuthorizerID = "" }, want: []string{"apis[0].routes[0].authorizerId: authorizerId is required when authorizationType is CUSTOM"}},
		{name: "route authorizer without custom", before: func(b *Bundle) { route(b, 0).AuthorizationType = "NONE" }, want: []string{"apis[0].routes[0].authorizerId: authorizerId is only used with authorizationType CUSTOM"}},
		{name: "route iam off connect", before: func(b *Bundle) { route(b, 2).AuthorizationType = "AWS_IAM" }, want: []string{"apis[0].routes[2].authorizationType: authorizationType AWS_IAM is only allowed on the $connect route"}},
		{name: "route iam on connect ok", before: func(b *Bundle) { route(b, 0).AuthorizationType = "AWS_IAM"; route(b, 0).AuthorizerID = "" }},
		{name: "route response selection expression not default", before: func(b *Bundle) { route(b, 3).RouteResponseSelectionExpression = "$request.body.x" }, want: []string{`apis[0].routes[3].routeResponseSelectionExpression: routeResponseSelectionExpression "$request.body.x" is not supported; the only value is $default`}},
		{name: "route response key not default", before: func(b *Bundle) { route(b, 2).RouteResponses[0].RouteResponseKey = "ok" }, want: []string{`apis[0].routes[2].routeResponses[0].routeResponseKey: routeResponseKey "ok" is not supported; the only key is $default`}},
		{name: "route response key missing", before: func(b *Bundle) { route(b, 2).RouteResponses[0].RouteResponseKey = "" }, want: []string{"apis[0].routes[2].routeResponses[0].routeResponseKey: routeResponseKey is required"}},
		{name: "route responses more than one", before: func(b *Bundle) { r := route(b, 2); r.RouteResponses = append(r.RouteResponses, r.RouteResponses[0]) }, want: []string{"apis[0].routes[2].routeResponses: a route has at most one route response (key $default); got 2"}},
		{name: "disconnect route responses", before: func(b *Bundle) { route(b, 1).RouteResponses = []RouteResponse{{RouteResponseKey: "$default"}} }, want: []string{"apis[0].routes[1].routeResponses: the $disconnect route cannot have route responses"}},
		{name: "disconnect two-way expression", before: func(b *Bundle) { route(b, 1).RouteResponseSelectionExpression = "$default" }, want: []string{"apis[0].routes[1].routeResponseSelectionExpression: the $disconnect route cannot be two-way"}},
		{name: "connect route response ok", before: func(b *Bundle) { route(b, 0).RouteResponses = []RouteResponse{{RouteResponseKey: "$default"}} }},
		{
			name:   "route request parameter key invalid",
			before: func(b *Bundle) { route(b, 0).RequestParameters["route.request.path.id"] = ParameterConstraint{} },
			want:   []string{`apis[0].routes[0].requestParameters.route.request.path.id: request parameter "route.request.path.id" is not valid`},
		},
		{
			name:   "route request parameter name invalid",
			before: func(b *Bundle) { route(b, 0).RequestParameters["route.request.header.a b"] = ParameterConstraint{} },
			want:   []string{`apis[0].routes[0].requestParameters.route.request.header.a b: request parameter "route.request.header.a b" is not valid`},
		},
		{name: "route id invalid", before: func(b *Bundle) { route(b, 2).RouteID = "a/b" }, want: []string{`apis[0].routes[2].routeId: routeId "a/b" is not valid`}},
		{name: "route id duplicate", before: func(b *Bundle) { route(b, 2).RouteID = "r1"; route(b, 3).RouteID = "r1" }, want: []string{`apis[0].routes[3].routeId: routeId "r1" is already used by routes[2]`}},

		// integrations
		{name: "integration id missing", before: func(b *Bundle) { integ(b, 2).IntegrationID = "" }, want: []string{"apis[0].integrations[2].integrationId: integrationId is required"}},
		{name: "integration id invalid", before: func(b *Bundle) { integ(b, 2).IntegrationID = "lambda fn" }, want: []string{`apis[0].integrations[2].integrationId: integrationId "lambda fn" is not valid; use 1 to 64 of A-Z a-z 0-9 _ -`}},
		{name: "integration id duplicate", before: func(b *Bundle) { integ(b, 2).IntegrationID = "backend" }, want: []string{"apis[0].integrations[2].integrationId: Integration with id backend already exists for this API"}},
		{name: "integration type missing", before: func(b *Bundle) { integ(b, 2).IntegrationType = "" }, want: []string{"apis[0].integrations[2].integrationType: integrationType is required; allowed values are AWS_PROXY, AWS, HTTP_PROXY, HTTP, MOCK"}},
		{name: "integration type unknown", before: func(b *Bundle) { integ(b, 2).IntegrationType = "LAMBDA" }, want: []string{`apis[0].integrations[2].integrationType: integrationType "LAMBDA" is not supported`}},
		{name: "integration uri missing http", before: func(b *Bundle) { integ(b, 0).IntegrationURI = "" }, want: []string{"apis[0].integrations[0].integrationUri: integrationUri is required for HTTP_PROXY integrations"}},
		{name: "integration uri missing aws", before: func(b *Bundle) { integ(b, 2).IntegrationURI = "" }, want: []string{"apis[0].integrations[2].integrationUri: integrationUri is required for AWS integrations"}},
		{name: "aws service integration uri", before: func(b *Bundle) {
			integ(b, 2).IntegrationURI = "arn:aws:apigateway:us-east-1:s3:path/my-bucket/key"
		}},
		{name: "aws service integration uri whose service is not a host name", before: func(b *Bundle) {
			integ(b, 2).IntegrationURI = "arn:aws:apigateway:us-east-1:evil.example/x:action/PutItem"
		}, want: []string{`apis[0].integrations[2].integrationUri: integrationUri "arn:aws:apigateway:us-east-1:evil.example/x:action/PutItem" is not valid for AWS integrations (service "evil.example/x": subdomain.service URIs are not supported; name the service alone (for S3, s3 with path/{bucket}/{key}))`}},
		{name: "aws service integration uri naming a subdomain", before: func(b *Bundle) {
			integ(b, 2).IntegrationURI = "arn:aws:apigateway:us-east-1:abcd123456.execute-api:path/x"
		}, want: []string{`apis[0].integrations[2].integrationUri: integrationUri "arn:aws:apigateway:us-east-1:abcd123456.execute-api:path/x" is not valid for AWS integrations (service "abcd123456.execute-api": subdomain.service URIs are not supported`}},
		{name: "aws service integration uri whose region is not one", before: func(b *Bundle) {
			integ(b, 2).IntegrationURI = "arn:aws:apigateway:compute-1:ec2-54-1-2-3:action/PutItem"
		}, want: []string{`apis[0].integrations[2].integrationUri: integrationUri "arn:aws:apigateway:compute-1:ec2-54-1-2-3:action/PutItem" is not valid for AWS integrations (region "compute-1" is not an AWS region's name, such as us-east-1)`}},
		{name: "aws service integration uri with an empty path", before: func(b *Bundle) { integ(b, 2).IntegrationURI = "arn:aws:apigateway:us-east-1:s3:path/" },
			want: []string{`apis[0].integrations[2].integrationUri: integrationUri "arn:aws:apigateway:us-east-1:s3:path/" is not valid for AWS integrations (the resource must be action/{Action} or path/{path})`}},
		{name: "integration uri not http", before: func(b *Bundle) { integ(b, 0).IntegrationURI = "ftp://example.com/" }, want: []string{`apis[0].integrations[0].integrationUri: integrationUri "ftp://example.com/" is not valid: it must be an absolute http:// or https:// URL`}},
		{name: "integration uri relative", before: func(b *Bundle) { integ(b, 0).IntegrationURI = "/events" }, want: []string{`apis[0].integrations[0].integrationUri: integrationUri "/events" is not valid`}},
		{name: "integration uri no host", before: func(b *Bundle) { integ(b, 0).IntegrationURI = "https:///x" }, want: []string{"apis[0].integrations[0].integrationUri: " + `integrationUri "https:///x" is not valid: it must be an absolute http:// or https:// URL with a host`}},
		{name: "integration uri placeholder host ok", before: func(b *Bundle) {
			integ(b, 0).IntegrationURI = "https://${stageVariables.host}:8080/${stageVariables.path}?q=1"
		}},
		{name: "integration uri leading placeholder ok", before: func(b *Bundle) { integ(b, 0).IntegrationURI = "${stageVariables.scheme}://x" }},
		{name: "integration mock without uri ok", before: func(b *Bundle) { integ(b, 1).IntegrationURI = "" }},
		{name: "integration timeout too low", before: func(b *Bundle) { integ(b, 2).TimeoutInMillis = 49 }, want: []string{"apis[0].integrations[2].timeoutInMillis: timeoutInMillis 49 is out of range; allowed is 50 to 29000"}},
		{name: "integration timeout too high", before: func(b *Bundle) { integ(b, 2).TimeoutInMillis = 29001 }, want: []string{"apis[0].integrations[2].timeoutInMillis: timeoutInMillis 29001 is out of range"}},
		{name: "integration passthrough unknown", before: func(b *Bundle) { integ(b, 1).PassthroughBehavior = "ALWAYS" }, want: []string{`apis[0].integrations[1].passthroughBehavior: passthroughBehavior "ALWAYS" is not supported; allowed values are WHEN_NO_MATCH, NEVER, WHEN_NO_TEMPLATES`}},
		{name: "integration connection type unknown", before: func(b *Bundle) { integ(b, 1).ConnectionType = "VPC" }, want: []string{`apis[0].integrations[1].connectionType: connectionType "VPC" is not supported; allowed values are INTERNET, VPC_LINK`}},
		{name: "integration content handling unknown", before: func(b *Bundle) { integ(b, 1).ContentHandlingStrategy = "BINARY" }, want: []string{`apis[0].integrations[1].contentHandlingStrategy: contentHandlingStrategy "BINARY" is not supported; allowed values are unset, CONVERT_TO_BINARY, CONVERT_TO_TEXT`}},
		{name: "integration payload format 2.0", before: func(b *Bundle) { integ(b, 2).PayloadFormatVersion = "2.0" }, want: []string{`apis[0].integrations[2].payloadFormatVersion: payloadFormatVersion "2.0" is not supported; WebSocket APIs use 1.0`}},
		{name: "integration defaults required", after: func(b *Bundle) { integ(b, 2).PassthroughBehavior = ""; integ(b, 2).ConnectionType = "" }, want: []string{
			"apis[0].integrations[2].passthroughBehavior: passthroughBehavior is required",
			"apis[0].integrations[2].connectionType: connectionType is required",
		}},
		{
			name:   "integration request parameter key invalid",
			before: func(b *Bundle) { integ(b, 0).RequestParameters["integration.request.body.x"] = "context.requestId" },
			want:   []string{`apis[0].integrations[0].requestParameters.integration.request.body.x: request parameter "integration.request.body.x" is not valid`},
		},
		{
			name:   "integration request parameter value invalid",
			before: func(b *Bundle) { integ(b, 0).RequestParameters["integration.request.header.x"] = "$context.requestId" },
			want:   []string{`apis[0].integrations[0].requestParameters.integration.request.header.x: request parameter source "$context.requestId" is not valid`},
		},
		{
			name:   "integration request parameter unquoted static",
			before: func(b *Bundle) { integ(b, 0).RequestParameters["integration.request.header.x"] = "static" },
			want:   []string{`apis[0].integrations[0].requestParameters.integration.request.header.x: request parameter source "static" is not valid`},
		},
		{name: "integration responses on proxy", before: func(b *Bundle) {
			integ(b, 0).IntegrationResponses = []IntegrationResponse{{IntegrationResponseKey: "$default"}}
		}, want: []string{"apis[0].integrations[0].integrationResponses: HTTP_PROXY integrations cannot have integration responses"}},
		{name: "integration response key missing", before: func(b *Bundle) { integ(b, 1).IntegrationResponses[1].IntegrationResponseKey = "" }, want: []string{"apis[0].integrations[1].integrationResponses[1].integrationResponseKey: integrationResponseKey is required"}},
		{name: "integration response key not slashed", before: func(b *Bundle) { integ(b, 1).IntegrationResponses[1].IntegrationResponseKey = "4xx" }, want: []string{`apis[0].integrations[1].integrationResponses[1].integrationResponseKey: integrationResponseKey "4xx" is not valid; use $default or a non-empty regular expression between slashes`}},
		{name: "integration response key empty regex", before: func(b *Bundle) { integ(b, 1).IntegrationResponses[1].IntegrationResponseKey = "//" }, want: []string{`apis[0].integrations[1].integrationResponses[1].integrationResponseKey: integrationResponseKey "//" is not valid`}},
		{name: "integration response key bad regex", before: func(b *Bundle) { integ(b, 1).IntegrationResponses[1].IntegrationResponseKey = "/4(\\d/" }, want: []string{`apis[0].integrations[1].integrationResponses[1].integrationResponseKey: integrationResponseKey "/4(\\d/" is not a valid regular expression (RE2 syntax): missing closing )`}},
		{name: "integration response key duplicate", before: func(b *Bundle) { integ(b, 1).IntegrationResponses[1].IntegrationResponseKey = "$default" }, want: []string{"apis[0].integrations[1].integrationResponses[1].integrationResponseKey: Integration response with key $default already exists for this integration"}},
		{name: "integration response content handling unknown", before: func(b *Bundle) { integ(b, 1).IntegrationResponses[0].ContentHandlingStrategy = "TEXT" }, want: []string{`apis[0].integrations[1].integrationResponses[0].contentHandlingStrategy: contentHandlingStrategy "TEXT" is not supported`}},

		// stages
		{name: "stage name missing", before: func(b *Bundle) { stage(b).StageName = "" }, want: []string{"apis[0].stages[0].stageName: stageName is required"}},
		{name: "stage name invalid", before: func(b *Bundle) { stage(b).StageName = "dev/1" }, want: []string{`apis[0].stages[0].stageName: stageName "dev/1" is not valid; use 1 to 128 of A-Z a-z 0-9 _ -`}},
		{name: "stage name too long", before: func(b *Bundle) { stage(b).StageName = strings.Repeat("s", 129) }, want: []string{"apis[0].stages[0].stageName: stageName"}},
		{name: "stage name duplicate", before: func(b *Bundle) { a := api(b); a.Stages = append(a.Stages, Stage{StageName: "dev"}) }, want: []string{"apis[0].stages[1].stageName: Stage dev already exists for this API"}},
		{
			name: "stage variables too many",
			before: func(b *Bundle) {
				for i := range 100 {
					stage(b).StageVariables[fmt.Sprintf("v%d", i)] = "x"
				}
			},
			want: []string{"apis[0].stages[0].stageVariables: a stage has at most 100 stage variables; got 102"},
		},
		{name: "stage variable name invalid", before: func(b *Bundle) { stage(b).StageVariables["my-var"] = "x" }, want: []string{`apis[0].stages[0].stageVariables.my-var: stage variable name "my-var" is not valid; use 1 to 64 of A-Z a-z 0-9 _`}},
		{name: "stage variable value invalid", before: func(b *Bundle) { stage(b).StageVariables["v"] = "a b" }, want: []string{`apis[0].stages[0].stageVariables.v: stage variable value "a b" is not valid; use 1 to 512 of`}},
		{name: "stage variable value empty", before: func(b *Bundle) { stage(b).StageVariables["v"] = "" }, want: []string{`apis[0].stages[0].stageVariables.v: stage variable value "" is not valid`}},
		{name: "stage variable value too long", before: func(b *Bundle) { stage(b).StageVariables["v"] = strings.Repeat("a", 513) }, want: []string{"apis[0].stages[0].stageVariables.v: stage variable value"}},
		{name: "stage variable value 512 ok", before: func(b *Bundle) { stage(b).StageVariables["v"] = strings.Repeat("a", 512) }},
		{name: "stage deployment unknown", before: func(b *Bundle) { stage(b).DeploymentID = "nope" }, want: []string{"apis[0].stages[0].deploymentId: Invalid deployment identifier specified nope"}},
		{name: "stage deployment of another API", before: func(b *Bundle) {
			other := validBundle().APIs[0]
			other.APIID, other.Deployments = "other", []Deployment{{DeploymentID: "d1"}}
			b.APIs = append(b.APIs, other)
			stage(b).DeploymentID = "d1"
		}, want: []string{"apis[0].stages[0].deploymentId: Invalid deployment identifier specified d1"}},
		{name: "stage deployment known ok", before: func(b *Bundle) {
			api(b).Deployments = []Deployment{{DeploymentID: "d1"}}
			stage(b).DeploymentID = "d1"
		}},
		{name: "route settings of a deployed route removed from the working copy ok", before: func(b *Bundle) {
			api(b).Deployments = []Deployment{{DeploymentID: "d1", Routes: []Route{{RouteKey: "pong"}}}}
			stage(b).DeploymentID = "d1"
			stage(b).RouteSettings["pong"] = RouteSettings{}
		}},
		{name: "route settings naming no route of the deployment or working copy", before: func(b *Bundle) {
			api(b).Deployments = []Deployment{{DeploymentID: "d1"}}
			stage(b).DeploymentID = "d1"
			stage(b).RouteSettings["pong"] = RouteSettings{}
		}, want: []string{`apis[0].stages[0].routeSettings.pong: routeSettings key "pong" is not a route key of this API`}},
		{name: "route settings unknown route key", before: func(b *Bundle) { stage(b).RouteSettings["pong"] = RouteSettings{} }, want: []string{`apis[0].stages[0].routeSettings.pong: routeSettings key "pong" is not a route key of this API`}},
		{name: "route settings logging level unknown", before: func(b *Bundle) { stage(b).RouteSettings["ping"] = RouteSettings{LoggingLevel: "DEBUG"} }, want: []string{`apis[0].stages[0].routeSettings.ping.loggingLevel: loggingLevel "DEBUG" is not supported; allowed values are unset, ERROR, INFO, OFF`}},
		{name: "default route settings burst negative", before: func(b *Bundle) { stage(b).DefaultRouteSettings.ThrottlingBurstLimit = -1 }, want: []string{"apis[0].stages[0].defaultRouteSettings.throttlingBurstLimit: throttlingBurstLimit -1 is negative"}},
		{name: "default route settings rate negative", before: func(b *Bundle) { stage(b).DefaultRouteSettings.ThrottlingRateLimit = -0.5 }, want: []string{"apis[0].stages[0].defaultRouteSettings.throttlingRateLimit: throttlingRateLimit -0.5 is not valid"}},
		{name: "default route settings rate NaN", before: func(b *Bundle) { stage(b).DefaultRouteSettings.ThrottlingRateLimit = math.NaN() }, want: []string{"apis[0].stages[0].defaultRouteSettings.throttlingRateLimit: throttlingRateLimit NaN is not valid"}},
		{name: "default route settings rate Inf", before: func(b *Bundle) { stage(b).DefaultRouteSettings.ThrottlingRateLimit = math.Inf(1) }, want: []string{"apis[0].stages[0].defaultRouteSettings.throttlingRateLimit: throttlingRateLimit +Inf is not valid"}},

		// several at once
		{
			name: "all problems reported",
			before: func(b *Bundle) {
				api(b).Name = ""
				route(b, 2).Target = "integrations/nope"
				integ(b, 2).TimeoutInMillis = 1
				stage(b).StageName = "a b"
			},
			want: []string{
				"apis[0].name: name is required",
				"apis[0].routes[2].target: ",
				"apis[0].integrations[2].timeoutInMillis: ",
				"apis[0].stages[0].stageName: ",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := validBundle()
			if tt.before != nil {
				tt.before(b)
			}
			ApplyDefaults(b)
			if tt.after != nil {
				tt.after(b)
			}
			errs := Validate(b)
			if len(tt.want) == 0 {
				if errs != nil {
					t.Fatalf("Validate() = %v, want nil", errs)
				}
				return
			}
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

func TestValidateReturnsFieldErrors(t *testing.T) {
	b := validBundle()
	b.APIs[0].Name = ""
	ApplyDefaults(b)
	var err error = Validate(b)
	fe, ok := AsFieldErrors(err)
	if !ok || len(fe) != 1 || fe[0].Path != "apis[0].name" {
		t.Fatalf("AsFieldErrors(Validate()) = %v, %v", fe, ok)
	}
}
