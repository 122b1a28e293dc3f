package controlapi

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

// lambdaURI is an AWS_PROXY integration URI of a Lambda function.
const lambdaURI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:chat/invocations"

func TestIntegrationsGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	api := "/v2/apis/<api-1>"
	f.runResourceGolden("a_integrations.golden", []goldenStep{
		{"POST", "/v2/apis", newWebSocketAPI("chat")},
		// Each type with the defaults AWS fills in.
		{"POST", api + "/integrations", `{"integrationType":"MOCK","requestTemplates":{"$default":"{\"statusCode\":200}"},"templateSelectionExpression":"\\$default"}`},
		{"POST", api + "/integrations", `{"integrationType":"AWS_PROXY","integrationUri":"` + lambdaURI + `","credentialsArn":"arn:aws:iam::123456789012:role/invoke","timeoutInMillis":10000}`},
		{"POST", api + "/integrations", `{"integrationType":"AWS","integrationUri":"` + lambdaURI + `"}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY","integrationUri":"https://backend.example.com/ws","integrationMethod":"PUT",` +
			`"connectionType":"VPC_LINK","connectionId":"vpclink1","tlsConfig":{"serverNameToVerify":"backend.example.com"},` +
			`"requestParameters":{"integration.request.header.connectionId":"context.connectionId"},"description":"Backend","contentHandlingStrategy":"CONVERT_TO_TEXT",` +
			`"passthroughBehavior":"NEVER","payloadFormatVersion":"1.0"}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP","integrationUri":"http://backend.example.com/{room}"}`},
		{"GET", api + "/integrations/<integration-4>", ""},
		{"GET", api + "/integrations?maxResults=2", ""},
		{"GET", api + "/integrations?maxResults=2&nextToken=4", ""},
		{"GET", api + "/integrations/nosuch", ""},
		{"GET", "/v2/apis/nosuchapi/integrations/<integration-1>", ""},
		// Refusals.
		{"POST", api + "/integrations", `{}`},
		{"POST", api + "/integrations", `{"integrationType":"LAMBDA"}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY"}`},
		{"POST", api + "/integrations", `{"integrationType":"HTTP_PROXY","integrationUri":"backend:8080"}`},
		{"POST", api + "/integrations", `{"integrationType":"AWS_PROXY"}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","timeoutInMillis":49}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","timeoutInMillis":0}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","timeoutInMillis":29001}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","payloadFormatVersion":"2.0"}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","passthroughBehavior":"ALWAYS"}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","connectionType":"PRIVATE"}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","responseParameters":{"200":{"overwrite:header.x":"y"}}}`},
		{"POST", api + "/integrations", `{"integrationType":"AWS","integrationUri":"` + lambdaURI + `","integrationSubtype":"Lambda-Invoke"}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","templateSelectionExpression":"$request.nothing"}`},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","requestParameters":{"integration.request.header.x":"nowhere"}}`},
		{"POST", "/v2/apis/nosuchapi/integrations", `{"integrationType":"MOCK"}`},
		// UpdateIntegration; a new type brings its own defaults.
		{"PATCH", api + "/integrations/<integration-2>", `{"timeoutInMillis":5000,"description":"Chat function"}`},
		{"PATCH", api + "/integrations/<integration-2>", `{"timeoutInMillis":null}`},
		{"PATCH", api + "/integrations/<integration-1>", `{"integrationType":"HTTP","integrationUri":"https://backend.example.com"}`},
		{"PATCH", api + "/integrations/<integration-1>", `{"timeoutInMillis":100000}`},
		{"PATCH", api + "/integrations/nosuch", `{}`},
		// Integration responses.
		{"POST", api + "/integrations/<integration-1>/integrationresponses", `{"integrationResponseKey":"/2\\d\\d/","responseTemplates":{"$default":"$input.body"},` +
			`"templateSelectionExpression":"${integration.response.statuscode}","contentHandlingStrategy":"CONVERT_TO_TEXT","responseParameters":{"method.response.header.x":"integration.response.header.y"}}`},
		{"POST", api + "/integrations/<integration-1>/integrationresponses", `{"integrationResponseKey":"$default"}`},
		{"POST", api + "/integrations/<integration-1>/integrationresponses", `{"integrationResponseKey":"/2\\d\\d/"}`},
		{"POST", api + "/integrations/<integration-1>/integrationresponses", `{"integrationResponseKey":"200"}`},
		{"POST", api + "/integrations/<integration-1>/integrationresponses", `{"integrationResponseKey":"/(/"}`},
		{"POST", api + "/integrations/<integration-1>/integrationresponses", `{}`},
		{"POST", api + "/integrations/<integration-1>/integrationresponses", `{"integrationResponseKey":"/4\\d\\d/","templateSelectionExpression":"$bogus"}`},
		{"POST", api + "/integrations/<integration-2>/integrationresponses", `{"integrationResponseKey":"$default"}`},
		{"POST", api + "/integrations/nosuch/integrationresponses", `{"integrationResponseKey":"$default"}`},
		{"GET", api + "/integrations/<integration-1>/integrationresponses/<integrationResponse-1>", ""},
		{"GET", api + "/integrations/<integration-1>/integrationresponses", ""},
		{"GET", api + "/integrations/<integration-1>/integrationresponses?maxResults=1", ""},
		{"GET", api + "/integrations/<integration-1>/integrationresponses/nosuch", ""},
		{"PATCH", api + "/integrations/<integration-1>/integrationresponses/<integrationResponse-1>", `{"integrationResponseKey":"/20\\d/","responseParameters":null}`},
		{"PATCH", api + "/integrations/<integration-1>/integrationresponses/<integrationResponse-1>", `{"integrationResponseKey":"$default"}`},
		{"DELETE", api + "/integrations/<integration-1>/integrationresponses/<integrationResponse-2>", ""},
		{"DELETE", api + "/integrations/<integration-1>/integrationresponses/<integrationResponse-2>", ""},
		// An integration a route targets cannot be deleted.
		{"POST", api + "/routes", `{"routeKey":"$default","target":"integrations/<integration-1>"}`},
		{"DELETE", api + "/integrations/<integration-1>", ""},
		{"DELETE", api + "/routes/<route-1>", ""},
		{"DELETE", api + "/integrations/<integration-1>", ""},
		{"DELETE", api + "/integrations/<integration-1>", ""},
		{"GET", api + "/integrations/<integration-1>/integrationresponses", ""},
	})
}

func TestIntegrationsSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client
	apiOut, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	api := apiOut.ApiId

	created, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api, IntegrationType: types.IntegrationTypeAwsProxy,
		IntegrationUri: aws.String(lambdaURI), TlsConfig: &types.TlsConfigInput{ServerNameToVerify: aws.String("x.example.com")}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(created.TimeoutInMillis) != 29000 || created.PassthroughBehavior != types.PassthroughBehaviorWhenNoMatch ||
		aws.ToString(created.PayloadFormatVersion) != "1.0" || created.ConnectionType != types.ConnectionTypeInternet ||
		created.IntegrationResponseSelectionExpression != nil || aws.ToString(created.IntegrationUri) != lambdaURI ||
		created.TlsConfig == nil || aws.ToString(created.TlsConfig.ServerNameToVerify) != "x.example.com" {
		t.Errorf("CreateIntegration output: %+v", created)
	}
	id := created.IntegrationId
	upd, err := c.UpdateIntegration(ctx, &apigatewayv2.UpdateIntegrationInput{ApiId: api, IntegrationId: id, TimeoutInMillis: aws.Int32(3000)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(upd.TimeoutInMillis) != 3000 || aws.ToString(upd.IntegrationUri) != lambdaURI {
		t.Errorf("UpdateIntegration output: %+v", upd)
	}
	got, err := c.GetIntegration(ctx, &apigatewayv2.GetIntegrationInput{ApiId: api, IntegrationId: id})
	if err != nil || aws.ToInt32(got.TimeoutInMillis) != 3000 {
		t.Fatalf("GetIntegration: %+v, %v", got, err)
	}

	mock, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api, IntegrationType: types.IntegrationTypeMock})
	if err != nil {
		t.Fatal(err)
	}
	ir, err := c.CreateIntegrationResponse(ctx, &apigatewayv2.CreateIntegrationResponseInput{ApiId: api, IntegrationId: mock.IntegrationId,
		IntegrationResponseKey: aws.String("/4\\d\\d/"), ResponseTemplates: map[string]string{"$default": `{"error":true}`}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ir.IntegrationResponseKey) != `/4\d\d/` || ir.ResponseTemplates["$default"] != `{"error":true}` {
		t.Errorf("CreateIntegrationResponse output: %+v", ir)
	}
	irUpd, err := c.UpdateIntegrationResponse(ctx, &apigatewayv2.UpdateIntegrationResponseInput{ApiId: api, IntegrationId: mock.IntegrationId,
		IntegrationResponseId: ir.IntegrationResponseId, ContentHandlingStrategy: types.ContentHandlingStrategyConvertToText})
	if err != nil {
		t.Fatal(err)
	}
	if irUpd.ContentHandlingStrategy != types.ContentHandlingStrategyConvertToText || aws.ToString(irUpd.IntegrationResponseKey) != `/4\d\d/` {
		t.Errorf("UpdateIntegrationResponse output: %+v", irUpd)
	}
	if _, err := c.GetIntegrationResponse(ctx, &apigatewayv2.GetIntegrationResponseInput{ApiId: api, IntegrationId: mock.IntegrationId,
		IntegrationResponseId: ir.IntegrationResponseId}); err != nil {
		t.Fatal(err)
	}
	irs, err := c.GetIntegrationResponses(ctx, &apigatewayv2.GetIntegrationResponsesInput{ApiId: api, IntegrationId: mock.IntegrationId})
	if err != nil || len(irs.Items) != 1 {
		t.Fatalf("GetIntegrationResponses: %+v, %v", irs, err)
	}

	// GetIntegrations pages.
	for range 3 {
		if _, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api, IntegrationType: types.IntegrationTypeMock}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	var token *string
	for pages := 1; ; pages++ {
		out, err := c.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: api, MaxResults: aws.String("4"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			ids = append(ids, aws.ToString(it.IntegrationId))
		}
		if token = out.NextToken; token == nil {
			if pages != 2 {
				t.Errorf("5 integrations took %d pages of 4", pages)
			}
			break
		}
	}
	if len(ids) != 5 || ids[0] != aws.ToString(id) || ids[1] != aws.ToString(mock.IntegrationId) {
		t.Errorf("GetIntegrations listed %v", ids)
	}

	if _, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("$default"),
		Target: aws.String("integrations/" + aws.ToString(id))}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"timeout out of range", func() error {
			_, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api, IntegrationType: types.IntegrationTypeMock, TimeoutInMillis: aws.Int32(30000)})
			return err
		}, "BadRequestException"},
		{"no URI", func() error {
			_, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api, IntegrationType: types.IntegrationTypeHttpProxy})
			return err
		}, "BadRequestException"},
		// An AWS service URI makes the host the gateway's signed request goes to: one naming anybody's
		// API on AWS is refused when created and when updated.
		{"AWS service URI naming another host", func() error {
			_, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api, IntegrationType: types.IntegrationTypeAws,
				IntegrationUri: aws.String("arn:aws:apigateway:us-east-1:abcd123456.execute-api:path/x")})
			return err
		}, "BadRequestException"},
		{"AWS service URI naming another host, by update", func() error {
			_, err := c.UpdateIntegration(ctx, &apigatewayv2.UpdateIntegrationInput{ApiId: api, IntegrationId: mock.IntegrationId, IntegrationType: types.IntegrationTypeAws,
				IntegrationUri: aws.String("arn:aws:apigateway:compute-1:ec2-54-1-2-3:action/PutItem")})
			return err
		}, "BadRequestException"},
		{"unknown integration", func() error {
			_, err := c.GetIntegration(ctx, &apigatewayv2.GetIntegrationInput{ApiId: api, IntegrationId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"integration of unknown API", func() error {
			_, err := c.UpdateIntegration(ctx, &apigatewayv2.UpdateIntegrationInput{ApiId: aws.String("nosuchapi"), IntegrationId: id})
			return err
		}, "NotFoundException"},
		{"duplicate integration response", func() error {
			_, err := c.CreateIntegrationResponse(ctx, &apigatewayv2.CreateIntegrationResponseInput{ApiId: api, IntegrationId: mock.IntegrationId,
				IntegrationResponseKey: aws.String("/4\\d\\d/")})
			return err
		}, "ConflictException"},
		{"invalid integration response key", func() error {
			_, err := c.CreateIntegrationResponse(ctx, &apigatewayv2.CreateIntegrationResponseInput{ApiId: api, IntegrationId: mock.IntegrationId,
				IntegrationResponseKey: aws.String("4xx")})
			return err
		}, "BadRequestException"},
		{"integration response of a proxy integration", func() error {
			_, err := c.CreateIntegrationResponse(ctx, &apigatewayv2.CreateIntegrationResponseInput{ApiId: api, IntegrationId: id,
				IntegrationResponseKey: aws.String("$default")})
			return err
		}, "BadRequestException"},
		{"unknown integration response", func() error {
			_, err := c.DeleteIntegrationResponse(ctx, &apigatewayv2.DeleteIntegrationResponseInput{ApiId: api, IntegrationId: mock.IntegrationId,
				IntegrationResponseId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorCode(tc.call()); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}

	// DeleteIntegration's model lists no ConflictException: the SDK reports it as a generic API error.
	_, err = c.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: api, IntegrationId: id})
	if awsErrorCode(err) != "ConflictException" {
		t.Errorf("DeleteIntegration of a route's target: %v", err)
	}
	if _, err := c.DeleteIntegrationResponse(ctx, &apigatewayv2.DeleteIntegrationResponseInput{ApiId: api, IntegrationId: mock.IntegrationId,
		IntegrationResponseId: ir.IntegrationResponseId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: api, IntegrationId: mock.IntegrationId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetIntegration(ctx, &apigatewayv2.GetIntegrationInput{ApiId: api, IntegrationId: mock.IntegrationId}); errorCode(err) != "NotFoundException" {
		t.Errorf("GetIntegration after DeleteIntegration: %v", err)
	}
}
