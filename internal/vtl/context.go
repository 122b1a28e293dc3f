package vtl

import "strings"

// ContextMap builds $context from flat variables: "identity.sourceIp" becomes $context.identity.sourceIp.
// Values stay strings, as API Gateway stringifies authorizer context values.
func ContextMap(flat map[string]string) *Map {
	root := NewMap()
	for _, k := range sortedKeys(flat) {
		m := root
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m.m[p].(*Map)
			if !ok {
				sub = NewMap()
				m.Put(p, sub)
			}
			m = sub
		}
		m.Put(parts[len(parts)-1], flat[k])
	}
	return root
}
