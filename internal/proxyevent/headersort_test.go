package proxyevent

import (
	"strings"
	"testing"
)

// lessByToLower is the order Maps used before compareHeaderNames: strings.ToLower forms, then byte-wise.
func lessByToLower(a, b string) bool {
	la, lb := strings.ToLower(a), strings.ToLower(b)
	if la != lb {
		return la < lb
	}
	return a < b
}

// FuzzCompareHeaderNames checks that compareHeaderNames orders any two names as strings.ToLower did, so
// that events keep their header order byte for byte.
func FuzzCompareHeaderNames(f *testing.F) {
	for _, p := range [][2]string{
		{"Host", "host"}, {"X-Amz-Date", "x-amz-Date"}, {"Sec-WebSocket-Key", "Sec-Websocket-Extensions"},
		{"a", "B"}, {"Ab", "a"}, {"_x", "X"}, {"[", "a"}, {"Z", "["}, {"é", "E"}, {"İ", "i"}, {"", "a"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		c := compareHeaderNames(a, b)
		if (c < 0) != lessByToLower(a, b) || (c > 0) != lessByToLower(b, a) {
			t.Fatalf("compareHeaderNames(%q, %q) = %d; strings.ToLower order says less %v, greater %v", a, b, c, lessByToLower(a, b), lessByToLower(b, a))
		}
	})
}

// BenchmarkHeaderMaps measures sorting a $connect event's headers.
func BenchmarkHeaderMaps(b *testing.B) {
	names := []string{"Host", "User-Agent", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
		"Connection", "Upgrade", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Amzn-Trace-Id", "Origin"}
	b.ReportAllocs()
	for b.Loop() {
		h := NewHeaderSet(len(names))
		for _, n := range names {
			h.Add(n, "v")
		}
		h.Maps()
	}
}
