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
	// Service is the service's endpoint prefix (dynamodb, sqs, s3), also its signing name.
	Service string
	// Action is set for action/{Action}, Path for path/{path}.
	Action, Path string
}

var (
	// awsRegionPattern is an AWS region's name: us-east-1, eu-central-2, us-gov-west-1, us-isob-east-1.
	awsRegionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	// awsServicePattern is one host-name label in lowercase.
	awsServicePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// IsAWSRegion reports whether s is an AWS region's name (us-east-1, ap-southeast-2, us-gov-west-1).
func IsAWSRegion(s string) bool { return awsRegionPattern.MatchString(s) }

// ParseAWSServiceURI reads an AWS service integration's URI; problem says what is wrong with one that
// is not. The service and the region become the endpoint's host name,
// https://{service}.{region}.amazonaws.com, so the service is one lowercase label and the region an AWS
// region's name (or empty): a service of "evil.example/x" sent the gateway's signed requests, with its
// session token, to evil.example, and one of "{id}.execute-api" to anybody's API on AWS. The
// subdomain.service forms AWS also accepts (runtime.sagemaker, my-bucket.s3) are refused for the same
// reason, and because their requests would be signed for the wrong service; S3 takes path/{bucket}/{key}.
// The partition is aws or aws-us-gov, whose endpoints are under amazonaws.com.
func ParseAWSServiceURI(uri string) (u AWSServiceURI, problem string) {
	parts := strings.SplitN(uri, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "apigateway" || parts[4] == "" {
		return AWSServiceURI{}, "not arn:aws:apigateway:{region}:{service}:action/{Action} or …:path/{path}"
	}
	u = AWSServiceURI{Region: parts[3], Service: parts[4]}
	switch {
	case parts[1] != "aws" && parts[1] != "aws-us-gov":
		return AWSServiceURI{}, fmt.Sprintf("partition %q: use aws or aws-us-gov, whose endpoints are under amazonaws.com", parts[1])
	case u.Region != "" && !IsAWSRegion(u.Region):
		return AWSServiceURI{}, fmt.Sprintf("region %q is not an AWS region's name, such as us-east-1", u.Region)
	case strings.Contains(u.Service, "."):
		return AWSServiceURI{}, fmt.Sprintf("service %q: subdomain.service URIs are not supported; name the service alone (for S3, s3 with path/{bucket}/{key})", u.Service)
	case !awsServicePattern.MatchString(u.Service):
		return AWSServiceURI{}, fmt.Sprintf("service %q: use the service's endpoint prefix, lowercase letters, digits and '-'", u.Service)
	case strings.HasPrefix(parts[5], "action/") && len(parts[5]) > len("action/"):
		u.Action = parts[5][len("action/"):]
	case strings.HasPrefix(parts[5], "path/"):
		u.Path = parts[5][len("path/"):]
	default:
		return AWSServiceURI{}, "the resource must be action/{Action} or path/{path}"
	}
	return u, ""
}
