package vtl

import (
	"fmt"
	"strconv"
	"strings"
)

// The JSONPath of $input.path and $input.json. API Gateway uses Jayway JsonPath: a path that does not
// start with $ is taken as relative to it; a definite path (members and single indexes only) selects
// one value, any other (wildcards, deep scan, slices, unions, filters) a list.

type jpKind int

const (
	jpNames jpKind = iota
	jpIndexes
	jpWildcard
	jpSlice
	jpFilter
)

type jpStep struct {
	kind    jpKind
	deep    bool
	names   []string
	indexes []int
	from    *int
	to      *int
	filter  *jpCond
}

type jpCond struct {
	left  []string // members under @
	op    string   // "" tests existence
	right any
}

type jsonPath struct {
	steps    []jpStep
	definite bool
}

// CompileJSONPath compiles a JSONPath as $input.path accepts it.
func CompileJSONPath(path string) (*jsonPath, error) {
	p := strings.TrimSpace(path)
	if p == "" {
		return nil, fmt.Errorf("JSONPath is empty")
	}
	if p[0] != '$' && p[0] != '@' {
		if p[0] == '[' {
			p = "$" + p
		} else {
			p = "$." + p
		}
	}
	jp := &jsonPath{definite: true}
	i := 1
	bad := func(format string, args ...any) error {
		return fmt.Errorf("JSONPath %q at character %d: %s", path, i+1, fmt.Sprintf(format, args...))
	}
	for i < len(p) {
		deep := false
		switch {
		case strings.HasPrefix(p[i:], ".."):
			deep = true
			i += 2
			jp.definite = false
			if i < len(p) && p[i] == '[' {
				break
			}
			fallthrough
		case p[i] == '.':
			if !deep {
				i++
			}
			if i >= len(p) {
				return nil, bad("a member name must follow '.'")
			}
			if p[i] == '*' {
				jp.steps = append(jp.steps, jpStep{kind: jpWildcard, deep: deep})
				jp.definite = false
				i++
				continue
			}
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			if j == i {
				return nil, bad("a member name must follow '.'")
			}
			jp.steps = append(jp.steps, jpStep{kind: jpNames, deep: deep, names: []string{p[i:j]}})
			i = j
			continue
		}
		if i >= len(p) {
			break
		}
		if p[i] != '[' {
			return nil, bad("unexpected %q", string(p[i]))
		}
		end, step, err := parseBracket(p, i)
		if err != nil {
			return nil, fmt.Errorf("JSONPath %q: %w", path, err)
		}
		step.deep = deep
		if step.kind != jpNames && !(step.kind == jpIndexes && len(step.indexes) == 1) || len(step.names) > 1 {
			jp.definite = false
		}
		jp.steps = append(jp.steps, step)
		i = end
	}
	return jp, nil
}

// parseBracket reads [ ... ] at p[i] and returns the index after it.
func parseBracket(p string, i int) (int, jpStep, error) {
	depth := 0
	j := i
	inQuote := byte(0)
	for ; j < len(p); j++ {
		c := p[j]
		if inQuote != 0 {
			if c == inQuote {
				inQuote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			inQuote = c
		case '[':
			depth++
		case ']':
			depth--
		}
		if depth == 0 {
			break
		}
	}
	if j >= len(p) {
		return 0, jpStep{}, fmt.Errorf("[ at character %d is not closed", i+1)
	}
	in := strings.TrimSpace(p[i+1 : j])
	end := j + 1
	switch {
	case in == "*":
		return end, jpStep{kind: jpWildcard}, nil
	case strings.HasPrefix(in, "?"):
		c, err := parseFilter(strings.TrimSpace(in[1:]))
		if err != nil {
			return 0, jpStep{}, err
		}
		return end, jpStep{kind: jpFilter, filter: c}, nil
	case strings.HasPrefix(in, "'") || strings.HasPrefix(in, "\""):
		var names []string
		for _, part := range splitUnion(in) {
			part = strings.TrimSpace(part)
			if len(part) < 2 || part[0] != part[len(part)-1] || part[0] != '\'' && part[0] != '"' {
				return 0, jpStep{}, fmt.Errorf("bad member name %s in [%s]", part, in)
			}
			names = append(names, part[1:len(part)-1])
		}
		return end, jpStep{kind: jpNames, names: names}, nil
	case strings.Contains(in, ":"):
		a, b, _ := strings.Cut(in, ":")
		st := jpStep{kind: jpSlice}
		if s := strings.TrimSpace(a); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return 0, jpStep{}, fmt.Errorf("bad slice [%s]", in)
			}
			st.from = &n
		}
		if s := strings.TrimSpace(b); s != "" {
			if k := strings.IndexByte(s, ':'); k >= 0 {
				s = strings.TrimSpace(s[:k])
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return 0, jpStep{}, fmt.Errorf("bad slice [%s]", in)
			}
			st.to = &n
		}
		return end, st, nil
	}
	var idx []int
	for _, part := range strings.Split(in, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return 0, jpStep{}, fmt.Errorf("bad index [%s]", in)
		}
		idx = append(idx, n)
	}
	return end, jpStep{kind: jpIndexes, indexes: idx}, nil
}

func splitUnion(s string) []string {
	var parts []string
	q := byte(0)
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '\'' || c == '"'):
			q = c
		case q == 0 && c == ',':
			parts = append(parts, s[last:i])
			last = i + 1
		}
	}
	return append(parts, s[last:])
}

// parseFilter reads (@.a.b OP literal) or (@.a.b).
func parseFilter(s string) (*jpCond, error) {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return nil, fmt.Errorf("filter %q must be ?(...)", s)
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	if !strings.HasPrefix(s, "@") {
		return nil, fmt.Errorf("filter %q must test a member of @", s)
	}
	c := &jpCond{}
	ops := []string{"==", "!=", "<=", ">=", "<", ">"}
	left := s
	for _, op := range ops {
		if k := strings.Index(s, op); k >= 0 {
			c.op = op
			left = strings.TrimSpace(s[:k])
			rs := strings.TrimSpace(s[k+len(op):])
			switch {
			case len(rs) >= 2 && (rs[0] == '\'' || rs[0] == '"') && rs[len(rs)-1] == rs[0]:
				c.right = rs[1 : len(rs)-1]
			case rs == "true":
				c.right = true
			case rs == "false":
				c.right = false
			case rs == "null":
				c.right = nil
			default:
				n, err := strconv.ParseFloat(rs, 64)
				if err != nil {
					return nil, fmt.Errorf("filter value %q is not a string, number, boolean or null", rs)
				}
				c.right = numberFromText(rs)
				_ = n
			}
			break
		}
	}
	left = strings.TrimPrefix(left, "@")
	for _, part := range strings.Split(strings.TrimPrefix(left, "."), ".") {
		if part == "" && left != "" {
			return nil, fmt.Errorf("filter member %q is malformed", "@"+left)
		}
		if part != "" {
			c.left = append(c.left, part)
		}
	}
	return c, nil
}

// eval applies the path to root. found is false when a definite path selects nothing.
func (jp *jsonPath) eval(root any) (v any, found bool) {
	cur := []any{root}
	for _, st := range jp.steps {
		var next []any
		for _, n := range cur {
			if st.deep {
				walkDeep(n, func(x any) { next = st.apply(x, next) })
			} else {
				next = st.apply(n, next)
			}
		}
		cur = next
	}
	if jp.definite {
		if len(cur) == 0 {
			return nil, false
		}
		return cur[0], true
	}
	return &List{Items: cur}, true
}

func walkDeep(n any, f func(any)) {
	f(n)
	switch x := n.(type) {
	case *Map:
		for _, k := range x.keys {
			walkDeep(x.m[k], f)
		}
	case *List:
		for _, e := range x.Items {
			walkDeep(e, f)
		}
	}
}

func (st *jpStep) apply(n any, out []any) []any {
	switch st.kind {
	case jpNames:
		if m, ok := n.(*Map); ok {
			for _, name := range st.names {
				if v, ok := m.m[name]; ok {
					out = append(out, v)
				}
			}
		}
	case jpIndexes:
		if l, ok := n.(*List); ok {
			for _, i := range st.indexes {
				if i < 0 {
					i += len(l.Items)
				}
				if i >= 0 && i < len(l.Items) {
					out = append(out, l.Items[i])
				}
			}
		}
	case jpWildcard:
		switch x := n.(type) {
		case *Map:
			for _, k := range x.keys {
				out = append(out, x.m[k])
			}
		case *List:
			out = append(out, x.Items...)
		}
	case jpSlice:
		if l, ok := n.(*List); ok {
			from, to := 0, len(l.Items)
			if st.from != nil {
				from = *st.from
				if from < 0 {
					from += len(l.Items)
				}
			}
			if st.to != nil {
				to = *st.to
				if to < 0 {
					to += len(l.Items)
				}
			}
			from = max(from, 0)
			to = min(to, len(l.Items))
			for i := from; i < to; i++ {
				out = append(out, l.Items[i])
			}
		}
	case jpFilter:
		var items []any
		switch x := n.(type) {
		case *List:
			items = x.Items
		case *Map:
			// Deep scans apply filters to the members of objects too.
			for _, k := range x.keys {
				items = append(items, x.m[k])
			}
		}
		for _, it := range items {
			if st.filter.match(it) {
				out = append(out, it)
			}
		}
	}
	return out
}

func (c *jpCond) match(it any) bool {
	v := it
	for _, name := range c.left {
		m, ok := v.(*Map)
		if !ok {
			return false
		}
		if v, ok = m.m[name]; !ok {
			return false
		}
	}
	switch c.op {
	case "":
		return true
	case "==":
		return jsonEqual(v, c.right)
	case "!=":
		return !jsonEqual(v, c.right)
	}
	ln, lok := toNumber(v)
	rn, rok := toNumber(c.right)
	var cmp int
	switch {
	case lok && rok:
		cmp = compareNumbers(ln, rn)
	default:
		ls, lsok := v.(string)
		rs, rsok := c.right.(string)
		if !lsok || !rsok {
			return false
		}
		cmp = strings.Compare(ls, rs)
	}
	switch c.op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	}
	return cmp >= 0
}

func jsonEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	an, aok := toNumber(a)
	bn, bok := toNumber(b)
	if aok && bok {
		return compareNumbers(an, bn) == 0
	}
	return a == b
}
