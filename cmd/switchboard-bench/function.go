package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// echoFunction is the trivial Lambda handler of the AWS_PROXY scenario: it answers with the message it got.
// The bench runs itself as that function ("switchboard-bench handler"), as the gateway's local function.
type echoFunction struct{}

// Invoke answers a WebSocket proxy event with its body.
func (echoFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	return json.Marshal(events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body})
}

// functionMain runs the process as a Lambda function against the Runtime API in AWS_LAMBDA_RUNTIME_API.
func functionMain() { lambda.StartHandler(echoFunction{}) }
