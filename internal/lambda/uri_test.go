package lambda

import (
	"errors"
	"slices"
	"strings"
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

func TestFunctionFromURIAccepts(t *testing.T) {
	for _, tc := range []struct{ name, uri, want string }{
		{"invocation URI", "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/" + testARN + "/invocations", testARN},
		{"qualified, percent-encoded", "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Achat%3Alive/invocations", testARN + ":live"},
		{"function name in the invocation URI", "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/chat/invocations", "chat"},
		{"function ARN", testARN, testARN},
		{"qualified function ARN", testARN + ":3", testARN + ":3"},
		{"plain name", "chat", "chat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := FunctionFromURI(tc.uri); err != nil || got != tc.want {
				t.Errorf("FunctionFromURI(%q) = %q, %v; want %q", tc.uri, got, err, tc.want)
			}
		})
	}
}

// TestFunctionFromURIDoesNotAllocate guards the AWS_PROXY hot path: every invocation reads its
// integration's URI.
func TestFunctionFromURIDoesNotAllocate(t *testing.T) {
	uri := "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/" + testARN + "/invocations"
	if n := testing.AllocsPerRun(100, func() {
		if _, err := FunctionFromURI(uri); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("FunctionFromURI allocates %v times per call, want 0", n)
	}
}

// FuzzSplitARN checks SplitColons with six parts against strings.SplitN(s, ":", 6), whose result it must equal.
func FuzzSplitARN(f *testing.F) {
	for _, s := range []string{"", ":", "arn", "arn:aws", testARN, testARN + ":live:extra", "a:b:c:d:e:f:g:h", "::::::::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf [6]string
		if got, want := SplitColons(s, buf[:]), strings.SplitN(s, ":", 6); !slices.Equal(got, want) {
			t.Errorf("SplitColons(%q) = %q, want %q", s, got, want)
		}
	})
}
