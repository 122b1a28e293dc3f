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
	for _, s := range []string{`{"a":[1,2.5,-3e2,"x\u00e9\ud83d\ude00",true,false,null],"b":{}}`, `[]`, `"\\\"\/\b\f\n\r\t"`, `1 2`, `{"a":}`, `-0`, `01`, `"\ud800"`, `{"a":1,"a":2}`, `0]`} {
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
