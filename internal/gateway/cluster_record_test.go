package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/racebuild"
)

// A record keeps everything $disconnect's event needs: identity, authorizer context, the kept API key.
func TestConnectionRecordRoundTrip(t *testing.T) {
	c := &dispatch.Connection{ID: awsid.NewConnectionID(7), APIID: "abc123", Stage: "prod", DomainName: "ws.example.com",
		ConnectedAt: 1796564047627, Port: "443", Proto: "https",
		Identity:   proxyevent.Identity{SourceIP: "203.0.113.9", UserAgent: "curl/8", APIKey: "k-value", APIKeyID: "k1", ClientCert: map[string]any{"subjectDN": "CN=client"}},
		Authorizer: map[string]any{"principalId": "user-1", "tenant": "acme", "n": float64(3)}}
	c.SetAPIKey("k-value")
	b, err := encodeRecord(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.APIKey() != "k-value" {
		t.Errorf("kept API key %q", got.APIKey())
	}
	got.SetAPIKey("")
	c.SetAPIKey("")
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
	}
}

func TestDecodeRecordRefusesWhatIsNotOne(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"not JSON", "{"},
		{"foreign JSON", `{"hello":"world"}`},
		{"bad connection id", `{"id":"nope","stage":"dev"}`},
		{"no stage", `{"id":"` + awsid.NewConnectionID(1) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeRecord([]byte(tc.in)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	c := &dispatch.Connection{ID: awsid.NewConnectionID(1), APIID: "a", Stage: "dev", Authorizer: map[string]any{"k": "v"}}
	b, _ := encodeRecord(c)
	f.Add(b)
	f.Add([]byte(`{"id":"AAAAAAAAAAAAAAA=","stage":"x","identity":{"sourceIp":1}}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := decodeRecord(in)
		if err != nil {
			return
		}
		again, err := encodeRecord(got)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		if _, err := decodeRecord(again); err != nil {
			t.Fatalf("a re-encoded record does not decode: %v", err)
		}
	})
}

// reflectRecord is c's record as encoding/json writes it: what encodeRecord must write, byte for byte.
func reflectRecord(t testing.TB, c *dispatch.Connection) []byte {
	t.Helper()
	b, err := json.Marshal(connRecord{ID: c.ID, APIID: c.APIID, Stage: c.Stage, DomainName: c.DomainName,
		ConnectedAt: c.ConnectedAt, Identity: c.Identity, Port: c.Port, Proto: c.Proto, Authorizer: c.Authorizer,
		APIKey: c.APIKey()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// benchConnection is a handshake's connection as the cluster benchmark's clients make it: identity,
// port and protocol, no authorizer.
func benchConnection() *dispatch.Connection {
	return &dispatch.Connection{ID: awsid.NewConnectionID(7), APIID: "abc123", Stage: "prod", DomainName: "127.0.0.1:41234",
		ConnectedAt: 1796564047627, Port: "80", Proto: "http",
		Identity: proxyevent.Identity{SourceIP: "127.0.0.1", UserAgent: "Go-http-client/1.1"}}
}

// A record is what encoding/json makes of connRecord, whichever way encodeRecord writes it: nodes of
// every version read one another's records.
func TestEncodeRecordIsEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *dispatch.Connection)
	}{
		{"plain", func(*dispatch.Connection) {}},
		{"no optional field", func(c *dispatch.Connection) {
			c.DomainName, c.Port, c.Proto, c.Identity = "", "", "", proxyevent.Identity{}
		}},
		{"API key and its id", func(c *dispatch.Connection) {
			c.SetAPIKey("key-value")
			c.Identity.APIKey, c.Identity.APIKeyID = "key-value", "k1"
		}},
		{"negative connectedAt", func(c *dispatch.Connection) { c.ConnectedAt = -5 }},
		{"HTML characters", func(c *dispatch.Connection) { c.Identity.UserAgent = "a<b>&c" }},
		{"quote and backslash", func(c *dispatch.Connection) { c.Identity.UserAgent = `say "hi" \ bye` }},
		{"control characters", func(c *dispatch.Connection) { c.Identity.UserAgent = "tab\there\x00\x1f\x7f" }},
		{"non-ASCII", func(c *dispatch.Connection) { c.DomainName = "bücher.example" }},
		{"invalid UTF-8", func(c *dispatch.Connection) { c.Identity.UserAgent = "bad\xff\xfe" }},
		{"line separator", func(c *dispatch.Connection) { c.Identity.UserAgent = "a\u2028b" }},
		{"authorizer context", func(c *dispatch.Connection) {
			c.Authorizer = map[string]any{"principalId": "user-1", "n": float64(3), "<": "&"}
		}},
		{"empty authorizer context", func(c *dispatch.Connection) { c.Authorizer = map[string]any{} }},
		{"client certificate", func(c *dispatch.Connection) {
			c.Identity.ClientCert = map[string]any{"subjectDN": "CN=client", "validity": map[string]any{"notAfter": "x"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := benchConnection()
			tc.change(c)
			got, err := encodeRecord(c)
			if err != nil {
				t.Fatal(err)
			}
			if want := reflectRecord(t, c); !bytes.Equal(got, want) {
				t.Errorf("record\n got %s\nwant %s", got, want)
			}
		})
	}
}

// Every clustered handshake encodes its connection's record: one allocation, the record itself
// (encoding/json took two, and reflection).
func TestEncodeRecordAllocations(t *testing.T) {
	c := benchConnection()
	limit := 1.0
	if racebuild.Enabled {
		limit++ // encoding/json's pooled state, dropped by the race detector's sync.Pool, if it were used
	}
	n := testing.AllocsPerRun(200, func() {
		if _, err := encodeRecord(c); err != nil {
			t.Fatal(err)
		}
	})
	if n > limit {
		t.Errorf("encoding a record allocates %v times, want at most %v", n, limit)
	}
}

func FuzzEncodeRecordIsEncodingJSON(f *testing.F) {
	f.Add("abc123", "prod", "127.0.0.1:41234", "Go-http-client/1.1", "127.0.0.1", "", "", "80", "http", "", int64(1796564047627))
	f.Add("a", "dev", "", "", "", "key", "k1", "", "", "key", int64(0))
	f.Add("<&>", "\"", "\\", "\x00", "\xff", "é", "\u2028", "\x7f", "\t", "\n", int64(-1))
	f.Fuzz(func(t *testing.T, apiID, stage, domain, userAgent, sourceIP, identityKey, keyID, port, proto, apiKey string, at int64) {
		c := &dispatch.Connection{ID: awsid.NewConnectionID(1), APIID: apiID, Stage: stage, DomainName: domain, ConnectedAt: at,
			Port: port, Proto: proto, Identity: proxyevent.Identity{UserAgent: userAgent, SourceIP: sourceIP, APIKey: identityKey, APIKeyID: keyID}}
		c.SetAPIKey(apiKey)
		got, err := encodeRecord(c)
		if err != nil {
			t.Fatal(err)
		}
		if want := reflectRecord(t, c); !bytes.Equal(got, want) {
			t.Errorf("record\n got %s\nwant %s", got, want)
		}
	})
}
