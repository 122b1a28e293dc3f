// Package chat is the logic of the chat's three Lambda functions — the AWS simple chat sample as the
// Sparta WebSocket sample writes it (connectWorld, disconnectWorld, sendMessage) — shared by the handler
// binaries under ../handlers and by the example's test, which also calls it in-process behind a stand-in
// Lambda Invoke API.
//
// Nothing here knows about Switchboard. Connect and Disconnect keep the set of connection IDs in a
// [store.Store] (the samples' DynamoDB table); SendMessage posts the message to every ID through the
// API Gateway Management API with the AWS SDK for Go v1, at the endpoint the event names:
// https://{requestContext.domainName}/{requestContext.stage}. Region, credentials and a custom CA bundle
// (AWS_CA_BUNDLE) come from the environment, which Lambda — or Switchboard, for local functions — sets.
package chat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/apigatewaymanagementapi"

	"github.com/switchboard-gw/switchboard/examples/chat-lambda/store"
)

// response returns a proxy integration response with status and body.
func response(status int, body string) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: status, Body: body}
}

// Connect is the $connect route's function: it records the new connection. Its 200 lets API Gateway
// complete the WebSocket handshake; an error refuses it.
func Connect(ctx context.Context, request events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id := request.RequestContext.ConnectionID
	conns, err := store.FromEnv()
	if err != nil {
		return response(http.StatusInternalServerError, "Failed to connect"), err
	}
	if err := conns.Add(id); err != nil {
		return response(http.StatusInternalServerError, "Failed to connect"), err
	}
	log.Printf("connect: connectionId=%s sourceIp=%s", id, request.RequestContext.Identity.SourceIP)
	return response(http.StatusOK, "Connected."), nil
}

// Disconnect is the $disconnect route's function: it forgets the connection. API Gateway calls it on a
// best-effort basis after the connection closed, and ignores its answer.
func Disconnect(ctx context.Context, request events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id := request.RequestContext.ConnectionID
	conns, err := store.FromEnv()
	if err != nil {
		return response(http.StatusInternalServerError, "Failed to disconnect"), err
	}
	if err := conns.Remove(id); err != nil {
		return response(http.StatusInternalServerError, "Failed to disconnect"), err
	}
	log.Printf("disconnect: connectionId=%s", id)
	return response(http.StatusOK, "Disconnected."), nil
}

// message is what a client sends: {"action":"sendmessage","data":"…"}.
type message struct {
	Action string          `json:"action"`
	Data   json.RawMessage `json:"data"`
}

// SendMessage is the sendmessage route's function: it posts the message's data to every recorded
// connection, the sender included, and forgets the connections that answer GoneException — clients that
// went away without their $disconnect removing them.
//
// A JSON string is sent as its text; any other JSON value is sent as written. The route is one-way, so
// the response only tells API Gateway that the message was handled.
func SendMessage(ctx context.Context, request events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	sender := request.RequestContext.ConnectionID
	body := []byte(request.Body)
	if request.IsBase64Encoded { // a binary frame
		decoded, err := base64.StdEncoding.DecodeString(request.Body)
		if err != nil {
			return response(http.StatusBadRequest, "Failed to decode the message"), nil
		}
		body = decoded
	}
	var msg message
	if err := json.Unmarshal(body, &msg); err != nil || len(msg.Data) == 0 {
		log.Printf("sendmessage: connectionId=%s: no data in %q", sender, body)
		return response(http.StatusBadRequest, `Want {"action":"sendmessage","data":"..."}`), nil
	}
	data := []byte(msg.Data)
	var text string
	if json.Unmarshal(msg.Data, &text) == nil {
		data = []byte(text)
	}

	conns, err := store.FromEnv()
	if err != nil {
		return response(http.StatusInternalServerError, "Failed to send"), err
	}
	ids, err := conns.List()
	if err != nil {
		return response(http.StatusInternalServerError, "Failed to send"), err
	}

	// The Management API endpoint of the API and stage that invoked us, as the Sparta sample builds it.
	// The session reads region, credentials and AWS_CA_BUNDLE from the environment. It is made per
	// invocation like the sample's; a busy function would make it once, in main.
	endpoint := "https://" + request.RequestContext.DomainName + "/" + request.RequestContext.Stage
	sess, err := session.NewSession()
	if err != nil {
		return response(http.StatusInternalServerError, "Failed to send"), fmt.Errorf("AWS session: %w", err)
	}
	api := apigatewaymanagementapi.New(sess, aws.NewConfig().WithEndpoint(endpoint))

	var sent, gone, failed int
	for _, id := range ids {
		_, err := api.PostToConnectionWithContext(ctx, &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: aws.String(id),
			Data:         data,
		})
		var aerr awserr.Error
		switch {
		case err == nil:
			sent++
		case errors.As(err, &aerr) && aerr.Code() == apigatewaymanagementapi.ErrCodeGoneException:
			// The client left without $disconnect removing it: clean up the stale connection.
			gone++
			if err := conns.Remove(id); err != nil {
				log.Printf("sendmessage: %v", err)
			}
		default:
			failed++
			log.Printf("sendmessage: PostToConnection %s at %s: %v", id, endpoint, err)
		}
	}
	log.Printf("sendmessage: connectionId=%s bytes=%d delivered=%d gone=%d failed=%d", sender, len(data), sent, gone, failed)
	return response(http.StatusOK, "Data sent."), nil
}
