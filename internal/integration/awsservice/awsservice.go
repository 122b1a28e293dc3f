// Package awsservice is the AWS integration type (non-proxy). Its integrationUri names either a Lambda
// function (arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations), which
// is invoked with the rendered request template as its event, or an AWS service action
// (arn:aws:apigateway:{region}:{service}:action/{Action} or …:path/{path}), which becomes one SigV4-signed
// HTTP request to that service's endpoint with the rendered template as its body.
//
// Endpoints come from the SDKs' standard settings, so a gateway works against DynamoDB Local, dynalite,
// ElasticMQ, LocalStack or AWS alike: AWS_ENDPOINT_URL_{SERVICE} (the service's SDK ID in upper case,
// spaces as underscores: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS), else AWS_ENDPOINT_URL, else
// https://{service}.{region}.amazonaws.com.
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
//
// Requests are signed with the gateway's own credentials (the SDK's default chain); credentialsArn is
// not assumed. The answer (status, headers, body) goes through the integration responses; a Lambda
// function's error document is an answer too, matched by $integration.response.body.errorMessage as on
// AWS.
package awsservice

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// DefaultTimeout is the integration timeout when the integration names none: API Gateway's default.
const DefaultTimeout = 29 * time.Second

// MaxResponseBytes bounds what is read from a service: larger answers are an integration failure.
const MaxResponseBytes = 10 << 20

// ErrBadURI reports an integrationUri that names neither a Lambda function nor a service action.
var ErrBadURI = errors.New("integrationUri is not an AWS integration URI")

// Config is what the Invoker needs from the gateway.
type Config struct {
	// Functions invokes Lambda functions (local or AWS).
	Functions lambda.Invoker
	// Credentials sign service requests; nil makes service integrations fail with a clear error.
	Credentials aws.CredentialsProvider
	// Region is used when the URI names none.
	Region string
	// Getenv reads the endpoint settings (os.Getenv in the product).
	Getenv func(string) string
	// Client sends service requests; nil uses http.DefaultClient.
	Client *http.Client
}

// Invoker runs AWS integrations. It is safe for concurrent use.
type Invoker struct {
	cfg    Config
	signer *v4.Signer
}

var _ integration.Invoker = (*Invoker)(nil)

// New returns an Invoker.
func New(cfg Config) *Invoker {
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	return &Invoker{cfg: cfg, signer: v4.NewSigner()}
}

// Target is a parsed service integration URI: resource.AWSServiceURI, which validation reads too.
type Target = resource.AWSServiceURI

// ParseURI reads arn:aws:apigateway:{region}:{service}:action/{Action} or …:{service}:path/{path}.
// The region and the service are held to a host name's characters (resource.ParseAWSServiceURI): they
// make the endpoint's host.
func ParseURI(uri string) (Target, error) {
	u, problem := resource.ParseAWSServiceURI(uri)
	if problem != "" {
		return Target{}, fmt.Errorf("%w: %q: %s", ErrBadURI, uri, problem)
	}
	return u, nil
}

// Invoke runs req against the function or service action of in.URI within in.Timeout.
func (p *Invoker) Invoke(ctx context.Context, in *snapshot.Integration, req *integration.Request) (*integration.Response, error) {
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := p.invoke(ictx, in, req)
	if ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("integration %s did not answer within %v: %w", in.ID, timeout, integration.ErrTimeout)
	}
	return resp, err
}

func (p *Invoker) invoke(ctx context.Context, in *snapshot.Integration, req *integration.Request) (*integration.Response, error) {
	if fn, err := lambda.FunctionFromURI(in.URI); err == nil {
		if p.cfg.Functions == nil {
			return nil, fmt.Errorf("integration %s: no Lambda invoker", in.ID)
		}
		res, err := p.cfg.Functions.Invoke(ctx, fn, req.Body)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn, err)
		}
		h := http.Header{}
		if res.FunctionError != "" {
			h.Set("X-Amz-Function-Error", res.FunctionError)
		}
		return &integration.Response{StatusCode: http.StatusOK, Header: h, Body: res.Payload}, nil
	}
	t, err := ParseURI(in.URI)
	if err != nil {
		return nil, fmt.Errorf("integration %s: %w", in.ID, err)
	}
	hreq, err := p.build(ctx, in, t, req)
	if err != nil {
		return nil, err
	}
	resp, err := p.cfg.Client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("integration %s: %s %s: %w", in.ID, hreq.Method, hreq.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("integration %s: reading the answer: %w", in.ID, err)
	}
	if len(body) > MaxResponseBytes {
		return nil, fmt.Errorf("integration %s: answer over %d bytes", in.ID, MaxResponseBytes)
	}
	return &integration.Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// jsonTargets are the X-Amz-Target prefixes of the JSON-protocol services API Gateway integrations
// commonly call by action; other services are called with the query protocol (Action=… in the URL).
var jsonTargets = map[string]string{
	"dynamodb": "DynamoDB_20120810",
	"kinesis":  "Kinesis_20131202",
	"firehose": "Firehose_20150804",
	"events":   "AWSEvents",
	"states":   "AWSStepFunctions",
	"logs":     "Logs_20140328",
}

// jsonVersions are those services' Content-Type versions (application/x-amz-json-1.0 or 1.1).
var jsonVersions = map[string]string{"dynamodb": "1.0", "states": "1.0"}

// sdkIDs are the SDK service IDs whose environment names differ from the endpoint prefix.
var sdkIDs = map[string]string{"events": "EVENTBRIDGE", "states": "SFN", "logs": "CLOUDWATCH_LOGS", "execute-api": "API_GATEWAY"}

// Endpoint returns the base URL for service in region, from the standard settings.
func Endpoint(getenv func(string) string, service, region string) string {
	id, ok := sdkIDs[service]
	if !ok {
		id = strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(service))
	}
	if v := getenv("AWS_ENDPOINT_URL_" + id); v != "" {
		return strings.TrimRight(v, "/")
	}
	if v := getenv("AWS_ENDPOINT_URL"); v != "" {
		return strings.TrimRight(v, "/")
	}
	return "https://" + service + "." + region + ".amazonaws.com"
}

func (p *Invoker) build(ctx context.Context, in *snapshot.Integration, t Target, req *integration.Request) (*http.Request, error) {
	region := t.Region
	if region == "" {
		region = p.cfg.Region
	}
	base := Endpoint(p.cfg.Getenv, t.Service, region)
	method := in.Method
	if method == "" {
		method = http.MethodPost
	}
	header := make(http.Header)
	rawURL := base + "/"
	query := url.Values{}
	if t.Path != "" {
		rawURL = base + "/" + strings.TrimLeft(t.Path, "/")
	}
	if t.Action != "" {
		if prefix, ok := jsonTargets[t.Service]; ok {
			header.Set("X-Amz-Target", prefix+"."+t.Action)
			v := jsonVersions[t.Service]
			if v == "" {
				v = "1.1"
			}
			header.Set("Content-Type", "application/x-amz-json-"+v)
		} else {
			query.Set("Action", t.Action)
		}
	}
	for _, prm := range in.RequestParameters {
		v, ok := req.ParameterValue(prm.Source)
		if !ok {
			continue
		}
		switch prm.Location {
		case "header":
			header.Set(prm.Name, v)
		case "querystring":
			query.Set(prm.Name, v)
		case "path":
			rawURL = strings.ReplaceAll(rawURL, "{"+prm.Name+"}", url.PathEscape(v))
		}
	}
	if header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("integration %s: bad endpoint %q: %w", in.ID, rawURL, err)
	}
	if len(query) > 0 {
		q := u.Query()
		for k, vs := range query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("integration %s: %w", in.ID, err)
	}
	hreq.Header = header
	if p.cfg.Credentials == nil {
		return nil, fmt.Errorf("integration %s: no AWS credentials to sign %s requests", in.ID, t.Service)
	}
	creds, err := p.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("integration %s: AWS credentials: %w", in.ID, err)
	}
	sum := sha256.Sum256(req.Body)
	if err := p.signer.SignHTTP(ctx, creds, hreq, hex.EncodeToString(sum[:]), t.Service, region, time.Now()); err != nil {
		return nil, fmt.Errorf("integration %s: signing: %w", in.ID, err)
	}
	return hreq, nil
}
