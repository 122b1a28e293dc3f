package openapi

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds how many nodes an import looks at, aliases counted each time they are followed, so a
// small document cannot expand into a large one.
const maxNodes = 200000

// reader walks a parsed definition: typed accessors that report what is wrong where, and the warnings
// collected on the way.
type reader struct {
	seen     int
	warnings []string
}

// fail is how a reader stops an import: Import recovers it into an *Error.
type fail struct{ err *Error }

func (r *reader) failf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	panic(fail{&Error{Line: line, Message: fmt.Sprintf(format, args...)}})
}

func (r *reader) warnf(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

// resolve follows aliases and charges the node to the budget.
func (r *reader) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			r.failf(n, "too many nested aliases")
		}
		n = n.Alias
	}
	r.seen++
	if r.seen > maxNodes {
		r.failf(n, "the definition is too large (more than %d nodes once aliases are followed)", maxNodes)
	}
	return n
}

// member is one key and value of a mapping.
type member struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// members returns a mapping's members in document order; n must be a mapping (what says where).
func (r *reader) members(n *yaml.Node, what string) []member {
	n = r.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		r.failf(n, "%s must be an object", what)
	}
	out := make([]member, 0, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := r.resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			r.failf(k, "%s has a key that is not a string", what)
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			r.failf(k, "%s uses a YAML merge key, which OpenAPI definitions cannot", what)
		}
		if seen[k.Value] {
			r.failf(k, "%s has the key %q twice", what, k.Value)
		}
		seen[k.Value] = true
		out = append(out, member{key: k.Value, keyN: k, value: n.Content[i+1]})
	}
	return out
}

// get returns the member of mapping n called key, or nil.
func (r *reader) get(n *yaml.Node, key string) *yaml.Node {
	n = r.resolveQuiet(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := r.resolveQuiet(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// resolveQuiet follows aliases without charging the budget (lookups, not walks).
func (r *reader) resolveQuiet(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// str returns a scalar as a string (numbers and booleans as written); what names it in errors.
func (r *reader) str(n *yaml.Node, what string) string {
	n = r.resolve(n)
	if n == nil || isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		r.failf(n, "%s must be a string", what)
	}
	return n.Value
}

// boolean returns a boolean scalar.
func (r *reader) boolean(n *yaml.Node, what string) bool {
	n = r.resolve(n)
	if n == nil || isNull(n) {
		return false
	}
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	r.failf(n, "%s must be true or false", what)
	return false
}

// integer returns an integer scalar.
func (r *reader) integer(n *yaml.Node, what string) int {
	n = r.resolve(n)
	if n == nil || isNull(n) {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		if v, err := strconv.Atoi(n.Value); err == nil {
			return v
		}
	}
	r.failf(n, "%s must be an integer", what)
	return 0
}

// strings returns a sequence of scalars as strings.
func (r *reader) strings(n *yaml.Node, what string) []string {
	n = r.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.failf(n, "%s must be an array of strings", what)
	}
	out := make([]string, 0, len(n.Content))
	for i, e := range n.Content {
		out = append(out, r.str(e, fmt.Sprintf("%s[%d]", what, i)))
	}
	return out
}

// stringMap returns a mapping of scalars.
func (r *reader) stringMap(n *yaml.Node, what string) map[string]string {
	ms := r.members(n, what)
	if ms == nil {
		return nil
	}
	out := make(map[string]string, len(ms))
	for _, m := range ms {
		out[m.key] = r.str(m.value, what+"."+m.key)
	}
	return out
}

// sequence returns a sequence's elements.
func (r *reader) sequence(n *yaml.Node, what string) []*yaml.Node {
	n = r.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.failf(n, "%s must be an array", what)
	}
	return n.Content
}
