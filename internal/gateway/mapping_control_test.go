package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/vtl"
)

// TestMappingWithSDK builds, with the aws-sdk-go-v2 apigatewayv2 client, a route with request validation
// (CreateModel, modelSelectionExpression, requestModels), an HTTP integration with a request template and
// integration responses, deploys it and talks to it; then checks the refusals of bad schemas and
// templates, and that GetModelTemplate's template renders with the engine.
func TestMappingWithSDK(t *testing.T) {
	backend := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, "apis: []\n", gatewaytest.WithControlPlane)
	cp := controlClient(g.ControlURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	api, err := cp.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("mapped"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	model, err := cp.CreateModel(ctx, &apigatewayv2.CreateModelInput{ApiId: api.ApiId, Name: aws.String("message"), ContentType: aws.String("application/json"),
		Schema: aws.String(`{"type": "object", "properties": {"action": {"type": "string"}, "text": {"type": "string", "maxLength": 10}}, "required": ["text"]}`)})
	if err != nil {
		t.Fatalf("CreateModel: %v", err)
	}
	in, err := cp.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api.ApiId, IntegrationType: types.IntegrationTypeHttp,
		IntegrationUri: aws.String(backend.URL + "/say"), IntegrationMethod: aws.String("POST"),
		TemplateSelectionExpression: aws.String(`\$default`),
		RequestTemplates:            map[string]string{"$default": `{"said": "$util.escapeJavaScript($input.path('$.text'))", "by": "$context.connectionId"}`}})
	if err != nil {
		t.Fatalf("CreateIntegration HTTP: %v", err)
	}
	if got := aws.ToString(in.IntegrationResponseSelectionExpression); got != "${integration.response.statuscode}" {
		t.Errorf("integrationResponseSelectionExpression = %q", got)
	}
	if _, err := cp.CreateIntegrationResponse(ctx, &apigatewayv2.CreateIntegrationResponseInput{ApiId: api.ApiId, IntegrationId: in.IntegrationId,
		IntegrationResponseKey: aws.String("$default"), TemplateSelectionExpression: aws.String(`\$default`),
		ResponseTemplates: map[string]string{"$default": `{"ok": true, "status": "$context.routeKey"}`}}); err != nil {
		t.Fatalf("CreateIntegrationResponse: %v", err)
	}
	route, err := cp.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("say"),
		Target: aws.String("integrations/" + *in.IntegrationId), RouteResponseSelectionExpression: aws.String("$default"),
		ModelSelectionExpression: aws.String("$request.body.action"), RequestModels: map[string]string{"say": "message"}})
	if err != nil {
		t.Fatalf("CreateRoute: %v", err)
	}
	if got := route.RequestModels["say"]; got != "message" || aws.ToString(route.ModelSelectionExpression) != "$request.body.action" {
		t.Errorf("route = %+v", route)
	}
	if _, err := cp.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: api.ApiId, RouteId: route.RouteId,
		RouteResponseKey: aws.String("$default")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String("dev"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	url := *api.ApiEndpoint + "/dev"
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		c, err := gatewaytest.TryDial(t, url, nil)
		return err == nil && c != nil
	}, "stage dev serves")
	if got := send(t, url, `{"action": "say", "text": "it's"}`); got != `{"ok": true, "status": "say"}` {
		t.Fatalf("reply %q", got)
	}
	req := backend.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool { return r.Path == "/say" })
	if !strings.HasPrefix(req.Body, `{"said": "it\'s", "by": "`) {
		t.Fatalf("backend got %q", req.Body)
	}
	if got := send(t, url, `{"action": "say", "text": "far too long a text"}`); !frameRE("Bad request body").MatchString(got) {
		t.Fatalf("reply %q", got)
	}

	// Refusals, as BadRequestException naming what is wrong.
	var bad *types.BadRequestException
	_, err = cp.CreateModel(ctx, &apigatewayv2.CreateModelInput{ApiId: api.ApiId, Name: aws.String("broken"), Schema: aws.String(`{"type": 7}`)})
	if !errors.As(err, &bad) || !strings.Contains(aws.ToString(bad.Message), "model broken: invalid JSON Schema") {
		t.Errorf("CreateModel with a bad schema: %v", err)
	}
	_, err = cp.UpdateIntegration(ctx, &apigatewayv2.UpdateIntegrationInput{ApiId: api.ApiId, IntegrationId: in.IntegrationId,
		RequestTemplates: map[string]string{"$default": `#foreach($x in $y)`}})
	if !errors.As(err, &bad) || !strings.Contains(aws.ToString(bad.Message), "#foreach is not closed by #end") {
		t.Errorf("UpdateIntegration with a bad template: %v", err)
	}
	_, err = cp.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api.ApiId, IntegrationType: types.IntegrationTypeAws,
		IntegrationUri: aws.String("arn:aws:apigateway:us-east-1:dynamodb:action/PutItem"), IntegrationMethod: aws.String("POST"),
		CredentialsArn: aws.String("arn:aws:iam::123456789012:role/apigw")})
	if err != nil {
		t.Errorf("CreateIntegration AWS: %v", err)
	}

	// GetModelTemplate's template is a mapping template the engine renders.
	tmpl, err := cp.GetModelTemplate(ctx, &apigatewayv2.GetModelTemplateInput{ApiId: api.ApiId, ModelId: model.ModelId})
	if err != nil {
		t.Fatalf("GetModelTemplate: %v", err)
	}
	tp, err := vtl.Parse(aws.ToString(tmpl.Value))
	if err != nil {
		t.Fatalf("GetModelTemplate's template does not parse: %v\n%s", err, aws.ToString(tmpl.Value))
	}
	out, err := tp.Render(&vtl.Vars{Body: `{"action": "say", "text": "hi"}`})
	if err != nil || !strings.Contains(out, `"hi"`) {
		t.Fatalf("render = %q, %v\n%s", out, err, aws.ToString(tmpl.Value))
	}
}
