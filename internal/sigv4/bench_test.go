package sigv4

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// badSignatureRequests returns n distinct header-signed requests whose signatures are wrong (each a
// different random-looking hex string), built from one SDK-signed PostToConnection.
func badSignatureRequests(tb testing.TB, n int) ([]*http.Request, []byte) {
	r, body, _ := signWithSDK(tb, signSpec{
		method: http.MethodPost,
		url:    "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w%3D?a=1",
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		body:   []byte(`{"message":"hello"}`),
		token:  testToken,
	})
	prefix, _, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	reqs := make([]*http.Request, n)
	for i := range reqs {
		c := r.Clone(r.Context())
		c.RequestURI = r.RequestURI
		c.Header.Set("Authorization", prefix+"Signature="+fmt.Sprintf("%064x", uint64(i)*0x9e3779b97f4a7c15))
		reqs[i] = c
	}
	return reqs, body
}

// TestBadSignaturesBoundedMemory verifies 10,000 requests with bad signatures and checks that each costs
// a bounded number of allocations and bytes, and that nothing is retained afterwards. Timing is reported
// by the benchmarks, not asserted.
func TestBadSignaturesBoundedMemory(t *testing.T) {
	const n = 10000
	reqs, body := badSignatureRequests(t, n)
	v := newVerifier()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for _, r := range reqs {
		if _, err := v.Verify(r, body); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("Verify error = %v, want ErrInvalidSignature", err)
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	runtime.GC()
	var settled runtime.MemStats
	runtime.ReadMemStats(&settled)

	bytesPerOp := (after.TotalAlloc - before.TotalAlloc) / n
	allocsPerOp := (after.Mallocs - before.Mallocs) / n
	t.Logf("%d bad signatures: %v total, %v/op, %d B/op, %d allocs/op", n, elapsed, elapsed/n, bytesPerOp, allocsPerOp)
	if bytesPerOp > 16<<10 {
		t.Errorf("%d bytes allocated per rejected request, want <= 16 KiB", bytesPerOp)
	}
	if allocsPerOp > 100 {
		t.Errorf("%d allocations per rejected request, want <= 100", allocsPerOp)
	}
	if grow := int64(settled.HeapAlloc) - int64(before.HeapAlloc); grow > 1<<20 {
		t.Errorf("heap grew by %d bytes after %d rejected requests", grow, n)
	}
}

// TestHostileInputCheap checks that oversized or pathological authentication data is rejected without
// proportional work (few allocations, independent of the input size).
func TestHostileInputCheap(t *testing.T) {
	date := signTime.Format(timeFormat)
	cred := testAKID + "/" + signTime.Format(shortTimeFormat) + "/us-east-1/execute-api/aws4_request"
	for _, c := range []struct {
		name   string
		target string
		header http.Header
		want   error
	}{
		{"1 MiB authorization", "/dev", http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + strings.Repeat("Credential=x,", 1<<20/13)}, "X-Amz-Date": {date}}, ErrIncompleteSignature},
		{"100k signed headers", "/dev", http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=" + strings.Repeat("a;", 4000) + ", Signature=00"}, "X-Amz-Date": {date}}, ErrIncompleteSignature},
		{"huge query", "/dev?" + strings.Repeat("X-Amz-Signature=1&", 100000), nil, ErrIncompleteSignature},
		{"many empty query pairs", "/dev?" + strings.Repeat("&", 30000) + "a=1", http.Header{"Authorization": {"Bearer x"}}, ErrIncompleteSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rawRequest(http.MethodGet, c.target, c.header)
			v := newVerifier()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := v.Verify(r, nil); !errors.Is(err, c.want) {
					t.Fatalf("Verify error = %v, want %v", err, c.want)
				}
			})
			runtime.ReadMemStats(&after)
			if allocs > 40 {
				t.Errorf("%v allocations per rejection", allocs)
			}
			if perRun := (after.TotalAlloc - before.TotalAlloc) / 21; perRun > 16<<10 {
				t.Errorf("%d bytes allocated per rejection", perRun)
			}
		})
	}
}

// BenchmarkVerify reports the cost of verifying valid and invalid requests.
func BenchmarkVerify(b *testing.B) {
	post := signSpec{
		method: http.MethodPost,
		url:    "http://127.0.0.1:8080/dev/@connections/R0oXAdfD0kwCH6w%3D",
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		body:   []byte(`{"message":"hello"}`),
	}
	presign := signSpec{url: "http://127.0.0.1:8080/dev?room=lobby", presign: true, expires: 300, token: testToken}
	unknown := post
	unknown.secret = "x"
	bad, badBody := badSignatureRequests(b, 1024)
	for _, c := range []struct {
		name string
		spec *signSpec
		want error
	}{
		{"valid header", &post, nil},
		{"valid presigned", &presign, nil},
		{"bad signature", nil, ErrInvalidSignature},
		{"wrong secret", &unknown, ErrInvalidSignature},
	} {
		b.Run(c.name, func(b *testing.B) {
			v := newVerifier()
			var r *http.Request
			var body []byte
			if c.spec != nil {
				r, body, _ = signWithSDK(b, *c.spec)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req, reqBody := r, body
				if c.spec == nil {
					req, reqBody = bad[i%len(bad)], badBody
				}
				if _, err := v.Verify(req, reqBody); !errors.Is(err, c.want) {
					b.Fatalf("Verify error = %v, want %v", err, c.want)
				}
			}
		})
	}
}
