package awsid

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestConnectionIDShapeAndOwner(t *testing.T) {
	for _, node := range []uint16{0, 1, 513, 65535} {
		id := NewConnectionID(node)
		if len(id) != ConnectionIDLen || !strings.HasSuffix(id, "=") || strings.HasSuffix(id, "==") {
			t.Fatalf("id %q: want 16 chars ending in a single '='", id)
		}
		got, err := ConnectionNode(id)
		if err != nil || got != node {
			t.Fatalf("ConnectionNode(%q) = %d, %v; want %d", id, got, err, node)
		}
	}
	if a, b := NewConnectionID(1), NewConnectionID(1); a == b {
		t.Fatalf("two ids are equal: %q", a)
	}
}

func TestConnectionNodeRejectsMalformed(t *testing.T) {
	cases := map[string]string{
		"empty":      "",
		"short":      "abc=",
		"no padding": "R1kmxc2VNjMCFIAx",
		"bad char":   "R1kmxc2VNjMC*IA=",
		"std base64": "R1kmxc2V+jMCFIA=",
		"too long":   "R1kmxc2VNjMCFIA==",
	}
	for name, id := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ConnectionNode(id); err == nil {
				t.Fatalf("ConnectionNode(%q) accepted a malformed id", id)
			}
		})
	}
	// A real AWS-issued id is well formed (its first bytes just name some node).
	if _, err := ConnectionNode("R1kmxc2VNjMCFIA="); err != nil {
		t.Fatalf("AWS-shaped id rejected: %v", err)
	}
}

func TestRequestIDShape(t *testing.T) {
	id := NewRequestID()
	if len(id) != 16 || !strings.HasSuffix(id, "=") {
		t.Fatalf("request id %q: want 16 chars ending in '='", id)
	}
}

func TestConnectionIDsOfOneNodeDoNotShareAPrefix(t *testing.T) {
	prefixes := map[string]bool{}
	for range 64 {
		prefixes[NewConnectionID(0)[:2]] = true
	}
	if len(prefixes) < 8 {
		t.Fatalf("64 ids of node 0 share only %d distinct 2-char prefixes", len(prefixes))
	}
}

// FuzzConnectionNode reads any string as a connection ID: it never panics, accepts only 16-character
// base64url text ending in one "=", and reads every ID NewConnectionID makes back to its node.
func FuzzConnectionNode(f *testing.F) {
	for _, s := range []string{"R1kmxc2VNjMCFIA=", "", "abc=", "R1kmxc2VNjMCFIA==", "R1kmxc2V+jMCFIA=", "R1kmxc2VNjMCFIB="} {
		f.Add(s, uint16(7))
	}
	f.Fuzz(func(t *testing.T, id string, node uint16) {
		if _, err := ConnectionNode(id); err == nil {
			if len(id) != ConnectionIDLen || !strings.HasSuffix(id, "=") || strings.HasSuffix(id, "==") {
				t.Fatalf("ConnectionNode accepted %q", id)
			}
			if _, err := base64.URLEncoding.DecodeString(id); err != nil {
				t.Fatalf("ConnectionNode accepted %q, which is not base64url: %v", id, err)
			}
		}
		made := NewConnectionID(node)
		if got, err := ConnectionNode(made); err != nil || got != node {
			t.Fatalf("ConnectionNode(%q) = %d, %v; want node %d", made, got, err, node)
		}
	})
}
