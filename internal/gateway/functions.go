package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/lambda/awsinvoke"
	"github.com/switchboard-gw/switchboard/internal/lambda/localinvoke"
)

// functions sends each invocation to the local process pool when the function is declared there, and to
// the Lambda Invoke API otherwise. The API client is made on first use, so a config whose functions are
// all local never reads the AWS configuration.
type functions struct {
	local  *localinvoke.Invoker // nil when no function is declared
	region string

	once      sync.Once
	remote    *awsinvoke.Invoker
	remoteErr error
}

var _ lambda.Invoker = (*functions)(nil)

// Invoke runs function locally or through the Lambda Invoke API.
func (f *functions) Invoke(ctx context.Context, function string, payload []byte) (*lambda.Result, error) {
	if f.local != nil && f.local.Has(function) {
		return f.local.Invoke(ctx, function, payload)
	}
	f.once.Do(func() {
		// The client outlives this request: its configuration is loaded under a context of its own.
		f.remote, f.remoteErr = awsinvoke.New(context.WithoutCancel(ctx), awsinvoke.Options{Region: f.region})
	})
	if f.remoteErr != nil {
		return nil, fmt.Errorf("lambda invoke API client: %w", f.remoteErr)
	}
	return f.remote.Invoke(ctx, function, payload)
}

// close stops the local processes.
func (f *functions) close(ctx context.Context) error {
	if f.local == nil {
		return nil
	}
	return f.local.Close(ctx)
}
