// Package jwtauth is the JWT authorizer of HTTP APIs (spec §11.5), as AWS describes it in "Controlling
// access to HTTP APIs with JWT authorizers" (https://docs.aws.amazon.com/apigateway/latest/developerguide/
// http-api-jwt-authorizer.html) and "Troubleshooting issues with HTTP API JWT authorizers":
//
//   - The identity source holds the token, alone or after "Bearer ".
//   - The signing keys come from the issuer's jwks_uri, found by OpenID Connect discovery
//     ({issuer}/.well-known/openid-configuration). Discovery and the key set are each fetched with a
//     1500 ms timeout and at most 150 000 bytes (AWS's quotas), and the keys are cached for two hours ("API
//     Gateway can cache the public key for two hours"). A token naming a kid the cache lacks makes one
//     refetch, at most once per MinRefresh, so a rotated key is picked up at once and a flood of made-up
//     kids cannot hammer the issuer.
//   - "Currently, only RSA-based algorithms are supported": RS256, RS384, RS512 and PS256, PS384, PS512 are
//     verified with the standard library; any other alg (ES*, HS*, none) is refused.
//   - Claims: kid must name a key, iss must equal the issuer, aud (or client_id when there is no aud) must
//     be one of the audiences, exp must be after now and nbf and iat before it. AWS documents no clock
//     skew; Config.Leeway is zero unless set.
//   - A route with authorizationScopes needs a token whose scope (space-separated) or scp (array or
//     string) holds at least one of them; otherwise 403 {"message":"Forbidden"}.
//   - Every other failure is 401 {"message":"Unauthorized"} with a www-authenticate header of AWS's shape:
//     Bearer scope="" error="invalid_token" error_description="…". A missing token gets no header.
//
// The claims go to requestContext.authorizer.jwt.claims as strings, as AWS passes them (aws-lambda-go types
// them map[string]string): a string as itself, a number or boolean as its JSON text, an array as its
// elements' strings between brackets separated by spaces ("[a b]"), an object as its JSON text.
package jwtauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	_ "crypto/sha256" // crypto.SHA256.New
	_ "crypto/sha512" // crypto.SHA384.New, crypto.SHA512.New
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// AWS's quotas and cache lifetime for the issuer's documents.
const (
	FetchTimeout = 1500 * time.Millisecond
	MaxDocument  = 150_000
	KeyTTL       = 2 * time.Hour
	// MinRefresh is the shortest time between two fetches of the key set.
	MinRefresh = 10 * time.Second
	// MaxToken bounds the identity value read as a token.
	MaxToken = 16 << 10
)

// The bodies AWS answers with.
const (
	UnauthorizedBody = `{"message":"Unauthorized"}`
	ForbiddenBody    = `{"message":"Forbidden"}`
)

// Reasons a token is refused; Result.Err wraps one. Their text is the error_description AWS sends.
var (
	ErrNoToken       = errors.New("no token in the identity source")
	ErrMalformed     = errors.New("the token is malformed")
	ErrAlgorithm     = errors.New("the token is not signed with an RSA algorithm")
	ErrUnknownKey    = errors.New("the token's kid does not match a key of the issuer")
	ErrSignature     = errors.New("the token signature is invalid")
	ErrIssuer        = errors.New("the token does not have a valid issuer")
	ErrAudience      = errors.New("the token does not have a valid audience")
	ErrExpired       = errors.New("the token has expired")
	ErrNotYetValid   = errors.New("the token is not valid yet")
	ErrKeys          = errors.New("the issuer's signing keys could not be fetched")
	ErrScope         = errors.New("the token does not have a required scope")
	ErrConfiguration = errors.New("JWT authorizer misconfigured")
)

// Config is an authorizer's jwtConfiguration and how to reach its issuer.
type Config struct {
	Issuer   string
	Audience []string
	// Client fetches discovery and keys; nil means a client with FetchTimeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
}

// Verifier checks tokens against one issuer. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	client *http.Client

	fetch sync.Mutex // held by the one goroutine fetching keys

	mu        sync.Mutex // guards the fields below
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time // when keys were fetched; zero before the first fetch
	triedAt   time.Time // when a fetch was last attempted
}

// New returns a Verifier for cfg. The issuer must be an absolute http(s) URL and there must be at least
// one audience, as CreateAuthorizer requires.
func New(cfg Config) (*Verifier, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: issuer %q is not an http(s) URL", ErrConfiguration, cfg.Issuer)
	}
	if len(cfg.Audience) == 0 {
		return nil, fmt.Errorf("%w: no audience", ErrConfiguration)
	}
	v := &Verifier{cfg: cfg, client: cfg.Client}
	if v.client == nil {
		v.client = &http.Client{Timeout: FetchTimeout}
	}
	if v.cfg.Now == nil {
		v.cfg.Now = time.Now
	}
	return v, nil
}

// Result is the outcome of Authorize.
type Result struct {
	// Status is 0 when the request may proceed, else 401 or 403.
	Status int
	// Body is UnauthorizedBody or ForbiddenBody when Status is set.
	Body string
	// WWWAuthenticate is the www-authenticate header to send, "" for none.
	WWWAuthenticate string
	// Err says why, for the log.
	Err error
	// Claims and Scopes are requestContext.authorizer.jwt when the request may proceed.
	Claims map[string]string
	Scopes []string
}

// Allowed says whether the request may proceed.
func (r Result) Allowed() bool { return r.Status == 0 }

func deny(status int, err error) Result {
	r := Result{Status: status, Body: UnauthorizedBody, Err: err}
	if status == http.StatusForbidden {
		r.Body = ForbiddenBody
	}
	if !errors.Is(err, ErrNoToken) {
		kind := "invalid_token"
		if status == http.StatusForbidden {
			kind = "insufficient_scope"
		}
		r.WWWAuthenticate = `Bearer scope="" error="` + kind + `" error_description="` + describe(err) + `"`
	}
	return r
}

// describe returns the sentinel's text of err: the error_description.
func describe(err error) string {
	for _, s := range []error{ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature, ErrIssuer, ErrAudience,
		ErrExpired, ErrNotYetValid, ErrKeys, ErrScope} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "the token is invalid"
}

// Authorize checks the identity value (the token, or "Bearer " and the token) for a route with the given
// authorizationScopes.
func (v *Verifier) Authorize(ctx context.Context, identity string, routeScopes []string) Result {
	token := strings.TrimSpace(identity)
	if len(token) >= 6 && strings.EqualFold(token[:6], "bearer") && (len(token) == 6 || token[6] == ' ') {
		token = strings.TrimSpace(token[6:])
	}
	if token == "" {
		return deny(http.StatusUnauthorized, ErrNoToken)
	}
	t, err := Parse(token)
	if err != nil {
		return deny(http.StatusUnauthorized, err)
	}
	hash, pss, ok := algorithm(t.Alg)
	if !ok {
		return deny(http.StatusUnauthorized, fmt.Errorf("%w: alg %q", ErrAlgorithm, t.Alg))
	}
	key, err := v.key(ctx, t.Kid)
	if err != nil {
		return deny(http.StatusUnauthorized, err)
	}
	h := hash.New()
	h.Write([]byte(t.SigningInput))
	if pss {
		err = rsa.VerifyPSS(key, hash, h.Sum(nil), t.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		err = rsa.VerifyPKCS1v15(key, hash, h.Sum(nil), t.Signature)
	}
	if err != nil {
		return deny(http.StatusUnauthorized, fmt.Errorf("%w: %w", ErrSignature, err))
	}
	if err := v.checkClaims(t.Claims); err != nil {
		return deny(http.StatusUnauthorized, err)
	}
	scopes := tokenScopes(t.Claims)
	if len(routeScopes) > 0 && !slices.ContainsFunc(routeScopes, func(s string) bool { return slices.Contains(scopes, s) }) {
		return deny(http.StatusForbidden, fmt.Errorf("%w: route needs one of %v, token has %v", ErrScope, routeScopes, scopes))
	}
	return Result{Claims: ClaimStrings(t.Claims), Scopes: scopes}
}

func algorithm(alg string) (crypto.Hash, bool, bool) {
	switch alg {
	case "RS256":
		return crypto.SHA256, false, true
	case "RS384":
		return crypto.SHA384, false, true
	case "RS512":
		return crypto.SHA512, false, true
	case "PS256":
		return crypto.SHA256, true, true
	case "PS384":
		return crypto.SHA384, true, true
	case "PS512":
		return crypto.SHA512, true, true
	}
	return 0, false, false
}

func (v *Verifier) checkClaims(c map[string]json.RawMessage) error {
	var iss string
	if err := json.Unmarshal(c["iss"], &iss); err != nil || iss != v.cfg.Issuer {
		return fmt.Errorf("%w: iss %s, want %q", ErrIssuer, c["iss"], v.cfg.Issuer)
	}
	auds, err := stringOrArray(c["aud"])
	if err != nil {
		return fmt.Errorf("%w: aud %s", ErrAudience, c["aud"])
	}
	if auds == nil { // client_id only when there is no aud
		if auds, err = stringOrArray(c["client_id"]); err != nil {
			return fmt.Errorf("%w: client_id %s", ErrAudience, c["client_id"])
		}
	}
	if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(v.cfg.Audience, a) }) {
		return fmt.Errorf("%w: %v is not among %v", ErrAudience, auds, v.cfg.Audience)
	}
	now := v.cfg.Now()
	exp, ok, err := numericDate(c["exp"])
	if err != nil || !ok {
		return fmt.Errorf("%w: exp %s", ErrExpired, c["exp"])
	}
	if !now.Before(exp.Add(v.cfg.Leeway)) {
		return fmt.Errorf("%w: exp %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	for _, name := range []string{"nbf", "iat"} {
		t, ok, err := numericDate(c[name])
		if err != nil {
			return fmt.Errorf("%w: %s %s", ErrMalformed, name, c[name])
		}
		if ok && now.Add(v.cfg.Leeway).Before(t) {
			return fmt.Errorf("%w: %s %s", ErrNotYetValid, name, t.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// numericDate reads a NumericDate claim; ok is false when it is absent.
func numericDate(raw json.RawMessage) (time.Time, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return time.Time{}, false, err
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

func stringOrArray(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return []string{s}, err
	}
	var ss []string
	err := json.Unmarshal(raw, &ss)
	if ss == nil && err == nil {
		ss = []string{}
	}
	return ss, err
}

// tokenScopes returns the token's scope claim split on spaces, or its scp claim (an array, or a
// space-separated string); nil when it has neither.
func tokenScopes(c map[string]json.RawMessage) []string {
	var s string
	if raw, ok := c["scope"]; ok && json.Unmarshal(raw, &s) == nil {
		if f := strings.Fields(s); len(f) > 0 {
			return f
		}
	}
	raw, ok := c["scp"]
	if !ok {
		return nil
	}
	if json.Unmarshal(raw, &s) == nil {
		if f := strings.Fields(s); len(f) > 0 {
			return f
		}
		return nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil && len(ss) > 0 {
		return ss
	}
	return nil
}

// ClaimStrings renders claims as requestContext.authorizer.jwt.claims: see the package documentation.
func ClaimStrings(c map[string]json.RawMessage) map[string]string {
	out := make(map[string]string, len(c))
	for k, raw := range c {
		out[k] = claimString(raw)
	}
	return out
}

func claimString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			parts := make([]string, len(items))
			for i, it := range items {
				parts[i] = claimString(it)
			}
			return "[" + strings.Join(parts, " ") + "]"
		}
	case '{':
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			return b.String()
		}
	}
	return string(raw)
}

// Token is a parsed compact JWS.
type Token struct {
	Alg, Kid     string
	Claims       map[string]json.RawMessage
	SigningInput string
	Signature    []byte
}

// Parse splits and decodes a compact JWS (header.payload.signature, base64url without padding). The
// signature is not checked here. Every error wraps ErrMalformed.
func Parse(token string) (*Token, error) {
	if len(token) > MaxToken {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxToken)
	}
	h, rest, ok := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	var header struct {
		Alg  string   `json:"alg"`
		Kid  string   `json:"kid"`
		Crit []string `json:"crit"`
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if len(header.Crit) > 0 {
		return nil, fmt.Errorf("%w: unsupported critical header parameters %v", ErrMalformed, header.Crit)
	}
	pb, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(pb, &claims); err != nil || claims == nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrMalformed, err)
	}
	return &Token{Alg: header.Alg, Kid: header.Kid, Claims: claims, SigningInput: token[:len(h)+1+len(p)], Signature: sig}, nil
}

// key returns the issuer's key named kid, fetching the key set when the cache is empty, older than KeyTTL,
// or lacks kid (then at most once per MinRefresh).
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := v.cached(kid); ok {
		return k, nil
	}
	v.fetch.Lock()
	defer v.fetch.Unlock()
	if k, ok := v.cached(kid); ok { // fetched while this one waited
		return k, nil
	}
	v.mu.Lock()
	now := v.cfg.Now()
	fresh := !v.fetchedAt.IsZero() && now.Sub(v.fetchedAt) < KeyTTL
	recent := !v.triedAt.IsZero() && now.Sub(v.triedAt) < MinRefresh
	v.mu.Unlock()
	switch {
	case recent && fresh:
		return nil, fmt.Errorf("%w: kid %q (key set fetched less than %s ago)", ErrUnknownKey, kid, MinRefresh)
	case recent:
		return nil, fmt.Errorf("%w: the last fetch, less than %s ago, failed", ErrKeys, MinRefresh)
	}
	keys, err := v.fetchKeys(ctx)
	v.mu.Lock()
	v.triedAt = now
	if err == nil {
		v.keys, v.fetchedAt = keys, now
	}
	v.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeys, err)
	}
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

func (v *Verifier) cached(kid string) (*rsa.PublicKey, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fetchedAt.IsZero() || v.cfg.Now().Sub(v.fetchedAt) >= KeyTTL {
		return nil, false
	}
	k, ok := v.keys[kid]
	return k, ok
}

// fetchKeys runs discovery and fetches the key set.
func (v *Verifier) fetchKeys(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	discovery := strings.TrimSuffix(v.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	if err := v.getJSON(ctx, discovery, &disc); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if u, err := url.Parse(disc.JWKSURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("discovery %s: jwks_uri %q is not an http(s) URL", discovery, disc.JWKSURI)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, disc.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, raw := range set.Keys {
		var k struct {
			Kty, Kid, Use, N, E string
		}
		if json.Unmarshal(raw, &k) != nil || k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 || len(n) < 128 {
			continue
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	}
	return keys, nil
}

func (v *Verifier) getJSON(ctx context.Context, u string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocument+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > MaxDocument {
		return fmt.Errorf("GET %s: document over %d bytes", u, MaxDocument)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
