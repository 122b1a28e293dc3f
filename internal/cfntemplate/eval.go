package cfntemplate

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// evalError is an evaluation problem at a node of the template.
type evalError struct {
	node *yaml.Node
	msg  string
}

func (e *evalError) Error() string { return e.msg }

func errAt(n *yaml.Node, format string, args ...any) error {
	return &evalError{node: n, msg: fmt.Sprintf(format, args...)}
}

// Limits that keep a hostile template (aliases that multiply, intrinsics nested thousands deep) from
// exhausting the machine.
const maxDepth = 200

// errReported is returned for a problem that has already been reported (a condition that failed).
var errReported = errors.New("already reported")

var errTooComplex = errors.New("the template is too complex to evaluate (aliases that expand to many times the file's size, or intrinsics nested more than 200 deep)")

// intrinsicNames maps the short-form YAML tags to the intrinsic function they stand for.
var intrinsicNames = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals", "!And": "Fn::And",
	"!Or": "Fn::Or", "!Not": "Fn::Not", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr", "!Transform": "Fn::Transform",
	"!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString", "!Contains": "Fn::Contains",
	"!EachMemberEquals": "Fn::EachMemberEquals", "!EachMemberIn": "Fn::EachMemberIn",
	"!ValueOf": "Fn::ValueOf", "!ValueOfAll": "Fn::ValueOfAll", "!RefAll": "Fn::RefAll",
}

// unsupportedIntrinsics explains the intrinsics Switchboard does not evaluate.
var unsupportedIntrinsics = map[string]string{
	"Fn::ImportValue":      "Fn::ImportValue reads another stack's exports, which a local gateway has no view of; pass the value as a parameter instead (--parameter-overrides)",
	"Fn::Cidr":             "Fn::Cidr (VPC address blocks) is not supported; nothing Switchboard serves needs it",
	"Fn::Transform":        "Fn::Transform runs a CloudFormation macro, which cannot run locally; expand the macro in the template",
	"Fn::Length":           "Fn::Length needs the AWS::LanguageExtensions transform, which Switchboard does not support",
	"Fn::ToJsonString":     "Fn::ToJsonString needs the AWS::LanguageExtensions transform, which Switchboard does not support",
	"Fn::ForEach":          "Fn::ForEach needs the AWS::LanguageExtensions transform, which Switchboard does not support",
	"Fn::Contains":         "Fn::Contains is for a template's Rules only",
	"Fn::EachMemberEquals": "Fn::EachMemberEquals is for a template's Rules only",
	"Fn::EachMemberIn":     "Fn::EachMemberIn is for a template's Rules only",
	"Fn::ValueOf":          "Fn::ValueOf is for a template's Rules only",
	"Fn::ValueOfAll":       "Fn::ValueOfAll is for a template's Rules only",
	"Fn::RefAll":           "Fn::RefAll is for a template's Rules only",
}

// intrinsicCall recognises an intrinsic: a short-form tag, or a mapping with the single key Ref or Fn::*.
// It returns the function's name and its argument node.
func intrinsicCall(n *yaml.Node) (string, *yaml.Node, bool) {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name, ok := intrinsicNames[n.Tag]
		if !ok {
			name = n.Tag // reported as unknown
		}
		arg := *n
		arg.Tag = ""
		if arg.Kind == yaml.ScalarNode {
			arg.Tag = "!!str"
		}
		return name, &arg, true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, n.Content[1], true
		}
	}
	return "", nil, false
}

// eval evaluates a node of the template with every intrinsic resolved.
func (e *evaluator) eval(n *yaml.Node) (any, error) {
	e.depth++
	defer func() { e.depth-- }()
	e.steps++
	if e.depth > maxDepth || e.steps > e.maxSteps {
		return nil, errAt(n, "%v", errTooComplex)
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, errAt(n, "an alias without an anchor")
		}
		return e.eval(n.Alias)
	}
	if name, arg, ok := intrinsicCall(n); ok {
		return e.intrinsic(n, name, arg)
	}
	switch n.Kind {
	case yaml.MappingNode:
		o := newObject()
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			v, err := e.eval(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			if _, drop := v.(noValue); drop {
				continue
			}
			o.set(k.Value, v)
		}
		return o, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := e.eval(c)
			if err != nil {
				return nil, err
			}
			if _, drop := v.(noValue); drop {
				continue
			}
			list = append(list, v)
		}
		return list, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return n.Value, nil
			}
			return b, nil
		case "!!int", "!!float":
			return number(n.Value), nil
		}
		return n.Value, nil
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return e.eval(n.Content[0])
		}
	}
	return nil, nil
}

// evalString evaluates n and requires a string (numbers and booleans are converted, as CloudFormation does).
func (e *evaluator) evalString(n *yaml.Node, what string) (string, error) {
	v, err := e.eval(n)
	if err != nil {
		return "", err
	}
	s, ok := scalarString(v)
	if !ok {
		return "", errAt(n, "%s must be a string, not %s", what, typeName(v))
	}
	return s, nil
}

// args returns the elements of a list argument, which must have between lo and hi of them.
func args(fn string, arg *yaml.Node, lo, hi int) ([]*yaml.Node, error) {
	for arg.Kind == yaml.AliasNode && arg.Alias != nil {
		arg = arg.Alias
	}
	if arg.Kind != yaml.SequenceNode || len(arg.Content) < lo || len(arg.Content) > hi {
		want := strconv.Itoa(lo)
		if hi != lo {
			want = fmt.Sprintf("%d to %d", lo, hi)
		}
		return nil, errAt(arg, "%s takes a list of %s arguments", fn, want)
	}
	out := make([]*yaml.Node, len(arg.Content))
	for i, c := range arg.Content {
		for c.Kind == yaml.AliasNode && c.Alias != nil {
			c = c.Alias
		}
		out[i] = c
	}
	return out, nil
}

// intrinsic evaluates the intrinsic function name with its argument node arg; call is the whole call.
func (e *evaluator) intrinsic(call *yaml.Node, name string, arg *yaml.Node) (any, error) {
	switch name {
	case "Ref":
		ref, err := e.evalString(arg, "Ref's argument")
		if err != nil {
			return nil, err
		}
		return e.ref(call, ref)
	case "Fn::GetAtt":
		var logical, attr string
		if arg.Kind == yaml.ScalarNode {
			var ok bool
			logical, attr, ok = strings.Cut(arg.Value, ".")
			if !ok {
				return nil, errAt(call, "Fn::GetAtt %q: write LogicalId.Attribute (or a list [LogicalId, Attribute])", arg.Value)
			}
		} else {
			as, err := args(name, arg, 2, 2)
			if err != nil {
				return nil, err
			}
			if logical, err = e.evalString(as[0], "Fn::GetAtt's logical ID"); err != nil {
				return nil, err
			}
			if attr, err = e.evalString(as[1], "Fn::GetAtt's attribute"); err != nil {
				return nil, err
			}
		}
		return e.getAtt(call, logical, attr)
	case "Fn::Sub":
		return e.sub(call, arg)
	case "Fn::Join":
		as, err := args(name, arg, 2, 2)
		if err != nil {
			return nil, err
		}
		sep, err := e.evalString(as[0], "Fn::Join's delimiter")
		if err != nil {
			return nil, err
		}
		v, err := e.eval(as[1])
		if err != nil {
			return nil, err
		}
		list, ok := v.([]any)
		if !ok {
			return nil, errAt(as[1], "Fn::Join's second argument must be a list, not %s", typeName(v))
		}
		parts := make([]string, len(list))
		for i, p := range list {
			s, ok := scalarString(p)
			if !ok {
				return nil, errAt(as[1], "Fn::Join: item %d of the list is %s, not a string", i, typeName(p))
			}
			parts[i] = s
		}
		return strings.Join(parts, sep), nil
	case "Fn::Select":
		as, err := args(name, arg, 2, 2)
		if err != nil {
			return nil, err
		}
		is, err := e.evalString(as[0], "Fn::Select's index")
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return nil, errAt(as[0], "Fn::Select's index %q is not a whole number", is)
		}
		v, err := e.eval(as[1])
		if err != nil {
			return nil, err
		}
		list, ok := v.([]any)
		if !ok {
			return nil, errAt(as[1], "Fn::Select's second argument must be a list, not %s", typeName(v))
		}
		if i < 0 || i >= len(list) {
			return nil, errAt(call, "Fn::Select index %d is out of range: the list has %d items", i, len(list))
		}
		return list[i], nil
	case "Fn::Split":
		as, err := args(name, arg, 2, 2)
		if err != nil {
			return nil, err
		}
		sep, err := e.evalString(as[0], "Fn::Split's delimiter")
		if err != nil {
			return nil, err
		}
		if sep == "" {
			return nil, errAt(as[0], "Fn::Split's delimiter is empty")
		}
		s, err := e.evalString(as[1], "Fn::Split's source")
		if err != nil {
			return nil, err
		}
		parts := strings.Split(s, sep)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "Fn::If":
		as, err := args(name, arg, 3, 3)
		if err != nil {
			return nil, err
		}
		cond, err := e.evalString(as[0], "Fn::If's condition name")
		if err != nil {
			return nil, err
		}
		ok, err := e.condition(as[0], cond)
		if err != nil {
			return nil, err
		}
		if ok {
			return e.eval(as[1])
		}
		return e.eval(as[2])
	case "Fn::Equals":
		as, err := args(name, arg, 2, 2)
		if err != nil {
			return nil, err
		}
		a, err := e.eval(as[0])
		if err != nil {
			return nil, err
		}
		b, err := e.eval(as[1])
		if err != nil {
			return nil, err
		}
		return equalValues(a, b), nil
	case "Fn::And", "Fn::Or":
		as, err := args(name, arg, 2, 10)
		if err != nil {
			return nil, err
		}
		// Every operand is evaluated (a mistake in any is reported), as CloudFormation validates them all.
		result := name == "Fn::And"
		for _, a := range as {
			b, err := e.condOperand(a)
			if err != nil {
				return nil, err
			}
			if name == "Fn::And" {
				result = result && b
			} else {
				result = result || b
			}
		}
		return result, nil
	case "Fn::Not":
		as, err := args(name, arg, 1, 1)
		if err != nil {
			return nil, err
		}
		b, err := e.condOperand(as[0])
		if err != nil {
			return nil, err
		}
		return !b, nil
	case "Condition":
		cond, err := e.evalString(arg, "Condition's argument")
		if err != nil {
			return nil, err
		}
		return e.condition(call, cond)
	case "Fn::FindInMap":
		as, err := args(name, arg, 3, 3)
		if err != nil {
			return nil, err
		}
		var keys [3]string
		for i, a := range as {
			if keys[i], err = e.evalString(a, "Fn::FindInMap's argument"); err != nil {
				return nil, err
			}
		}
		return e.findInMap(call, keys)
	case "Fn::Base64":
		s, err := e.evalString(arg, "Fn::Base64's argument")
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::GetAZs":
		region, err := e.evalString(arg, "Fn::GetAZs's argument")
		if err != nil {
			return nil, err
		}
		if region == "" {
			region = e.opts.Region
		}
		return []any{region + "a", region + "b", region + "c"}, nil
	}
	if why, ok := unsupportedIntrinsics[name]; ok {
		return nil, errAt(call, "%s", why)
	}
	return nil, errAt(call, "unknown intrinsic function %s", name)
}

// condOperand evaluates an operand of Fn::And, Fn::Or or Fn::Not: a condition ({Condition: Name}) or an
// intrinsic that yields a boolean.
func (e *evaluator) condOperand(n *yaml.Node) (bool, error) {
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Condition" {
		name, err := e.evalString(n.Content[1], "Condition's argument")
		if err != nil {
			return false, err
		}
		return e.condition(n, name)
	}
	v, err := e.eval(n)
	if err != nil {
		return false, err
	}
	return asBool(n, v)
}

func asBool(n *yaml.Node, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, errAt(n, "a condition must be true or false, not %s", shortValue(v))
}

// equalValues compares two evaluated values the way Fn::Equals does: scalars by their text.
func equalValues(a, b any) bool {
	as, aok := scalarString(a)
	bs, bok := scalarString(b)
	if aok && bok {
		return as == bs
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		return slices.EqualFunc(al, bl, equalValues)
	}
	ao, aok := a.(*object)
	bo, bok := b.(*object)
	if aok && bok {
		if len(ao.keys) != len(bo.keys) {
			return false
		}
		for _, k := range ao.keys {
			bv, ok := bo.vals[k]
			if !ok || !equalValues(ao.vals[k], bv) {
				return false
			}
		}
		return true
	}
	return a == nil && b == nil
}

// condition evaluates the named condition of the Conditions section (once; a cycle is an error).
func (e *evaluator) condition(at *yaml.Node, name string) (bool, error) {
	if v, ok := e.condVals[name]; ok {
		if e.condFailed[name] {
			return false, errReported
		}
		return v, nil
	}
	def, ok := e.conditions[name]
	if !ok {
		return false, errAt(at, "condition %q is not declared in Conditions", name)
	}
	if e.condBusy[name] {
		return false, errAt(at, "condition %q depends on itself (a cycle in Conditions)", name)
	}
	e.condBusy[name] = true
	defer delete(e.condBusy, name)
	v, err := e.condOperand(def)
	if err != nil {
		// Reported once, by whoever asked first; later uses of the condition stay quiet.
		e.condVals[name], e.condFailed[name] = false, true
		return false, err
	}
	e.condVals[name] = v
	return v, nil
}

// findInMap looks up Mappings[keys[0]][keys[1]][keys[2]].
func (e *evaluator) findInMap(at *yaml.Node, keys [3]string) (any, error) {
	n := e.mappings
	for i, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil, errAt(at, "Fn::FindInMap: Mappings has no %s", strings.Join(keys[:i+1], "."))
		}
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == k {
				next = n.Content[j+1]
				break
			}
		}
		if next == nil {
			return nil, errAt(at, "Fn::FindInMap: Mappings has no %s", strings.Join(keys[:i+1], "."))
		}
		for next.Kind == yaml.AliasNode && next.Alias != nil {
			next = next.Alias
		}
		n = next
	}
	return e.eval(n)
}

// sub evaluates Fn::Sub in both forms: a string, or [string, {Var: value, …}].
func (e *evaluator) sub(call, arg *yaml.Node) (any, error) {
	textNode := arg
	vars := map[string]any{}
	if arg.Kind == yaml.SequenceNode {
		as, err := args("Fn::Sub", arg, 2, 2)
		if err != nil {
			return nil, err
		}
		textNode = as[0]
		m := as[1]
		if m.Kind != yaml.MappingNode {
			return nil, errAt(m, "Fn::Sub's second argument must be a mapping of variable names to values")
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			v, err := e.eval(m.Content[i+1])
			if err != nil {
				return nil, err
			}
			vars[m.Content[i].Value] = v
		}
	}
	if textNode.Kind != yaml.ScalarNode {
		return nil, errAt(textNode, "Fn::Sub's string must be a literal string (intrinsics cannot build it)")
	}
	text := textNode.Value
	var b strings.Builder
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			b.WriteString(text)
			break
		}
		b.WriteString(text[:i])
		text = text[i+2:]
		if strings.HasPrefix(text, "!") {
			// ${!Literal} is written as ${Literal}.
			b.WriteString("${")
			text = text[1:]
			continue
		}
		j := strings.IndexByte(text, '}')
		if j < 0 {
			return nil, errAt(call, "Fn::Sub: ${ without a closing }")
		}
		name := strings.TrimSpace(text[:j])
		text = text[j+1:]
		var v any
		var err error
		if val, ok := vars[name]; ok {
			v = val
		} else if logical, attr, ok := strings.Cut(name, "."); ok && !e.isParameter(name) {
			v, err = e.getAtt(call, logical, attr)
		} else {
			v, err = e.ref(call, name)
		}
		if err != nil {
			return nil, err
		}
		s, ok := scalarString(v)
		if !ok {
			if list, isList := v.([]any); isList {
				// A list parameter is written joined with commas, as CloudFormation does.
				parts := make([]string, 0, len(list))
				for _, item := range list {
					if s, ok := scalarString(item); ok {
						parts = append(parts, s)
					}
				}
				s = strings.Join(parts, ",")
			} else {
				return nil, errAt(call, "Fn::Sub: ${%s} is %s, not a string", name, typeName(v))
			}
		}
		b.WriteString(s)
	}
	return b.String(), nil
}
