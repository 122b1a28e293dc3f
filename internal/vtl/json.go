package vtl

import (
	"fmt"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/jsonscan"
)

// ParseJSON decodes JSON text into template values (*Map keeping member order, *List, string, int64,
// float64, bool, nil). It is a small scanner of its own: $input.path runs on every message, and
// encoding/json's token API costs several times more.
func ParseJSON(text []byte) (any, error) {
	d := jsonDecoder{b: text}
	d.ws()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, d.errorf("unexpected data after the JSON value")
	}
	return v, nil
}

type jsonDecoder struct {
	b []byte
	i int
}

func (d *jsonDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON at offset %d: %s", d.i, fmt.Sprintf(format, args...))
}

func (d *jsonDecoder) ws() { d.i = jsonscan.Space(d.b, d.i) }

func (d *jsonDecoder) value(depth int) (any, error) {
	if depth > 1000 {
		return nil, d.errorf("nested more than 1000 deep")
	}
	if d.i >= len(d.b) {
		return nil, d.errorf("unexpected end")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		d.i++
		m := NewMap()
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == '}' {
			d.i++
			return m, nil
		}
		for {
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != '"' {
				return nil, d.errorf("expected a member name")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				return nil, d.errorf("expected ':'")
			}
			d.i++
			d.ws()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m.Put(k, v)
			d.ws()
			if d.i >= len(d.b) {
				return nil, d.errorf("unexpected end in an object")
			}
			if d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.b[d.i] == '}' {
				d.i++
				return m, nil
			}
			return nil, d.errorf("expected ',' or '}'")
		}
	case c == '[':
		d.i++
		l := &List{}
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			return l, nil
		}
		for {
			d.ws()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l.Items = append(l.Items, v)
			d.ws()
			if d.i >= len(d.b) {
				return nil, d.errorf("unexpected end in an array")
			}
			if d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.b[d.i] == ']' {
				d.i++
				return l, nil
			}
			return nil, d.errorf("expected ',' or ']'")
		}
	case c == '"':
		return d.str()
	case c == 't':
		return d.lit("true", true)
	case c == 'f':
		return d.lit("false", false)
	case c == 'n':
		return d.lit("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, d.errorf("unexpected %q", string(d.b[d.i]))
}

func (d *jsonDecoder) lit(word string, v any) (any, error) {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return nil, d.errorf("invalid literal")
	}
	d.i += len(word)
	return v, nil
}

func (d *jsonDecoder) number() (any, error) {
	next, isFloat, ok := jsonscan.Number(d.b, d.i)
	if !ok {
		d.i = next // where the number stopped being one, as the error has always said
		return nil, d.errorf("invalid number")
	}
	s := string(d.b[d.i:next])
	d.i = next
	if !isFloat {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	// Out of float64's range is ±Inf (ParseFloat's range error), which JSON text allows.
	f, _ := strconv.ParseFloat(s, 64)
	return f, nil
}

// str reads a string at d.i (which is '"').
func (d *jsonDecoder) str() (string, error) {
	s, next, err := jsonscan.String(d.b, d.i)
	if err != nil {
		return "", err // a *jsonscan.SyntaxError: "JSON at offset N: …", as errorf says it
	}
	d.i = next
	return s, nil
}
