package vtl

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Map is a Velocity map: insertion-ordered like Java's LinkedHashMap, which is what Velocity's map
// literals and API Gateway's JSON objects are.
type Map struct {
	keys []string
	m    map[string]any
}

// NewMap returns an empty map.
func NewMap() *Map { return &Map{m: map[string]any{}} }

// Get returns the value under key.
func (m *Map) Get(key string) (any, bool) {
	v, ok := m.m[key]
	return v, ok
}

// Put sets key to v, keeping the key's first position, and returns the previous value.
func (m *Map) Put(key string, v any) any {
	old, ok := m.m[key]
	if !ok {
		m.keys = append(m.keys, key)
	}
	m.m[key] = v
	return old
}

// Keys returns the keys in insertion order.
func (m *Map) Keys() []string { return m.keys }

func (m *Map) remove(key string) any {
	old, ok := m.m[key]
	if !ok {
		return nil
	}
	delete(m.m, key)
	for i, k := range m.keys {
		if k == key {
			m.keys = append(m.keys[:i:i], m.keys[i+1:]...)
			break
		}
	}
	return old
}

// List is a Velocity list (Java's ArrayList).
type List struct{ Items []any }

// Object is a value with its own properties and methods: the $input, $util and $context bindings.
type Object interface {
	// Property returns $obj.name; ok is false when there is no such property.
	Property(name string) (v any, ok bool)
	// Call runs $obj.name(args); ok is false when there is no such method.
	Call(r *Renderer, name string, args []any) (v any, ok bool, err error)
}

// FromJSON converts decoded JSON (as encoding/json produces with UseNumber) to template values.
func FromJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := NewMap()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.Put(k, FromJSON(x[k]))
		}
		return m
	case []any:
		l := &List{Items: make([]any, len(x))}
		for i, e := range x {
			l.Items[i] = FromJSON(e)
		}
		return l
	case json.Number:
		return numberFromText(string(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case int:
		return int64(x)
	}
	return v
}

func numberFromText(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// toJSON writes v as JSON text.
func toJSON(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		q, _ := json.Marshal(x)
		b.Write(q)
	case bool, int64:
		b.WriteString(toString(x))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			b.WriteString("null")
			return
		}
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case *List:
		b.WriteByte('[')
		for i, e := range x.Items {
			if i > 0 {
				b.WriteByte(',')
			}
			toJSON(b, e)
		}
		b.WriteByte(']')
	case *Map:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			q, _ := json.Marshal(k)
			b.Write(q)
			b.WriteByte(':')
			toJSON(b, x.m[k])
		}
		b.WriteByte('}')
	default:
		q, _ := json.Marshal(toString(x))
		b.Write(q)
	}
}

// toString renders v as Java's toString does: maps as {a=1, b=[x, y]}, null inside them as "null".
func toString(v any) string {
	var b strings.Builder
	writeJava(&b, v, false)
	return b.String()
}

func writeJava(b *strings.Builder, v any, nested bool) {
	switch x := v.(type) {
	case nil:
		if nested {
			b.WriteString("null")
		}
	case string:
		b.WriteString(x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(javaDouble(x))
	case *List:
		b.WriteByte('[')
		for i, e := range x.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJava(b, e, true)
		}
		b.WriteByte(']')
	case *Map:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			writeJava(b, x.m[k], true)
		}
		b.WriteByte('}')
	case fmt.Stringer:
		b.WriteString(x.String())
	default:
		fmt.Fprint(b, x)
	}
}

// javaDouble formats f as Java's Double.toString: at least one decimal, scientific notation outside
// [10^-3, 10^7).
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	a := math.Abs(f)
	if a == 0 || a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	if exp[0] == '+' {
		exp = exp[1:]
	}
	exp = strings.TrimLeft(exp, "0")
	if strings.HasPrefix(exp, "-") {
		exp = "-" + strings.TrimLeft(exp[1:], "0")
	}
	return mant + "E" + exp
}

// truthy is Velocity's truth: null and false are false, everything else (the empty string too) is true.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	}
	return true
}

func toNumber(v any) (any, bool) {
	switch x := v.(type) {
	case int64, float64:
		return x, true
	}
	return nil, false
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func valuesEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	an, aok := toNumber(a)
	bn, bok := toNumber(b)
	if aok && bok {
		return compareNumbers(an, bn) == 0
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return x == y
		}
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	}
	// Velocity compares values of different classes by their toString.
	return toString(a) == toString(b)
}

func compareNumbers(a, b any) int {
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	}
	af, bf := asFloat(a), asFloat(b)
	switch {
	case af < bf:
		return -1
	case af > bf:
		return 1
	}
	return 0
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// regexCache compiles the Java regular expressions replaceAll, matches and split use. RE2 covers the
// patterns templates use; a pattern it rejects is a render error naming it.
func compileJavaRegex(r *Renderer, pattern string) (*regexp.Regexp, error) {
	if re, ok := r.regexps[pattern]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %w", pattern, err)
	}
	if r.regexps == nil {
		r.regexps = map[string]*regexp.Regexp{}
	}
	if len(r.regexps) < 64 {
		r.regexps[pattern] = re
	}
	return re, nil
}

// javaReplacement turns a Java replacement string ($1, \$) into Go's (${1}, $$).
func javaReplacement(s string) string {
	if !strings.ContainsAny(s, "$\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 {
				b.WriteString("$$")
				continue
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
