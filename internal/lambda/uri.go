package lambda

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrBadURI reports an integrationUri that does not name a Lambda function.
var ErrBadURI = errors.New("integration URI does not name a Lambda function")

// FunctionFromURI returns the function an AWS_PROXY integrationUri names, in a form the Lambda Invoke API
// accepts. It takes:
//
//   - arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations, the form
//     AWS documents, where {function} is a function ARN (qualified or not), possibly percent-encoded;
//   - a function ARN, arn:{partition}:lambda:{region}:{account}:function:{name}[:{qualifier}], which AWS
//     accepts for HTTP APIs;
//   - a plain function name, name:qualifier or partial ARN ({account}:function:{name}), which AWS does not:
//     Switchboard accepts it so locally declared functions can be named simply.
func FunctionFromURI(uri string) (string, error) {
	if uri == "" {
		return "", fmt.Errorf("%w: empty", ErrBadURI)
	}
	if strings.HasPrefix(uri, "arn:") {
		var buf [6]string
		parts := SplitColons(uri, buf[:])
		if len(parts) < 6 {
			return "", fmt.Errorf("%w: %q", ErrBadURI, uri)
		}
		switch parts[2] {
		case "lambda":
			return functionARN(uri, parts)
		case "apigateway":
			const prefix, suffix = "path/2015-03-31/functions/", "/invocations"
			if parts[4] != "lambda" || !strings.HasPrefix(parts[5], prefix) || !strings.HasSuffix(parts[5], suffix) {
				return "", fmt.Errorf("%w: %q is not a Lambda invocation URI", ErrBadURI, uri)
			}
			fn := parts[5][len(prefix) : len(parts[5])-len(suffix)]
			if strings.Contains(fn, "%") {
				dec, err := url.PathUnescape(fn)
				if err != nil {
					return "", fmt.Errorf("%w: %q: %w", ErrBadURI, uri, err)
				}
				fn = dec
			}
			if fn == "" || strings.Contains(fn, "/") {
				return "", fmt.Errorf("%w: %q", ErrBadURI, uri)
			}
			if strings.HasPrefix(fn, "arn:") {
				var fnBuf [6]string
				return functionARN(fn, SplitColons(fn, fnBuf[:]))
			}
			return fn, nil
		}
		return "", fmt.Errorf("%w: %q", ErrBadURI, uri)
	}
	if strings.ContainsAny(uri, "/ ") {
		return "", fmt.Errorf("%w: %q", ErrBadURI, uri)
	}
	return uri, nil
}

// SplitColons splits s at its colons into buf, as strings.SplitN(s, ":", len(buf)) does, without
// allocating: the last part holds the rest of s, colons included. FunctionFromURI runs it on every
// AWS_PROXY invocation (each $connect, message and $disconnect routed to a function), and the local
// invoker on every function name.
func SplitColons(s string, buf []string) []string {
	n := 0
	for n < len(buf)-1 {
		before, after, found := strings.Cut(s, ":")
		if !found {
			break
		}
		buf[n], s = before, after
		n++
	}
	buf[n] = s
	return buf[:n+1]
}

// functionARN checks that arn, split into its first six colon-separated parts, is a Lambda function ARN.
func functionARN(arn string, parts []string) (string, error) {
	if len(parts) < 6 || parts[2] != "lambda" || !strings.HasPrefix(parts[5], "function:") || len(parts[5]) == len("function:") {
		return "", fmt.Errorf("%w: %q is not a function ARN", ErrBadURI, arn)
	}
	return arn, nil
}
