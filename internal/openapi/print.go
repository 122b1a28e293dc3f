package openapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// obj is a JSON object whose members keep the order they were added in, as API Gateway's exports do.
type obj struct{ members []kv }

type kv struct {
	key   string
	value any // string, bool, int, []any, *obj
}

func (o *obj) set(key string, value any) *obj {
	o.members = append(o.members, kv{key, value})
	return o
}

// writeJSON writes v the way Jackson's default pretty printer does, which is how API Gateway writes
// exports: `"key" : value`, objects one member per line indented by two spaces per object level, arrays on
// one line (`[ a, b ]`, `[ ]`), empty objects as `{ }`.
func writeJSON(b *bytes.Buffer, v any, level int) {
	switch v := v.(type) {
	case *obj:
		if len(v.members) == 0 {
			b.WriteString("{ }")
			return
		}
		b.WriteByte('{')
		for i, m := range v.members {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
			b.WriteString(strings.Repeat("  ", level+1))
			writeString(b, m.key)
			b.WriteString(" : ")
			writeJSON(b, m.value, level+1)
		}
		b.WriteByte('\n')
		b.WriteString(strings.Repeat("  ", level))
		b.WriteByte('}')
	case []any:
		if len(v) == 0 {
			b.WriteString("[ ]")
			return
		}
		b.WriteString("[ ")
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSON(b, e, level)
		}
		b.WriteString(" ]")
	case string:
		writeString(b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	default:
		panic("openapi: unexpected value in an export")
	}
}

// writeString writes s as a JSON string. Jackson escapes only what JSON requires (no HTML escaping).
func writeString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

// writeYAML writes v as block YAML the way Jackson's YAML writer does for API Gateway's exports: strings
// in double quotes, sequences not indented under their key, `{}` and `[]` for empty collections.
func writeYAML(b *bytes.Buffer, v any, indent int) {
	pad := strings.Repeat("  ", indent)
	switch v := v.(type) {
	case *obj:
		for _, m := range v.members {
			b.WriteString(pad)
			writeYAMLMember(b, m, indent)
		}
	default:
		panic("openapi: a YAML export starts with an object")
	}
}

// writeYAMLMember writes "key: value" at the current line position (the indentation is written).
func writeYAMLMember(b *bytes.Buffer, m kv, indent int) {
	b.WriteString(yamlKey(m.key))
	b.WriteByte(':')
	switch v := m.value.(type) {
	case *obj:
		if len(v.members) == 0 {
			b.WriteString(" {}\n")
			return
		}
		b.WriteByte('\n')
		writeYAML(b, v, indent+1)
	case []any:
		if len(v) == 0 {
			b.WriteString(" []\n")
			return
		}
		b.WriteByte('\n')
		writeYAMLSeq(b, v, indent)
	default:
		b.WriteByte(' ')
		b.WriteString(yamlScalar(v))
		b.WriteByte('\n')
	}
}

// writeYAMLSeq writes a sequence's items at indent, "- " first.
func writeYAMLSeq(b *bytes.Buffer, items []any, indent int) {
	pad := strings.Repeat("  ", indent)
	for _, e := range items {
		b.WriteString(pad)
		b.WriteString("- ")
		switch e := e.(type) {
		case *obj:
			if len(e.members) == 0 {
				b.WriteString("{}\n")
				continue
			}
			for i, m := range e.members {
				if i > 0 {
					b.WriteString(pad + "  ")
				}
				writeYAMLMember(b, m, indent+1)
			}
		case []any:
			b.WriteString("[]\n") // nested sequences do not occur in exports
		default:
			b.WriteString(yamlScalar(e))
			b.WriteByte('\n')
		}
	}
}

// yamlScalar writes a scalar: strings always double-quoted.
func yamlScalar(v any) string {
	switch v := v.(type) {
	case string:
		var b bytes.Buffer
		writeString(&b, v)
		return b.String()
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	}
	panic("openapi: unexpected value in an export")
}

// yamlKey writes a mapping key plain when YAML reads it back as the same string, else quoted.
func yamlKey(k string) string {
	if k == "" || strings.ContainsAny(k[:1], "-?:,[]{}#&*!|>'\"%@` ") || strings.ContainsAny(k, ":#\t\n\"'\\") ||
		strings.HasSuffix(k, " ") || looksTyped(k) {
		var b bytes.Buffer
		writeString(&b, k)
		return b.String()
	}
	return k
}

// looksTyped says YAML would read k as something other than a string (a number, boolean or null).
func looksTyped(k string) bool {
	switch strings.ToLower(k) {
	case "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n":
		return true
	}
	if _, err := strconv.ParseFloat(k, 64); err == nil {
		return true
	}
	return strings.HasPrefix(k, "0x") || strings.HasPrefix(k, "0o") || strings.HasPrefix(k, ".")
}
