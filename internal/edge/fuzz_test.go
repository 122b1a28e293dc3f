package edge

import (
	"strings"
	"testing"
)

// FuzzResolve checks that resolve never panics on any host, path and TLS state, and that what it returns
// is consistent: a management call always has a non-empty scope stage that exists, a stage target is a
// stage of the set, a refusal says why, and nothing of a mutual-TLS domain is reached without TLS for
// that domain and a verified client certificate.
func FuzzResolve(f *testing.F) {
	for _, seed := range []struct{ host, path string }{
		{"alpha.execute-api.us-east-1.amazonaws.com", "/dev"},
		{"ALPHA.execute-api.us-east-1.amazonaws.com:443", "/dev/"},
		{"alpha.execute-api.us-east-1.amazonaws.com", "/dev/@connections/R1kmxc2VNjMCFIA="},
		{"alpha.execute-api.us-east-1.amazonaws.com", "/@connections/x"},
		{"127.0.0.1:8080", "/alpha/dev"},
		{"127.0.0.1:8080", "/alpha/dev/@connections/R1kmxc2VNjMCFIA="},
		{"127.0.0.1:8080", "/dev/@connections/"},
		{"127.0.0.1:8080", "/staging"},
		{"127.0.0.1:8080", "//@connections/x"},
		{"127.0.0.1:8080", "/alpha//@connections"},
		{"", ""},
		{"", "/"},
		{"[::1]:80", "@connections"},
		{".execute-api.", "/dev/@connections/@connections/"},
		{"x.execute-api.:", "//"},
		{"127.0.0.1:8080", "/staging/some/path"},
		{"exanub.es", "/chat/x/@connections/y"},
		{"127.0.0.1:8080", "/pair/@connections/x"},
		{"secure.test", "/"},
		{"SECURE.TEST.:443", "/@connections/x"},
		{"eu.mtls.test", "/live"},
		{"other.test", "/x/@connections/"},
	} {
		f.Add(seed.host, seed.path, "", false, false)
		f.Add(seed.host, seed.path, seed.host, true, true)
		f.Add(seed.host, seed.path, "secure.test", true, true)
		f.Add(seed.host, seed.path, "exanub.es", true, false)
	}
	set := testSet(f)
	f.Fuzz(func(t *testing.T, host, path, serverName string, tls, verified bool) {
		c := conn{tls: tls, serverName: serverName, verified: verified}
		got := resolve(set, host, path, c)
		checkTarget(t, set, got)
		if got.mgmt && !hasSegment(path, "@connections") {
			t.Fatalf("resolve(%q, %q) is a management call without an @connections segment", host, path)
		}
		if got.stage != nil && hasSegment(path, "@connections") {
			t.Fatalf("resolve(%q, %q) is a WebSocket endpoint although the path has an @connections segment", host, path)
		}
		if d := set.Domain(hostName(host)); d != nil && d.MutualTLS && (got.stage != nil || got.mgmt) {
			if !tls || !verified || set.Domain(hostName(serverName)) != d {
				t.Fatalf("resolve(%q, %q, %+v) reached mutual-TLS domain %s: %+v", host, path, c, d.Name, got)
			}
		}
		if got.mgmtPath != hasSegment(strings.TrimPrefix(path, "/"), "@connections") {
			t.Fatalf("resolve(%q, %q): mgmtPath %v", host, path, got.mgmtPath)
		}
		if n := resolve(nil, host, path, c); n.stage != nil || n.mgmt {
			t.Fatalf("resolve(nil, %q, %q) matched: %+v", host, path, n)
		}
	})
}
