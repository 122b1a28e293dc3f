package vtl

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxTemplateSize is API Gateway's limit on one mapping template (300 KB).
const MaxTemplateSize = 300 * 1024

// ParseError locates a template that does not parse.
type ParseError struct {
	Line, Col int
	Msg       string
}

// Error formats the position and the problem.
func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

type node interface{}

type textNode struct{ s string }

type refNode struct{ ref *refExpr }

type setNode struct {
	target *refExpr
	val    expr
}

type ifNode struct {
	conds  []expr
	bodies [][]node
	els    []node
}

type foreachNode struct {
	name string
	list expr
	body []node
}

type breakNode struct{}
type stopNode struct{}

type expr interface{}

type litExpr struct{ v any }

// strExpr is a double-quoted string: interpolated at evaluation time.
type strExpr struct{ parts []node }

type listExpr struct{ items []expr }

type rangeExpr struct{ lo, hi expr }

type mapExpr struct{ keys, vals []expr }

type binExpr struct {
	op   string
	l, r expr
}

type notExpr struct{ x expr }

type negExpr struct{ x expr }

type accessKind int

const (
	accProp accessKind = iota
	accCall
	accIndex
)

type accessor struct {
	kind  accessKind
	name  string
	args  []expr
	index expr
}

type refExpr struct {
	name string
	path []accessor
	pos  int
}

type parser struct {
	src string
	i   int
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	line, col := 1, 1
	for k := 0; k < pos && k < len(p.src); k++ {
		if p.src[k] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &ParseError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// block terminators returned by parseBlock.
const (
	endEOF    = ""
	endEnd    = "end"
	endElse   = "else"
	endElseif = "elseif"
)

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

// parseBlock reads nodes until #end, #else, #elseif or the end of the source. For #elseif it returns the
// condition too.
func (p *parser) parseBlock(depth int) ([]node, string, expr, error) {
	if depth > 100 {
		return nil, "", nil, p.errAt(p.i, "directives nested more than 100 deep")
	}
	var nodes []node
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			nodes = append(nodes, &textNode{s: text.String()})
			text.Reset()
		}
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch c {
		case '\\':
			if p.i+1 < len(p.src) && (p.src[p.i+1] == '$' || p.src[p.i+1] == '#') {
				text.WriteByte(p.src[p.i+1])
				p.i += 2
				continue
			}
			text.WriteByte(c)
			p.i++
		case '$':
			start := p.i
			ref, ok, err := p.parseRef(false)
			if err != nil {
				return nil, "", nil, err
			}
			if !ok {
				p.i = start + 1
				text.WriteByte('$')
				continue
			}
			flush()
			nodes = append(nodes, &refNode{ref: ref})
		case '#':
			start := p.i
			if strings.HasPrefix(p.src[p.i:], "##") {
				nl := strings.IndexByte(p.src[p.i:], '\n')
				if nl < 0 {
					p.i = len(p.src)
				} else {
					p.i += nl + 1
				}
				continue
			}
			if strings.HasPrefix(p.src[p.i:], "#*") {
				end := strings.Index(p.src[p.i+2:], "*#")
				if end < 0 {
					return nil, "", nil, p.errAt(start, "comment #* is not closed by *#")
				}
				p.i += 2 + end + 2
				continue
			}
			if strings.HasPrefix(p.src[p.i:], "#[[") {
				end := strings.Index(p.src[p.i+3:], "]]#")
				if end < 0 {
					return nil, "", nil, p.errAt(start, "unparsed block #[[ is not closed by ]]#")
				}
				text.WriteString(p.src[p.i+3 : p.i+3+end])
				p.i += 3 + end + 3
				continue
			}
			name, formal := p.directiveName()
			switch name {
			case "set", "if", "elseif", "foreach":
				n, cond, err := p.parseDirective(name, depth)
				if err != nil {
					return nil, "", nil, err
				}
				if name == "set" {
					trimIndent(&text)
					p.gobble()
				}
				if name == "elseif" {
					flush()
					return nodes, endElseif, cond, nil
				}
				flush()
				nodes = append(nodes, n)
			case "else", "end":
				// Velocity 1.7 eats the rest of the line after #else and #end, not after #{else}, #{end}.
				if formal {
					p.i++
				} else {
					p.gobble()
				}
				flush()
				return nodes, name, nil, nil
			case "break", "stop":
				if formal {
					p.i++
				}
				flush()
				if name == "break" {
					nodes = append(nodes, breakNode{})
				} else {
					nodes = append(nodes, stopNode{})
				}
			case "macro", "define", "parse", "include", "evaluate":
				return nil, "", nil, p.errAt(start, "directive #%s is not supported in API Gateway mapping templates", name)
			default:
				p.i = start + 1
				text.WriteByte('#')
			}
		default:
			j := p.i + 1
			for j < len(p.src) && p.src[j] != '$' && p.src[j] != '#' && p.src[j] != '\\' {
				j++
			}
			text.WriteString(p.src[p.i:j])
			p.i = j
		}
	}
	flush()
	return nodes, endEOF, nil, nil
}

// trimIndent drops the spaces and tabs just before a #set, as Velocity 1.7's lexer does (its
// SET_DIRECTIVE token starts with them).
func trimIndent(text *strings.Builder) {
	s := text.String()
	if t := strings.TrimRight(s, " \t"); len(t) != len(s) {
		text.Reset()
		text.WriteString(t)
	}
}

// gobble consumes the spaces and the newline that follow a directive, as Velocity 1.7's lexer does
// (its END, ELSE and closing RPAREN tokens include them).
func (p *parser) gobble() {
	j := p.i
	for j < len(p.src) && (p.src[j] == ' ' || p.src[j] == '\t') {
		j++
	}
	if j < len(p.src) && p.src[j] == '\n' {
		p.i = j + 1
	} else if j+1 < len(p.src) && p.src[j] == '\r' && p.src[j+1] == '\n' {
		p.i = j + 2
	}
}

// directiveName reads #name or #{name} and leaves p.i after the name (before the closing brace of the
// formal form). It returns "" when what follows # is not a directive.
func (p *parser) directiveName() (string, bool) {
	j := p.i + 1
	formal := false
	if j < len(p.src) && p.src[j] == '{' {
		formal = true
		j++
	}
	k := j
	for k < len(p.src) && p.src[k] >= 'a' && p.src[k] <= 'z' {
		k++
	}
	name := p.src[j:k]
	if formal && (k >= len(p.src) || p.src[k] != '}') {
		return "", false
	}
	switch name {
	case "set", "if", "elseif", "foreach", "else", "end", "break", "stop", "macro", "define", "parse", "include", "evaluate":
	default:
		return "", false
	}
	// #end followed by letters is text (#endif), except through the formal form.
	if !formal && k < len(p.src) && isIdentChar(p.src[k]) {
		return "", false
	}
	p.i = k
	return name, formal
}

func (p *parser) parseDirective(name string, depth int) (node, expr, error) {
	if p.i < len(p.src) && p.src[p.i] == '}' {
		p.i++
	}
	p.skipSpace()
	if p.i >= len(p.src) || p.src[p.i] != '(' {
		return nil, nil, p.errAt(p.i, "#%s needs ( after it", name)
	}
	p.i++
	switch name {
	case "set":
		p.skipSpace()
		if p.i >= len(p.src) || p.src[p.i] != '$' {
			return nil, nil, p.errAt(p.i, "#set needs a reference to assign to")
		}
		ref, ok, err := p.parseRef(true)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, p.errAt(p.i, "#set needs a reference to assign to")
		}
		if n := len(ref.path); n > 0 && ref.path[n-1].kind == accCall {
			return nil, nil, p.errAt(ref.pos, "#set cannot assign to a method call")
		}
		p.skipSpace()
		if p.i >= len(p.src) || p.src[p.i] != '=' {
			return nil, nil, p.errAt(p.i, "#set needs = after the reference")
		}
		p.i++
		val, err := p.parseExpr()
		if err != nil {
			return nil, nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, nil, err
		}
		return &setNode{target: ref, val: val}, nil, nil
	case "if", "elseif":
		cond, err := p.parseExpr()
		if err != nil {
			return nil, nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, nil, err
		}
		if name == "elseif" {
			return nil, cond, nil
		}
		p.gobble()
		n := &ifNode{}
		for {
			body, end, next, err := p.parseBlock(depth + 1)
			if err != nil {
				return nil, nil, err
			}
			n.conds = append(n.conds, cond)
			n.bodies = append(n.bodies, body)
			switch end {
			case endElseif:
				cond = next
				continue
			case endElse:
				els, end2, _, err := p.parseBlock(depth + 1)
				if err != nil {
					return nil, nil, err
				}
				if end2 != endEnd {
					return nil, nil, p.errAt(p.i, "#else is not closed by #end")
				}
				n.els = els
			case endEOF:
				return nil, nil, p.errAt(p.i, "#if is not closed by #end")
			}
			break
		}
		return n, nil, nil
	case "foreach":
		p.skipSpace()
		ref, ok, err := p.parseRef(true)
		if err != nil {
			return nil, nil, err
		}
		if !ok || len(ref.path) > 0 {
			return nil, nil, p.errAt(p.i, "#foreach needs a plain reference such as $item")
		}
		p.skipSpace()
		if !strings.HasPrefix(p.src[p.i:], "in") || p.i+2 >= len(p.src) || isIdentChar(p.src[p.i+2]) {
			return nil, nil, p.errAt(p.i, "#foreach needs 'in' after %s", "$"+ref.name)
		}
		p.i += 2
		list, err := p.parseExpr()
		if err != nil {
			return nil, nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, nil, err
		}
		p.gobble()
		body, end, _, err := p.parseBlock(depth + 1)
		if err != nil {
			return nil, nil, err
		}
		if end != endEnd {
			return nil, nil, p.errAt(p.i, "#foreach is not closed by #end")
		}
		return &foreachNode{name: ref.name, list: list, body: body}, nil, nil
	}
	return nil, nil, p.errAt(p.i, "unknown directive #%s", name)
}

func (p *parser) skipSpace() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) expect(c byte) error {
	p.skipSpace()
	if p.i >= len(p.src) || p.src[p.i] != c {
		return p.errAt(p.i, "expected %q", string(c))
	}
	p.i++
	return nil
}

// parseRef reads a reference at p.i ($x, $!x, ${x}, $!{x} with .prop, .method(args) and [index]). ok is
// false when what follows $ is not a reference; inExpr makes a malformed one an error.
func (p *parser) parseRef(inExpr bool) (*refExpr, bool, error) {
	start := p.i
	j := p.i + 1
	if j < len(p.src) && p.src[j] == '!' {
		j++
	}
	formal := false
	if j < len(p.src) && p.src[j] == '{' {
		formal = true
		j++
	}
	if j >= len(p.src) || !isIdentStart(p.src[j]) {
		if inExpr {
			return nil, false, p.errAt(start, "expected a reference name after $")
		}
		return nil, false, nil
	}
	k := j
	for k < len(p.src) && isIdentChar(p.src[k]) {
		k++
	}
	ref := &refExpr{name: p.src[j:k], pos: start}
	p.i = k
	for p.i < len(p.src) {
		c := p.src[p.i]
		if c == '.' && p.i+1 < len(p.src) && isIdentStart(p.src[p.i+1]) {
			k := p.i + 1
			for k < len(p.src) && isIdentChar(p.src[k]) {
				k++
			}
			name := p.src[p.i+1 : k]
			p.i = k
			if p.i < len(p.src) && p.src[p.i] == '(' {
				p.i++
				args, err := p.parseArgs(')')
				if err != nil {
					return nil, false, err
				}
				ref.path = append(ref.path, accessor{kind: accCall, name: name, args: args})
			} else {
				ref.path = append(ref.path, accessor{kind: accProp, name: name})
			}
			continue
		}
		if c == '[' {
			p.i++
			idx, err := p.parseExpr()
			if err != nil {
				return nil, false, err
			}
			if err := p.expect(']'); err != nil {
				return nil, false, err
			}
			ref.path = append(ref.path, accessor{kind: accIndex, index: idx})
			continue
		}
		break
	}
	if formal {
		if p.i >= len(p.src) || p.src[p.i] != '}' {
			return nil, false, p.errAt(p.i, "reference ${%s is not closed by }", ref.name)
		}
		p.i++
	}
	return ref, true, nil
}

func (p *parser) parseArgs(closer byte) ([]expr, error) {
	var args []expr
	p.skipSpace()
	if p.i < len(p.src) && p.src[p.i] == closer {
		p.i++
		return nil, nil
	}
	for {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
		p.skipSpace()
		if p.i >= len(p.src) {
			return nil, p.errAt(p.i, "expected %q", string(closer))
		}
		if p.src[p.i] == ',' {
			p.i++
			continue
		}
		if p.src[p.i] == closer {
			p.i++
			return args, nil
		}
		return nil, p.errAt(p.i, "expected , or %q", string(closer))
	}
}

func (p *parser) parseExpr() (expr, error) { return p.parseBinary(0, 0) }

var binLevels = [][]string{
	{"||", "or"},
	{"&&", "and"},
	{"==", "!=", "eq", "ne"},
	{"<=", ">=", "<", ">", "le", "ge", "lt", "gt"},
	{"+", "-"},
	{"*", "/", "%"},
}

var wordOps = map[string]string{"or": "||", "and": "&&", "eq": "==", "ne": "!=", "le": "<=", "ge": ">=", "lt": "<", "gt": ">"}

func (p *parser) parseBinary(level, depth int) (expr, error) {
	if depth > 200 {
		return nil, p.errAt(p.i, "expression nested too deep")
	}
	if level == len(binLevels) {
		return p.parseUnary(depth)
	}
	l, err := p.parseBinary(level+1, depth+1)
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		op := ""
		for _, o := range binLevels[level] {
			if strings.HasPrefix(p.src[p.i:], o) {
				if isIdentStart(o[0]) && p.i+len(o) < len(p.src) && isIdentChar(p.src[p.i+len(o)]) {
					continue
				}
				// "<" must not take "<=", "-" must not be a negative number's sign after nothing.
				op = o
				break
			}
		}
		if op == "" {
			return l, nil
		}
		p.i += len(op)
		if w, ok := wordOps[op]; ok {
			op = w
		}
		r, err := p.parseBinary(level+1, depth+1)
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: op, l: l, r: r}
	}
}

func (p *parser) parseUnary(depth int) (expr, error) {
	p.skipSpace()
	if depth > 200 {
		return nil, p.errAt(p.i, "expression nested too deep")
	}
	if p.i < len(p.src) && p.src[p.i] == '!' && !strings.HasPrefix(p.src[p.i:], "!=") {
		p.i++
		x, err := p.parseUnary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x}, nil
	}
	if strings.HasPrefix(p.src[p.i:], "not") && (p.i+3 >= len(p.src) || !isIdentChar(p.src[p.i+3])) {
		p.i += 3
		x, err := p.parseUnary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x}, nil
	}
	if p.i < len(p.src) && p.src[p.i] == '-' && p.i+1 < len(p.src) && !(p.src[p.i+1] >= '0' && p.src[p.i+1] <= '9') {
		p.i++
		x, err := p.parseUnary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &negExpr{x: x}, nil
	}
	return p.parsePrimary(depth)
}

func (p *parser) parsePrimary(depth int) (expr, error) {
	p.skipSpace()
	if p.i >= len(p.src) {
		return nil, p.errAt(p.i, "expected an expression")
	}
	start := p.i
	c := p.src[p.i]
	switch {
	case c == '$':
		ref, _, err := p.parseRef(true)
		if err != nil {
			return nil, err
		}
		return ref, nil
	case c == '"' || c == '\'':
		return p.parseString(c)
	case c == '-' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
		}
		isFloat := false
		if j+1 < len(p.src) && p.src[j] == '.' && p.src[j+1] >= '0' && p.src[j+1] <= '9' {
			isFloat = true
			j++
			for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
				j++
			}
		}
		lit := p.src[p.i:j]
		p.i = j
		if isFloat {
			f, err := strconv.ParseFloat(lit, 64)
			if err != nil {
				return nil, p.errAt(start, "bad number %q", lit)
			}
			return &litExpr{v: f}, nil
		}
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil {
			return nil, p.errAt(start, "bad number %q", lit)
		}
		return &litExpr{v: n}, nil
	case c == '(':
		p.i++
		e, err := p.parseBinary(0, depth+1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		return e, nil
	case c == '[':
		p.i++
		p.skipSpace()
		if p.i < len(p.src) && p.src[p.i] == ']' {
			p.i++
			return &listExpr{}, nil
		}
		first, err := p.parseBinary(0, depth+1)
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if strings.HasPrefix(p.src[p.i:], "..") {
			p.i += 2
			hi, err := p.parseBinary(0, depth+1)
			if err != nil {
				return nil, err
			}
			if err := p.expect(']'); err != nil {
				return nil, err
			}
			return &rangeExpr{lo: first, hi: hi}, nil
		}
		items := []expr{first}
		for {
			p.skipSpace()
			if p.i >= len(p.src) {
				return nil, p.errAt(p.i, "list is not closed by ]")
			}
			if p.src[p.i] == ']' {
				p.i++
				return &listExpr{items: items}, nil
			}
			if p.src[p.i] != ',' {
				return nil, p.errAt(p.i, "expected , or ] in a list")
			}
			p.i++
			e, err := p.parseBinary(0, depth+1)
			if err != nil {
				return nil, err
			}
			items = append(items, e)
		}
	case c == '{':
		p.i++
		m := &mapExpr{}
		p.skipSpace()
		if p.i < len(p.src) && p.src[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			k, err := p.parseBinary(0, depth+1)
			if err != nil {
				return nil, err
			}
			if err := p.expect(':'); err != nil {
				return nil, err
			}
			v, err := p.parseBinary(0, depth+1)
			if err != nil {
				return nil, err
			}
			m.keys = append(m.keys, k)
			m.vals = append(m.vals, v)
			p.skipSpace()
			if p.i >= len(p.src) {
				return nil, p.errAt(p.i, "map is not closed by }")
			}
			if p.src[p.i] == '}' {
				p.i++
				return m, nil
			}
			if p.src[p.i] != ',' {
				return nil, p.errAt(p.i, "expected , or } in a map")
			}
			p.i++
		}
	case isIdentStart(c):
		j := p.i
		for j < len(p.src) && isIdentChar(p.src[j]) {
			j++
		}
		switch p.src[p.i:j] {
		case "true":
			p.i = j
			return &litExpr{v: true}, nil
		case "false":
			p.i = j
			return &litExpr{v: false}, nil
		case "null":
			p.i = j
			return &litExpr{v: nil}, nil
		}
	}
	return nil, p.errAt(start, "unexpected %q in an expression", string(c))
}

// parseString reads a string literal. Single quotes are literal; double quotes are interpolated, and
// inside both a doubled quote stands for one (Velocity 1.7).
func (p *parser) parseString(q byte) (expr, error) {
	start := p.i
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.src) {
			return nil, p.errAt(start, "string is not closed by %c", q)
		}
		c := p.src[p.i]
		if c == q {
			if p.i+1 < len(p.src) && p.src[p.i+1] == q {
				b.WriteByte(q)
				p.i += 2
				continue
			}
			p.i++
			break
		}
		b.WriteByte(c)
		p.i++
	}
	s := b.String()
	if q == '\'' || !strings.ContainsAny(s, "$#") {
		return &litExpr{v: s}, nil
	}
	sub := &parser{src: s}
	nodes, end, _, err := sub.parseBlock(0)
	if err != nil {
		var pe *ParseError
		if asParseError(err, &pe) {
			return nil, p.errAt(start, "in string: %s", pe.Msg)
		}
		return nil, err
	}
	if end != endEOF {
		return nil, p.errAt(start, "in string: #%s without #if or #foreach", end)
	}
	return &strExpr{parts: nodes}, nil
}

func asParseError(err error, target **ParseError) bool {
	pe, ok := err.(*ParseError)
	if ok {
		*target = pe
	}
	return ok
}
