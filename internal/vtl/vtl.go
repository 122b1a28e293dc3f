// Package vtl renders API Gateway mapping templates: the subset of Apache Velocity (VTL) that API Gateway
// accepts, with its bindings $input, $util, $context and $stageVariables.
//
// No Go Velocity engine fits (docs/architecture.md §11): API Gateway is lenient where stock Velocity is
// strict, and renders a reference without a value as nothing where Velocity prints the reference
// itself. The behaviour follows the mapping template reference,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-mapping-template-reference.html
// and https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html,
// and, where AWS leaves it unsaid, LocalStack's AWS-validated emulation (localstack
// services/apigateway/next_gen/execute_api/template_mapping.py) and Velocity 1.7.
//
// Templates are parsed once (Parse) and rendered many times (Template.Render), each render bounded by
// Limits so that a template cannot loop or grow without end.
package vtl

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// ErrLimit reports a render stopped by one of its Limits.
var ErrLimit = errors.New("template exceeded a limit")

// Limits bound one render.
type Limits struct {
	// MaxOutput is the most bytes a render may produce.
	MaxOutput int
	// MaxWork bounds the work of one render: one unit per node and expression evaluated, plus one per
	// byte of every string built.
	MaxWork int
	// MaxIterations is the most items one #foreach may iterate (API Gateway's #foreach limit is 1000).
	MaxIterations int
}

// DefaultLimits are the limits Render uses when none are given.
var DefaultLimits = Limits{MaxOutput: 1 << 20, MaxWork: 2_000_000, MaxIterations: 1000}

// Template is a parsed mapping template. It is safe for concurrent use.
type Template struct {
	nodes []node
	// size is the template's static text length: the output buffer starts that large.
	size  int
	paths sync.Map // JSONPath text → *jsonPath, compiled on first use
	npath int32
}

// Parse parses a mapping template. Errors are *ParseError with the line and column.
func Parse(src string) (*Template, error) {
	if len(src) > MaxTemplateSize {
		return nil, fmt.Errorf("template is %d bytes, over API Gateway's limit of %d", len(src), MaxTemplateSize)
	}
	p := &parser{src: src}
	nodes, end, _, err := p.parseBlock(0)
	if err != nil {
		return nil, err
	}
	if end != endEOF {
		return nil, p.errAt(p.i, "#%s without #if or #foreach", end)
	}
	size := 0
	for _, n := range nodes {
		if tn, ok := n.(*textNode); ok {
			size += len(tn.s)
		}
	}
	return &Template{nodes: nodes, size: size}, nil
}

// Vars are the values a template sees.
type Vars struct {
	// Body is $input.body: the message, or the integration's answer in a response template.
	Body string
	// Params are $input.params(): "path", "querystring" and "header" maps.
	Params map[string]map[string]string
	// Context is $context (build it with ContextMap or by hand); ContextObject, when set, is used instead,
	// for callers that resolve variables on use.
	Context       *Map
	ContextObject Object
	// StageVariables is $stageVariables.
	StageVariables map[string]string
	// Extra are further top-level variables (for example $integration in response templates).
	Extra map[string]any
}

// Renderer holds the state of one render.
type Renderer struct {
	t       *Template
	lim     Limits
	out     strings.Builder
	work    int
	vars    map[string]any
	regexps map[string]*regexp.Regexp
	input   *input
}

var errBreak = errors.New("#break")
var errStop = errors.New("#stop")

// Render renders the template with vars under the default limits.
func (t *Template) Render(v *Vars) (string, error) {
	return t.RenderLimits(v, DefaultLimits)
}

// RenderLimits renders the template with vars under lim.
func (t *Template) RenderLimits(v *Vars, lim Limits) (string, error) {
	if v == nil {
		v = &Vars{}
	}
	r := &Renderer{t: t, lim: lim, vars: make(map[string]any, 8)}
	r.input = &input{body: v.Body, params: v.Params}
	r.vars["input"] = r.input
	r.vars["util"] = util{}
	r.out.Grow(min(t.size+64, lim.MaxOutput))
	switch {
	case v.ContextObject != nil:
		r.vars["context"] = v.ContextObject
	case v.Context != nil:
		r.vars["context"] = v.Context
	default:
		r.vars["context"] = NewMap()
	}
	r.vars["stageVariables"] = stageVariables(v.StageVariables)
	for k, x := range v.Extra {
		r.vars[k] = x
	}
	err := r.renderNodes(t.nodes)
	if err != nil && !errors.Is(err, errStop) && !errors.Is(err, errBreak) {
		return "", err
	}
	return r.out.String(), nil
}

// stageVariables is $stageVariables: read from the stage's map on use.
type stageVariables map[string]string

func (s stageVariables) Property(name string) (any, bool) {
	v, ok := s[name]
	return v, ok
}

// String prints the variables as Java prints a map: {a=1, b=2}.
func (s stageVariables) String() string {
	m := NewMap()
	for _, k := range sortedKeys(s) {
		m.Put(k, s[k])
	}
	return toString(m)
}

func (s stageVariables) Call(_ *Renderer, name string, args []any) (any, bool, error) {
	switch name {
	case "get":
		if k, ok := argString(args, 0); ok {
			if v, ok := s[k]; ok {
				return v, true, nil
			}
		}
		return nil, true, nil
	case "keySet":
		l := &List{}
		for _, k := range sortedKeys(s) {
			l.Items = append(l.Items, k)
		}
		return l, true, nil
	case "containsKey":
		k, _ := argString(args, 0)
		_, ok := s[k]
		return ok, true, nil
	case "size":
		return int64(len(s)), true, nil
	case "isEmpty":
		return len(s) == 0, true, nil
	}
	return nil, false, nil
}

func (r *Renderer) spend(n int) error {
	r.work += n
	if r.work > r.lim.MaxWork {
		return fmt.Errorf("%w: more than %d units of work", ErrLimit, r.lim.MaxWork)
	}
	return nil
}

func (r *Renderer) write(s string) error {
	if r.out.Len()+len(s) > r.lim.MaxOutput {
		return fmt.Errorf("%w: output over %d bytes", ErrLimit, r.lim.MaxOutput)
	}
	r.out.WriteString(s)
	return nil
}

func (r *Renderer) renderNodes(nodes []node) error {
	for _, n := range nodes {
		if err := r.spend(1); err != nil {
			return err
		}
		switch n := n.(type) {
		case *textNode:
			if err := r.write(n.s); err != nil {
				return err
			}
		case *refNode:
			v, err := r.evalRef(n.ref)
			if err != nil {
				return err
			}
			if v == nil {
				// API Gateway renders a reference without a value as nothing, $x and $!x alike.
				continue
			}
			if s, ok := v.(string); ok {
				if err := r.write(s); err != nil {
					return err
				}
				continue
			}
			s := toString(v)
			if err := r.spend(len(s)); err != nil {
				return err
			}
			if err := r.write(s); err != nil {
				return err
			}
		case *setNode:
			v, err := r.eval(n.val)
			if err != nil {
				return err
			}
			if err := r.assign(n.target, v); err != nil {
				return err
			}
		case *ifNode:
			done := false
			for i, c := range n.conds {
				v, err := r.eval(c)
				if err != nil {
					return err
				}
				if truthy(v) {
					if err := r.renderNodes(n.bodies[i]); err != nil {
						return err
					}
					done = true
					break
				}
			}
			if !done && n.els != nil {
				if err := r.renderNodes(n.els); err != nil {
					return err
				}
			}
		case *foreachNode:
			if err := r.foreach(n); err != nil {
				return err
			}
		case breakNode:
			return errBreak
		case stopNode:
			return errStop
		}
	}
	return nil
}

func (r *Renderer) foreach(n *foreachNode) error {
	lv, err := r.eval(n.list)
	if err != nil {
		return err
	}
	var items []any
	switch x := lv.(type) {
	case *List:
		items = x.Items
	case *Map:
		items = make([]any, len(x.keys))
		for i, k := range x.keys {
			items[i] = x.m[k]
		}
	case nil:
		return nil
	default:
		// Velocity iterates nothing for a value that is not a collection.
		return nil
	}
	if len(items) > r.lim.MaxIterations {
		return fmt.Errorf("%w: #foreach over %d items, more than %d", ErrLimit, len(items), r.lim.MaxIterations)
	}
	// Take a copy: the body may add to the list it walks.
	items = append([]any(nil), items...)
	oldVar, hadVar := r.vars[n.name]
	oldFE, hadFE := r.vars["foreach"]
	oldVC, hadVC := r.vars["velocityCount"]
	fe := &foreachState{n: len(items)}
	r.vars["foreach"] = fe
	defer func() {
		restore(r.vars, n.name, oldVar, hadVar)
		restore(r.vars, "foreach", oldFE, hadFE)
		restore(r.vars, "velocityCount", oldVC, hadVC)
	}()
	for i, it := range items {
		fe.i = i
		r.vars[n.name] = it
		r.vars["velocityCount"] = int64(i + 1)
		if err := r.renderNodes(n.body); err != nil {
			if errors.Is(err, errBreak) {
				return nil
			}
			return err
		}
	}
	return nil
}

func restore(m map[string]any, k string, v any, had bool) {
	if had {
		m[k] = v
	} else {
		delete(m, k)
	}
}

// foreachState is $foreach.
type foreachState struct{ i, n int }

func (f *foreachState) Property(name string) (any, bool) {
	switch name {
	case "hasNext":
		return f.i+1 < f.n, true
	case "index":
		return int64(f.i), true
	case "count":
		return int64(f.i + 1), true
	case "first":
		return f.i == 0, true
	case "last":
		return f.i+1 == f.n, true
	}
	return nil, false
}

func (f *foreachState) Call(_ *Renderer, name string, args []any) (any, bool, error) {
	if len(args) == 0 {
		switch name {
		case "hasNext", "index", "count", "first", "last":
			v, _ := f.Property(name)
			return v, true, nil
		case "isFirst", "isLast", "getIndex", "getCount":
			v, _ := f.Property(lowerFirst(strings.TrimPrefix(strings.TrimPrefix(name, "is"), "get")))
			return v, true, nil
		}
	}
	return nil, false, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (r *Renderer) assign(target *refExpr, v any) error {
	if v == nil {
		// Velocity 1.7 leaves the reference unchanged when the value is null.
		return nil
	}
	if len(target.path) == 0 {
		r.vars[target.name] = v
		return nil
	}
	holder, err := r.evalRefPath(target, len(target.path)-1)
	if err != nil {
		return err
	}
	last := target.path[len(target.path)-1]
	switch last.kind {
	case accProp:
		if m, ok := holder.(*Map); ok {
			m.Put(last.name, v)
		}
	case accIndex:
		idx, err := r.eval(last.index)
		if err != nil {
			return err
		}
		switch h := holder.(type) {
		case *Map:
			h.Put(toString(idx), v)
		case *List:
			if i, ok := toInt(idx); ok && i >= 0 && i < int64(len(h.Items)) {
				h.Items[i] = v
			}
		}
	}
	return nil
}

func (r *Renderer) evalRef(ref *refExpr) (any, error) {
	return r.evalRefPath(ref, len(ref.path))
}

func (r *Renderer) evalRefPath(ref *refExpr, upto int) (any, error) {
	v, ok := r.vars[ref.name]
	if !ok {
		return nil, nil
	}
	for _, a := range ref.path[:upto] {
		if err := r.spend(1); err != nil {
			return nil, err
		}
		if v == nil {
			return nil, nil
		}
		var err error
		switch a.kind {
		case accProp:
			v = property(r, v, a.name)
		case accIndex:
			var idx any
			idx, err = r.eval(a.index)
			if err != nil {
				return nil, err
			}
			v = index(v, idx)
		case accCall:
			args := make([]any, len(a.args))
			for i, e := range a.args {
				args[i], err = r.eval(e)
				if err != nil {
					return nil, err
				}
			}
			v, err = call(r, v, a.name, args)
			if err != nil {
				return nil, fmt.Errorf("$%s.%s: %w", ref.name, a.name, err)
			}
		}
	}
	return v, nil
}

func property(r *Renderer, v any, name string) any {
	switch x := v.(type) {
	case *Map:
		if e, ok := x.m[name]; ok {
			return e
		}
	case Object:
		if e, ok := x.Property(name); ok {
			return e
		}
	}
	// Velocity's getter rules: $x.empty is $x.isEmpty(), $x.class is $x.getClass().
	cap := strings.ToUpper(name[:1]) + name[1:]
	for _, m := range []string{"get" + cap, "is" + cap} {
		if res, err := call(r, v, m, nil); err == nil && res != nil {
			return res
		}
	}
	if m, ok := v.(*Map); ok {
		return m.m[name]
	}
	return nil
}

func index(v, idx any) any {
	switch x := v.(type) {
	case *List:
		i, ok := toInt(idx)
		if !ok || i < 0 || i >= int64(len(x.Items)) {
			return nil
		}
		return x.Items[i]
	case *Map:
		return x.m[toString(idx)]
	case Object:
		e, _ := x.Property(toString(idx))
		return e
	}
	return nil
}

func (r *Renderer) eval(e expr) (any, error) {
	if err := r.spend(1); err != nil {
		return nil, err
	}
	switch e := e.(type) {
	case *litExpr:
		return e.v, nil
	case *refExpr:
		return r.evalRef(e)
	case *strExpr:
		sub := &Renderer{t: r.t, lim: r.lim, work: r.work, vars: r.vars, regexps: r.regexps, input: r.input}
		sub.lim.MaxOutput = r.lim.MaxOutput
		err := sub.renderNodes(e.parts)
		r.work = sub.work
		r.regexps = sub.regexps
		if err != nil && !errors.Is(err, errStop) {
			return nil, err
		}
		s := sub.out.String()
		if err := r.spend(len(s)); err != nil {
			return nil, err
		}
		return s, nil
	case *listExpr:
		l := &List{Items: make([]any, len(e.items))}
		for i, it := range e.items {
			v, err := r.eval(it)
			if err != nil {
				return nil, err
			}
			l.Items[i] = v
		}
		return l, nil
	case *rangeExpr:
		lo, err := r.eval(e.lo)
		if err != nil {
			return nil, err
		}
		hi, err := r.eval(e.hi)
		if err != nil {
			return nil, err
		}
		a, ok1 := toInt(lo)
		b, ok2 := toInt(hi)
		if !ok1 || !ok2 {
			return nil, nil
		}
		n := b - a
		if n < 0 {
			n = -n
		}
		if n >= int64(r.lim.MaxIterations) {
			return nil, fmt.Errorf("%w: range [%d..%d] has more than %d items", ErrLimit, a, b, r.lim.MaxIterations)
		}
		if err := r.spend(int(n) + 1); err != nil {
			return nil, err
		}
		l := &List{Items: make([]any, 0, n+1)}
		step := int64(1)
		if b < a {
			step = -1
		}
		for i := a; ; i += step {
			l.Items = append(l.Items, i)
			if i == b {
				break
			}
		}
		return l, nil
	case *mapExpr:
		m := NewMap()
		for i := range e.keys {
			k, err := r.eval(e.keys[i])
			if err != nil {
				return nil, err
			}
			v, err := r.eval(e.vals[i])
			if err != nil {
				return nil, err
			}
			m.Put(toString(k), v)
		}
		return m, nil
	case *notExpr:
		v, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		return !truthy(v), nil
	case *negExpr:
		v, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case int64:
			return -x, nil
		case float64:
			return -x, nil
		}
		return nil, nil
	case *binExpr:
		return r.evalBinary(e)
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func (r *Renderer) evalBinary(e *binExpr) (any, error) {
	l, err := r.eval(e.l)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "&&":
		if !truthy(l) {
			return false, nil
		}
		rv, err := r.eval(e.r)
		return truthy(rv), err
	case "||":
		if truthy(l) {
			return true, nil
		}
		rv, err := r.eval(e.r)
		return truthy(rv), err
	}
	rv, err := r.eval(e.r)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "==":
		return valuesEqual(l, rv), nil
	case "!=":
		return !valuesEqual(l, rv), nil
	case "<", "<=", ">", ">=":
		var c int
		ln, lok := toNumber(l)
		rn, rok := toNumber(rv)
		switch {
		case lok && rok:
			c = compareNumbers(ln, rn)
		default:
			ls, lsok := l.(string)
			rs, rsok := rv.(string)
			if !lsok || !rsok {
				return false, nil
			}
			c = strings.Compare(ls, rs)
		}
		switch e.op {
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		}
		return c >= 0, nil
	}
	// Arithmetic. "+" with a string concatenates (as Velocity 2 does); other mixes are null.
	if e.op == "+" {
		_, ls := l.(string)
		_, rs := rv.(string)
		if ls || rs {
			s := toString(l) + toString(rv)
			if err := r.spend(len(s)); err != nil {
				return nil, err
			}
			return s, nil
		}
	}
	ln, lok := toNumber(l)
	rn, rok := toNumber(rv)
	if !lok || !rok {
		return nil, nil
	}
	li, lInt := ln.(int64)
	ri, rInt := rn.(int64)
	if lInt && rInt {
		switch e.op {
		case "+":
			return li + ri, nil
		case "-":
			return li - ri, nil
		case "*":
			return li * ri, nil
		case "/":
			if ri == 0 {
				return nil, nil
			}
			return li / ri, nil
		case "%":
			if ri == 0 {
				return nil, nil
			}
			return li % ri, nil
		}
	}
	lf, rf := asFloat(ln), asFloat(rn)
	switch e.op {
	case "+":
		return lf + rf, nil
	case "-":
		return lf - rf, nil
	case "*":
		return lf * rf, nil
	case "/":
		if rf == 0 {
			return nil, nil
		}
		return lf / rf, nil
	case "%":
		if rf == 0 {
			return nil, nil
		}
		return float64(int64(lf) % int64(rf)), nil
	}
	return nil, nil
}
