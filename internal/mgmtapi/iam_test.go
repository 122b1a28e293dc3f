package mgmtapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/smithy-go"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

const (
	adminKey, adminSecret   = "AKIAADMINEXAMPLE0001", "admin-secret"
	posterKey, posterSecret = "AKIAPOSTEREXAMPLE001", "poster-secret"
)

// iamConfig is an API whose $connect requires AWS_IAM, with signatures enforced; the admin may do
// anything, the poster may only POST to @connections.
func iamConfig(backend string) string {
	return fmt.Sprintf(`
apis:
  - name: sec
    apiId: sec
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: be
        integrationType: HTTP_PROXY
        integrationUri: "%s/connect"
        requestParameters: {integration.request.header.connectionId: context.connectionId}
    routes:
      - {routeKey: $connect, target: integrations/be, authorizationType: AWS_IAM}
    stages: [{stageName: dev}]
iam:
  enforce: true
  users:
    - name: admin
      accessKeyId: %s
      secretAccessKey: %s
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:*","Resource":"arn:aws:execute-api:us-east-1:*:sec/*"}]}'
    - name: poster
      accessKeyId: %s
      secretAccessKey: %s
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:ManageConnections","Resource":"arn:aws:execute-api:us-east-1:*:sec/dev/POST/@connections/*"}]}'
`, backend, adminKey, adminSecret, posterKey, posterSecret)
}

// presignedURL signs a WebSocket handshake URL as browser clients do (query-string SigV4).
func presignedURL(t *testing.T, wsURL, key, secret string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https"+strings.TrimPrefix(wsURL, "ws"), nil)
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "300")
	req.URL.RawQuery = q.Encode()
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "execute-api", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return "ws" + strings.TrimPrefix(signed, "https")
}

func TestIAMEnforced(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, iamConfig(be.URL))
	stageURL := g.WSURL + "/sec/dev"

	// $connect with AWS_IAM: unsigned and wrongly signed handshakes are refused before any upgrade.
	for _, tc := range []struct {
		name, url string
		status    int
	}{
		{"unsigned", stageURL, http.StatusForbidden},
		{"wrong secret", presignedURL(t, stageURL, adminKey, "nope"), http.StatusForbidden},
		{"unknown key", presignedURL(t, stageURL, "AKIAUNKNOWNEXAMPLE01", "x"), http.StatusForbidden},
		{"presigned by a user allowed to connect", presignedURL(t, stageURL, adminKey, adminSecret), http.StatusSwitchingProtocols},
		{"presigned by a user without execute-api:Invoke", presignedURL(t, stageURL, posterKey, posterSecret), http.StatusForbidden},
	} {
		t.Run("$connect "+tc.name, func(t *testing.T) {
			c, _ := gatewaytest.TryDial(t, tc.url, nil)
			if c.Response == nil || c.Response.StatusCode != tc.status {
				t.Fatalf("handshake: %v, want %d", c.Response, tc.status)
			}
		})
	}
	if n := len(be.Requests()); n != 1 {
		t.Fatalf("$connect integration ran %d times; only the allowed handshake may reach it", n)
	}
	first := be.Requests()[0].Header.Get("connectionId")
	client := gatewaytest.Dial(t, presignedURL(t, stageURL, adminKey, adminSecret), nil)
	id := be.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool {
		return r.Header.Get("connectionId") != "" && r.Header.Get("connectionId") != first
	}).Header.Get("connectionId")

	api := func(key, secret string) *apigatewaymanagementapi.Client {
		return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
			BaseEndpoint: aws.String(g.HTTPURL + "/sec/dev"), Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		})
	}
	ctx := context.Background()
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return fmt.Sprint(err)
	}
	t.Run("@connections signed by the SDK", func(t *testing.T) {
		if _, err := api(posterKey, posterSecret).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("signed")}); err != nil {
			t.Fatal(err)
		}
		if got := client.Read(); got != "signed" {
			t.Fatalf("client got %q", got)
		}
	})
	t.Run("@connections errors", func(t *testing.T) {
		_, err := api(adminKey, "wrong").PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
		if code(err) != "InvalidSignatureException" {
			t.Fatalf("wrong secret: %v", err)
		}
		_, err = api("AKIAUNKNOWNEXAMPLE01", "x").GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
		if code(err) != "UnrecognizedClientException" {
			t.Fatalf("unknown key: %v", err)
		}
		_, err = api(posterKey, posterSecret).DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
		if code(err) != "ForbiddenException" {
			t.Fatalf("poster deleting (its policy allows POST only): %v", err)
		}
		resp, err := http.Post(g.HTTPURL+"/sec/dev/@connections/"+id, "text/plain", strings.NewReader("unsigned"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "ForbiddenException" {
			t.Fatalf("unsigned POST: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	})
	t.Run("nothing reached the client from refused calls", func(t *testing.T) {
		if _, err := api(adminKey, adminSecret).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("next")}); err != nil {
			t.Fatal(err)
		}
		if got := client.Read(); got != "next" {
			t.Fatalf("client got %q; a refused call was delivered", got)
		}
	})
}
