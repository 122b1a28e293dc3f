package selexpr

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Lookup walks a decoded JSON document along path and returns the value found. The document is what
// encoding/json produces into an any (map[string]any, []any, string, json.Number or float64, bool,
// nil); decode with json.Decoder.UseNumber so numbers keep the text the message wrote. Name steps only
// match object members and index steps only array elements, so ok is false on any mismatch.
func Lookup(doc any, path []Step) (any, bool) {
	for _, st := range path {
		switch x := doc.(type) {
		case map[string]any:
			if st.IsIndex {
				return nil, false
			}
			v, ok := x[st.Name]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			if !st.IsIndex || st.Index < 0 || st.Index >= len(x) {
				return nil, false
			}
			doc = x[st.Index]
		default:
			return nil, false
		}
	}
	return doc, true
}

// Stringify turns a decoded JSON value into the string API Gateway substitutes for it, which follows
// Java's toString conventions because that is what API Gateway runs: strings are unquoted, json.Number
// keeps its text, true/false stay as they are, null becomes "", arrays become [a, b] and objects
// {k1=v1, k2=v2}, with elements and members stringified recursively the same way (so a null element
// leaves an empty slot: [a, ]). Go maps have no order, so object members come out sorted by key here;
// values resolved from a raw message by MessageEnv keep the message's member order instead. A float64
// (from decoding without UseNumber) is formatted as encoding/json would write it.
func Stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return string(appendValue(nil, v))
}

func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return dst
	case string:
		return append(dst, x...)
	case json.Number:
		return append(dst, x...)
	case bool:
		return strconv.AppendBool(dst, x)
	case float64:
		f := 'f'
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
			f = 'e'
		}
		return strconv.AppendFloat(dst, x, byte(f), -1, 64)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendValue(dst, e)
		}
		return append(dst, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, k...)
			dst = append(dst, '=')
			dst = appendValue(dst, x[k])
		}
		return append(dst, '}')
	default:
		return fmt.Append(dst, v)
	}
}

// JSONValue returns the stringified value at path in the JSON document doc, with the same rules as
// $request.body: ok is false only when doc is not valid JSON, a missing value is "", and non-empty paths
// find nothing in a top-level array or scalar. It serves resolvers of $integration.response.body.
func JSONValue(doc []byte, path []Step) (value string, ok bool) {
	if !json.Valid(doc) {
		return "", false
	}
	return bodyValue(doc, path), true
}

// The functions below scan raw JSON that json.Valid has accepted. They still check bounds everywhere so
// that malformed input yields "not found" rather than a panic.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the offset just past the string starting at b[i] == '"' (or -1) and whether the
// string contains escapes.
func skipString(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return -1, esc
}

// skipValue returns the offset just past the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		e, _ := skipString(b, i)
		return e
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, _ := skipString(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case ',', ':', '}', ']':
		return -1
	default:
		j := i
		for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != ']' && b[j] != '}' && b[j] != ':' {
			j++
		}
		return j
	}
}

// unquote decodes the JSON string token raw exactly as encoding/json would, including replacing invalid
// UTF-8 with U+FFFD, but without its cost in the common case of a plain string.
func unquote(raw []byte, esc bool) string {
	if len(raw) < 2 {
		return ""
	}
	inner := raw[1 : len(raw)-1]
	if !esc && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// keyEquals reports whether the JSON string token raw decodes to name, without allocating when raw has
// no escapes.
func keyEquals(raw []byte, esc bool, name string) bool {
	if len(raw) < 2 {
		return false
	}
	if inner := raw[1 : len(raw)-1]; !esc && utf8.Valid(inner) {
		return string(inner) == name
	}
	return unquote(raw, esc) == name
}

// locate returns the raw value at path in the JSON value b (leading whitespace allowed). When an object
// repeats a member name the last one wins, as with encoding/json, so every member is scanned.
func locate(b []byte, path []Step) ([]byte, bool) {
	i := skipWS(b, 0)
	for _, st := range path {
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case '{':
			if st.IsIndex {
				return nil, false
			}
			found := -1
			j := skipWS(b, i+1)
			if j < len(b) && b[j] == '}' {
				return nil, false
			}
			for {
				if j >= len(b) || b[j] != '"' {
					return nil, false
				}
				ke, esc := skipString(b, j)
				if ke < 0 {
					return nil, false
				}
				match := keyEquals(b[j:ke], esc, st.Name)
				j = skipWS(b, ke)
				if j >= len(b) || b[j] != ':' {
					return nil, false
				}
				j = skipWS(b, j+1)
				ve := skipValue(b, j)
				if ve < 0 {
					return nil, false
				}
				if match {
					found = j
				}
				j = skipWS(b, ve)
				if j >= len(b) {
					return nil, false
				}
				if b[j] == '}' {
					break
				}
				if b[j] != ',' {
					return nil, false
				}
				j = skipWS(b, j+1)
			}
			if found < 0 {
				return nil, false
			}
			i = found
		case '[':
			if !st.IsIndex {
				return nil, false
			}
			j := skipWS(b, i+1)
			if j < len(b) && b[j] == ']' {
				return nil, false
			}
			for n := 0; n < st.Index; n++ {
				ve := skipValue(b, j)
				if ve < 0 {
					return nil, false
				}
				j = skipWS(b, ve)
				if j >= len(b) || b[j] != ',' {
					return nil, false
				}
				j = skipWS(b, j+1)
			}
			i = j
		default:
			return nil, false
		}
	}
	end := skipValue(b, i)
	if end < 0 {
		return nil, false
	}
	return b[i:end], true
}

// stringifyRaw is Stringify for one raw JSON value. With sortKeys false, object members keep the
// message's order (a repeated member keeps its first position and takes its last value, like Java's
// LinkedHashMap); with sortKeys true the result equals Stringify of the decoded value, which the tests
// use to check this scanner against encoding/json.
func stringifyRaw(raw []byte, sortKeys bool) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		_, esc := skipString(raw, 0)
		return unquote(raw, esc)
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return ""
	case '{', '[':
		return string(appendRaw(make([]byte, 0, len(raw)), raw, sortKeys))
	default:
		return string(raw)
	}
}

type member struct {
	key string
	val []byte
}

// appendRaw appends the stringification of the raw JSON value raw to dst.
func appendRaw(dst, raw []byte, sortKeys bool) []byte {
	if len(raw) == 0 {
		return dst
	}
	switch raw[0] {
	case '"':
		_, esc := skipString(raw, 0)
		if len(raw) >= 2 && !esc && utf8.Valid(raw[1:len(raw)-1]) {
			return append(dst, raw[1:len(raw)-1]...)
		}
		return append(dst, unquote(raw, esc)...)
	case 't', 'f':
		return append(dst, raw...)
	case 'n':
		return dst
	case '[':
		dst = append(dst, '[')
		j := skipWS(raw, 1)
		for n := 0; j < len(raw) && raw[j] != ']'; n++ {
			ve := skipValue(raw, j)
			if ve < 0 {
				break
			}
			if n > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendRaw(dst, raw[j:ve], sortKeys)
			j = skipWS(raw, ve)
			if j < len(raw) && raw[j] == ',' {
				j = skipWS(raw, j+1)
			}
		}
		return append(dst, ']')
	case '{':
		var members []member
		var index map[string]int // built once members outgrow a linear search, to keep big objects linear
		j := skipWS(raw, 1)
		for j < len(raw) && raw[j] == '"' {
			ke, esc := skipString(raw, j)
			if ke < 0 {
				break
			}
			key := unquote(raw[j:ke], esc)
			j = skipWS(raw, ke)
			if j >= len(raw) || raw[j] != ':' {
				break
			}
			j = skipWS(raw, j+1)
			ve := skipValue(raw, j)
			if ve < 0 {
				break
			}
			val := raw[j:ve]
			pos := -1
			if index != nil {
				if p, ok := index[key]; ok {
					pos = p
				}
			} else {
				for p := range members {
					if members[p].key == key {
						pos = p
						break
					}
				}
			}
			if pos >= 0 {
				members[pos].val = val
			} else {
				members = append(members, member{key, val})
				if index != nil {
					index[key] = len(members) - 1
				} else if len(members) > 16 {
					index = make(map[string]int, 2*len(members))
					for p, m := range members {
						index[m.key] = p
					}
				}
			}
			j = skipWS(raw, ve)
			if j < len(raw) && raw[j] == ',' {
				j = skipWS(raw, j+1)
			}
		}
		if sortKeys {
			slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
		}
		dst = append(dst, '{')
		for n, m := range members {
			if n > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, m.key...)
			dst = append(dst, '=')
			dst = appendRaw(dst, m.val, sortKeys)
		}
		return append(dst, '}')
	default:
		return append(dst, raw...)
	}
}
