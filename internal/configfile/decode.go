package configfile

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/resource"
	"go.yaml.in/yaml/v3"
)

// maxExpandedNodes bounds the work done walking the document: anchors and aliases let a small file
// expand exponentially ("billion laughs"). A realistic config, even at the 10 MiB size limit, stays far
// below it.
const maxExpandedNodes = 1 << 20

// extensionPrefix marks top-level fields the decoder ignores, as in Docker Compose files: they give
// anchors shared by several APIs a home outside any one API.
const extensionPrefix = "x-"

// decoder fills a resource.Bundle from a yaml.Node tree strictly: unknown fields, wrong node kinds,
// unparsable scalars and duplicate keys are all errors, and decoding carries on past each one so that a
// single run reports every problem. It records where every field was written, keyed by field path.
type decoder struct {
	file      string
	positions map[string]Pos
	errs      Errors
	// unknownIn holds the field paths of the mappings that have an unknown field: those keys are most
	// often misspellings of a member, whose absence validation would then report again. unknownKeys
	// holds the unknown fields' own paths.
	unknownIn, unknownKeys map[string]bool
	budget                 int
	exhausted              bool
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, positions: make(map[string]Pos), unknownIn: make(map[string]bool), unknownKeys: make(map[string]bool), budget: maxExpandedNodes}
}

func nodePos(n *yaml.Node) Pos {
	return Pos{Line: n.Line, Column: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	var pos Pos
	if n != nil {
		pos = nodePos(n)
	}
	d.errs = append(d.errs, Error{File: d.file, Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
}

// spend takes one node from the budget and reports, once, when it runs out.
func (d *decoder) spend(n *yaml.Node) bool {
	if d.exhausted {
		return false
	}
	d.budget--
	if d.budget < 0 {
		d.exhausted = true
		d.errorf(n, "", "the document expands to more than %d YAML nodes through anchors and aliases; refusing to read it", maxExpandedNodes)
		return false
	}
	return true
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decode fills out, which must be settable, from n; path is out's field path.
func (d *decoder) decode(n *yaml.Node, out reflect.Value, path string) {
	if !d.spend(n) {
		return
	}
	n = resolve(n)
	if isNull(n) {
		return // an empty value leaves the zero value, as encoding/json does with null
	}
	switch out.Kind() {
	case reflect.Pointer:
		v := reflect.New(out.Type().Elem())
		d.decode(n, v.Elem(), path)
		out.Set(v)
	case reflect.Struct:
		if d.expectKind(n, yaml.MappingNode, out.Type(), path) {
			d.decodeStruct(n, out, path)
		}
	case reflect.Slice:
		if !d.expectKind(n, yaml.SequenceNode, out.Type(), path) {
			return
		}
		s := reflect.MakeSlice(out.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := resource.IndexPath(path, i)
			d.positions[p] = nodePos(item)
			d.decode(item, s.Index(i), p)
		}
		out.Set(s)
	case reflect.Map:
		if !d.expectKind(n, yaml.MappingNode, out.Type(), path) {
			return
		}
		m := reflect.MakeMap(out.Type())
		for _, e := range d.entries(n, path) {
			p := resource.FieldPath(path, e.name)
			d.positions[p] = nodePos(e.key)
			v := reflect.New(out.Type().Elem()).Elem()
			d.decode(e.value, v, p)
			m.SetMapIndex(reflect.ValueOf(e.name).Convert(out.Type().Key()), v)
		}
		out.Set(m)
	default:
		d.decodeScalar(n, out, path)
	}
}

// expectKind reports whether n is of kind want, and records an error when it is not.
func (d *decoder) expectKind(n *yaml.Node, want yaml.Kind, t reflect.Type, path string) bool {
	if n.Kind == want {
		return true
	}
	d.errorf(n, path, "expected %s, got %s", describeType(t), describeNode(n))
	return false
}

func (d *decoder) decodeScalar(n *yaml.Node, out reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected %s, got %s", describeType(out.Type()), describeNode(n))
		return
	}
	if isInt(out.Kind()) && n.ShortTag() == "!!float" {
		// The YAML library would truncate 1.5 to 1; a fractional count is a mistake worth reporting.
		d.errorf(n, path, "expected %s, got %s", describeType(out.Type()), describeNode(n))
		return
	}
	v := reflect.New(out.Type())
	if err := safeYAML(func() error { return n.Decode(v.Interface()) }); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			d.errorf(n, path, "expected %s, got %s", describeType(out.Type()), describeNode(n))
		} else {
			d.errorf(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return
	}
	out.Set(v.Elem())
}

func (d *decoder) decodeStruct(n *yaml.Node, out reflect.Value, path string) {
	fields := structFields(out.Type())
	for _, e := range d.entries(n, path) {
		p := resource.FieldPath(path, e.name)
		i, ok := fields.index[e.name]
		if !ok && path == "" && strings.HasPrefix(e.name, extensionPrefix) {
			continue // a top-level extension field: a place to define anchors, otherwise ignored
		}
		if !ok {
			d.errorf(e.key, p, "unknown field %q in %s; %s", e.name, describeType(out.Type()), fields.suggest(e.name))
			d.unknownIn[path], d.unknownKeys[p] = true, true
			continue
		}
		d.positions[p] = nodePos(e.key)
		d.decode(e.value, out.Field(i), p)
	}
}

// entry is one key/value pair of a mapping, after merge keys are expanded.
type entry struct {
	name       string
	key, value *yaml.Node
}

// entries lists the pairs of mapping n with "<<" merge keys expanded the way YAML defines them: keys
// written in the mapping override merged ones, and among merged mappings the first one listed wins.
// Duplicate keys written in the mapping are errors; non-scalar keys are errors.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	var own, merged []entry
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if isMergeKey(k) {
			merged = append(merged, d.mergeEntries(v, path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "mapping keys must be strings, got %s", describeNode(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, resource.FieldPath(path, k.Value), "duplicate key %q (first written at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		own = append(own, entry{name: k.Value, key: k, value: v})
	}
	for _, e := range merged {
		if _, dup := seen[e.name]; dup {
			continue
		}
		seen[e.name] = e.key
		own = append(own, e)
	}
	return own
}

// mergeEntries returns the entries a merge key's value contributes: a mapping, or a list of mappings.
func (d *decoder) mergeEntries(v *yaml.Node, path string) []entry {
	if !d.spend(v) {
		return nil
	}
	v = resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		return d.entries(v, path)
	case yaml.SequenceNode:
		var out []entry
		for _, item := range v.Content {
			item = resolve(item)
			if item.Kind != yaml.MappingNode {
				d.errorf(item, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describeNode(item))
				continue
			}
			out = append(out, d.mergeEntries(item, path)...)
		}
		return out
	default:
		d.errorf(v, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describeNode(v))
		return nil
	}
}

func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.ShortTag() == "!!merge")
}

// safeYAML runs a call into the YAML library and turns a panic inside it into an error: a config file,
// however malformed, must be reported, never crash the process.
func safeYAML(call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the parser could not read this input: %v", r)
		}
	}()
	return call()
}

// fieldSet is the yaml field names of a struct type.
type fieldSet struct {
	index map[string]int
	names []string
}

var fieldSets sync.Map // reflect.Type → *fieldSet

func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{index: make(map[string]int)}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs.index[name] = i
		fs.names = append(fs.names, name)
	}
	fieldSets.Store(t, fs)
	return fs
}

// suggest names the field the author probably meant, or lists the fields allowed.
func (fs *fieldSet) suggest(name string) string {
	best, bestDist := "", 3
	for _, f := range fs.names {
		if strings.EqualFold(f, name) {
			return fmt.Sprintf("did you mean %q?", f)
		}
		if dist := editDistance(strings.ToLower(f), strings.ToLower(name)); dist < bestDist {
			best, bestDist = f, dist
		}
	}
	if best != "" && len(name) > 3 {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "allowed fields are " + strings.Join(fs.names, ", ")
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var typeNames = map[reflect.Type]string{
	reflect.TypeFor[resource.Bundle]():              "the top level (a mapping with an apis list)",
	reflect.TypeFor[resource.API]():                 "an API (a mapping)",
	reflect.TypeFor[resource.Route]():               "a route (a mapping)",
	reflect.TypeFor[resource.RouteResponse]():       "a route response (a mapping)",
	reflect.TypeFor[resource.Integration]():         "an integration (a mapping)",
	reflect.TypeFor[resource.IntegrationResponse](): "an integration response (a mapping)",
	reflect.TypeFor[resource.Stage]():               "a stage (a mapping)",
	reflect.TypeFor[resource.RouteSettings]():       "route settings (a mapping)",
	reflect.TypeFor[resource.ParameterConstraint](): "a parameter constraint (a mapping such as {required: true})",
}

// describeType says in words what a value of type t is written as.
func describeType(t reflect.Type) string {
	if name, ok := typeNames[t]; ok {
		return name
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.Slice:
		return "a list"
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return "a mapping of strings"
		}
		return "a mapping"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return t.String()
	}
}

// describeNode says in words what was written.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if r := []rune(v); len(r) > 40 {
			v = string(r[:40]) + "…"
		}
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", v)
		case "!!int":
			return "the integer " + v
		case "!!float":
			return "the number " + v
		case "!!bool":
			return "the boolean " + v
		default:
			return fmt.Sprintf("%s %q", n.ShortTag(), v)
		}
	case yaml.AliasNode:
		return "an alias"
	default:
		return "an empty document"
	}
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}
