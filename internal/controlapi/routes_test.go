package controlapi

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

func TestRoutesGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	api := "/v2/apis/<api-1>"
	f.runResourceGolden("a_routes.golden", []goldenStep{
		{"POST", "/v2/apis", newWebSocketAPI("chat")},
		{"POST", api + "/integrations", `{"integrationType":"MOCK","requestTemplates":{"$default":"{\"statusCode\":200}"}}`},
		{"POST", api + "/authorizers", `{"name":"tokens","authorizerType":"REQUEST","identitySource":["route.request.querystring.token"],` +
			`"authorizerUri":"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"}`},
		{"POST", api + "/models", `{"name":"Message","schema":"{\"type\":\"object\"}"}`},
		// CreateRoute with only the key, then with every member.
		{"POST", api + "/routes", `{"routeKey":"$connect","target":"integrations/<integration-1>"}`},
		{"POST", api + "/routes", `{"routeKey":"sendmessage","target":"integrations/<integration-1>","apiKeyRequired":true,` +
			`"authorizationScopes":["chat.write"],"modelSelectionExpression":"$request.body.kind","requestModels":{"$default":"Message"},` +
			`"requestParameters":{"route.request.header.X-Trace":{"required":true},"route.request.querystring.room":{"required":false}},` +
			`"operationName":"SendMessage","routeResponseSelectionExpression":"$default"}`},
		{"GET", api + "/routes/<route-2>", ""},
		{"GET", api + "/routes", ""},
		{"GET", api + "/routes?maxResults=1", ""},
		{"GET", api + "/routes?maxResults=1&nextToken=1", ""},
		{"GET", api + "/routes/nosuch", ""},
		{"GET", "/v2/apis/nosuchapi/routes", ""},
		{"GET", "/v2/apis/nosuchapi/routes/<route-1>", ""},
		// Refusals.
		{"POST", api + "/routes", `{"routeKey":"$connect"}`},
		{"POST", api + "/routes", `{}`},
		{"POST", api + "/routes", `{"routeKey":"$other"}`},
		{"POST", api + "/routes", `{"routeKey":"a","target":"integrations/nosuch"}`},
		{"POST", api + "/routes", `{"routeKey":"a","target":"lambda"}`},
		{"POST", api + "/routes", `{"routeKey":"a","authorizationType":"CUSTOM","authorizerId":"<authorizer-1>"}`},
		{"POST", api + "/routes", `{"routeKey":"$disconnect","authorizationType":"CUSTOM"}`},
		{"POST", api + "/routes", `{"routeKey":"$disconnect","authorizationType":"JWT"}`},
		{"POST", api + "/routes", `{"routeKey":"$disconnect","authorizationType":"KEY"}`},
		{"POST", api + "/routes", `{"routeKey":"a","requestModels":{"$default":"Nope"}}`},
		{"POST", api + "/routes", `{"routeKey":"a","modelSelectionExpression":"$request.nothing"}`},
		{"POST", api + "/routes", `{"routeKey":"a","requestParameters":{"header.x":{"required":true}}}`},
		{"POST", api + "/routes", `{"routeKey":"a","routeResponseSelectionExpression":"$request.body.x"}`},
		{"POST", "/v2/apis/nosuchapi/routes", `{"routeKey":"a"}`},
		// UpdateRoute.
		{"PATCH", api + "/routes/<route-1>", `{"authorizationType":"CUSTOM","authorizerId":"<authorizer-1>"}`},
		{"PATCH", api + "/routes/<route-1>", `{"authorizationType":"NONE"}`},
		{"PATCH", api + "/routes/<route-2>", `{"routeKey":"$connect"}`},
		{"PATCH", api + "/routes/<route-2>", `{"routeKey":"chat/send","requestModels":null,"apiKeyRequired":false}`},
		{"PATCH", api + "/routes/<route-2>", `{"target":"integrations/nosuch"}`},
		{"PATCH", api + "/routes/nosuch", `{"routeKey":"x"}`},
		// DeleteRouteRequestParameter.
		{"DELETE", api + "/routes/<route-2>/requestparameters/route.request.header.X-Trace", ""},
		{"DELETE", api + "/routes/<route-2>/requestparameters/route.request.header.X-Trace", ""},
		{"GET", api + "/routes/<route-2>", ""},
		// Route responses.
		{"POST", api + "/routes/<route-2>/routeresponses", `{"routeResponseKey":"$default","responseModels":{"$default":"Nope"}}`},
		{"POST", api + "/routes/<route-2>/routeresponses", `{"routeResponseKey":"$default","modelSelectionExpression":"$request.nothing"}`},
		{"POST", api + "/routes", `{"routeKey":"$disconnect"}`},
		{"POST", api + "/routes/<route-3>/routeresponses", `{"routeResponseKey":"$default"}`},
		{"POST", api + "/routes/<route-2>/routeresponses", `{"routeResponseKey":"$default","modelSelectionExpression":"$default",` +
			`"responseModels":{"$default":"Message"},"responseParameters":{"route.response.header.x":{"required":false}}}`},
		{"POST", api + "/routes/<route-2>/routeresponses", `{"routeResponseKey":"$default"}`},
		{"POST", api + "/routes/<route-2>/routeresponses", `{"routeResponseKey":"ok"}`},
		{"POST", api + "/routes/<route-2>/routeresponses", `{}`},
		{"POST", api + "/routes/nosuch/routeresponses", `{"routeResponseKey":"$default"}`},
		{"GET", api + "/routes/<route-2>/routeresponses/<routeResponse-1>", ""},
		{"GET", api + "/routes/<route-2>/routeresponses", ""},
		{"GET", api + "/routes/<route-2>/routeresponses/nosuch", ""},
		{"PATCH", api + "/routes/<route-2>/routeresponses/<routeResponse-1>", `{"responseModels":null,"modelSelectionExpression":null}`},
		{"PATCH", api + "/routes/<route-2>/routeresponses/<routeResponse-1>", `{"routeResponseKey":"other"}`},
		{"DELETE", api + "/routes/<route-2>/routeresponses/<routeResponse-1>", ""},
		{"DELETE", api + "/routes/<route-2>/routeresponses/<routeResponse-1>", ""},
		{"GET", api + "/routes/<route-2>/routeresponses", ""},
		// DeleteRoute.
		{"DELETE", api + "/routes/<route-2>", ""},
		{"DELETE", api + "/routes/<route-2>", ""},
		{"GET", api + "/routes", ""},
	})
}

func TestRoutesSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client
	apiOut, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	api := apiOut.ApiId
	integ, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api, IntegrationType: types.IntegrationTypeMock})
	if err != nil {
		t.Fatal(err)
	}
	target := aws.String("integrations/" + aws.ToString(integ.IntegrationId))

	created, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("$default"), Target: target,
		RequestParameters: map[string]types.ParameterConstraints{"route.request.header.X-Trace": {Required: aws.Bool(true)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(aws.ToString(created.RouteId)) != 7 || created.AuthorizationType != types.AuthorizationTypeNone || created.ApiKeyRequired == nil ||
		*created.ApiKeyRequired || aws.ToString(created.Target) != aws.ToString(target) ||
		!aws.ToBool(created.RequestParameters["route.request.header.X-Trace"].Required) {
		t.Errorf("CreateRoute output: %+v", created)
	}
	upd, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: api, RouteId: created.RouteId, OperationName: aws.String("Default")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(upd.OperationName) != "Default" || aws.ToString(upd.RouteKey) != "$default" || aws.ToString(upd.Target) != aws.ToString(target) {
		t.Errorf("UpdateRoute output: %+v", upd)
	}
	if _, err := c.DeleteRouteRequestParameter(ctx, &apigatewayv2.DeleteRouteRequestParameterInput{ApiId: api, RouteId: created.RouteId,
		RequestParameterKey: aws.String("route.request.header.X-Trace")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRoute(ctx, &apigatewayv2.GetRouteInput{ApiId: api, RouteId: created.RouteId})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.RequestParameters) != 0 || aws.ToString(got.OperationName) != "Default" {
		t.Errorf("GetRoute after DeleteRouteRequestParameter: %+v", got)
	}

	// Route responses.
	rr, err := c.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: api, RouteId: created.RouteId, RouteResponseKey: aws.String("$default")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(rr.RouteResponseKey) != "$default" || rr.RouteResponseId == nil {
		t.Errorf("CreateRouteResponse output: %+v", rr)
	}
	rrUpd, err := c.UpdateRouteResponse(ctx, &apigatewayv2.UpdateRouteResponseInput{ApiId: api, RouteId: created.RouteId, RouteResponseId: rr.RouteResponseId,
		ModelSelectionExpression: aws.String("$default")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(rrUpd.ModelSelectionExpression) != "$default" || aws.ToString(rrUpd.RouteResponseKey) != "$default" {
		t.Errorf("UpdateRouteResponse output: %+v", rrUpd)
	}
	rrs, err := c.GetRouteResponses(ctx, &apigatewayv2.GetRouteResponsesInput{ApiId: api, RouteId: created.RouteId})
	if err != nil || len(rrs.Items) != 1 {
		t.Fatalf("GetRouteResponses: %+v, %v", rrs, err)
	}
	if _, err := c.GetRouteResponse(ctx, &apigatewayv2.GetRouteResponseInput{ApiId: api, RouteId: created.RouteId, RouteResponseId: rr.RouteResponseId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRouteResponse(ctx, &apigatewayv2.DeleteRouteResponseInput{ApiId: api, RouteId: created.RouteId, RouteResponseId: rr.RouteResponseId}); err != nil {
		t.Fatal(err)
	}

	// GetRoutes pages.
	for _, key := range []string{"a", "b", "c", "d"} {
		if _, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String(key), Target: target}); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	var token *string
	for pages := 1; ; pages++ {
		out, err := c.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: api, MaxResults: aws.String("2"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			keys = append(keys, aws.ToString(it.RouteKey))
		}
		if token = out.NextToken; token == nil {
			if pages != 3 {
				t.Errorf("5 routes took %d pages of 2", pages)
			}
			break
		}
	}
	if strings.Join(keys, ",") != "$default,a,b,c,d" {
		t.Errorf("GetRoutes listed %v", keys)
	}

	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"duplicate key", func() error {
			_, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("a")})
			return err
		}, "ConflictException"},
		{"reserved key", func() error {
			_, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("$ping")})
			return err
		}, "BadRequestException"},
		{"unknown target", func() error {
			_, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("e"), Target: aws.String("integrations/nosuch")})
			return err
		}, "BadRequestException"},
		{"IAM off $connect", func() error {
			_, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("e"), AuthorizationType: types.AuthorizationTypeAwsIam})
			return err
		}, "BadRequestException"},
		{"rename onto an existing key", func() error {
			_, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: api, RouteId: created.RouteId, RouteKey: aws.String("b")})
			return err
		}, "ConflictException"},
		{"unknown route", func() error {
			_, err := c.GetRoute(ctx, &apigatewayv2.GetRouteInput{ApiId: api, RouteId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"route of unknown API", func() error {
			_, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: aws.String("nosuchapi"), RouteId: created.RouteId})
			return err
		}, "NotFoundException"},
		{"second route response", func() error {
			if _, err := c.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: api, RouteId: created.RouteId, RouteResponseKey: aws.String("$default")}); err != nil {
				return err
			}
			_, err := c.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: api, RouteId: created.RouteId, RouteResponseKey: aws.String("$default")})
			return err
		}, "ConflictException"},
		{"route response key", func() error {
			_, err := c.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: api, RouteId: created.RouteId, RouteResponseKey: aws.String("ok")})
			return err
		}, "BadRequestException"},
		{"unknown route response", func() error {
			_, err := c.GetRouteResponse(ctx, &apigatewayv2.GetRouteResponseInput{ApiId: api, RouteId: created.RouteId, RouteResponseId: aws.String("nosuch")})
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

	if _, err := c.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: api, RouteId: created.RouteId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: api, RouteId: created.RouteId})
	if errorCode(err) != "NotFoundException" {
		t.Errorf("second DeleteRoute: %v", err)
	}
}

// TestRouteServed checks that a route made through the control plane is what an autoDeploy stage
// serves, with its authorizer and two-way flag.
func TestRouteServed(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client
	apiOut, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	api := apiOut.ApiId
	if _, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api, StageName: aws.String("dev"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	integ, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api, IntegrationType: types.IntegrationTypeMock})
	if err != nil {
		t.Fatal(err)
	}
	au, err := c.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: api, Name: aws.String("a"), AuthorizerType: types.AuthorizerTypeRequest,
		IdentitySource: []string{"route.request.header.Auth"},
		AuthorizerUri:  aws.String("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations")})
	if err != nil {
		t.Fatal(err)
	}
	target := aws.String("integrations/" + aws.ToString(integ.IntegrationId))
	if _, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("$connect"), Target: target,
		AuthorizationType: types.AuthorizationTypeCustom, AuthorizerId: au.AuthorizerId}); err != nil {
		t.Fatal(err)
	}
	echo, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("echo"), Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: api, RouteId: echo.RouteId, RouteResponseKey: aws.String("$default")}); err != nil {
		t.Fatal(err)
	}
	// As on AWS, the route response alone does not make the route two-way: the route's
	// routeResponseSelectionExpression must say $default too.
	if r := f.servedSet().API(aws.ToString(api)).Stages["dev"].Routes["echo"]; r == nil || r.TwoWay {
		t.Fatalf("echo with a route response but no routeResponseSelectionExpression: %+v, want one-way", r)
	}
	if _, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: api, RouteId: echo.RouteId, RouteResponseSelectionExpression: aws.String("$default")}); err != nil {
		t.Fatal(err)
	}
	stage := f.servedSet().API(aws.ToString(api)).Stages["dev"]
	if stage == nil {
		t.Fatal("stage dev is not served")
	}
	connect, echoRoute := stage.Routes["$connect"], stage.Routes["echo"]
	if connect == nil || connect.Authorizer == nil || connect.Authorizer.ID != aws.ToString(au.AuthorizerId) || connect.Integration == nil {
		t.Errorf("served $connect: %+v", connect)
	}
	if echoRoute == nil || !echoRoute.TwoWay {
		t.Errorf("served echo route: %+v", echoRoute)
	}
}
