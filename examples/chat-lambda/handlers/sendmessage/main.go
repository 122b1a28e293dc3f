// Command sendmessage is the chat's sendmessage Lambda function: it broadcasts a
// message to every connection in the store (the samples' sendMessage).
// It is an ordinary aws-lambda-go handler: build it and run it on AWS Lambda (runtime provided.al2023,
// the binary named bootstrap), or declare it under functions: in a Switchboard config to run it locally:
//
//	go build -o examples/chat-lambda/bin/sendmessage ./examples/chat-lambda/handlers/sendmessage
//
// It needs CHAT_STORE_DIR, the directory that stands in for the connections table.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/switchboard-gw/switchboard/examples/chat-lambda/chat"
)

func handler(ctx context.Context, request events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return chat.SendMessage(ctx, request)
}

func main() {
	lambda.Start(handler)
}
