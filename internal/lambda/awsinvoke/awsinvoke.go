// Package awsinvoke invokes functions through the Lambda Invoke API with aws-sdk-go-v2: on AWS, or on
// anything that speaks the API — LocalStack, the Lambda runtime interface emulator, SAM local. Configuration
// is the SDK's standard chain, so AWS_REGION, AWS_ENDPOINT_URL_LAMBDA (or AWS_ENDPOINT_URL), profiles and
// every credentials source work as in any AWS tool.
package awsinvoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	lambdasdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/switchboard-gw/switchboard/internal/lambda"
)

// DefaultRegion is the region used when neither Options nor the SDK's configuration names one.
const DefaultRegion = "us-east-1"

// Options configures an Invoker. The zero value uses the SDK's configuration as is.
type Options struct {
	// Region is the region to use when the SDK's configuration (AWS_REGION, the profile) names none;
	// empty means DefaultRegion.
	Region string
	// MaxAttempts bounds the SDK's attempts per invocation (retries of throttling and transient errors);
	// 0 keeps the SDK's default (3). Retries always stop at the caller's context deadline.
	MaxAttempts int
	// HTTPClient replaces the SDK's HTTP client for every call it makes, credential lookups included;
	// nil means a pooled client sized for many concurrent invocations.
	HTTPClient aws.HTTPClient
}

// Invoker calls the Lambda Invoke API. It is safe for concurrent use.
type Invoker struct {
	client *lambdasdk.Client
	region string
}

var _ lambda.Invoker = (*Invoker)(nil)

// New loads the SDK's default configuration and returns an Invoker. Credentials are resolved lazily, on the
// first invocation.
func New(ctx context.Context, opts Options) (*Invoker, error) {
	region := opts.Region
	if region == "" {
		region = DefaultRegion
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		httpClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns = 1024
			t.MaxIdleConnsPerHost = 512
		})
	}
	loadOpts := []func(*config.LoadOptions) error{
		config.WithDefaultRegion(region),
		config.WithHTTPClient(httpClient),
	}
	if opts.MaxAttempts > 0 {
		loadOpts = append(loadOpts, config.WithRetryMaxAttempts(opts.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return &Invoker{client: lambdasdk.NewFromConfig(cfg), region: cfg.Region}, nil
}

// Region returns the region the Invoker calls unless a function ARN names another.
func (i *Invoker) Region() string { return i.region }

// Invoke calls function synchronously (InvocationType RequestResponse) with payload. function is anything
// the Invoke API accepts: a name (my-function, my-function:alias), a partial ARN
// (123456789012:function:my-function) or a function ARN, qualified or not. A function ARN in another region
// than the Invoker's is invoked in its own region.
//
// A function that failed is a Result with FunctionError set (the X-Amz-Function-Error header, e.g.
// "Unhandled") and its error document as Payload. Errors are for invocations that did not happen: the
// function does not exist (wrapping lambda.ErrFunctionNotFound and *types.ResourceNotFoundException),
// throttling (*types.TooManyRequestsException), an unreachable endpoint, missing credentials, ctx done.
func (i *Invoker) Invoke(ctx context.Context, function string, payload []byte) (*lambda.Result, error) {
	in := &lambdasdk.InvokeInput{
		FunctionName:   aws.String(function),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	}
	var optFns []func(*lambdasdk.Options)
	if a, err := arn.Parse(function); err == nil && a.Region != "" && a.Region != i.region {
		optFns = append(optFns, func(o *lambdasdk.Options) { o.Region = a.Region })
	}
	out, err := i.client.Invoke(ctx, in, optFns...)
	if err != nil {
		var notFound *types.ResourceNotFoundException
		if errors.As(err, &notFound) {
			return nil, fmt.Errorf("invoke %s: %w: %w", function, lambda.ErrFunctionNotFound, err)
		}
		// The SDK's model names Lambda's 413 RequestTooLargeException; the service has also answered
		// RequestEntityTooLargeException (the name its message and the CLI show).
		var api smithy.APIError
		if errors.As(err, &api) && (api.ErrorCode() == "RequestTooLargeException" || api.ErrorCode() == "RequestEntityTooLargeException") {
			return nil, fmt.Errorf("invoke %s: %w: %w", function, lambda.ErrRequestTooLarge, err)
		}
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	}
	return &lambda.Result{Payload: out.Payload, FunctionError: aws.ToString(out.FunctionError)}, nil
}
