package gateway

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/httpapi"
	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/integration/awsservice"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// serviceCaller sends HTTP API AWS service integrations (integrationSubtype) through the same signed
// client as WebSocket AWS integrations: the gateway's credentials, the endpoint the standard
// AWS_ENDPOINT_URL_<SERVICE> settings name.
type serviceCaller struct {
	inv *awsservice.Invoker
}

var _ httpapi.ServiceCaller = serviceCaller{}

// newServiceCaller is the HTTP APIs' caller of AWS services: an awsservice invoker configured as the
// WebSocket AWS integrations' one (the gateway's credentials, loaded on first use; the endpoint settings
// from the environment).
func newServiceCaller(fns lambda.Invoker, region string) serviceCaller {
	return serviceCaller{inv: awsservice.New(awsservice.Config{Functions: fns, Region: region,
		Credentials: &lazyCredentials{region: region}, Getenv: os.Getenv})}
}

// CallService builds the AWS integration of r (arn:aws:apigateway:{region}:{service}:action/{Action}
// or :path/{path}) and runs it.
func (s serviceCaller) CallService(ctx context.Context, r *httpapi.ServiceRequest) (*httpapi.ServiceResponse, error) {
	// The region, when the request names one, makes the endpoint's host name: held to a region's name
	// here too (the handler refuses the request first), and without one the invoker uses the gateway's.
	if r.Region != "" && !resource.IsAWSRegion(r.Region) {
		return nil, fmt.Errorf("integration subtype's Region %q is not an AWS region's name", r.Region)
	}
	uri := "arn:aws:apigateway:" + r.Region + ":" + r.Service + ":"
	if r.Action != "" {
		uri += "action/" + r.Action
	} else {
		uri += "path/" + strings.TrimPrefix(r.Path, "/")
	}
	in := &snapshot.Integration{ID: "subtype", Type: resource.IntegrationAWS, URI: uri, Method: r.Method}
	if r.ContentType != "" {
		in.RequestParameters = append(in.RequestParameters, snapshot.Parameter{Location: "header", Name: "Content-Type",
			Source: snapshot.ParameterSource{Kind: snapshot.SourceStatic, Value: r.ContentType}})
	}
	keys := make([]string, 0, len(r.Query))
	for k := range r.Query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.RequestParameters = append(in.RequestParameters, snapshot.Parameter{Location: "querystring", Name: k,
			Source: snapshot.ParameterSource{Kind: snapshot.SourceStatic, Value: r.Query.Get(k)}})
	}
	resp, err := s.inv.Invoke(ctx, in, &integration.Request{Body: r.Body})
	if err != nil {
		return nil, err
	}
	return &httpapi.ServiceResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: resp.Body}, nil
}
