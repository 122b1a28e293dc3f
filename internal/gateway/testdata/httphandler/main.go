// Command httphandler is an aws-lambda-go function for the gateway's HTTP API tests. It reads the event
// as events.APIGatewayV2HTTPRequest (payload 2.0) or events.APIGatewayProxyRequest (1.0), and answers
// according to the request path's last segment.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type handler struct{}

func (handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var v struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(payload, &v)
	if v.Version == "1.0" {
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		out, _ := json.Marshal(map[string]any{"version": v.Version, "resource": ev.Resource, "path": ev.Path, "httpMethod": ev.HTTPMethod,
			"multiValueHeaders": ev.MultiValueHeaders["X-Multi"], "multiValueQuery": ev.MultiValueQueryStringParameters["q"],
			"pathParameters": ev.PathParameters, "stage": ev.RequestContext.Stage, "body": ev.Body})
		return json.Marshal(events.APIGatewayProxyResponse{StatusCode: 200, Body: string(out),
			MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}}})
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	switch path.Base(ev.RawPath) {
	case "infer":
		return []byte(`{"hello":"world"}`), nil
	case "string":
		return []byte(`"plain text"`), nil
	case "malformed":
		return []byte(`{"statusCode": 200, "body": `), nil
	case "error":
		return nil, errors.New("boom")
	case "hang":
		<-ctx.Done()
		time.Sleep(time.Hour) // a stuck handler ignores its deadline
		return nil, nil
	case "binary":
		return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: 200, IsBase64Encoded: true,
			Headers: map[string]string{"Content-Type": "application/octet-stream"}, Body: base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255})})
	}
	out, _ := json.Marshal(map[string]any{"version": ev.Version, "routeKey": ev.RouteKey, "rawPath": ev.RawPath, "rawQueryString": ev.RawQueryString,
		"cookies": ev.Cookies, "multi": ev.Headers["x-multi"], "query": ev.QueryStringParameters["q"], "pathParameters": ev.PathParameters,
		"method": ev.RequestContext.HTTP.Method, "path": ev.RequestContext.HTTP.Path, "stage": ev.RequestContext.Stage,
		"stageVariables": ev.StageVariables, "body": ev.Body, "isBase64Encoded": ev.IsBase64Encoded, "requestId": ev.RequestContext.RequestID,
		"timeEpoch": ev.RequestContext.TimeEpoch > 0})
	return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: 201, Body: string(out),
		Headers: map[string]string{"Content-Type": "application/json"}, Cookies: []string{"a=1; Path=/", "b=2"}})
}

func main() { lambda.StartHandler(handler{}) }
