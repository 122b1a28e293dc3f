package schema

import (
	"encoding/json"
	"errors"

	"github.com/switchboard-gw/switchboard/internal/jsonscan"
)

// decode reads a JSON document into the values the validator takes (map[string]any, []any, string,
// json.Number, bool, nil). Every message of a validated route goes through it, and encoding/json's
// decoder cost three times as much; FuzzDecode holds it to encoding/json's answers.
func decode(b []byte) (any, error) {
	d := decoder{b: b}
	d.ws()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, errSyntax
	}
	return v, nil
}

var errSyntax = errors.New("invalid JSON")

type decoder struct {
	b []byte
	i int
}

func (d *decoder) ws() { d.i = jsonscan.Space(d.b, d.i) }

func (d *decoder) value(depth int) (any, error) {
	if depth > 1000 || d.i >= len(d.b) {
		return nil, errSyntax
	}
	switch c := d.b[d.i]; {
	case c == '{':
		d.i++
		m := map[string]any{}
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == '}' {
			d.i++
			return m, nil
		}
		for {
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != '"' {
				return nil, errSyntax
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				return nil, errSyntax
			}
			d.i++
			d.ws()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			d.ws()
			if d.i < len(d.b) && d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.b) && d.b[d.i] == '}' {
				d.i++
				return m, nil
			}
			return nil, errSyntax
		}
	case c == '[':
		d.i++
		l := []any{}
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
			l = append(l, v)
			d.ws()
			if d.i < len(d.b) && d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.b) && d.b[d.i] == ']' {
				d.i++
				return l, nil
			}
			return nil, errSyntax
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
	return nil, errSyntax
}

func (d *decoder) lit(word string, v any) (any, error) {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return nil, errSyntax
	}
	d.i += len(word)
	return v, nil
}

func (d *decoder) number() (any, error) {
	next, _, ok := jsonscan.Number(d.b, d.i)
	if !ok {
		return nil, errSyntax
	}
	n := json.Number(d.b[d.i:next])
	d.i = next
	return n, nil
}

func (d *decoder) str() (string, error) {
	s, next, err := jsonscan.String(d.b, d.i)
	if err != nil {
		return "", errSyntax
	}
	d.i = next
	return s, nil
}
