package gateway

import (
	"reflect"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
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
