package mgmtapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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

// TestBadSignaturesLeakNothing sends 10,000 wrongly signed PostToConnection requests: every one is
// refused, nothing is delivered, and afterwards the process has no more goroutines and no more live heap
// than before, give or take noise.
func TestBadSignaturesLeakNothing(t *testing.T) {
	be := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, strings.Replace(iamConfig(be.URL), "authorizationType: AWS_IAM", "authorizationType: NONE", 1))
	client := gatewaytest.Dial(t, g.WSURL+"/sec/dev", nil)
	id := be.WaitFor(t, 5*time.Second, func(r gatewaytest.Request) bool { return r.Header.Get("connectionId") != "" }).Header.Get("connectionId")

	url := g.HTTPURL + "/sec/dev/@connections/" + strings.ReplaceAll(id, "=", "%3D")
	body := []byte("forged")
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set("Content-Type", "application/octet-stream")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: adminKey, SecretAccessKey: "wrong"},
		req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer httpc.CloseIdleConnections()
	send := func() int {
		r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		r.Header = req.Header.Clone()
		resp, err := httpc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	send() // warm up pools before the baseline
	runtime.GC()
	goroutines := runtime.NumGoroutine()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const n = 10000
	var wg sync.WaitGroup
	var refused atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if send() == http.StatusForbidden {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if refused.Load() != n {
		t.Fatalf("%d of %d forged requests refused", refused.Load(), n)
	}
	httpc.CloseIdleConnections()
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines+2 },
		"goroutines: %d before, %d after", goroutines, runtime.NumGoroutine())
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 8<<20 {
		t.Fatalf("live heap grew by %d bytes over %d forged requests", grown, n)
	}
	// The gateway still works, and the first message the client sees is the real one: no forged one
	// was delivered.
	if _, err := (apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(g.HTTPURL + "/sec/dev"), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(adminKey, adminSecret, ""),
	})).PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("real")}); err != nil {
		t.Fatalf("a real call after the flood: %v", err)
	}
	if got := client.Read(); got != "real" {
		t.Fatalf("client got %q first", got)
	}
}
