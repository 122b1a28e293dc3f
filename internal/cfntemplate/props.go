package cfntemplate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// props reads the evaluated properties of one resource (or one nested property), reporting wrong types
// at the property's line and keeping track of what was read so that the rest can be reported.
type props struct {
	e     *evaluator
	where string     // "Resources.ID"
	raw   *yaml.Node // the mapping as written, for positions (nil for computed values)
	at    *yaml.Node // where to report problems with no property of their own
	vals  *object
	used  map[string]bool
	path  string // "TlsConfig." for nested readers
	bad   bool
}

// properties evaluates a resource's Properties; false when they do not evaluate (reported).
func (e *evaluator) properties(r *res) (*props, bool) {
	p := &props{e: e, where: "Resources." + r.id, raw: r.props, at: r.node, vals: newObject(), used: map[string]bool{}}
	if r.props == nil {
		return p, true
	}
	v, err := e.eval(r.props)
	if err != nil {
		e.addErr(err, r.node, p.where)
		return nil, false
	}
	o, ok := v.(*object)
	if !ok {
		e.add(r.props, p.where, "Properties must be a mapping, not %s", typeName(v))
		return nil, false
	}
	p.vals = o
	return p, true
}

// pos is where property k was written, else the resource.
func (p *props) pos(k string) *yaml.Node {
	if n := propertyKey(p.raw, k); n != nil {
		return n
	}
	return p.at
}

func (p *props) fail(k, format string, args ...any) {
	p.bad = true
	msg := p.path + k + ": " + fmt.Sprintf(format, args...)
	p.e.add(p.pos(k), p.where, "%s", msg)
}

func (p *props) get(k string) (any, bool) {
	p.used[k] = true
	v, ok := p.vals.get(k)
	if ok && v == nil {
		return nil, false
	}
	return v, ok
}

func (p *props) has(k string) bool {
	_, ok := p.vals.get(k)
	return ok
}

// str reads a string property ("" when absent).
func (p *props) str(k string) string {
	v, ok := p.get(k)
	if !ok {
		return ""
	}
	s, ok := scalarString(v)
	if !ok {
		p.fail(k, "must be a string, not %s", typeName(v))
	}
	return s
}

// required reads a string property that must be present.
func (p *props) required(k string) string {
	if !p.has(k) {
		p.used[k] = true
		p.fail(k, "is required")
		return ""
	}
	return p.str(k)
}

func (p *props) boolean(k string) bool {
	v, ok := p.get(k)
	if !ok {
		return false
	}
	b, err := asBool(nil, v)
	if err != nil {
		p.fail(k, "must be true or false, not %s", shortValue(v))
	}
	return b
}

func (p *props) integer(k string) int {
	v, ok := p.get(k)
	if !ok {
		return 0
	}
	s, ok := scalarString(v)
	n, err := strconv.Atoi(s)
	if !ok || err != nil {
		p.fail(k, "must be a whole number, not %s", shortValue(v))
	}
	return n
}

func (p *props) float(k string) float64 {
	v, ok := p.get(k)
	if !ok {
		return 0
	}
	s, ok := scalarString(v)
	f, err := strconv.ParseFloat(s, 64)
	if !ok || err != nil {
		p.fail(k, "must be a number, not %s", shortValue(v))
	}
	return f
}

func (p *props) strList(k string) []string {
	v, ok := p.get(k)
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		if s, isStr := scalarString(v); isStr {
			return []string{s}
		}
		p.fail(k, "must be a list of strings, not %s", typeName(v))
		return nil
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := scalarString(item)
		if !ok {
			p.fail(k, "item %d must be a string, not %s", i, typeName(item))
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *props) strMap(k string) map[string]string {
	v, ok := p.get(k)
	if !ok {
		return nil
	}
	o, ok := v.(*object)
	if !ok {
		p.fail(k, "must be a mapping of strings, not %s", typeName(v))
		return nil
	}
	out := make(map[string]string, len(o.keys))
	for _, key := range o.keys {
		s, ok := scalarString(o.vals[key])
		if !ok {
			p.fail(k, "%s must be a string, not %s", key, typeName(o.vals[key]))
			continue
		}
		out[key] = s
	}
	return out
}

// constraints reads a map of parameter names to {Required: bool} (or to a bare boolean).
func (p *props) constraints(k string) map[string]resource.ParameterConstraint {
	v, ok := p.get(k)
	if !ok {
		return nil
	}
	o, ok := v.(*object)
	if !ok {
		p.fail(k, "must be a mapping of parameter names to {Required: true|false}, not %s", typeName(v))
		return nil
	}
	out := make(map[string]resource.ParameterConstraint, len(o.keys))
	for _, key := range o.keys {
		val := o.vals[key]
		if c, isObj := val.(*object); isObj {
			val, _ = c.get("Required")
		}
		b, err := asBool(nil, val)
		if err != nil {
			p.fail(k, "%s: want {Required: true|false}, not %s", key, shortValue(val))
			continue
		}
		out[key] = resource.ParameterConstraint{Required: b}
	}
	return out
}

// sub returns a reader for the nested mapping property k (nil when absent).
func (p *props) sub(k string) *props {
	v, ok := p.get(k)
	if !ok {
		return nil
	}
	o, ok := v.(*object)
	if !ok {
		p.fail(k, "must be a mapping, not %s", typeName(v))
		return nil
	}
	raw := propertyNode(p.raw, k)
	if raw != nil && raw.Kind != yaml.MappingNode {
		raw = nil
	}
	return &props{e: p.e, where: p.where, raw: raw, at: p.pos(k), vals: o, used: map[string]bool{}, path: p.path + k + "."}
}

// subList returns readers for the items of the list property k.
func (p *props) subList(k string) []*props {
	v, ok := p.get(k)
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		p.fail(k, "must be a list, not %s", typeName(v))
		return nil
	}
	var out []*props
	for i, item := range list {
		o, ok := item.(*object)
		if !ok {
			p.fail(k, "item %d must be a mapping, not %s", i, typeName(item))
			continue
		}
		out = append(out, &props{e: p.e, where: p.where, at: p.pos(k), vals: o, used: map[string]bool{}, path: p.path + k + "[" + strconv.Itoa(i) + "]."})
	}
	return out
}

// finish reports every property that was not read: as an error, or, when ignored has it, as a note
// saying why nothing is done with it. It returns false when the resource had errors.
func (p *props) finish(typ string, ignored map[string]string) bool {
	var noted []string
	for _, k := range p.vals.keys {
		if p.used[k] {
			continue
		}
		if why, ok := ignored[k]; ok {
			noted = append(noted, k+" ("+why+")")
			continue
		}
		p.fail(k, "is not a property of %s that Switchboard knows", typ)
	}
	if len(noted) > 0 {
		slices.Sort(noted)
		p.e.notes = append(p.e.notes, Note{LogicalID: strings.TrimPrefix(p.where, "Resources."), Type: typ,
			What: "not applied: " + p.path + strings.Join(noted, ", "+p.path)})
	}
	return !p.bad
}
