package gateway_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"

	"github.com/switchboard-gw/switchboard/internal/cfntemplate"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// chatTemplate is a SAM template with a CUSTOM authorizer, a MOCK route with a route response, and an
// AWS_PROXY $default route, both functions being the aws-lambda-go test handler as a custom runtime.
const chatTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  StageName: {Type: String, Default: dev}
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    CodeUri: fn/
Resources:
  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: chat
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  Auth:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref ChatApi
      Name: token
      AuthorizerType: REQUEST
      IdentitySource: [route.request.querystring.token]
      AuthorizerUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${AuthFunction.Arn}/invocations
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: $connect
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Auth
      Target: !Join [/, [integrations, !Ref ConnectMock]]
  ConnectMock:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: MOCK
      RequestTemplates: {$default: '{"statusCode": 200}'}
  PingRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: ping
      RouteResponseSelectionExpression: $default
      Target: !Sub integrations/${PingMock}
  PingRouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref ChatApi, RouteId: !Ref PingRoute, RouteResponseKey: $default}
  PingMock:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: MOCK
      RequestTemplates: {$default: '{"statusCode": 200}'}
  PingMockResponse:
    Type: AWS::ApiGatewayV2::IntegrationResponse
    Properties:
      ApiId: !Ref ChatApi
      IntegrationId: !Ref PingMock
      IntegrationResponseKey: $default
      ResponseTemplates: {$default: !Sub '{"pong": "${AWS::StackName}"}'}
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: $default
      RouteResponseSelectionExpression: $default
      Target: !Join [/, [integrations, !Ref EchoIntegration]]
  DefaultRouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref ChatApi, RouteId: !Ref DefaultRoute, RouteResponseKey: $default}
  EchoIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${EchoFunction.Arn}/invocations
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref ChatApi, StageName: !Ref StageName}
  EchoFunction:
    Type: AWS::Serverless::Function
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: chat-authorizer
  Connections:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: connections}
`

// TestServeTemplate serves a SAM template next to a config file and talks to it with a real WebSocket
// client: the authorizer and the $default route run the template's functions locally, the ping route
// answers from its MOCK integration, and the control plane refuses to change what the template declares.
func TestServeTemplate(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fn"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(bin, filepath.Join(dir, "fn", "bootstrap")); err != nil {
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "fn", "bootstrap"), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(path, []byte(chatTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := cfntemplate.Load(path, cfntemplate.Options{StackName: "chat", Parameters: map[string]string{"StageName": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	apiID := tpl.Bundle.APIs[0].APIID
	g := gatewaytest.Start(t, `
apis:
  - {name: other, apiId: other, protocolType: WEBSOCKET, routeSelectionExpression: $request.body.action, stages: [{stageName: dev}]}
`, gatewaytest.WithControlPlane, func(o *gateway.Options) {
		o.Templates = []gateway.Template{{Name: path, Bundle: tpl.Bundle}}
	})

	if _, err := gatewaytest.TryDial(t, g.WSURL+"/"+apiID+"/prod?token=deny", nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("connect with a denied token: %v, want 403 from the template's authorizer", err)
	}
	c := gatewaytest.Dial(t, g.WSURL+"/"+apiID+"/prod?token=ok", nil)
	c.Send(`{"action":"ping"}`)
	if got := c.Read(); got != `{"pong": "chat"}` {
		t.Errorf("ping answered %q, want the MOCK integration response", got)
	}
	c.Send(`{"action":"hello"}`)
	if got := c.Read(); !strings.Contains(got, `"routeKey":"$default"`) || !strings.Contains(got, `\"action\":\"hello\"`) {
		t.Errorf("$default answered %q, want the local function's echo", got)
	}
	// The config file's API is served beside the template's.
	gatewaytest.Dial(t, g.WSURL+"/other/dev", nil)

	ctx := context.Background()
	cp := controlClient(g.ControlURL)
	apis, err := cp.GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range apis.Items {
		found = found || aws.ToString(a.ApiId) == apiID && aws.ToString(a.Name) == "chat"
	}
	if !found {
		t.Errorf("the control plane does not list the template's API %s", apiID)
	}
	_, err = cp.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: aws.String(apiID)})
	if err == nil || !strings.Contains(err.Error(), "declared in the configuration file or a template") {
		t.Errorf("deleting the template's API: %v, want a BadRequestException saying it is read-only", err)
	}
}

// TestTemplateConflicts checks that a template declaring what the config file (or another template)
// already declares is refused at start, naming both.
func TestTemplateConflicts(t *testing.T) {
	base := &resource.Bundle{
		APIs:      []resource.API{{APIID: "abc", Name: "a", ProtocolType: "WEBSOCKET", RouteSelectionExpression: "$request.body.action"}},
		Functions: []resource.Function{{FunctionName: "fn", Handler: "/bin/true", Timeout: 3, MemorySize: 128, ReservedConcurrentExecutions: 1}},
		APIKeys:   []resource.APIKey{{ID: "key", Value: "abcdefghijklmnopqrstuvwxyz"}},
	}
	tpl := &resource.Bundle{
		APIKeys:   []resource.APIKey{{ID: "key", Value: "zyxwvutsrqponmlkjihgfedcba"}},
		APIs:      []resource.API{{APIID: "abc", Name: "b", ProtocolType: "WEBSOCKET", RouteSelectionExpression: "$request.body.action"}},
		Functions: []resource.Function{{FunctionName: "fn", Handler: "/bin/true", Timeout: 3, MemorySize: 128, ReservedConcurrentExecutions: 1}},
	}
	_, err := gateway.New(gateway.Options{Listen: "127.0.0.1:0", Bundle: base, Templates: []gateway.Template{{Name: "t.yaml", Bundle: tpl}}})
	if !errors.Is(err, gateway.ErrConflict) {
		t.Fatalf("New: %v, want ErrConflict", err)
	}
	for _, want := range []string{`t.yaml declares API id "abc", which the config file declares too`, `t.yaml declares function "fn", which the config file declares too`,
		`t.yaml declares API key id "key", which the config file declares too`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
