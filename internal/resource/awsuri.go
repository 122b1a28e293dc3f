package resource

import (
	"fmt"
	"regexp"
	"strings"
)

// AWSServiceURI is an AWS service integration's URI, arn:aws:apigateway:{region}:{service}:action/{Action}
// or …:{service}:path/{path}, read by ParseAWSServiceURI.
type AWSServiceURI struct {
	// Region is the service's region; empty means the gateway's own.
	Region string
	// Service is the endpoint's first labels: the service (dynamodb, sqs) or a subdomain of it
	// (runtime.sagemaker, mybucket.s3), as AWS's URI format allows.
	Service string
	// Action is set for action/{Action}, Path for path/{path}.
	Action, Path string
}

var (
	awsRegionPattern  = regexp.MustCompile(`^[a-z0-9-]*$`)
	awsServicePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$`)
)

// ParseAWSServiceURI reads an AWS service integration's URI; problem says what is wrong with one that is
// not. The service and the region become the endpoint's host name (https://{service}.{region}.amazonaws.com),
// so they are held to the characters of a host name: a service of "evil.example/" would have sent the
// gateway's signed requests, with its session token, to another host.
func ParseAWSServiceURI(uri string) (u AWSServiceURI, problem string) {
	parts := strings.SplitN(uri, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "apigateway" || parts[4] == "" {
		return AWSServiceURI{}, "not arn:aws:apigateway:{region}:{service}:action/{Action} or …:path/{path}"
	}
	u = AWSServiceURI{Region: parts[3], Service: parts[4]}
	switch {
	case !awsRegionPattern.MatchString(u.Region):
		return AWSServiceURI{}, fmt.Sprintf("region %q: use lowercase letters, digits and '-'", u.Region)
	case !awsServicePattern.MatchString(u.Service):
		return AWSServiceURI{}, fmt.Sprintf("service %q: use a service or subdomain.service of letters, digits, '.' and '-'", u.Service)
	case strings.HasPrefix(parts[5], "action/") && len(parts[5]) > len("action/"):
		u.Action = parts[5][len("action/"):]
	case strings.HasPrefix(parts[5], "path/"):
		u.Path = parts[5][len("path/"):]
	default:
		return AWSServiceURI{}, "the resource must be action/{Action} or path/{path}"
	}
	return u, ""
}
