package vtl

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
)

// input is $input.
type input struct {
	body    string
	params  map[string]map[string]string
	parsed  any
	err     error
	decoded bool
}

func (in *input) Property(name string) (any, bool) {
	if name == "body" {
		return in.body, true
	}
	return nil, false
}

func (in *input) root() (any, error) {
	if !in.decoded {
		in.decoded = true
		if strings.TrimSpace(in.body) == "" {
			// An empty body is an empty object to JSONPath (LocalStack: VelocityInput.path returns {}).
			in.parsed = NewMap()
		} else {
			in.parsed, in.err = ParseJSON([]byte(in.body))
			if in.err != nil {
				in.err = fmt.Errorf("the body is not JSON: %w", in.err)
			}
		}
	}
	return in.parsed, in.err
}

func (in *input) Call(r *Renderer, name string, args []any) (any, bool, error) {
	switch name {
	case "path", "json":
		p, ok := argString(args, 0)
		if !ok {
			p = "$"
		}
		jp, err := r.t.jsonPath(p)
		if err != nil {
			return nil, true, err
		}
		root, err := in.root()
		if err != nil {
			return nil, true, err
		}
		v, found := jp.eval(root)
		if name == "path" {
			return v, true, nil
		}
		if !found {
			return "", true, nil
		}
		var b strings.Builder
		toJSON(&b, v)
		if err := r.spend(b.Len()); err != nil {
			return nil, true, err
		}
		return b.String(), true, nil
	case "params":
		if len(args) == 0 {
			m := NewMap()
			for _, k := range []string{"path", "querystring", "header"} {
				sub := NewMap()
				for _, key := range sortedKeys(in.params[k]) {
					sub.Put(key, in.params[k][key])
				}
				m.Put(k, sub)
			}
			return m, true, nil
		}
		n, _ := argString(args, 0)
		// path, then query string, then header, as the mapping template reference says.
		for _, k := range []string{"path", "querystring", "header"} {
			if v, ok := in.params[k][n]; ok {
				return v, true, nil
			}
			if k == "header" {
				for hk, v := range in.params[k] {
					if strings.EqualFold(hk, n) {
						return v, true, nil
					}
				}
			}
		}
		return "", true, nil
	}
	return nil, false, nil
}

func (t *Template) jsonPath(p string) (*jsonPath, error) {
	if v, ok := t.paths.Load(p); ok {
		return v.(*jsonPath), nil
	}
	jp, err := CompileJSONPath(p)
	if err != nil {
		return nil, err
	}
	if atomic.AddInt32(&t.npath, 1) <= 256 {
		t.paths.Store(p, jp)
	}
	return jp, nil
}

// util is $util.
type util struct{}

func (util) Property(string) (any, bool) { return nil, false }

func (util) Call(r *Renderer, name string, args []any) (any, bool, error) {
	if len(args) != 1 {
		return nil, false, nil
	}
	if args[0] == nil {
		return nil, true, nil
	}
	s, _ := argString(args, 0)
	if err := r.spend(len(s)); err != nil {
		return nil, true, err
	}
	switch name {
	case "escapeJavaScript":
		return EscapeJavaScript(s), true, nil
	case "parseJson":
		v, err := ParseJSON([]byte(s))
		if err != nil {
			return nil, true, fmt.Errorf("parseJson: %w", err)
		}
		return v, true, nil
	case "toJson":
		var b strings.Builder
		toJSON(&b, args[0])
		return b.String(), true, nil
	case "urlEncode":
		return url.QueryEscape(s), true, nil
	case "urlDecode":
		d, err := url.QueryUnescape(s)
		if err != nil {
			return nil, true, fmt.Errorf("urlDecode: %w", err)
		}
		return d, true, nil
	case "base64Encode":
		return base64.StdEncoding.EncodeToString([]byte(s)), true, nil
	case "base64Decode":
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, true, fmt.Errorf("base64Decode: %w", err)
		}
		return string(d), true, nil
	}
	return nil, false, nil
}

// EscapeJavaScript is $util.escapeJavaScript: Java's StringEscapeUtils.escapeJavaScript (commons-lang
// 2), which escapes quotes (' becomes \', as the mapping template reference warns), backslash, slash,
// control characters and everything outside ASCII as \uXXXX.
func EscapeJavaScript(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	const hex = "0123456789ABCDEF"
	for _, c := range s {
		switch c {
		case '\'', '"', '\\', '/':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '\b':
			b.WriteString(`\b`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < 0x20 || c > 0x7f {
				units := []rune{c}
				if c >= 0x10000 {
					c -= 0x10000
					units = []rune{0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF)}
				}
				for _, u := range units {
					b.WriteString(`\u`)
					b.WriteByte(hex[u>>12&0xF])
					b.WriteByte(hex[u>>8&0xF])
					b.WriteByte(hex[u>>4&0xF])
					b.WriteByte(hex[u&0xF])
				}
				continue
			}
			b.WriteRune(c)
		}
	}
	return b.String()
}
