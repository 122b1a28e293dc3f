package edge

import (
	"testing"
)

// FuzzResolve checks that resolve never panics on any host and path, and that what it returns is
// consistent: a management call always has a non-empty scope stage that exists, a stage target is a stage
// of the set, and a refusal says why.
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
	} {
		f.Add(seed.host, seed.path)
	}
	set := testSet(f)
	f.Fuzz(func(t *testing.T, host, path string) {
		got := resolve(set, host, path)
		checkTarget(t, set, got)
		if got.mgmt && !hasSegment(path, "@connections") {
			t.Fatalf("resolve(%q, %q) is a management call without an @connections segment", host, path)
		}
		if got.stage != nil && hasSegment(path, "@connections") {
			t.Fatalf("resolve(%q, %q) is a WebSocket endpoint although the path has an @connections segment", host, path)
		}
		if n := resolve(nil, host, path); n.stage != nil || n.mgmt {
			t.Fatalf("resolve(nil, %q, %q) matched: %+v", host, path, n)
		}
	})
}
