package membership

import (
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/cluster"
)

func TestParseRecordKey(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		ok        bool
		node      cluster.NodeID
		inc, id   string
	}{
		{"record", "c.3.9eec527f050434b5.jVODE4S3oUBjjVA=", true, 3, "9eec527f050434b5", "jVODE4S3oUBjjVA="},
		{"node 65535", "c.65535.i.x", true, 65535, "i", "x"},
		{"node too large", "c.65536.i.x", false, 0, "", ""},
		{"negative node", "c.-1.i.x", false, 0, "", ""},
		{"no id", "c.3.inc", false, 0, "", ""},
		{"empty incarnation", "c.3..x", false, 0, "", ""},
		{"member key", "m.3", false, 0, "", ""},
		{"foreign", "something.else.entirely.here", false, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, inc, id, ok := parseRecordKey(tc.key)
			if ok != tc.ok || node != tc.node || inc != tc.inc || id != tc.id {
				t.Fatalf("parseRecordKey(%q) = %d %q %q %v", tc.key, node, inc, id, ok)
			}
		})
	}
}

func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{"c.3.9eec527f050434b5.jVODE4S3oUBjjVA=", "m.7", "m.", "c....", "c.1.a.b.c", "m.65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if node, inc, id, ok := parseRecordKey(key); ok {
			head := strings.TrimSuffix(key, "."+inc+"."+id)
			n, err := strconv.ParseUint(strings.TrimPrefix(head, "c."), 10, 16)
			if inc == "" || id == "" || strings.Contains(inc, ".") || !strings.HasPrefix(head, "c.") || err != nil || cluster.NodeID(n) != node {
				t.Fatalf("parseRecordKey(%q) = %d %q %q", key, node, inc, id)
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
