package controlapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

// functionARN is a Lambda function's ARN as HTTP API quick create and integrations take it.
const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:hello"

// TestHTTPAPIsGolden walks an HTTP API through the control plane: CreateApi with CORS and quick create,
// UpdateApi's quick create members, the HTTP members of integrations, authorizers, routes and stages,
// DeleteCorsConfiguration, and each member or operation refused on the wrong kind of API.
func TestHTTPAPIsGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	api := "/v2/apis/<api-1>"
	quick := "/v2/apis/<api-2>"
	f.runResourceGolden("c_httpapis.golden", []goldenStep{
		{"POST", "/v2/apis", `{"name":"pets","protocolType":"HTTP","description":"Pets","tags":{"team":"pets"},` +
			`"corsConfiguration":{"allowOrigins":["https://app.example.com"],"allowMethods":["GET","POST"],"allowHeaders":["authorization"],"exposeHeaders":["x-request-id"],"maxAge":300,"allowCredentials":true}}`},
		{"GET", api, ""},
		// Quick create: an integration, a $default route and an autoDeploy $default stage, managed by API Gateway.
		{"POST", "/v2/apis", `{"name":"quick","protocolType":"HTTP","target":"` + functionARN + `"}`},
		{"GET", quick + "/integrations", ""},
		{"GET", quick + "/routes", ""},
		{"GET", quick + "/stages", ""},
		{"GET", quick + "/deployments", ""},
		// UpdateApi changes what quick create made: the target (a URL makes it HTTP_PROXY) and the route key.
		{"PATCH", quick, `{"target":"https://backend.example.com/hello","routeKey":"ANY /hello"}`},
		{"GET", quick + "/integrations", ""},
		{"GET", quick + "/routes", ""},
		{"PATCH", quick, `{"target":""}`},
		{"DELETE", quick + "/routes/<route-1>", ""},
		{"PATCH", quick, `{"routeKey":"GET /again"}`},
		{"PATCH", api, `{"target":"https://backend.example.com"}`},
		// CreateApi refusals for HTTP APIs.
		{"POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","routeKey":"GET /pets"}`},
		{"POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","target":"backend.example.com"}`},
		{"POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","target":"https://backend.example.com","routeKey":"FETCH /pets"}`},
		{"POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","routeSelectionExpression":"$request.body.action"}`},
		{"POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","disableSchemaValidation":true}`},
		{"POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","apiKeySelectionExpression":"$context.authorizer.usageIdentifierKey"}`},
		{"POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","corsConfiguration":{"maxAge":86401}}`},
		{"POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","corsConfiguration":{"allowOrigins":["*"],"allowCredentials":true}}`},
		// Integrations.
		{"POST", api + "/integrations", `{"integrationType":"AWS_PROXY","integrationUri":"` + functionARN + `","payloadFormatVersion":"2.0",` +
			`"requestParameters":{"append:header.x-source":"$context.requestId"},"responseParameters":{"404":{"overwrite:statuscode":"410"}}}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY","integrationUri":"https://backend.example.com/{proxy}","integrationMethod":"ANY",` +
			`"tlsConfig":{"serverNameToVerify":"backend.example.com"},"timeoutInMillis":30000}`},
		{"POST", api + "/integrations", `{"integrationType":"AWS_PROXY","integrationSubtype":"SQS-SendMessage","credentialsArn":"arn:aws:iam::123456789012:role/sqs",` +
			`"requestParameters":{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/q","MessageBody":"$request.body"}}`},
		{"POST", api + "/integrations", `{"integrationType":"AWS","integrationUri":"` + lambdaURI + `"}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK"}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY","integrationUri":"https://b","integrationMethod":"GET","requestTemplates":{"$default":"x"}}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY","integrationUri":"https://b","integrationMethod":"GET","payloadFormatVersion":"2.0"}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY","integrationUri":"https://b","integrationMethod":"GET","timeoutInMillis":30001}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY","integrationUri":"https://b","integrationMethod":"GET","integrationSubtype":"SQS-SendMessage"}`},
		{"POST", api + "/integrations", `{"integrationType":"AWS_PROXY","integrationUri":"` + functionARN + `"}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY","integrationUri":"https://b","integrationMethod":"GET","requestParameters":{"overwrite:header.Authorization":"x"}}`},
		{"POST", api + "/integrations/<integration-2>/integrationresponses", `{"integrationResponseKey":"$default"}`},
		{"PATCH", api + "/integrations/<integration-2>", `{"payloadFormatVersion":"1.0","responseParameters":{"500":{"overwrite:header.x-error":"yes"}}}`},
		// Authorizers.
		{"POST", api + "/authorizers", `{"name":"cognito","authorizerType":"JWT","identitySource":["$request.header.Authorization"],` +
			`"jwtConfiguration":{"issuer":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example","audience":["pets-client"]}}`},
		{"POST", api + "/authorizers", `{"name":"lambda","authorizerType":"REQUEST","authorizerUri":"` + lambdaURI + `","authorizerPayloadFormatVersion":"2.0",` +
			`"enableSimpleResponses":true,"authorizerResultTtlInSeconds":300,"identitySource":["$request.header.Authorization"]}`},
		{"POST", api + "/authorizers", `{"name":"nojwt","authorizerType":"JWT","identitySource":["$request.header.Authorization"]}`},
		{"POST", api + "/authorizers", `{"name":"nopfv","authorizerType":"REQUEST","authorizerUri":"` + lambdaURI + `","identitySource":[]}`},
		{"POST", api + "/authorizers", `{"name":"ive","authorizerType":"REQUEST","authorizerUri":"` + lambdaURI + `","authorizerPayloadFormatVersion":"1.0","identityValidationExpression":"x"}`},
		{"POST", api + "/authorizers", `{"name":"simple","authorizerType":"REQUEST","authorizerUri":"` + lambdaURI + `","authorizerPayloadFormatVersion":"1.0","enableSimpleResponses":true}`},
		{"POST", api + "/authorizers", `{"name":"ttl","authorizerType":"REQUEST","authorizerUri":"` + lambdaURI + `","authorizerPayloadFormatVersion":"2.0","authorizerResultTtlInSeconds":3601}`},
		{"GET", api + "/authorizers", ""},
		// Routes.
		{"POST", api + "/routes", `{"routeKey":"GET /pets/{id}","target":"integrations/<integration-2>","authorizationType":"JWT","authorizerId":"<authorizer-1>","authorizationScopes":["pets/read"]}`},
		{"POST", api + "/routes", `{"routeKey":"ANY /files/{proxy+}","target":"integrations/<integration-3>","authorizationType":"CUSTOM","authorizerId":"<authorizer-2>"}`},
		{"POST", api + "/routes", `{"routeKey":"POST /orders","target":"integrations/<integration-4>","authorizationType":"AWS_IAM"}`},
		{"POST", api + "/routes", `{"routeKey":"$default","target":"integrations/<integration-2>"}`},
		{"POST", api + "/routes", `{"routeKey":"GET /x","authorizationType":"JWT","authorizerId":"<authorizer-2>"}`},
		{"POST", api + "/routes", `{"routeKey":"GET /x","authorizationType":"CUSTOM","authorizerId":"<authorizer-2>","authorizationScopes":["a"]}`},
		{"POST", api + "/routes", `{"routeKey":"GET /x","apiKeyRequired":true}`},
		{"POST", api + "/routes", `{"routeKey":"GET /x","requestModels":{"application/json":"M"}}`},
		{"POST", api + "/routes", `{"routeKey":"GET /x","routeResponseSelectionExpression":"$default"}`},
		{"POST", api + "/routes", `{"routeKey":"sendmessage"}`},
		{"POST", api + "/routes", `{"routeKey":"GET /a/{p+}/b"}`},
		{"POST", api + "/routes", `{"routeKey":"GET /pets/{id}"}`},
		{"POST", api + "/routes/<route-2>/routeresponses", `{"routeResponseKey":"$default"}`},
		{"PATCH", api + "/routes/<route-2>", `{"authorizationType":"NONE"}`},
		{"POST", api + "/models", `{"name":"M","schema":"{}"}`},
		// Stages: $default with autoDeploy, throttling per route, access logs; HTTP APIs have no execution logs.
		{"POST", api + "/stages", `{"stageName":"$default","autoDeploy":true,"defaultRouteSettings":{"throttlingBurstLimit":100,"throttlingRateLimit":50},` +
			`"routeSettings":{"GET /pets/{id}":{"throttlingBurstLimit":10,"throttlingRateLimit":5,"detailedMetricsEnabled":true}},` +
			`"accessLogSettings":{"destinationArn":"arn:aws:logs:us-east-1:123456789012:log-group:pets","format":"$context.requestId $context.routeKey $context.status"}}`},
		{"POST", api + "/stages", `{"stageName":"prod","defaultRouteSettings":{"loggingLevel":"INFO"}}`},
		{"POST", api + "/stages", `{"stageName":"prod","routeSettings":{"GET /pets/{id}":{"dataTraceEnabled":true}}}`},
		{"POST", api + "/stages", `{"stageName":"prod","routeSettings":{"GET /nothing":{"throttlingRateLimit":1}}}`},
		{"POST", api + "/stages", `{"stageName":"prod","clientCertificateId":"abc"}`},
		{"DELETE", api + "/stages/$default/routesettings/GET%20%2Fpets%2F%7Bid%7D", ""},
		{"DELETE", api + "/stages/$default/accesslogsettings", ""},
		{"GET", api + "/stages/$default", ""},
		// DeleteCorsConfiguration.
		{"DELETE", api + "/cors", ""},
		{"GET", api, ""},
		// WebSocket APIs refuse what only HTTP APIs have.
		{"POST", "/v2/apis", newWebSocketAPI("chat")},
		{"POST", "/v2/apis/<api-3>/stages", `{"stageName":"$default"}`},
		{"DELETE", "/v2/apis/<api-3>/cors", ""},
		{"GET", "/v2/apis/<api-3>/exports/OAS30?outputType=JSON", ""},
		{"PUT", "/v2/apis/<api-3>", `{"body":"openapi: 3.0.1"}`},
		{"POST", "/v2/apis/<api-3>/authorizers", `{"name":"a","authorizerType":"REQUEST","authorizerUri":"` + lambdaURI + `","identitySource":[],"authorizerPayloadFormatVersion":"2.0"}`},
	})
}

// TestImportExportGolden imports a definition (ImportApi), exports it back (ExportApi, for a stage and for
// the latest configuration), reimports a changed one (ReimportApi), and shows the refusals:
// failOnWarnings, definitions AWS cannot import, bad export parameters.
func TestImportExportGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	def := `openapi: 3.0.1
info: {title: orders, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
x-amazon-apigateway-cors: {allowOrigins: ["*"], allowMethods: [GET]}
paths:
  /orders:
    get:
      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: "https://backend.example.com/orders", payloadFormatVersion: "1.0"}
    post:
      security: [{jwt: [orders/write]}]
      x-amazon-apigateway-integration: {type: aws_proxy, uri: "` + functionARN + `", payloadFormatVersion: "2.0"}
components:
  securitySchemes:
    jwt:
      type: oauth2
      x-amazon-apigateway-authorizer:
        type: jwt
        identitySource: $request.header.Authorization
        jwtConfiguration: {issuer: "https://issuer.example.com", audience: [orders]}
`
	body := func(doc string) string {
		b, _ := json.Marshal(map[string]string{"body": doc})
		return string(b)
	}
	api := "/v2/apis/<api-1>"
	f.runResourceGolden("c_importexport.golden", []goldenStep{
		{"PUT", "/v2/apis?basepath=prepend", body(def)},
		{"GET", api + "/routes", ""},
		{"GET", api + "/integrations", ""},
		{"GET", api + "/authorizers", ""},
		{"POST", api + "/stages", `{"stageName":"$default","autoDeploy":true}`},
		{"GET", api + "/exports/OAS30?outputType=JSON&stageName=$default", ""},
		// Warnings: reported by default, a failure with failOnWarnings.
		{"PUT", "/v2/apis", body("openapi: 3.0.1\ninfo: {title: w}\nx-amazon-apigateway-binary-media-types: ['*/*']\npaths:\n  /a:\n    trace: {}\n")},
		{"PUT", "/v2/apis?failOnWarnings=true", body("openapi: 3.0.1\ninfo: {title: w}\nx-amazon-apigateway-binary-media-types: ['*/*']\npaths:\n  /a:\n    trace: {}\n")},
		// ReimportApi replaces the routes, integrations and authorizers; the stage deploys the result.
		{"PUT", api, body("openapi: 3.0.1\ninfo: {title: orders, version: \"2\"}\npaths:\n  /orders/{id}:\n    get:\n      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: \"https://backend.example.com/orders/{id}\"}\n")},
		{"GET", api + "/routes", ""},
		{"GET", api + "/integrations", ""},
		{"GET", api + "/stages/$default", ""},
		// Refusals.
		{"PUT", "/v2/apis", `{}`},
		{"PUT", "/v2/apis", body("swagger: '2.0'\ninfo: {title: s}\n")},
		{"PUT", "/v2/apis", body("openapi: 3.0.1\ninfo: {title: s}\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {type: mock}\n")},
		{"PUT", "/v2/apis", body("openapi: 3.0.1\ninfo: {title: s}\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {type: http_proxy, uri: 'not a url', httpMethod: GET}\n")},
		{"PUT", "/v2/apis?basepath=merge", body(def)},
		{"PUT", "/v2/apis?failOnWarnings=perhaps", body(def)},
		{"PUT", "/v2/apis/nosuchapi", body(def)},
		{"GET", api + "/exports/OAS20?outputType=JSON", ""},
		{"GET", api + "/exports/OAS30", ""},
		{"GET", api + "/exports/OAS30?outputType=XML", ""},
		{"GET", api + "/exports/OAS30?outputType=JSON&exportVersion=2.0", ""},
		{"GET", api + "/exports/OAS30?outputType=JSON&stageName=nosuch", ""},
		{"GET", api + "/exports/OAS30?outputType=JSON&includeExtensions=sometimes", ""},
		{"GET", "/v2/apis/nosuchapi/exports/OAS30?outputType=JSON", ""},
	})
}

// TestHTTPAPIsSDK drives the HTTP API operations with the AWS SDK for Go v2: quick create, CORS, a JWT
// authorizer, integration response parameters, route settings, ImportApi, ExportApi (JSON and YAML),
// ReimportApi and DeleteCorsConfiguration, and checks the error types the SDK decodes.
func TestHTTPAPIsSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client

	created, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("quick"), ProtocolType: types.ProtocolTypeHttp,
		Target: aws.String(functionARN), CorsConfiguration: &types.Cors{AllowOrigins: []string{"*"}, MaxAge: aws.Int32(0)}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.ApiId
	if !strings.HasPrefix(aws.ToString(created.ApiEndpoint), "https://") || aws.ToString(created.RouteSelectionExpression) != "$request.method $request.path" ||
		created.CorsConfiguration == nil || aws.ToInt32(created.CorsConfiguration.MaxAge) != 0 || created.ProtocolType != types.ProtocolTypeHttp {
		t.Errorf("CreateApi output: %+v", created)
	}
	integrations, err := c.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: id})
	if err != nil || len(integrations.Items) != 1 {
		t.Fatalf("GetIntegrations: %+v %v", integrations, err)
	}
	in := integrations.Items[0]
	if !aws.ToBool(in.ApiGatewayManaged) || in.IntegrationType != types.IntegrationTypeAwsProxy || aws.ToString(in.PayloadFormatVersion) != "2.0" ||
		aws.ToInt32(in.TimeoutInMillis) != 30000 || aws.ToString(in.IntegrationUri) != functionARN {
		t.Errorf("quick-created integration: %+v", in)
	}
	stage, err := c.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: id, StageName: aws.String("$default")})
	if err != nil || !aws.ToBool(stage.AutoDeploy) || !aws.ToBool(stage.ApiGatewayManaged) || aws.ToString(stage.DeploymentId) == "" {
		t.Fatalf("quick-created stage: %+v %v", stage, err)
	}

	au, err := c.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: id, Name: aws.String("jwt"), AuthorizerType: types.AuthorizerTypeJwt,
		IdentitySource:   []string{"$request.header.Authorization"},
		JwtConfiguration: &types.JWTConfiguration{Issuer: aws.String("https://issuer.example.com"), Audience: []string{"a"}}})
	if err != nil || aws.ToString(au.JwtConfiguration.Issuer) != "https://issuer.example.com" {
		t.Fatalf("CreateAuthorizer: %+v %v", au, err)
	}
	integ, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: id, IntegrationType: types.IntegrationTypeHttpProxy,
		IntegrationUri: aws.String("https://backend.example.com"), IntegrationMethod: aws.String("ANY"),
		ResponseParameters: map[string]map[string]string{"500": {"overwrite:statuscode": "503"}}})
	if err != nil || integ.ResponseParameters["500"]["overwrite:statuscode"] != "503" {
		t.Fatalf("CreateIntegration: %+v %v", integ, err)
	}
	route, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("GET /secret"), Target: aws.String("integrations/" + aws.ToString(integ.IntegrationId)),
		AuthorizationType: types.AuthorizationTypeJwt, AuthorizerId: au.AuthorizerId, AuthorizationScopes: []string{"read"}})
	if err != nil || route.AuthorizationType != types.AuthorizationTypeJwt {
		t.Fatalf("CreateRoute: %+v %v", route, err)
	}
	if _, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: id, StageName: aws.String("$default"),
		RouteSettings: map[string]types.RouteSettings{"GET /secret": {ThrottlingBurstLimit: aws.Int32(5), ThrottlingRateLimit: aws.Float64(1)}}}); err != nil {
		t.Fatal(err)
	}

	exported, err := c.ExportApi(ctx, &apigatewayv2.ExportApiInput{ApiId: id, Specification: aws.String("OAS30"), OutputType: aws.String("YAML"), StageName: aws.String("$default")})
	if err != nil || !strings.Contains(string(exported.Body), "/secret:") || !strings.Contains(string(exported.Body), `"read"`) {
		t.Fatalf("ExportApi YAML: %s %v", exported.Body, err)
	}
	latest, err := c.ExportApi(ctx, &apigatewayv2.ExportApiInput{ApiId: id, Specification: aws.String("OAS30"), OutputType: aws.String("JSON")})
	if err != nil {
		t.Fatal(err)
	}
	imported, err := c.ImportApi(ctx, &apigatewayv2.ImportApiInput{Body: aws.String(string(latest.Body)), FailOnWarnings: aws.Bool(true)})
	if err != nil || imported.ProtocolType != types.ProtocolTypeHttp || aws.ToString(imported.Name) != "quick" || len(imported.Warnings) != 0 {
		t.Fatalf("ImportApi of the export: %+v %v", imported, err)
	}
	again, err := c.ExportApi(ctx, &apigatewayv2.ExportApiInput{ApiId: imported.ApiId, Specification: aws.String("OAS30"), OutputType: aws.String("JSON")})
	if err != nil {
		t.Fatal(err)
	}
	if strip := func(b []byte) string { return strings.Split(string(b), `"version"`)[1] }; strip(again.Body) != strip(latest.Body) {
		t.Errorf("export of the imported API differs:\n%s\nwant\n%s", again.Body, latest.Body)
	}
	if _, err := c.ReimportApi(ctx, &apigatewayv2.ReimportApiInput{ApiId: imported.ApiId, Body: aws.String("openapi: 3.0.1\ninfo: {title: renamed}\npaths: {}\n")}); err != nil {
		t.Fatal(err)
	}
	routes, err := c.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: imported.ApiId})
	if err != nil || len(routes.Items) != 0 {
		t.Errorf("routes after a reimport without paths: %+v %v", routes, err)
	}
	if _, err := c.DeleteCorsConfiguration(ctx, &apigatewayv2.DeleteCorsConfigurationInput{ApiId: id}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: id}); err != nil || got.CorsConfiguration != nil {
		t.Errorf("GetApi after DeleteCorsConfiguration: %+v %v", got, err)
	}

	ws, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: types.ProtocolTypeWebsocket, RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"REST integration type on an HTTP API", func() error {
			_, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: id, IntegrationType: types.IntegrationTypeAws, IntegrationUri: aws.String(lambdaURI)})
			return err
		}, "BadRequestException"},
		{"execution logs on an HTTP API stage", func() error {
			_, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: id, StageName: aws.String("$default"), DefaultRouteSettings: &types.RouteSettings{LoggingLevel: types.LoggingLevelInfo}})
			return err
		}, "BadRequestException"},
		{"CORS on a WebSocket API", func() error {
			_, err := c.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: ws.ApiId, CorsConfiguration: &types.Cors{AllowOrigins: []string{"*"}}})
			return err
		}, "BadRequestException"},
		{"JWT authorizer on a WebSocket API", func() error {
			_, err := c.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: ws.ApiId, Name: aws.String("j"), AuthorizerType: types.AuthorizerTypeJwt,
				IdentitySource: []string{"$request.header.Authorization"}, JwtConfiguration: &types.JWTConfiguration{Issuer: aws.String("https://i"), Audience: []string{"a"}}})
			return err
		}, "BadRequestException"},
		{"export of a WebSocket API", func() error {
			_, err := c.ExportApi(ctx, &apigatewayv2.ExportApiInput{ApiId: ws.ApiId, Specification: aws.String("OAS30"), OutputType: aws.String("JSON")})
			return err
		}, "BadRequestException"},
		{"export of an unknown stage", func() error {
			_, err := c.ExportApi(ctx, &apigatewayv2.ExportApiInput{ApiId: id, Specification: aws.String("OAS30"), OutputType: aws.String("JSON"), StageName: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"import with warnings and failOnWarnings", func() error {
			_, err := c.ImportApi(ctx, &apigatewayv2.ImportApiInput{FailOnWarnings: aws.Bool(true), Body: aws.String("openapi: 3.0.1\ninfo: {title: w}\nx-amazon-apigateway-policy: {}\n")})
			return err
		}, "BadRequestException"},
		{"reimport of an unknown API", func() error {
			_, err := c.ReimportApi(ctx, &apigatewayv2.ReimportApiInput{ApiId: aws.String("nosuchapi"), Body: aws.String("openapi: 3.0.1\ninfo: {title: w}\n")})
			return err
		}, "NotFoundException"},
		{"route responses on an HTTP API", func() error {
			_, err := c.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: id, RouteId: route.RouteId, RouteResponseKey: aws.String("$default")})
			return err
		}, "BadRequestException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorCode(tc.call()); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestImportFileGolden checks that the package's own OpenAPI test definition imports through the control
// plane (where resource validation also runs) without warnings.
func TestImportFileGolden(t *testing.T) {
	data, err := os.ReadFile("../openapi/testdata/pets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := newCatalogFixture(t, nil)
	out, err := f.client.ImportApi(context.Background(), &apigatewayv2.ImportApiInput{Body: aws.String(string(data)), FailOnWarnings: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Name) != "pets" || out.Tags["team"] != "pets" || out.CorsConfiguration == nil || !aws.ToBool(out.CorsConfiguration.AllowCredentials) {
		t.Errorf("ImportApi output: %+v", out)
	}
}

// TestRefusalsAndWarningsAreLogged checks that the operator sees what a client was refused, and what an
// import left out.
func TestRefusalsAndWarningsAreLogged(t *testing.T) {
	f := newCatalogFixture(t, nil)
	var logs strings.Builder
	var mu sync.Mutex
	srv := httptest.NewServer(New(Config{Catalog: f.cat, Now: func() time.Time { return fixtureNow },
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))}))
	t.Cleanup(srv.Close)
	post := func(method, path, body string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	post("POST", "/v2/apis", `{"name":"h","protocolType":"HTTP","disableSchemaValidation":true}`)
	post("PUT", "/v2/apis", `{"body":"openapi: 3.0.1\ninfo: {title: w}\nx-amazon-apigateway-policy: {}\n"}`)
	mu.Lock()
	got := logs.String()
	mu.Unlock()
	for _, want := range []string{
		`msg="control plane refusal" method=POST path=/v2/apis status=400 error_type=BadRequestException message="disableSchemaValidation is not supported for HTTP APIs (WebSocket APIs only)"`,
		`msg="OpenAPI import left parts out"`, `x-amazon-apigateway-policy is not supported for HTTP APIs and was ignored`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

// lockedWriter serialises writes from the server's goroutines.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
