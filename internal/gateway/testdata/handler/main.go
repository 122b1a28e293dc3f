// Command handler is an aws-lambda-go function for the gateway's Lambda tests. Its answer depends on the
// message: {"action":"<mode>", ...}. It returns raw bytes (lambda.StartHandler) so it can also answer
// with what no well-behaved handler would.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
)

type handler struct{}

func (handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var kind struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(payload, &kind) == nil && kind.Type == "REQUEST" {
		return authorize(payload)
	}
	var ev events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	var msg struct {
		Action string `json:"action"`
	}
	_ = json.Unmarshal([]byte(ev.Body), &msg)
	switch msg.Action {
	case "malformed":
		return []byte(`{"statusCode": 200, "body": `), nil
	case "scalar":
		return []byte(`42`), nil
	case "huge":
		return json.Marshal(events.APIGatewayProxyResponse{StatusCode: 200, Body: strings.Repeat("x", 200<<10)})
	case "hang", "slow":
		<-ctx.Done()
		time.Sleep(time.Hour) // ignore the deadline, as a stuck handler would
		return nil, nil
	case "error":
		return nil, errors.New("boom")
	case "crash":
		os.Exit(3)
	case "callback":
		return callback(ctx, ev)
	case "sleep": // a second's work, then the echo
		time.Sleep(time.Second)
	}
	// echo: the event's routeKey and body, and whether the connection ID reached the function.
	reply := map[string]any{"routeKey": ev.RequestContext.RouteKey, "body": ev.Body, "connectionId": ev.RequestContext.ConnectionID,
		"authorizer": ev.RequestContext.Authorizer}
	if cc := ev.RequestContext.Identity.ClientCert; cc != nil {
		reply["clientSubject"], reply["clientNotAfter"] = cc.SubjectDN, cc.Validity.NotAfter
	}
	if id := ev.RequestContext.Identity.APIKeyID; id != "" {
		reply["apiKeyId"], reply["apiKey"] = id, ev.RequestContext.Identity.APIKey
	}
	out, _ := json.Marshal(reply)
	return json.Marshal(events.APIGatewayProxyResponse{StatusCode: 200, Body: string(out)})
}

// callback posts to the caller's connection the way AWS's samples do: through the API's default hostname,
// https://{apiId}.execute-api.{region}.amazonaws.com/{stage}, with the SDK's default configuration.
func callback(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) ([]byte, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	endpoint := fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/%s", ev.RequestContext.APIID, cfg.Region, ev.RequestContext.Stage)
	client := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
	if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(ev.RequestContext.ConnectionID),
		Data:         []byte("posted through " + endpoint),
	}); err != nil {
		return nil, fmt.Errorf("post to %s: %w", endpoint, err)
	}
	return json.Marshal(events.APIGatewayProxyResponse{StatusCode: 200, Body: "callback done"})
}

// authorize is a Lambda REQUEST authorizer: the token query parameter decides; the key query parameter,
// when given, becomes the usageIdentifierKey (the API key of $context.authorizer.usageIdentifierKey).
func authorize(payload []byte) ([]byte, error) {
	var req struct {
		MethodArn string            `json:"methodArn"`
		Query     map[string]string `json:"queryStringParameters"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, err
	}
	effect := "Allow"
	switch req.Query["token"] {
	case "deny":
		effect = "Deny"
	case "unauthorized":
		return nil, errors.New("Unauthorized")
	case "garbage":
		return []byte(`{"statusCode":401}`), nil
	}
	return json.Marshal(events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: "user-" + req.Query["token"],
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
			{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{req.MethodArn}},
		}},
		Context:            map[string]any{"tier": "gold", "n": 7},
		UsageIdentifierKey: req.Query["key"],
	})
}

func main() {
	if os.Getenv("FAIL_INIT") != "" {
		os.Stderr.WriteString("init failed on purpose\n")
		os.Exit(2)
	}
	lambda.StartHandler(handler{})
}
