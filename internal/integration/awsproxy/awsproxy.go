// Package awsproxy is the AWS_PROXY integration: each event becomes a Lambda proxy event (package
// proxyevent), the function named by integrationUri is invoked synchronously through a lambda.Invoker, and
// its result is read as a proxy response.
//
// Outcomes, as dispatch turns them into what clients see:
//   - a result → integration.Response: statusCode (the $connect handshake status), headers merged with
//     multiValueHeaders (Sec-WebSocket-Protocol picks the subprotocol), body (the two-way reply). See
//     proxyevent.ParseResponse for results that are not well-formed proxy responses.
//   - the integration's timeoutInMillis passing first → an error wrapping integration.ErrTimeout (504 on
//     $connect, "Endpoint request timed out" on messages).
//   - a function error (X-Amz-Function-Error), a result that cannot be read, a message reply over 128 KiB,
//     a function that does not exist, throttling, an unreachable endpoint → any other error (502,
//     "Internal server error").
//   - $disconnect: the function is invoked and its result ignored; failures are still returned, for logs.
package awsproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// DefaultTimeout is the integration timeout when the integration names none: API Gateway's default.
const DefaultTimeout = 29 * time.Second

// ErrFunctionError reports an invocation whose function failed: it threw, returned an error, timed out
// on its own or crashed.
var ErrFunctionError = errors.New("function error")

// ErrBadURI reports an integrationUri that does not name a Lambda function.
var ErrBadURI = lambda.ErrBadURI

// Invoker runs AWS_PROXY integrations. It is safe for concurrent use.
type Invoker struct {
	lambda lambda.Invoker
}

var _ integration.Invoker = (*Invoker)(nil)

// New returns an Invoker that invokes functions through l — typically one that sends functions declared
// locally to the local runtime and the rest to the Lambda Invoke API.
func New(l lambda.Invoker) *Invoker {
	return &Invoker{lambda: l}
}

// Invoke runs req's event against the function of in.URI within in.Timeout.
func (p *Invoker) Invoke(ctx context.Context, in *snapshot.Integration, req *integration.Request) (*integration.Response, error) {
	rc := req.Context
	if rc == nil {
		return nil, errors.New("awsproxy: request has no requestContext")
	}
	function, err := lambda.FunctionFromURI(in.URI)
	if err != nil {
		return nil, fmt.Errorf("integration %s: %w", in.ID, err)
	}
	var event []byte
	switch rc.EventType {
	case proxyevent.EventConnect:
		event = proxyevent.ConnectEvent(rc, req.Header, req.Query, req.StageVariables)
	case proxyevent.EventMessage:
		event = proxyevent.MessageEvent(rc, req.Body, req.StageVariables)
	case proxyevent.EventDisconnect:
		event = proxyevent.DisconnectEvent(rc, req.StageVariables)
	default:
		return nil, fmt.Errorf("awsproxy: unknown event type %q", rc.EventType)
	}

	timeout := in.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := p.lambda.Invoke(ictx, function, event)
	// The integration's own deadline passing is a timeout, whatever the invoker made of it; the caller's
	// context ending (client gone, shutdown) is not.
	if ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("function %s did not answer within %v: %w", function, timeout, integration.ErrTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", function, err)
	}
	if res.FunctionError != "" {
		return nil, fmt.Errorf("function %s: %w (%s): %s", function, ErrFunctionError, res.FunctionError, errorSummary(res.Payload))
	}
	if rc.EventType == proxyevent.EventDisconnect {
		return &integration.Response{StatusCode: http.StatusOK}, nil
	}
	resp, err := proxyevent.ParseResponse(res.Payload)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", function, err)
	}
	if rc.EventType == proxyevent.EventMessage && len(resp.Body) > proxyevent.MaxMessageBody {
		return nil, fmt.Errorf("function %s: %w (%d bytes)", function, proxyevent.ErrBodyTooLarge, len(resp.Body))
	}
	return &integration.Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: resp.Body}, nil
}

// errorSummary returns the errorType and errorMessage of a function's error document, for logs.
func errorSummary(payload []byte) string {
	var doc struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(payload, &doc); err != nil || doc.ErrorType == "" && doc.ErrorMessage == "" {
		return truncate(string(bytes.TrimSpace(payload)))
	}
	return doc.ErrorType + ": " + truncate(doc.ErrorMessage)
}

func truncate(s string) string {
	if len(s) > 256 {
		s = strings.ToValidUTF8(s[:256], "") + "…"
	}
	return s
}
