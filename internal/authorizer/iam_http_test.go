package authorizer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/sigv4"
)

// TestIdentifyForHTTPAPIs signs requests with the AWS SDK's signer and checks who Identify says signed,
// the iam member built from it, and the HTTP API refusals.
func TestIdentifyForHTTPAPIs(t *testing.T) {
	iam, err := NewIAM([]resource.IAMUser{
		{Name: "alice", AccessKeyID: "AKIDALICE", SecretAccessKey: "alice-secret",
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:123456789012:api1/*/GET/*"}]}`},
	}, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	sign := func(t *testing.T, method, key, secret string) *http.Request {
		r, _ := http.NewRequest(method, "http://api1.execute-api.us-east-1.amazonaws.com/pets", nil)
		sum := sha256.Sum256(nil)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
			r, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	arn := func(method string) string {
		return RouteARN("us-east-1", "123456789012", "api1", "$default", method, "/pets")
	}

	c, err := iam.Identify(sign(t, "GET", "AKIDALICE", "alice-secret"), nil, InvokeAction, arn("GET"))
	if err != nil || c != (Caller{AccessKeyID: "AKIDALICE", UserName: "alice"}) {
		t.Fatalf("Identify = %+v, %v", c, err)
	}
	got := HTTPIAMAuthorization(c, "us-east-1", "123456789012")
	if got.AccessKey != "AKIDALICE" || got.UserARN != "arn:aws:iam::123456789012:user/alice" || got.AccountID != "123456789012" {
		t.Errorf("iam = %+v", got)
	}

	cases := []struct {
		name string
		req  *http.Request
		arn  string
		err  error
		body string
	}{
		{"unsigned", func() *http.Request { r, _ := http.NewRequest("GET", "http://x/pets", nil); return r }(), arn("GET"),
			sigv4.ErrMissingAuthentication, `{"message":"Forbidden"}`},
		{"wrong secret", sign(t, "GET", "AKIDALICE", "wrong"), arn("GET"), sigv4.ErrInvalidSignature, `{"message":"The request signature we calculated`},
		{"policy denies", sign(t, "DELETE", "AKIDALICE", "alice-secret"), arn("DELETE"), ErrAccessDenied, `{"message":"User: arn:aws:iam::user/alice is not authorized`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iam.Identify(tc.req, nil, InvokeAction, tc.arn)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			status, body := HTTPIAMRefusal(err)
			if status != 403 || !strings.HasPrefix(body, tc.body) {
				t.Errorf("refusal %d %s, want 403 %s…", status, body, tc.body)
			}
		})
	}
}
