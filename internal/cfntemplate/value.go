package cfntemplate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The values intrinsics evaluate to: nil (null), string, number (a numeral as written), bool, []any,
// *object, and noValue (AWS::NoValue, which removes the property or list item that holds it).

// number is a numeral as the template wrote it.
type number string

// noValue is what Ref AWS::NoValue evaluates to.
type noValue struct{}

// object is a mapping that keeps the template's key order (so that a model schema written as YAML
// becomes the JSON text its author would expect).
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[k]
	return v, ok
}

// MarshalJSON writes the object with its keys in template order.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalJSON writes the numeral as a JSON number when it is one, else as a string.
func (n number) MarshalJSON() ([]byte, error) {
	if _, err := strconv.ParseFloat(string(n), 64); err == nil && json.Valid([]byte(n)) {
		return []byte(n), nil
	}
	return json.Marshal(string(n))
}

// typeName names a value's type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case *object:
		return "a mapping"
	case noValue:
		return "AWS::NoValue"
	}
	return fmt.Sprintf("%T", v)
}

// scalarString is the text of a string, number or boolean, as CloudFormation converts them where a
// string is expected.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case number:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// shortValue quotes a value for an error message, shortened.
func shortValue(v any) string {
	s, ok := scalarString(v)
	if !ok {
		return typeName(v)
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strconv.Quote(s)
}

// toJSONText writes a value as JSON text (for model schemas written as mappings).
func toJSONText(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
