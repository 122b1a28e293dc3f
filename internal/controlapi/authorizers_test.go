package controlapi

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

// authorizerURI is the invocation URI of a Lambda authorizer.
const authorizerURI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"

func TestAuthorizersGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	api := "/v2/apis/<api-1>"
	withURI := func(members string) string {
		return `{"name":"tokens","authorizerType":"REQUEST","authorizerUri":"` + authorizerURI + `"` + members + `}`
	}
	f.runResourceGolden("a_authorizers.golden", []goldenStep{
		{"POST", "/v2/apis", newWebSocketAPI("chat")},
		{"POST", api + "/authorizers", withURI(`,"identitySource":["route.request.header.Authorization","route.request.querystring.token"],` +
			`"authorizerCredentialsArn":"arn:aws:iam::123456789012:role/authorize","identityValidationExpression":"^Bearer .+$"`)},
		{"POST", api + "/authorizers", withURI(`,"identitySource":[]`)},
		{"GET", api + "/authorizers/<authorizer-1>", ""},
		{"GET", api + "/authorizers", ""},
		{"GET", api + "/authorizers?maxResults=1&nextToken=1", ""},
		{"GET", api + "/authorizers/nosuch", ""},
		// Refusals.
		{"POST", api + "/authorizers", withURI(``)},
		{"POST", api + "/authorizers", `{"authorizerType":"REQUEST","identitySource":[],"authorizerUri":"` + authorizerURI + `"}`},
		{"POST", api + "/authorizers", `{"name":"tokens","identitySource":[]}`},
		{"POST", api + "/authorizers", `{"name":"tokens","authorizerType":"REQUEST","identitySource":[]}`},
		{"POST", api + "/authorizers", `{"name":"jwt","authorizerType":"JWT","identitySource":["$request.header.Authorization"],"jwtConfiguration":{"issuer":"https://issuer.example.com","audience":["chat"]}}`},
		{"POST", api + "/authorizers", `{"name":"token","authorizerType":"TOKEN","identitySource":[],"authorizerUri":"` + authorizerURI + `"}`},
		{"POST", api + "/authorizers", withURI(`,"identitySource":[],"jwtConfiguration":{"issuer":"https://issuer.example.com"}`)},
		{"POST", api + "/authorizers", withURI(`,"identitySource":[],"authorizerPayloadFormatVersion":"2.0"`)},
		{"POST", api + "/authorizers", withURI(`,"identitySource":[],"enableSimpleResponses":true`)},
		{"POST", api + "/authorizers", withURI(`,"identitySource":[],"authorizerResultTtlInSeconds":300`)},
		{"POST", api + "/authorizers", withURI(`,"identitySource":["$request.header.Authorization"]`)},
		{"POST", "/v2/apis/nosuchapi/authorizers", withURI(`,"identitySource":[]`)},
		// UpdateAuthorizer.
		{"PATCH", api + "/authorizers/<authorizer-1>", `{"name":"renamed","identitySource":["route.request.header.X-Token"],"identityValidationExpression":null}`},
		{"PATCH", api + "/authorizers/<authorizer-1>", `{"authorizerUri":""}`},
		{"PATCH", api + "/authorizers/<authorizer-1>", `{"authorizerType":"JWT"}`},
		{"PATCH", api + "/authorizers/nosuch", `{"name":"x"}`},
		// An authorizer a route uses cannot be deleted.
		{"POST", api + "/routes", `{"routeKey":"$connect","authorizationType":"CUSTOM","authorizerId":"<authorizer-1>"}`},
		{"DELETE", api + "/authorizers/<authorizer-1>", ""},
		{"DELETE", api + "/authorizers/<authorizer-2>", ""},
		{"DELETE", api + "/authorizers/<authorizer-2>", ""},
		{"GET", api + "/authorizers", ""},
	})
}

func TestAuthorizersSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client
	apiOut, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	api := apiOut.ApiId
	created, err := c.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: api, Name: aws.String("tokens"),
		AuthorizerType: types.AuthorizerTypeRequest, AuthorizerUri: aws.String(authorizerURI),
		IdentitySource: []string{"route.request.querystring.token"}, AuthorizerCredentialsArn: aws.String("arn:aws:iam::123456789012:role/a")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.Name) != "tokens" || created.AuthorizerType != types.AuthorizerTypeRequest || len(created.IdentitySource) != 1 ||
		aws.ToString(created.AuthorizerCredentialsArn) != "arn:aws:iam::123456789012:role/a" || len(aws.ToString(created.AuthorizerId)) != 7 {
		t.Errorf("CreateAuthorizer output: %+v", created)
	}
	id := created.AuthorizerId
	upd, err := c.UpdateAuthorizer(ctx, &apigatewayv2.UpdateAuthorizerInput{ApiId: api, AuthorizerId: id, IdentitySource: []string{"route.request.header.Auth"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(upd.IdentitySource) != 1 || upd.IdentitySource[0] != "route.request.header.Auth" || aws.ToString(upd.Name) != "tokens" {
		t.Errorf("UpdateAuthorizer output: %+v", upd)
	}
	if _, err := c.GetAuthorizer(ctx, &apigatewayv2.GetAuthorizerInput{ApiId: api, AuthorizerId: id}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: api, Name: aws.String("more"),
			AuthorizerType: types.AuthorizerTypeRequest, AuthorizerUri: aws.String(authorizerURI), IdentitySource: []string{}}); err != nil {
			t.Fatal(err)
		}
	}
	var n, pages int
	var token *string
	for {
		out, err := c.GetAuthorizers(ctx, &apigatewayv2.GetAuthorizersInput{ApiId: api, MaxResults: aws.String("2"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		n, pages = n+len(out.Items), pages+1
		if token = out.NextToken; token == nil {
			break
		}
	}
	if n != 3 || pages != 2 {
		t.Errorf("GetAuthorizers listed %d authorizers in %d pages", n, pages)
	}

	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"JWT", func() error {
			_, err := c.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: api, Name: aws.String("j"), AuthorizerType: types.AuthorizerTypeJwt,
				IdentitySource: []string{"$request.header.Authorization"}})
			return err
		}, "BadRequestException"},
		{"result TTL", func() error {
			_, err := c.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: api, Name: aws.String("t"), AuthorizerType: types.AuthorizerTypeRequest,
				AuthorizerUri: aws.String(authorizerURI), IdentitySource: []string{}, AuthorizerResultTtlInSeconds: aws.Int32(300)})
			return err
		}, "BadRequestException"},
		{"unknown authorizer", func() error {
			_, err := c.GetAuthorizer(ctx, &apigatewayv2.GetAuthorizerInput{ApiId: api, AuthorizerId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"authorizer of unknown API", func() error {
			_, err := c.GetAuthorizers(ctx, &apigatewayv2.GetAuthorizersInput{ApiId: aws.String("nosuchapi")})
			return err
		}, "NotFoundException"},
		{"invalid update", func() error {
			_, err := c.UpdateAuthorizer(ctx, &apigatewayv2.UpdateAuthorizerInput{ApiId: api, AuthorizerId: id, IdentitySource: []string{"header.x"}})
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

	route, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("$connect"),
		AuthorizationType: types.AuthorizationTypeCustom, AuthorizerId: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteAuthorizer(ctx, &apigatewayv2.DeleteAuthorizerInput{ApiId: api, AuthorizerId: id}); awsErrorCode(err) != "ConflictException" {
		t.Errorf("DeleteAuthorizer of an authorizer in use: %v", err)
	}
	if _, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: api, RouteId: route.RouteId, AuthorizationType: types.AuthorizationTypeNone}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteAuthorizer(ctx, &apigatewayv2.DeleteAuthorizerInput{ApiId: api, AuthorizerId: id}); err != nil {
		t.Fatalf("DeleteAuthorizer once no route uses it: %v", err)
	}
	if _, err := c.GetAuthorizer(ctx, &apigatewayv2.GetAuthorizerInput{ApiId: api, AuthorizerId: id}); errorCode(err) != "NotFoundException" {
		t.Errorf("GetAuthorizer after DeleteAuthorizer: %v", err)
	}
}
