package lambda

import (
	"errors"
	"testing"
)

const testARN = "arn:aws:lambda:eu-west-1:123456789012:function:chat"

func TestFunctionFromURIRejects(t *testing.T) {
	for _, uri := range []string{
		"",
		"https://example.com/chat",
		"arn:aws:apigateway:eu-west-1:dynamodb:action/PutItem",
		"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/" + testARN,
		"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions//invocations",
		"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/a/b/invocations",
		"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/%zz/invocations",
		"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:apigateway:eu-west-1:lambda:path/x/invocations",
		"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:s3:::bucket/invocations",
		"arn:aws:lambda:eu-west-1:123456789012:layer:deps:3",
		"arn:aws:lambda:eu-west-1:123456789012:function:",
		"arn:aws:sqs:eu-west-1:123456789012:queue",
		"arn:aws",
		"chat room",
	} {
		t.Run(uri, func(t *testing.T) {
			if got, err := FunctionFromURI(uri); !errors.Is(err, ErrBadURI) {
				t.Errorf("FunctionFromURI(%q) = %q, %v; want ErrBadURI", uri, got, err)
			}
		})
	}
}
