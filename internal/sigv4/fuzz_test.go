package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
)

// sentinels lists every error kind Verify may return.
var sentinels = []error{ErrMissingAuthentication, ErrIncompleteSignature, ErrInvalidSignature, ErrUnknownAccessKey, ErrExpired, ErrWrongScope}

// fuzzSeedRequests returns (authorization, query, path, x-amz-date) seeds taken from SDK-signed requests.
func fuzzSeedRequests(f *testing.F) [][4]string {
	var seeds [][4]string
	for _, s := range []signSpec{
		{url: "http://127.0.0.1:8080/dev?a=1&b=2"},
		{method: http.MethodPost, url: "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w%3D", body: []byte("x")},
		{url: "http://127.0.0.1:8080/dev/caf%C3%A9?q=a%20b", presign: true, expires: 300},
		{url: "http://127.0.0.1:8080/dev", presign: true, token: testToken},
	} {
		r, _, _ := signWithSDK(f, s)
		p, q, _ := strings.Cut(r.RequestURI, "?")
		seeds = append(seeds, [4]string{r.Header.Get("Authorization"), q, strings.TrimPrefix(p, "/"), r.Header.Get("X-Amz-Date")})
	}
	return seeds
}

// FuzzVerify feeds arbitrary Authorization headers, queries, paths and dates to Verify. It must never
// panic, must return either an identity or an *Error of a known kind, and must never accept a request
// when it holds a secret other than the one the seeds were signed with.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeedRequests(f) {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240506/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00", "", "dev", "20240506T070809Z")
	f.Add("", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240506%2Fus-east-1%2Fexecute-api%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Date=20240506T070809Z&X-Amz-Expires=1", "dev", "")
	f.Add("Bearer x", "a=%zz;b", "%", "garbage")
	f.Add("AWS4-HMAC-SHA256 ,,,=,Credential=/////, SignedHeaders=;;;, Signature=", "&&&=&", "//", "20241332T256161Z")

	right := newVerifier()
	wrong := newVerifier()
	wrong.Credentials = StaticCredentials{testAKID: "a-different-secret"}
	f.Fuzz(func(t *testing.T, authz, query, path, date string) {
		target := "/" + path
		if query != "" {
			target += "?" + query
		}
		h := http.Header{}
		if authz != "" {
			h["Authorization"] = []string{authz}
		}
		if date != "" {
			h["X-Amz-Date"] = []string{date}
		}
		r := rawRequest(http.MethodGet, target, h)
		for _, v := range []*Verifier{right, wrong} {
			id, err := v.Verify(r, nil)
			if err == nil {
				if v == wrong {
					t.Fatalf("verified with the wrong secret: %q %q %q %q", authz, query, path, date)
				}
				if id == nil || id.AccessKeyID != testAKID {
					t.Fatalf("identity = %+v", id)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) || id != nil {
				t.Fatalf("error %T %v with identity %v", err, err, id)
			}
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known || e.Message == "" {
				t.Fatalf("error %v has an unknown kind %v", err, e.Kind)
			}
		}
	})
}

// sdkCanonical signs req with the SDK and returns the canonical request it logged ("" if it panicked).
func sdkCanonical(req *http.Request, payloadHash string) (canonical string) {
	defer func() {
		if recover() != nil {
			canonical = ""
		}
	}()
	var logged string
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, payloadHash, testService, testRegion, signTime, func(o *v4.SignerOptions) {
			o.LogSigning = true
			o.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...interface{}) {
				logged = fmt.Sprintf(format, v...)
			})
		})
	if err != nil {
		return ""
	}
	const start, end = "---[ CANONICAL STRING  ]-----------------------------\n", "\n---[ STRING TO SIGN ]"
	_, rest, ok := strings.Cut(logged, start)
	if !ok {
		return ""
	}
	canonical, _, _ = strings.Cut(rest, end)
	return canonical
}

// specialHeaders are header names net/http or the signer treat specially; the differential check leaves
// them out.
var specialHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Trailer", "User-Agent", "Authorization",
	"Expect", "X-Amzn-Trace-Id", "X-Amz-Date", "X-Amz-Security-Token", "Connection"}

// FuzzCanonicalRequest runs the canonicalisation helpers on arbitrary input (no panics; structural
// invariants) and, when the input forms a request net/http can send, compares the canonical request
// computed from the received request with the one aws-sdk-go-v2 signed.
func FuzzCanonicalRequest(f *testing.F) {
	f.Add("GET", "/dev/@connections/R0oXAdfD0kwCH6w%3D", "a=1&b=%2F&b=-", "X-Custom", "  a   b ", "host;x-custom")
	f.Add("POST", "/dev/caf%C3%A9/a%2Fb", "q=a+b&empty=&flag", "Content-Type", "application/json", "content-type;host")
	f.Add("PUT", "//x/./../%zz", "%zz=1;x", "X-\u00e9", "\t\u00a0v\u00a0\t", "HOST;X;x;;")
	f.Add("DELETE", "", "=&&=", "X-A", "", "host")
	f.Fuzz(func(t *testing.T, method, path, query, hname, hvalue, signed string) {
		// Helpers on arbitrary input.
		cu := canonicalURI(path)
		for i := 0; i < len(cu); i++ {
			if c := cu[i]; !unreserved[c] && c != '/' && c != '%' {
				t.Fatalf("canonicalURI(%q) = %q has raw byte %q", path, cu, c)
			}
		}
		if dec, err := url.PathUnescape(cu); err != nil || (path != "" && dec != path) {
			t.Fatalf("canonicalURI(%q) = %q does not unescape back (%q, %v)", path, cu, dec, err)
		}
		if params, err := parseQuery(query); err == nil {
			cq := canonicalQuery(params, "")
			for i := 0; i < len(cq); i++ {
				if c := cq[i]; !unreserved[c] && c != '%' && c != '=' && c != '&' {
					t.Fatalf("canonicalQuery(%q) = %q has raw byte %q", query, cq, c)
				}
			}
		}
		if s := stripExcessSpaces(hvalue); strings.Contains(s, "  ") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
			t.Fatalf("stripExcessSpaces(%q) = %q", hvalue, s)
		}
		names, list, herr := parseSignedHeaders(signed)
		r := rawRequest(method, "/"+strings.TrimPrefix(path, "/"), http.Header{http.CanonicalHeaderKey(hname): {hvalue}})
		if herr == nil {
			if strings.Join(names, ";") != list {
				t.Fatalf("parseSignedHeaders(%q) = %q, %q", signed, names, list)
			}
			_ = canonicalRequest(r, cu, query, names, list, UnsignedPayload)
		}

		// Differential check against the SDK, for requests net/http can carry.
		if method == "" || strings.ContainsAny(hvalue, "\r\n") || !strings.HasPrefix(path, "/") && path != "" {
			return
		}
		for i := 0; i < len(hname); i++ {
			if !isTokenChar(hname[i]) {
				return
			}
		}
		for _, s := range specialHeaders {
			if strings.EqualFold(hname, s) {
				return
			}
		}
		raw := "http://127.0.0.1:8080" + path
		if query != "" {
			raw += "?" + query
		}
		req, err := http.NewRequest(method, raw, nil)
		if err != nil || req.URL.Host != "127.0.0.1:8080" {
			return
		}
		if hname != "" {
			req.Header[hname] = []string{hvalue}
		}
		want := sdkCanonical(req, UnsignedPayload)
		if want == "" {
			return
		}
		var buf bytes.Buffer
		if err := req.Write(&buf); err != nil {
			return
		}
		sr, err := http.ReadRequest(bufio.NewReader(&buf))
		if err != nil {
			return
		}
		lines := strings.Split(want, "\n")
		names, list, herr = parseSignedHeaders(lines[len(lines)-2])
		if herr != nil {
			t.Fatalf("SDK signed headers %q rejected: %v", lines[len(lines)-2], herr)
		}
		wirePath, wireQuery := requestTarget(sr)
		params, err := parseQuery(wireQuery)
		if err != nil {
			t.Fatalf("SDK-rewritten query %q rejected: %v", wireQuery, err)
		}
		got := canonicalRequest(sr, canonicalURI(wirePath), canonicalQuery(params, ""), names, list, UnsignedPayload)
		if got != want {
			t.Fatalf("canonical request mismatch for %s %q header %q=%q\n--- ours ---\n%s\n--- SDK ---\n%s", method, raw, hname, hvalue, got, want)
		}
	})
}

// TestFuzzSeedsNotStale guards the fuzz seeds: the first seed must verify with the right secret.
func TestFuzzSeedsNotStale(t *testing.T) {
	r, _, _ := signWithSDK(t, signSpec{url: "http://127.0.0.1:8080/dev?a=1&b=2"})
	p, q, _ := strings.Cut(r.RequestURI, "?")
	rr := rawRequest(http.MethodGet, p+"?"+q, http.Header{"Authorization": {r.Header.Get("Authorization")}, "X-Amz-Date": {r.Header.Get("X-Amz-Date")}})
	v := newVerifier()
	v.Now = fixedNow(signTime.Add(time.Second))
	if _, err := v.Verify(rr, nil); err != nil {
		t.Fatalf("seed does not verify: %v", err)
	}
}
