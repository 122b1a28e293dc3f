// Command httpauthhandler is an aws-lambda-go function for the gateway's HTTP API authorizer tests. As a
// Lambda authorizer (an event of type REQUEST) it decides by the first identity value: "allow", "deny",
// "unauthorized" (fails with Unauthorized) or anything else (an invalid answer); its context carries a
// nonce new to each invocation, so a test can tell a cached result from a fresh one. As an integration it
// answers with the event's requestContext.authorizer.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type handler struct{}

func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var head struct {
		Version string `json:"version"`
		Type    string `json:"type"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return nil, err
	}
	if head.Type == "REQUEST" {
		return authorize(head.Version, payload)
	}
	if head.Version == "1.0" {
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		body, _ := json.Marshal(ev.RequestContext.Authorizer)
		return json.Marshal(events.APIGatewayProxyResponse{StatusCode: 200, Body: string(body)})
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(ev.RequestContext.Authorizer)
	return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: string(body)})
}

func authorize(version string, payload []byte) ([]byte, error) {
	var identity, arn string
	if version == "1.0" {
		var ev events.APIGatewayV2CustomAuthorizerV1Request
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		identity, arn = ev.IdentitySource, ev.MethodArn
	} else {
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		identity, arn = strings.Join(ev.IdentitySource, ","), ev.RouteArn
	}
	ctx := map[string]any{"user": "u-1", "nonce": nonce(), "roles": []string{"reader", "writer"}, "arn": arn}
	switch identity {
	case "unauthorized":
		return nil, errors.New("Unauthorized")
	case "allow", "deny":
	default:
		return []byte(`{"statusCode":401}`), nil
	}
	if version == "2.0" {
		return json.Marshal(events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: identity == "allow", Context: ctx})
	}
	effect := "Deny"
	if identity == "allow" {
		effect = "Allow"
	}
	return json.Marshal(events.APIGatewayCustomAuthorizerResponse{PrincipalID: "p-1", Context: ctx,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{arn}}}}})
}

func main() { lambda.StartHandler(handler{}) }
