// Package lambda is "invoke a Lambda function with a payload", whoever runs it: awsinvoke calls the Lambda
// Invoke API (AWS, LocalStack, the runtime interface emulator), localinvoke runs the handler as a local
// process against Switchboard's own Lambda Runtime API. Both are used through Invoker.
package lambda

import (
	"context"
	"errors"
)

// Invoker invokes functions synchronously (InvocationType RequestResponse).
type Invoker interface {
	// Invoke runs function (a name or an ARN) with payload and returns its result. A function that
	// fails — an error returned or thrown, a timeout, a crash — is a Result with FunctionError set, not
	// an error: err is for failures to reach the function at all.
	Invoke(ctx context.Context, function string, payload []byte) (*Result, error)
}

// Result is the outcome of one invocation, as the Lambda Invoke API reports it.
type Result struct {
	// Payload is the function's response, or its error document when FunctionError is set.
	Payload []byte
	// FunctionError is "" on success, else the X-Amz-Function-Error value ("Unhandled" for errors and
	// timeouts).
	FunctionError string
}

// ErrFunctionNotFound reports a function that no invoker knows.
var ErrFunctionNotFound = errors.New("function not found")

// ErrRequestTooLarge reports an event over Lambda's limit on a synchronous invocation (6 MiB), which
// Lambda refuses before the function runs: the local invoker's own check, or the Lambda service's
// answer.
var ErrRequestTooLarge = errors.New("RequestEntityTooLargeException")
