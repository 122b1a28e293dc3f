package gateway_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// buildHTTPAuthHandler compiles testdata/httpauthhandler once per test binary.
var buildHTTPAuthHandler = sync.OnceValues(func() (string, error) {
	dir, err := filepathTemp()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "httpauthhandler")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/httpauthhandler").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build httpauthhandler: %v\n%s", err, out)
	}
	return bin, nil
})

// oidcIssuer is a small OpenID Connect issuer started in the test: discovery, a JWKS with one RSA key,
// and tokens signed with it.
type oidcIssuer struct {
	*httptest.Server
	key *rsa.PrivateKey
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &oidcIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "jwks_uri": is.URL + "/jwks.json"})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "key-1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	})
	is.Server = httptest.NewServer(mux)
	t.Cleanup(is.Close)
	return is
}

// token signs claims (iss, aud, exp and iat added unless given) with RS256.
func (is *oidcIssuer) token(t *testing.T, claims map[string]any) string {
	c := map[string]any{"iss": is.URL, "aud": "my-api", "sub": "user-1", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Add(-time.Minute).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	input := enc(map[string]string{"alg": "RS256", "kid": "key-1", "typ": "JWT"}) + "." + enc(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, is.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func httpAuthConfig(issuer, bin string) string {
	return fmt.Sprintf(`
iam:
  enforce: true
  users:
    - name: alice
      accessKeyId: AKIDALICEEXAMPLE
      secretAccessKey: alice-secret
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:123456789012:sec/*/GET/*"}]}'
    - name: admin
      accessKeyId: AKIDADMINEXAMPLE
      secretAccessKey: admin-secret
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:*","Resource":"arn:aws:apigateway:us-east-1::/*"}]}'
apis:
  - name: sec
    apiId: sec
    protocolType: HTTP
    authorizers:
      - {authorizerId: jwt1, name: oidc, authorizerType: JWT, identitySource: [$request.header.Authorization], jwtConfiguration: {issuer: %[1]q, audience: [my-api]}}
      - {authorizerId: simple, name: simple, authorizerType: REQUEST, authorizerUri: "arn:aws:lambda:us-east-1:123456789012:function:authfn", authorizerPayloadFormatVersion: "2.0", enableSimpleResponses: true, identitySource: [$request.header.X-Token], authorizerResultTtlInSeconds: 300}
      - {authorizerId: policy, name: policy, authorizerType: REQUEST, authorizerUri: authfn, authorizerPayloadFormatVersion: "1.0", identitySource: [$request.querystring.token]}
    integrations:
      - {integrationId: echo, integrationType: AWS_PROXY, payloadFormatVersion: "2.0", integrationUri: echofn}
      - {integrationId: echo1, integrationType: AWS_PROXY, payloadFormatVersion: "1.0", integrationUri: echofn}
    routes:
      - {routeKey: "GET /jwt", target: integrations/echo, authorizationType: JWT, authorizerId: jwt1}
      - {routeKey: "GET /scoped", target: integrations/echo, authorizationType: JWT, authorizerId: jwt1, authorizationScopes: [pets/write]}
      - {routeKey: "GET /simple", target: integrations/echo, authorizationType: CUSTOM, authorizerId: simple}
      - {routeKey: "GET /simple2", target: integrations/echo, authorizationType: CUSTOM, authorizerId: simple}
      - {routeKey: "GET /policy/{id}", target: integrations/echo1, authorizationType: CUSTOM, authorizerId: policy}
      - {routeKey: "ANY /iam", target: integrations/echo, authorizationType: AWS_IAM}
      - {routeKey: "GET /open", target: integrations/echo}
    stages: [{stageName: $default}, {stageName: dev}]
functions:
  - {functionName: authfn, handler: %[2]q, timeout: 5}
  - {functionName: echofn, handler: %[2]q, timeout: 5}
`, issuer, bin)
}

// TestHTTPAPIAuthorizers drives JWT, Lambda (simple and IAM-policy responses, cached and not) and AWS_IAM
// routes of an HTTP API with a real HTTP client, a real OIDC issuer, a real aws-lambda-go authorizer and
// the AWS SDK's SigV4 signer, and checks what the integration receives in requestContext.authorizer.
func TestHTTPAPIAuthorizers(t *testing.T) {
	bin, err := buildHTTPAuthHandler()
	if err != nil {
		t.Fatal(err)
	}
	is := newOIDCIssuer(t)
	logs := &logRecorder{}
	g := gatewaytest.Start(t, httpAuthConfig(is.URL, bin), func(o *gateway.Options) { o.Logger = slog.New(logs) }, gatewaytest.WithControlPlane)

	type result struct {
		status int
		body   string
		header http.Header
	}
	do := func(t *testing.T, req *http.Request) result {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{resp.StatusCode, string(b), resp.Header}
	}
	get := func(path string, header map[string]string) *http.Request {
		req, _ := http.NewRequest("GET", g.HTTPURL+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return req
	}
	signed := func(t *testing.T, method, path, secret string) *http.Request {
		req, _ := http.NewRequest(method, g.HTTPURL+path, strings.NewReader("payload"))
		sum := sha256.Sum256([]byte("payload"))
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDALICEEXAMPLE", SecretAccessKey: secret},
			req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	unauthorized, forbidden := `{"message":"Unauthorized"}`, `{"message":"Forbidden"}`

	cases := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		body   string // exact, or a prefix when it ends in "…"
		check  func(t *testing.T, r result)
		log    []string
	}{
		{name: "JWT: claims and scopes reach the integration", status: 200,
			req: func(t *testing.T) *http.Request {
				return get("/sec/jwt", map[string]string{"Authorization": "Bearer " + is.token(t, map[string]any{"scope": "pets/read pets/write", "groups": []string{"a", "b"}})})
			},
			check: func(t *testing.T, r result) {
				var a struct {
					JWT struct {
						Claims map[string]string `json:"claims"`
						Scopes []string          `json:"scopes"`
					} `json:"jwt"`
				}
				if err := json.Unmarshal([]byte(r.body), &a); err != nil || a.JWT.Claims["sub"] != "user-1" || a.JWT.Claims["groups"] != "[a b]" ||
					strings.Join(a.JWT.Scopes, " ") != "pets/read pets/write" {
					t.Errorf("authorizer %s (%v)", r.body, err)
				}
			}},
		{name: "JWT: no token", status: 401, body: unauthorized, req: func(t *testing.T) *http.Request { return get("/sec/jwt", nil) },
			log: []string{"HTTP API request refused", "JWT authorizer oidc", "no token"}},
		{name: "JWT: wrong audience", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request {
				return get("/sec/jwt", map[string]string{"Authorization": is.token(t, map[string]any{"aud": "other"})})
			},
			check: func(t *testing.T, r result) {
				if got := r.header.Get("Www-Authenticate"); got != `Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"` {
					t.Errorf("www-authenticate %q", got)
				}
			}, log: []string{"does not have a valid audience"}},
		{name: "JWT: expired", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request {
				return get("/sec/jwt", map[string]string{"Authorization": "Bearer " + is.token(t, map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})})
			}, log: []string{"the token has expired"}},
		{name: "JWT: forged signature", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request {
				tok := is.token(t, nil)
				return get("/sec/jwt", map[string]string{"Authorization": "Bearer " + tok[:len(tok)-4] + "AAAA"})
			}, log: []string{"signature is invalid"}},
		{name: "JWT: missing scope", status: 403, body: forbidden,
			req: func(t *testing.T) *http.Request {
				return get("/sec/scoped", map[string]string{"Authorization": "Bearer " + is.token(t, map[string]any{"scope": "pets/read"})})
			}, log: []string{"HTTP API request refused", "required scope"}},
		{name: "JWT: scope from scp", status: 200,
			req: func(t *testing.T) *http.Request {
				return get("/sec/scoped", map[string]string{"Authorization": "Bearer " + is.token(t, map[string]any{"scp": []string{"pets/write"}})})
			}},
		{name: "Lambda simple: allowed, context under lambda", status: 200,
			req: func(t *testing.T) *http.Request { return get("/sec/simple", map[string]string{"X-Token": "allow"}) },
			check: func(t *testing.T, r result) {
				var a struct {
					Lambda map[string]any `json:"lambda"`
				}
				if err := json.Unmarshal([]byte(r.body), &a); err != nil || a.Lambda["user"] != "u-1" || fmt.Sprint(a.Lambda["roles"]) != "[reader writer]" ||
					a.Lambda["arn"] != "arn:aws:execute-api:us-east-1:123456789012:sec/$default/GET/simple" {
					t.Errorf("authorizer %s (%v)", r.body, err)
				}
			}},
		{name: "Lambda simple: denied", status: 403, body: forbidden,
			req: func(t *testing.T) *http.Request { return get("/sec/simple", map[string]string{"X-Token": "deny"}) }, log: []string{"isAuthorized is false"}},
		{name: "Lambda: identity source missing, function not invoked", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request { return get("/sec/simple", nil) }, log: []string{"identity source missing", "$request.header.X-Token"}},
		{name: "Lambda: function says Unauthorized", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request {
				return get("/sec/simple", map[string]string{"X-Token": "unauthorized"})
			}},
		{name: "Lambda: invalid answer", status: 500, body: `{"message":"Internal Server Error"}`,
			req: func(t *testing.T) *http.Request { return get("/sec/simple", map[string]string{"X-Token": "garbage"}) },
			log: []string{"malformed authorizer response"}},
		{name: "Lambda 1.0 policy: allowed on the named stage", status: 200,
			req: func(t *testing.T) *http.Request { return get("/sec/dev/policy/7?token=allow", nil) },
			check: func(t *testing.T, r result) {
				var a map[string]any
				if err := json.Unmarshal([]byte(r.body), &a); err != nil || a["user"] != "u-1" ||
					a["arn"] != "arn:aws:execute-api:us-east-1:123456789012:sec/dev/GET/policy/7" {
					t.Errorf("authorizer %s (%v)", r.body, err)
				}
			}},
		{name: "Lambda 1.0 policy: denied", status: 403, body: forbidden,
			req: func(t *testing.T) *http.Request { return get("/sec/dev/policy/7?token=deny", nil) }},
		{name: "AWS_IAM: signed by a user allowed", status: 200,
			req: func(t *testing.T) *http.Request { return signed(t, "GET", "/sec/iam", "alice-secret") },
			check: func(t *testing.T, r result) {
				var a struct {
					IAM map[string]any `json:"iam"`
				}
				if err := json.Unmarshal([]byte(r.body), &a); err != nil || a.IAM["accessKey"] != "AKIDALICEEXAMPLE" ||
					a.IAM["userArn"] != "arn:aws:iam::123456789012:user/alice" {
					t.Errorf("authorizer %s (%v)", r.body, err)
				}
			}},
		{name: "AWS_IAM: unsigned", status: 403, body: forbidden,
			req: func(t *testing.T) *http.Request { return get("/sec/iam", nil) }, log: []string{"HTTP API request refused", "AWS_IAM"}},
		{name: "AWS_IAM: wrong secret", status: 403, body: `{"message":"The request signature we calculated…`,
			req: func(t *testing.T) *http.Request { return signed(t, "GET", "/sec/iam", "wrong") }},
		{name: "AWS_IAM: policy does not allow the method", status: 403, body: `{"message":"User: arn:aws:iam::user/alice is not authorized…`,
			req: func(t *testing.T) *http.Request { return signed(t, "POST", "/sec/iam", "alice-secret") }},
		{name: "bypass: execute-api host form still needs the token", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request {
				r := get("/jwt", nil)
				r.Host = "sec.execute-api.us-east-1.amazonaws.com"
				return r
			}},
		{name: "bypass: named stage still needs the token", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request { return get("/sec/dev/jwt", nil) }},
		{name: "bypass: percent-encoded path still needs the token", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request { return get("/sec/%6Awt", nil) }},
		{name: "bypass: a token in the query string does not count", status: 401, body: unauthorized,
			req: func(t *testing.T) *http.Request { return get("/sec/jwt?Authorization=Bearer+"+is.token(t, nil), nil) }},
		{name: "bypass: a signature for one path does not open another", status: 403,
			req: func(t *testing.T) *http.Request {
				r := signed(t, "GET", "/sec/iam", "alice-secret")
				r.URL.Path = "/sec/dev/iam"
				return r
			}},
		{name: "no authorizer: nothing under requestContext.authorizer", status: 200, body: "null",
			req: func(t *testing.T) *http.Request { return get("/sec/open", nil) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.req(t))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if prefix, ok := strings.CutSuffix(tc.body, "…"); ok {
				if !strings.HasPrefix(r.body, prefix) {
					t.Errorf("body %s, want %s…", r.body, prefix)
				}
			} else if tc.body != "" && r.body != tc.body {
				t.Errorf("body %s, want %s", r.body, tc.body)
			}
			if r.header.Get("Apigw-Requestid") == "" {
				t.Error("no apigw-requestid")
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			if tc.log != nil && !logs.has(tc.log...) {
				t.Errorf("no log line with %q", tc.log)
			}
		})
	}

	t.Run("Lambda results are cached by identity for the TTL, across routes", func(t *testing.T) {
		nonce := func(path, token string) string {
			r := do(t, get(path, map[string]string{"X-Token": token}))
			var a struct {
				Lambda map[string]any `json:"lambda"`
			}
			if r.status != 200 || json.Unmarshal([]byte(r.body), &a) != nil {
				t.Fatalf("%s: %d %s", path, r.status, r.body)
			}
			return fmt.Sprint(a.Lambda["nonce"])
		}
		first := nonce("/sec/simple", "allow")
		if again := nonce("/sec/simple2", "allow"); again != first {
			t.Errorf("second request invoked the authorizer again: nonce %s, then %s", first, again)
		}
		// The 1.0 policy authorizer has no TTL: every request invokes it.
		a := do(t, get("/sec/dev/policy/1?token=allow", nil))
		b := do(t, get("/sec/dev/policy/1?token=allow", nil))
		var na, nb map[string]any
		json.Unmarshal([]byte(a.body), &na)
		json.Unmarshal([]byte(b.body), &nb)
		if na["nonce"] == nil || na["nonce"] == nb["nonce"] {
			t.Errorf("uncached authorizer gave nonces %v and %v", na["nonce"], nb["nonce"])
		}

		// Each stage has its own cache, and ResetAuthorizersCache (AWS SDK) flushes the stage's at once:
		// the next request invokes the authorizer again; the other stage keeps its result.
		dev := nonce("/sec/dev/simple", "allow")
		if dev == first {
			t.Errorf("stage dev used the $default stage's cached result %s", first)
		}
		cp := apigatewayv2.New(apigatewayv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(g.ControlURL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDADMINEXAMPLE", "admin-secret", "")})
		if _, err := cp.ResetAuthorizersCache(context.Background(), &apigatewayv2.ResetAuthorizersCacheInput{ApiId: aws.String("sec"), StageName: aws.String("$default")}); err != nil {
			t.Fatal(err)
		}
		if after := nonce("/sec/simple", "allow"); after == first {
			t.Errorf("after ResetAuthorizersCache the cached result %s was used", first)
		}
		if again := nonce("/sec/dev/simple", "allow"); again != dev {
			t.Errorf("resetting $default flushed stage dev: nonce %s, then %s", dev, again)
		}
	})
}
