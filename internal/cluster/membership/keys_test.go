package membership

import (
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/cluster"
)

func TestParseLogSubject(t *testing.T) {
	for _, tc := range []struct {
		name, subject string
		ok            bool
		node          cluster.NodeID
		inc           string
	}{
		{"log", "switchboard.connlog.3.9eec527f050434b5", true, 3, "9eec527f050434b5"},
		{"node 65535", "switchboard.connlog.65535.i", true, 65535, "i"},
		{"node too large", "switchboard.connlog.65536.i", false, 0, ""},
		{"negative node", "switchboard.connlog.-1.i", false, 0, ""},
		{"no incarnation", "switchboard.connlog.3", false, 0, ""},
		{"empty incarnation", "switchboard.connlog.3.", false, 0, ""},
		{"one token too many", "switchboard.connlog.3.i.x", false, 0, ""},
		{"member key", "m.3", false, 0, ""},
		{"foreign", "switchboard.connlog.notanode.x", false, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, inc, ok := parseLogSubject(tc.subject)
			if ok != tc.ok || node != tc.node || inc != tc.inc {
				t.Fatalf("parseLogSubject(%q) = %d %q %v", tc.subject, node, inc, ok)
			}
		})
	}
}

func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{"switchboard.connlog.3.9eec527f050434b5", "m.7", "m.", "switchboard.connlog...", "switchboard.connlog.1.a.b", "m.65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if node, inc, ok := parseLogSubject(key); ok {
			if key != logSubject(node, inc) && !strings.HasPrefix(strings.TrimPrefix(key, logSubjectPfx), "0") {
				t.Fatalf("parseLogSubject(%q) = %d %q, which is %q", key, node, inc, logSubject(node, inc))
			}
			if inc == "" || strings.Contains(inc, ".") {
				t.Fatalf("parseLogSubject(%q) = %d %q", key, node, inc)
			}
		}
		if node, ok := parseMemberKey(key); ok {
			n, err := strconv.ParseUint(key[2:], 10, 16)
			if err != nil || cluster.NodeID(n) != node {
				t.Fatalf("parseMemberKey(%q) = %d", key, node)
			}
		}
	})
}
