package sigv4

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"
)

// recorded is what the test server saw for one request.
type recorded struct {
	requestURI string
	identity   *Identity
	err        error
}

// verifyingServer is an httptest server that verifies every request with v (real clock) and records the
// outcome. For WebSocket upgrades that verify it completes the handshake and closes normally.
type verifyingServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []recorded
}

// newVerifyingServer starts a verifyingServer.
func newVerifyingServer(t *testing.T, v *Verifier) *verifyingServer {
	s := &verifyingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, err := v.Verify(r, body)
		s.mu.Lock()
		s.seen = append(s.seen, recorded{requestURI: r.RequestURI, identity: id, err: err})
		s.mu.Unlock()
		if err != nil {
			w.Header().Set("X-Amzn-ErrorType", "ForbiddenException")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"message":"Forbidden"}`)
			return
		}
		switch {
		case r.Header.Get("Upgrade") == "websocket":
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			_ = c.Close(websocket.StatusNormalClosure, "")
		case r.Method == http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"connectedAt":"2024-05-06T07:08:09.000Z","identity":{"sourceIp":"127.0.0.1"},"lastActiveAt":"2024-05-06T07:08:09.000Z"}`)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// last returns the most recent recorded request.
func (s *verifyingServer) last(t *testing.T) recorded {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("server saw no request")
	}
	return s.seen[len(s.seen)-1]
}

// TestManagementAPIClient drives the real apigatewaymanagementapi client (PostToConnection,
// GetConnection, DeleteConnection) against a verifying server.
func TestManagementAPIClient(t *testing.T) {
	srv := newVerifyingServer(t, &Verifier{Region: testRegion, Credentials: StaticCredentials{testAKID: testSecret}})
	client := func(secret, token string) *apigatewaymanagementapi.Client {
		return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
			Region:           testRegion,
			BaseEndpoint:     aws.String(srv.URL + "/dev"),
			Credentials:      credentials.NewStaticCredentialsProvider(testAKID, secret, token),
			RetryMaxAttempts: 1,
		})
	}
	const connID = "R0oXAdfD0kwCH6w="
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		secret string
		token  string
		call   func(*apigatewaymanagementapi.Client) error
		want   error
	}{
		{"post", testSecret, "", func(c *apigatewaymanagementapi.Client) error {
			_, err := c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(connID), Data: []byte(`{"hello":"world"}`)})
			return err
		}, nil},
		{"post binary with token", testSecret, testToken, func(c *apigatewaymanagementapi.Client) error {
			_, err := c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(connID), Data: []byte{0, 1, 2, 0xff}})
			return err
		}, nil},
		{"post empty", testSecret, "", func(c *apigatewaymanagementapi.Client) error {
			_, err := c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(connID), Data: []byte{}})
			return err
		}, nil},
		{"get", testSecret, "", func(c *apigatewaymanagementapi.Client) error {
			_, err := c.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(connID)})
			return err
		}, nil},
		{"delete", testSecret, "", func(c *apigatewaymanagementapi.Client) error {
			_, err := c.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connID)})
			return err
		}, nil},
		{"post wrong secret", "wrong", "", func(c *apigatewaymanagementapi.Client) error {
			_, err := c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(connID), Data: []byte("x")})
			return err
		}, ErrInvalidSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			callErr := c.call(client(c.secret, c.token))
			got := srv.last(t)
			if !strings.Contains(got.requestURI, "/dev/@connections/R0oXAdfD0kwCH6w%3D") {
				t.Errorf("request URI = %q", got.requestURI)
			}
			if !errors.Is(got.err, c.want) {
				t.Fatalf("server Verify error = %v, want %v", got.err, c.want)
			}
			if c.want == nil {
				if callErr != nil {
					t.Fatalf("client error: %v", callErr)
				}
				if got.identity.AccessKeyID != testAKID || got.identity.SessionToken != c.token {
					t.Errorf("identity = %+v", got.identity)
				}
			} else if callErr == nil {
				t.Fatal("client call succeeded")
			}
		})
	}
}

// TestWebSocketHandshake performs real WebSocket handshakes (coder/websocket client) with a presigned
// URL, the way browser clients authenticate, and a plain net/http GET signed in headers.
func TestWebSocketHandshake(t *testing.T) {
	srv := newVerifyingServer(t, &Verifier{Region: testRegion, Credentials: StaticCredentials{testAKID: testSecret}})
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: testToken}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("presigned dial", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/dev?room=lobby&X-Amz-Expires=300", nil)
		signed, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, UnsignedPayload, testService, testRegion, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(signed, "http"), nil)
		if err != nil {
			t.Fatalf("dial: %v (server: %v)", err, srv.last(t).err)
		}
		_, _, _ = c.Read(ctx) // the server closes normally
		_ = c.CloseNow()
		if got := srv.last(t); got.err != nil || !got.identity.Presigned || got.identity.SessionToken != testToken {
			t.Fatalf("server saw %+v, %v", got.identity, got.err)
		}
	})

	t.Run("presigned dial tampered", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/dev?room=lobby", nil)
		signed, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, UnsignedPayload, testService, testRegion, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tampered := strings.Replace(signed, "room=lobby", "room=admin", 1)
		if _, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(tampered, "http"), nil); err == nil {
			t.Fatal("dial succeeded")
		}
		if got := srv.last(t); !errors.Is(got.err, ErrInvalidSignature) {
			t.Fatalf("server error = %v", got.err)
		}
	})

	t.Run("header signed GET", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/dev?a=1", nil)
		for k, v := range handshakeHeader() {
			req.Header[k] = v
		}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, sha256Hex(nil), testService, testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := srv.last(t); got.err != nil || got.identity.Presigned {
			t.Fatalf("server saw %+v, %v", got.identity, got.err)
		}
	})
}
