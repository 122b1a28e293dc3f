package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// issuer is a small OpenID Connect issuer: discovery, a key set it can rotate, and token signing.
type issuer struct {
	srv       *httptest.Server
	mu        sync.Mutex
	keys      map[string]*rsa.PrivateKey // served
	jwksHits  atomic.Int32
	discHits  atomic.Int32
	jwksExtra []byte // replaces the key set when set
}

var (
	keyOnce sync.Once
	testKey [3]*rsa.PrivateKey
)

func keys(t testing.TB) [3]*rsa.PrivateKey {
	keyOnce.Do(func() {
		for i := range testKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			testKey[i] = k
		}
	})
	return testKey
}

func newIssuer(t testing.TB, served map[string]*rsa.PrivateKey) *issuer {
	is := &issuer{keys: served}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.discHits.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		if is.jwksExtra != nil {
			w.Write(is.jwksExtra)
			return
		}
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		// An EC key the verifier must skip.
		set.Keys = append(set.Keys, map[string]string{"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"})
		for kid, k := range is.keys {
			set.Keys = append(set.Keys, map[string]string{"kty": "RSA", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) serve(served map[string]*rsa.PrivateKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = served
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign makes a token with the given header alg and kid, signed by key.
func sign(t testing.TB, alg, kid string, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	head := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		head["kid"] = kid
	}
	input := b64(head) + "." + b64(claims)
	var hash crypto.Hash
	switch alg[2:] {
	case "256":
		hash = crypto.SHA256
	case "384":
		hash = crypto.SHA384
	default:
		hash = crypto.SHA512
	}
	h := hash.New()
	h.Write([]byte(input))
	var sig []byte
	var err error
	if strings.HasPrefix(alg, "PS") {
		sig, err = rsa.SignPSS(rand.Reader, key, hash, h.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, hash, h.Sum(nil))
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

var now = time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)

func claims(is *issuer, extra map[string]any) map[string]any {
	c := map[string]any{"iss": is.srv.URL, "aud": "my-api", "sub": "user-1", "exp": now.Add(time.Hour).Unix(),
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func newVerifier(t testing.TB, is *issuer, clock func() time.Time) *Verifier {
	t.Helper()
	v, err := New(Config{Issuer: is.srv.URL, Audience: []string{"my-api", "other"}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAuthorize(t *testing.T) {
	k := keys(t)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": k[0], "k2": k[1]})
	v := newVerifier(t, is, func() time.Time { return now })
	good := sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"scope": "pets/read pets/write"}))
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	esToken := func() string {
		input := b64(map[string]string{"alg": "ES256", "kid": "k1"}) + "." + b64(claims(is, nil))
		d := sha256.Sum256([]byte(input))
		r, s, _ := ecdsa.Sign(rand.Reader, ecKey, d[:])
		return input + "." + base64.RawURLEncoding.EncodeToString(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
	}()
	hsToken := func() string { // alg confusion: HMAC keyed with the public modulus
		input := b64(map[string]string{"alg": "HS256", "kid": "k1"}) + "." + b64(claims(is, nil))
		m := hmac.New(sha256.New, k[0].N.Bytes())
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}()
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + b64(claims(is, map[string]any{"sub": "admin", "scope": "pets/read pets/write"})) + "." + parts[2]

	cases := []struct {
		name     string
		identity string
		scopes   []string
		status   int
		err      error
		header   string
	}{
		{"bearer RS256", "Bearer " + good, nil, 0, nil, ""},
		{"bare token", good, nil, 0, nil, ""},
		{"lower-case bearer", "bearer " + good, []string{"pets/read"}, 0, nil, ""},
		{"RS384 second key", sign(t, "RS384", "k2", k[1], claims(is, nil)), nil, 0, nil, ""},
		{"RS512", sign(t, "RS512", "k1", k[0], claims(is, nil)), nil, 0, nil, ""},
		{"PS256", sign(t, "PS256", "k1", k[0], claims(is, nil)), nil, 0, nil, ""},
		{"client_id without aud", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"aud": nil, "client_id": "other"})), nil, 0, nil, ""},
		{"aud array", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"aud": []string{"x", "my-api"}})), nil, 0, nil, ""},
		{"scp array scope", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"scp": []string{"a", "pets/read"}})), []string{"pets/read"}, 0, nil, ""},

		{"missing", "", nil, 401, ErrNoToken, ""},
		{"bearer only", "Bearer ", nil, 401, ErrNoToken, ""},
		{"not a JWT", "Bearer abc", nil, 401, ErrMalformed, `Bearer scope="" error="invalid_token" error_description="the token is malformed"`},
		{"bad base64", "a.b.c!", nil, 401, ErrMalformed, ""},
		{"ES256", esToken, nil, 401, ErrAlgorithm, ""},
		{"HS256 with the public key", hsToken, nil, 401, ErrAlgorithm, ""},
		{"alg none", b64(map[string]string{"alg": "none"}) + "." + b64(claims(is, nil)) + ".", nil, 401, ErrAlgorithm, ""},
		{"tampered payload", tampered, nil, 401, ErrSignature, ""},
		{"signed by a key not served", sign(t, "RS256", "k1", k[2], claims(is, nil)), nil, 401, ErrSignature, ""},
		{"wrong issuer", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"iss": "https://evil.example"})), nil, 401, ErrIssuer, ""},
		{"wrong audience", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"aud": "someone-else"})), nil, 401, ErrAudience,
			`Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"`},
		{"aud wins over client_id", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"aud": "x", "client_id": "my-api"})), nil, 401, ErrAudience, ""},
		{"no audience at all", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"aud": nil})), nil, 401, ErrAudience, ""},
		{"expired", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"exp": now.Unix()})), nil, 401, ErrExpired,
			`Bearer scope="" error="invalid_token" error_description="the token has expired"`},
		{"no exp", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"exp": nil})), nil, 401, ErrExpired, ""},
		{"nbf in the future", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"nbf": now.Add(time.Minute).Unix()})), nil, 401, ErrNotYetValid, ""},
		{"iat in the future", sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"iat": now.Add(time.Minute).Unix()})), nil, 401, ErrNotYetValid, ""},
		{"unknown kid", sign(t, "RS256", "nope", k[0], claims(is, nil)), nil, 401, ErrUnknownKey, ""},
		{"missing scope", good, []string{"admin"}, 403, ErrScope,
			`Bearer scope="" error="insufficient_scope" error_description="the token does not have a required scope"`},
		{"no scope claim", sign(t, "RS256", "k1", k[0], claims(is, nil)), []string{"pets/read"}, 403, ErrScope, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Authorize(context.Background(), tc.identity, tc.scopes)
			if r.Status != tc.status || (tc.err != nil && !errors.Is(r.Err, tc.err)) || (tc.err == nil && r.Err != nil) {
				t.Fatalf("got %d %v, want %d %v", r.Status, r.Err, tc.status, tc.err)
			}
			switch tc.status {
			case 401:
				if r.Body != `{"message":"Unauthorized"}` {
					t.Errorf("body %s", r.Body)
				}
			case 403:
				if r.Body != `{"message":"Forbidden"}` {
					t.Errorf("body %s", r.Body)
				}
			}
			if tc.header != "" && r.WWWAuthenticate != tc.header {
				t.Errorf("www-authenticate %q\nwant %q", r.WWWAuthenticate, tc.header)
			}
			if tc.err == ErrNoToken && r.WWWAuthenticate != "" {
				t.Errorf("www-authenticate %q for a missing token", r.WWWAuthenticate)
			}
		})
	}
}

func TestClaimsAndScopes(t *testing.T) {
	k := keys(t)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": k[0]})
	v := newVerifier(t, is, func() time.Time { return now })
	tok := sign(t, "RS256", "k1", k[0], claims(is, map[string]any{"scope": "a b", "cognito:groups": []string{"admin", "dev"},
		"email_verified": true, "address": map[string]string{"country": "NO"}, "n": 1.5}))
	r := v.Authorize(context.Background(), tok, nil)
	if !r.Allowed() {
		t.Fatal(r.Err)
	}
	want := map[string]string{"iss": is.srv.URL, "aud": "my-api", "sub": "user-1", "scope": "a b",
		"exp": "1796569200", "iat": "1796565540", "nbf": "1796565540", "cognito:groups": "[admin dev]",
		"email_verified": "true", "address": `{"country":"NO"}`, "n": "1.5"}
	if !reflect.DeepEqual(r.Claims, want) {
		t.Errorf("claims\n got %v\nwant %v", r.Claims, want)
	}
	if !reflect.DeepEqual(r.Scopes, []string{"a", "b"}) {
		t.Errorf("scopes %v", r.Scopes)
	}
}

// TestKeyCacheAndRotation: the key set is fetched once for many requests; a new kid makes one refetch,
// bounded to one per MinRefresh; keys are refetched after KeyTTL.
func TestKeyCacheAndRotation(t *testing.T) {
	k := keys(t)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": k[0]})
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	v := newVerifier(t, is, func() time.Time { return time.Unix(0, clock.Load()) })
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	c := claims(is, map[string]any{"exp": now.Add(10 * time.Hour).Unix()})
	old := sign(t, "RS256", "k1", k[0], c)

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := v.Authorize(context.Background(), old, nil); !r.Allowed() {
				t.Error(r.Err)
			}
		})
	}
	wg.Wait()
	if n := is.jwksHits.Load(); n != 1 {
		t.Fatalf("key set fetched %d times for 20 requests, want 1", n)
	}

	is.serve(map[string]*rsa.PrivateKey{"k1": k[0], "k2": k[1]}) // rotation: k2 added
	rotated := sign(t, "RS256", "k2", k[1], c)
	advance(MinRefresh)
	if r := v.Authorize(context.Background(), rotated, nil); !r.Allowed() {
		t.Fatalf("rotated key: %v", r.Err)
	}
	if n := is.jwksHits.Load(); n != 2 {
		t.Fatalf("key set fetched %d times, want 2", n)
	}
	// Made-up kids right after a fetch do not reach the issuer.
	for range 5 {
		if r := v.Authorize(context.Background(), sign(t, "RS256", "made-up", k[1], c), nil); !errors.Is(r.Err, ErrUnknownKey) {
			t.Fatalf("made-up kid: %v", r.Err)
		}
	}
	if n := is.jwksHits.Load(); n != 2 {
		t.Fatalf("key set fetched %d times after made-up kids, want 2", n)
	}
	is.serve(map[string]*rsa.PrivateKey{"k2": k[1]}) // k1 retired
	advance(KeyTTL)
	if r := v.Authorize(context.Background(), old, nil); !errors.Is(r.Err, ErrUnknownKey) {
		t.Fatalf("retired key after the cache expired: %v", r.Err)
	}
	if r := v.Authorize(context.Background(), rotated, nil); !r.Allowed() {
		t.Fatalf("current key: %v", r.Err)
	}
}

// TestUnreachableKeys: an issuer that is down, hangs, serves garbage or too much gives 401 and says why.
func TestUnreachableKeys(t *testing.T) {
	k := keys(t)
	tok := func(is *issuer) string { return sign(t, "RS256", "k1", k[0], claims(is, nil)) }
	t.Run("down", func(t *testing.T) {
		is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": k[0]})
		v := newVerifier(t, is, func() time.Time { return now })
		token := tok(is)
		is.srv.Close()
		if r := v.Authorize(context.Background(), token, nil); r.Status != 401 || !errors.Is(r.Err, ErrKeys) {
			t.Fatalf("got %d %v", r.Status, r.Err)
		}
	})
	t.Run("hangs", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		v, _ := New(Config{Issuer: srv.URL, Audience: []string{"my-api"}, Now: func() time.Time { return now }})
		is := &issuer{srv: srv}
		if r := v.Authorize(context.Background(), tok(is), nil); r.Status != 401 || !errors.Is(r.Err, ErrKeys) {
			t.Fatalf("got %d %v", r.Status, r.Err)
		}
	})
	for name, body := range map[string][]byte{
		"garbage":   []byte("<html>"),
		"too large": []byte(`{"keys":[],"pad":"` + strings.Repeat("x", MaxDocument) + `"}`),
	} {
		t.Run(name, func(t *testing.T) {
			is := newIssuer(t, nil)
			is.jwksExtra = body
			v := newVerifier(t, is, func() time.Time { return now })
			if r := v.Authorize(context.Background(), tok(is), nil); r.Status != 401 || !errors.Is(r.Err, ErrKeys) {
				t.Fatalf("got %d %v", r.Status, r.Err)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, c := range []Config{{Issuer: "issuer", Audience: []string{"a"}}, {Issuer: "ftp://x", Audience: []string{"a"}},
		{Issuer: "https://idp.example"}} {
		if _, err := New(c); !errors.Is(err, ErrConfiguration) {
			t.Errorf("New(%+v) = %v", c, err)
		}
	}
}

// FuzzParse checks that no token makes the parser panic and that every refusal is ErrMalformed.
func FuzzParse(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
	f.Add("..")
	f.Add("a.b.c.d")
	f.Add(b64(map[string]any{"alg": "RS256", "crit": []string{"x"}}) + "." + b64(map[string]any{}) + ".")
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := Parse(token)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if tok.Claims == nil || !strings.HasPrefix(token, tok.SigningInput+".") {
			t.Fatalf("bad parse %+v", tok)
		}
		ClaimStrings(tok.Claims)
		tokenScopes(tok.Claims)
	})
}

// TestSetKeepsVerifiers: the same issuer and audiences (in any order) give the same Verifier, so its keys
// are fetched once across snapshots.
func TestSetKeepsVerifiers(t *testing.T) {
	k := keys(t)
	is := newIssuer(t, map[string]*rsa.PrivateKey{"k1": k[0]})
	s := NewSet(nil, func() time.Time { return now })
	a, err := s.Verifier(is.srv.URL, []string{"my-api", "other"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Verifier(is.srv.URL, []string{"other", "my-api"})
	c, _ := s.Verifier(is.srv.URL, []string{"my-api"})
	if a != b || a == c {
		t.Fatalf("same config gave %p and %p; another audience %p", a, b, c)
	}
	tok := sign(t, "RS256", "k1", k[0], claims(is, nil))
	for _, v := range []*Verifier{a, b} {
		if r := v.Authorize(context.Background(), tok, nil); !r.Allowed() {
			t.Fatal(r.Err)
		}
	}
	if n := is.jwksHits.Load(); n != 1 {
		t.Errorf("key set fetched %d times, want 1", n)
	}
	if _, err := s.Verifier("not a url", []string{"a"}); !errors.Is(err, ErrConfiguration) {
		t.Errorf("bad issuer: %v", err)
	}
}
