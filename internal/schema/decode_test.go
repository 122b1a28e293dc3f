package schema

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecode holds decode to encoding/json (with UseNumber, as jsonschema.UnmarshalJSON decodes): the
// documents json.Valid accepts, with the same values.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e2,"x\u00e9\ud83d\ude00",true,false,null],"b":{}}`, `[]`, `"\\\"\/\b\f\n\r\t"`, `1 2`, `{"a":}`, `-0`, `01`, `"\ud800"`, `{"a":1,"a":2}`, `0]`, `"\ud800\u0041"`, `["\udc00\ud800\udc00",1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decode(b)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("decode(%q) error %v, json.Valid %v", b, err, json.Valid(b))
		}
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decode(%q) = %#v, encoding/json %#v", b, got, want)
		}
	})
}

// benchMessage is a chat message of the kind a validated route checks: strings with escapes and a
// non-ASCII character, numbers, a nested object and an array.
var benchMessage = []byte(`{"action":"sendmessage","room":"général","message":"Hello, \"world\"\nsecond line \u263a","seq":1234567,"ts":1733580000.125,"meta":{"client":"web","tags":["a","b","c"],"retry":false,"parent":null}}`)

// BenchmarkDecode reads benchMessage with decode and, as the baseline in the same run, with
// encoding/json's decoder (UseNumber) into the same kind of values.
func BenchmarkDecode(b *testing.B) {
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decode(benchMessage); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(benchMessage))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
