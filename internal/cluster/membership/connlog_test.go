package membership

import (
	"reflect"
	"strings"
	"testing"
)

func TestLogMessageRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want logMsg
	}{
		{"batch", encodeBatch(7, []logEntry{{create: true, id: "AAAAAAAAAAAAAAA=", record: []byte(`{"id":"A"}`)}, {id: "BBBBBBBBBBBBBBB="}}),
			logMsg{kind: kindBatch, batch: 7, entries: []logEntry{{create: true, id: "AAAAAAAAAAAAAAA=", record: []byte(`{"id":"A"}`)}, {id: "BBBBBBBBBBBBBBB="}}}},
		{"empty record", encodeBatch(1, []logEntry{{create: true, id: "x", record: []byte{}}}),
			logMsg{kind: kindBatch, batch: 1, entries: []logEntry{{create: true, id: "x", record: []byte{}}}}},
		{"claim complete (version 1, as every version wrote it)", encodeClaim(65535, "9eec527f050434b5"),
			logMsg{kind: kindClaim, claim: true, node: 65535, inc: "9eec527f050434b5"}},
		{"claim started", encodeClaimStarted(2, "9eec527f050434b5"), logMsg{kind: kindClaimed, claim: true, node: 2, inc: "9eec527f050434b5"}},
		{"claim progress", encodeProgress(2, "9eec527f050434b5", []string{"AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="}),
			logMsg{kind: kindProgress, claim: true, node: 2, inc: "9eec527f050434b5", entries: []logEntry{{id: "AAAAAAAAAAAAAAA="}, {id: "BBBBBBBBBBBBBBB="}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeLogMsg(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decoded %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBadLogMessagesSayWhatIsWrong(t *testing.T) {
	good := encodeBatch(1, []logEntry{{create: true, id: "x", record: []byte("r")}})
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "no SBL header"},
		{"JSON record of the KV era", `{"id":"x"}`, "no SBL header"},
		{"future version", "SBL\x03B", "version 3; this node reads versions 1 to 2"},
		{"batch written as version 2", "SBL\x02B\x01\x00", "kind 'B' is written as version 1, not 2"},
		{"progress written as version 1", "SBL\x01P\x01\x01i\x00", "kind 'P' is written as version 2, not 1"},
		{"claim started without incarnation", "SBL\x02S\x01\x00", "bad incarnation"},
		{"progress count exceeds the message", "SBL\x02P\x01\x01i\x05\x01x", "connection count 5 exceeds the message"},
		{"progress empty id", "SBL\x02P\x01\x01i\x01\x00", "bad connection id"},
		{"progress truncated", string(encodeProgress(1, "i", []string{"AAAA"})[:10]), "bad connection id"},
		{"unknown kind", "SBL\x01Z", "unknown connection log message kind"},
		{"truncated", string(good[:len(good)-1]), "record"},
		{"trailing bytes", string(good) + "x", "1 bytes after the message"},
		{"huge count", "SBL\x01B\x01\xff\xff\xff\xff\x0f", "exceeds the message"},
		{"unknown op", "SBL\x01B\x01\x01z\x01x", "unknown operation"},
		{"empty id", "SBL\x01B\x01\x01d\x00", "bad connection id"},
		{"claim node too large", "SBL\x01C\x80\x80\x04\x01i", "bad node id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeLogMsg([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decodeLogMsg(%q) = %v, want an error with %q", tc.data, err, tc.want)
			}
		})
	}
}

// FuzzDecodeLogMsg: any input decodes or fails without panicking, and what decodes encodes back to a
// message that decodes to the same.
func FuzzDecodeLogMsg(f *testing.F) {
	f.Add(encodeBatch(3, []logEntry{{create: true, id: "AAAAAAAAAAAAAAA=", record: []byte(`{"id":"A"}`)}, {id: "B"}}))
	f.Add(encodeClaim(2, "deadbeef"))
	f.Add(encodeClaimStarted(2, "deadbeef"))
	f.Add(encodeProgress(2, "deadbeef", []string{"AAAAAAAAAAAAAAA=", "B"}))
	f.Add([]byte("SBL\x01B\x01\x01d\x00"))
	f.Add([]byte(`{"id":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeLogMsg(data)
		if err != nil {
			return
		}
		again := encodeLogMsg(m)
		m2, err := decodeLogMsg(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%q decodes to %+v, which encodes to %q, which decodes to %+v (%v)", data, m, again, m2, err)
		}
	})
}
