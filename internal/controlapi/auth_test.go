package controlapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/smithy-go"

	"github.com/switchboard-gw/switchboard/internal/authorizer"
	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/throttle"
)

// readOnly may list and read APIs but change nothing.
const readOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:GET","Resource":"arn:aws:apigateway:us-east-1::/apis*"}]}`

// newSignedServer serves the control plane behind RequireIAM with one user, "reader".
func newSignedServer(t *testing.T) *httptest.Server {
	t.Helper()
	cat, err := catalog.Open(context.Background(), catalog.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	iam, err := authorizer.NewIAM([]resource.IAMUser{{Name: "reader", AccessKeyID: "AKIDREADER", SecretAccessKey: "reader-secret", Policy: readOnly}}, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(RequireIAM(New(Config{Catalog: cat}), iam.ForService("apigateway"), "us-east-1"))
	t.Cleanup(srv.Close)
	return srv
}

func sdkClient(url, key, secret string) *apigatewayv2.Client {
	return apigatewayv2.New(apigatewayv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), RetryMaxAttempts: 1})
}

// TestRequireIAM signs with the real SDK signer and checks each way a request can fail, and that an
// allowed one reaches the handler.
func TestRequireIAM(t *testing.T) {
	srv := newSignedServer(t)
	ctx := context.Background()
	cases := []struct {
		name, key, secret string
		call              func(*apigatewayv2.Client) error
		wantCode          string // "" for success
	}{
		{"allowed read", "AKIDREADER", "reader-secret", func(c *apigatewayv2.Client) error {
			_, err := c.GetApis(ctx, &apigatewayv2.GetApisInput{})
			return err
		}, ""},
		{"write outside the policy", "AKIDREADER", "reader-secret", func(c *apigatewayv2.Client) error {
			_, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("x"), ProtocolType: types.ProtocolTypeWebsocket, RouteSelectionExpression: aws.String("$request.body.a")})
			return err
		}, "AccessDeniedException"},
		{"unknown access key", "AKIDNOBODY", "reader-secret", func(c *apigatewayv2.Client) error {
			_, err := c.GetApis(ctx, &apigatewayv2.GetApisInput{})
			return err
		}, "UnrecognizedClientException"},
		{"wrong secret", "AKIDREADER", "not-the-secret", func(c *apigatewayv2.Client) error {
			_, err := c.GetApis(ctx, &apigatewayv2.GetApisInput{})
			return err
		}, "InvalidSignatureException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(sdkClient(srv.URL, tc.key, tc.secret))
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.wantCode {
				t.Fatalf("error %v, want %s", err, tc.wantCode)
			}
		})
	}

	t.Run("unsigned", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/v2/apis")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
			t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	})
	t.Run("nothing changed", func(t *testing.T) {
		out, err := sdkClient(srv.URL, "AKIDREADER", "reader-secret").GetApis(ctx, &apigatewayv2.GetApisInput{})
		if err != nil || len(out.Items) != 0 {
			t.Fatalf("GetApis = %v, %v; the refused CreateApi must not have created anything", out, err)
		}
	})
}

// TestThrottle drives the account-wide bucket with a fake clock: the burst passes, the next request is a
// TooManyRequestsException the SDK decodes, and time refills the bucket.
func TestThrottle(t *testing.T) {
	cat, err := catalog.Open(context.Background(), catalog.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	srv := httptest.NewServer(Throttle(New(Config{Catalog: cat}), throttle.Limits{Rate: 1, Burst: 3}, func() time.Time { return now }))
	defer srv.Close()
	c := sdkClient(srv.URL, "AKID", "secret")
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.GetApis(ctx, &apigatewayv2.GetApisInput{}); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	_, err = c.GetApis(ctx, &apigatewayv2.GetApisInput{})
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) {
		t.Fatalf("request over the burst: %v, want TooManyRequestsException", err)
	}
	if tooMany.LimitType == nil || *tooMany.LimitType != "Account" {
		t.Errorf("limitType = %v", tooMany.LimitType)
	}
	now = now.Add(time.Second)
	if _, err := c.GetApis(ctx, &apigatewayv2.GetApisInput{}); err != nil {
		t.Fatalf("after a second: %v", err)
	}
}
