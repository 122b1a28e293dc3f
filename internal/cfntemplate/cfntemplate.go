// Package cfntemplate turns AWS CloudFormation templates — SAM templates, hand-written CloudFormation and
// `cdk synth` output, in YAML (with the short-form tags !Ref, !GetAtt, !Sub, …) or JSON — into the same
// resource.Bundle a Switchboard config file gives, so that an application described for AWS runs on
// Switchboard unchanged.
//
// Every AWS::ApiGatewayV2::* resource of a WebSocket API becomes part of an API in the bundle, and every
// AWS::Serverless::Function and AWS::Lambda::Function a local function whose code is read from the
// template's directory (SAM's CodeUri, or the CDK asset named by the aws:asset:path metadata). Parameters
// (with defaults and overrides), Conditions, Mappings, SAM Globals, pseudo parameters and the intrinsic
// functions are evaluated as CloudFormation does
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html).
// Resources Switchboard does not serve are listed in Template.Notes with what happens to each, and a
// reference to one resolves to a value shaped like the real one (a table's name, a role's ARN).
//
// Identifiers are stable: an API's apiId is 10 characters of [a-z0-9] derived from the stack name and its
// logical ID, its children's ids 7 characters derived the same way, and a function without FunctionName
// gets a name shaped like CloudFormation's ({stack}-{logicalId}-{SUFFIX}), so URLs stay the same from one
// start to the next. Every problem is reported at load, with the file, line and logical ID.
package cfntemplate

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// MaxFileSize is the largest template accepted (CloudFormation's own limit is 1 MB for a template body;
// synthesized templates read from disk can be larger).
const MaxFileSize = 10 << 20

// DefaultAccount is the AWS account ID that AWS::AccountId and ARNs take, the one the gateway uses.
const DefaultAccount = "123456789012"

// Options are what a template is evaluated with: the values of the pseudo parameters and the parameter
// overrides.
type Options struct {
	// Region is AWS::Region; default us-east-1.
	Region string
	// Account is AWS::AccountId; default DefaultAccount.
	Account string
	// StackName is AWS::StackName; default the template's name ("X" for X.template.json, the template's
	// directory name otherwise).
	StackName string
	// Parameters override the templates' parameter defaults (--parameter-overrides).
	Parameters map[string]string
}

// Template is a loaded template: the bundle it declares plus what was not served.
type Template struct {
	// Name is the file name the template was loaded under; errors are reported with it.
	Name string
	// StackName is the AWS::StackName it was evaluated with.
	StackName string
	// Bundle holds the template's APIs, domain names and functions, with defaults applied and validated.
	Bundle *resource.Bundle
	// Notes lists, once, every resource (or part of one) Switchboard does not serve, with what happens
	// to it.
	Notes []Note
	// Tables are the template's DynamoDB tables, which Switchboard creates only when asked to.
	Tables []Table
	// Outputs are the template's outputs, evaluated.
	Outputs []Output
	// Parameters are the names of the parameters the template declares.
	Parameters []string

	// positions maps bundle field paths (resource.FieldError convention) to where they were declared.
	positions map[string]place
}

// Table is one of the template's DynamoDB tables (AWS::DynamoDB::Table, or AWS::Serverless::SimpleTable
// as the SAM transform expands it), for `serve --create-tables`: its name as Ref gives it, and its
// properties with every intrinsic resolved, in AWS::DynamoDB::Table's terms.
type Table struct {
	LogicalID  string
	Name       string
	Properties map[string]any
}

// Note is one resource, or part of one, that Switchboard does not serve, with what happens instead.
type Note struct {
	LogicalID string
	Type      string
	What      string
}

// String formats the note for a log line.
func (n Note) String() string { return n.LogicalID + " (" + n.Type + "): " + n.What }

// Output is one evaluated entry of the template's Outputs.
type Output struct {
	Name  string
	Value string
}

// place is where a bundle element came from.
type place struct {
	line, column int
	resource     string // "Resources.ID"
}

// Load reads the template at path and evaluates it (see Parse); relative code paths are resolved against
// the template's directory.
func Load(path string, opts Options) (*Template, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	if opts.StackName == "" {
		opts.StackName = defaultStackName(path, dir)
	}
	return Parse(path, data, dir, opts)
}

// defaultStackName names the stack after the template: X for cdk.out/X.template.json, else the
// directory that holds the template (the application's name, usually; for the template `sam build`
// writes to APP/.aws-sam/build, APP, so that built and unbuilt templates get the same ids).
func defaultStackName(path, dir string) string {
	base := filepath.Base(path)
	if s, ok := strings.CutSuffix(base, ".template.json"); ok {
		return sanitizeStackName(s)
	}
	if filepath.Base(dir) == "build" && filepath.Base(filepath.Dir(dir)) == ".aws-sam" {
		dir = filepath.Dir(filepath.Dir(dir))
	}
	return sanitizeStackName(filepath.Base(dir))
}

var stackNameRE = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// sanitizeStackName makes s a valid stack name: letters, digits and hyphens, starting with a letter,
// at most 128 characters.
func sanitizeStackName(s string) string {
	s = strings.Trim(stackNameRE.ReplaceAllString(s, "-"), "-")
	if s == "" || !(s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z') {
		s = "stack-" + s
		s = strings.TrimSuffix(s, "-")
	}
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// evaluator holds one template while it is evaluated.
type evaluator struct {
	file string
	dir  string
	opts Options

	params      map[string]any
	paramDecl   map[string]*yaml.Node
	mappings    *yaml.Node
	conditions  map[string]*yaml.Node
	condVals    map[string]bool
	condBusy    map[string]bool
	condFailed  map[string]bool
	resources   map[string]*res
	order       []*res
	globals     *yaml.Node // Globals.Function
	httpGlobals *yaml.Node // Globals.HttpApi

	// depth and steps bound evaluation; maxSteps is a few times the number of nodes in the file, which
	// only aliases that multiply can exceed.
	depth, steps, maxSteps int
	errs                   Errors
	notes                  []Note
	tables                 []Table
}

// res is one entry of Resources.
type res struct {
	id        string
	typ       string
	node      *yaml.Node // the resource's key (its logical ID)
	mapping   *yaml.Node // the resource's mapping
	props     *yaml.Node // Properties (nil when absent)
	metadata  *yaml.Node
	condition string

	name   string // physical name, once resolved
	named  bool
	naming bool
}

// Parse evaluates a template. name is used in errors only; dir is the directory relative code paths
// start from. On failure the error is an Errors listing every problem found, each located in the file.
func Parse(name string, data []byte, dir string, opts Options) (*Template, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = DefaultAccount
	}
	if opts.StackName == "" {
		opts.StackName = "stack"
	}
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Message: fmt.Sprintf("the file is larger than %d bytes (10 MiB); refusing to read it", MaxFileSize)}}
	}
	root, err := parseDocument(data)
	if err != nil {
		return nil, Errors{syntaxError(name, err)}
	}
	if isOpenAPI(root) {
		return parseOpenAPI(name, data, opts)
	}
	e := &evaluator{file: name, dir: dir, opts: opts, params: map[string]any{}, paramDecl: map[string]*yaml.Node{},
		conditions: map[string]*yaml.Node{}, condVals: map[string]bool{}, condBusy: map[string]bool{}, condFailed: map[string]bool{}, resources: map[string]*res{}}
	e.maxSteps = 4*countNodes(root) + 10_000
	t := e.run(root)
	if len(e.errs) > 0 {
		return nil, e.errs.sorted()
	}
	return t, nil
}

// parseDocument parses the single YAML (or JSON) document of a template.
func parseDocument(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// The YAML library panics on some malformed inputs; that is a syntax error for the user.
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("yaml: line %d: the file holds more than one YAML document (---); a template is one document", next.Line)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return nil, nil
}

var syntaxLineRE = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

func syntaxError(name string, err error) Error {
	text := err.Error()
	if m := syntaxLineRE.FindStringSubmatch(text); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Error{File: name, Line: line, Message: "YAML/JSON syntax error: " + m[2]}
	}
	return Error{File: name, Message: "YAML/JSON syntax error: " + strings.TrimPrefix(text, "yaml: ")}
}

// add records an error at node n (nil: the file as a whole) for the named part of the template.
func (e *evaluator) add(n *yaml.Node, where, format string, args ...any) {
	er := Error{File: e.file, Resource: where, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		er.Line, er.Column = n.Line, n.Column
	}
	e.errs = append(e.errs, er)
}

// addErr records an evaluation error, located at its node when it has one, else at fallback.
func (e *evaluator) addErr(err error, fallback *yaml.Node, where string) {
	if errors.Is(err, errReported) {
		return
	}
	var ee *evalError
	if errors.As(err, &ee) {
		if ee.node != nil && ee.node.Line > 0 {
			fallback = ee.node
		}
		e.add(fallback, where, "%s", ee.msg)
		return
	}
	e.add(fallback, where, "%v", err)
}

// sections are the top-level keys of a template.
var sections = map[string]bool{"AWSTemplateFormatVersion": true, "Description": true, "Metadata": true,
	"Parameters": true, "Rules": true, "Mappings": true, "Conditions": true, "Transform": true,
	"Resources": true, "Outputs": true, "Globals": true, "Hooks": true}

// run evaluates the whole template.
func (e *evaluator) run(root *yaml.Node) *Template {
	if root == nil || root.Kind != yaml.MappingNode {
		e.add(root, "", "a template is a mapping with a Resources section")
		return nil
	}
	top := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if !sections[k.Value] {
			e.add(k, "", "unknown top-level section %q; a template has AWSTemplateFormatVersion, Description, Metadata, Parameters, Rules, Mappings, Conditions, Transform, Globals, Resources and Outputs", k.Value)
			continue
		}
		if _, dup := top[k.Value]; dup {
			e.add(k, "", "section %s appears twice", k.Value)
			continue
		}
		top[k.Value] = deref(root.Content[i+1])
	}
	e.transforms(top["Transform"])
	e.mappings = top["Mappings"]
	e.parameters(top["Parameters"])
	var condOrder []string
	for _, kv := range pairs(e, top["Conditions"], "Conditions") {
		e.conditions[kv.key.Value] = kv.val
		condOrder = append(condOrder, kv.key.Value)
	}
	e.readGlobals(top["Globals"])
	if top["Rules"] != nil {
		e.notes = append(e.notes, Note{LogicalID: "Rules", Type: "Rules", What: "not checked: they assert parameter values before a deployment on AWS"})
	}
	if top["Hooks"] != nil {
		e.notes = append(e.notes, Note{LogicalID: "Hooks", Type: "Hooks", What: "not run: they belong to CloudFormation deployments"})
	}
	e.readResources(top["Resources"])
	if len(e.errs) > 0 {
		return nil
	}
	e.checkCycles()
	if e.steps > e.maxSteps {
		e.add(nil, "", "%v", errTooComplex)
	}
	if len(e.errs) > 0 {
		return nil
	}
	e.steps = 0
	for _, name := range condOrder {
		def := e.conditions[name]
		if _, err := e.condition(def, name); err != nil {
			e.addErr(err, def, "Conditions."+name)
		}
	}
	t := &Template{Name: e.file, StackName: e.opts.StackName, positions: map[string]place{}}
	for name := range e.paramDecl {
		t.Parameters = append(t.Parameters, name)
	}
	slices.Sort(t.Parameters)
	t.Bundle = e.build(t)
	t.Outputs = e.outputs(top["Outputs"])
	// Notes in file order: parameters and globals first, then resources as declared.
	index := map[string]int{}
	for i, r := range e.order {
		index[r.id] = i + 1
	}
	slices.SortStableFunc(e.notes, func(a, b Note) int { return index[a.LogicalID] - index[b.LogicalID] })
	t.Notes = e.notes
	t.Tables = e.tables
	return t
}

// countNodes counts the nodes of a document as written (aliases count once).
func countNodes(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	c := 1
	if n.Kind != yaml.AliasNode {
		for _, k := range n.Content {
			c += countNodes(k)
		}
	}
	return c
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

type keyValue struct{ key, val *yaml.Node }

// pairs returns the entries of the mapping n (nil: none), reporting a non-mapping and duplicate keys.
func pairs(e *evaluator, n *yaml.Node, where string) []keyValue {
	n = deref(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		e.add(n, where, "%s must be a mapping", where)
		return nil
	}
	seen := map[string]bool{}
	var out []keyValue
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			e.add(k, where, "%q is declared twice", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, keyValue{k, deref(n.Content[i+1])})
	}
	return out
}

// transforms accepts SAM's transform only.
func (e *evaluator) transforms(n *yaml.Node) {
	if n == nil {
		return
	}
	var names []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		names = []*yaml.Node{n}
	case yaml.SequenceNode:
		names = n.Content
	default:
		e.add(n, "Transform", "Transform must be a name or a list of names")
		return
	}
	for _, t := range names {
		if deref(t).Value != "AWS::Serverless-2016-10-31" {
			e.add(t, "Transform", "transform %q is not supported; Switchboard understands AWS::Serverless-2016-10-31 (SAM) only", deref(t).Value)
		}
	}
}

// parameters resolves every parameter: the override, else the default.
func (e *evaluator) parameters(n *yaml.Node) {
	for _, kv := range pairs(e, n, "Parameters") {
		name := kv.key.Value
		where := "Parameters." + name
		e.paramDecl[name] = kv.key
		decl := map[string]*yaml.Node{}
		for _, p := range pairs(e, kv.val, where) {
			decl[p.key.Value] = p.val
		}
		typ := "String"
		if t := decl["Type"]; t != nil {
			typ = t.Value
		} else {
			e.add(kv.key, where, "the parameter has no Type")
		}
		var value string
		if v, ok := e.opts.Parameters[name]; ok {
			value = v
		} else if d := decl["Default"]; d != nil {
			if d.Kind != yaml.ScalarNode {
				e.add(d, where, "Default must be a string")
				continue
			}
			value = d.Value
		} else {
			e.add(kv.key, where, "parameter %s has no Default and no value was given; pass --parameter-overrides %s=VALUE", name, name)
			continue
		}
		if av := decl["AllowedValues"]; av != nil && av.Kind == yaml.SequenceNode {
			ok := false
			var allowed []string
			for _, a := range av.Content {
				allowed = append(allowed, a.Value)
				ok = ok || a.Value == value
			}
			if !ok {
				e.add(kv.key, where, "value %q is not one of the AllowedValues %s", value, strings.Join(allowed, ", "))
			}
		}
		e.constraints(kv.key, where, decl, typ, value)
		switch {
		case typ == "Number":
			if _, err := strconv.ParseFloat(value, 64); err != nil {
				e.add(kv.key, where, "value %q is not a number (Type: Number)", value)
				continue
			}
			e.params[name] = number(value)
		case typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<"):
			var list []any
			for _, s := range strings.Split(value, ",") {
				list = append(list, strings.TrimSpace(s))
			}
			e.params[name] = list
		default:
			if strings.HasPrefix(typ, "AWS::SSM::Parameter::Value<") {
				e.notes = append(e.notes, Note{LogicalID: name, Type: "Parameter " + typ,
					What: fmt.Sprintf("SSM parameters are not read; the parameter's value is %q (override it with --parameter-overrides)", value)})
			}
			e.params[name] = value
		}
	}
}

// constraints checks a parameter's value against its AllowedPattern, MinLength/MaxLength and
// MinValue/MaxValue, as CloudFormation does before it creates anything.
func (e *evaluator) constraints(at *yaml.Node, where string, decl map[string]*yaml.Node, typ, value string) {
	describe := ""
	if d := decl["ConstraintDescription"]; d != nil && d.Kind == yaml.ScalarNode {
		describe = " (" + d.Value + ")"
	}
	if p := decl["AllowedPattern"]; p != nil && p.Kind == yaml.ScalarNode && typ != "Number" {
		// CloudFormation matches the whole value (Java's String.matches).
		re, err := regexp.Compile("^(?:" + p.Value + ")$")
		switch {
		case err != nil:
			e.add(p, where, "AllowedPattern %q is not a regular expression Switchboard can check: %v", p.Value, err)
		case !re.MatchString(value):
			e.add(at, where, "value %q does not match the AllowedPattern %s%s", value, p.Value, describe)
		}
	}
	bound := func(key string, check func(limit float64) bool, what string) {
		n := decl[key]
		if n == nil || n.Kind != yaml.ScalarNode {
			return
		}
		limit, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			e.add(n, where, "%s %q is not a number", key, n.Value)
			return
		}
		if !check(limit) {
			e.add(at, where, "value %q is %s %s%s", value, what, n.Value, describe)
		}
	}
	length := float64(len([]rune(value)))
	bound("MinLength", func(l float64) bool { return length >= l }, "shorter than the MinLength")
	bound("MaxLength", func(l float64) bool { return length <= l }, "longer than the MaxLength")
	if f, err := strconv.ParseFloat(value, 64); err == nil {
		bound("MinValue", func(l float64) bool { return f >= l }, "below the MinValue")
		bound("MaxValue", func(l float64) bool { return f <= l }, "above the MaxValue")
	}
}

func (e *evaluator) isParameter(name string) bool {
	_, ok := e.params[name]
	return ok
}

// readGlobals keeps SAM's Globals.Function, which applies to every AWS::Serverless::Function.
func (e *evaluator) readGlobals(n *yaml.Node) {
	for _, kv := range pairs(e, n, "Globals") {
		switch kv.key.Value {
		case "Function":
			if kv.val.Kind != yaml.MappingNode {
				e.add(kv.val, "Globals.Function", "Globals.Function must be a mapping of function properties")
				continue
			}
			e.globals = kv.val
		case "HttpApi":
			e.readHTTPGlobals(kv.val)
		case "Api", "SimpleTable", "LayerVersion", "StateMachine", "CapacityProvider":
			e.notes = append(e.notes, Note{LogicalID: "Globals." + kv.key.Value, Type: "Globals",
				What: "not applied: Switchboard serves no resource of that kind"})
		default:
			e.add(kv.key, "Globals", "unknown Globals section %q", kv.key.Value)
		}
	}
}

// httpAPIGlobals are the properties SAM lets Globals.HttpApi set (samtranslator's globals.py), for every
// AWS::Serverless::HttpApi and the implicit ServerlessHttpApi.
var httpAPIGlobals = []string{"Auth", "AccessLogSettings", "StageVariables", "Tags", "CorsConfiguration",
	"DefaultRouteSettings", "Domain", "RouteSettings", "FailOnWarnings", "PropagateTags"}

// readHTTPGlobals keeps Globals.HttpApi, refusing a property SAM does not let it set, as SAM does.
func (e *evaluator) readHTTPGlobals(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		e.add(n, "Globals.HttpApi", "Globals.HttpApi must be a mapping of HttpApi properties")
		return
	}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(httpAPIGlobals, k.Value) {
			e.add(k, "Globals.HttpApi", "%q is not a property Globals.HttpApi can set; it can set %s", k.Value, strings.Join(httpAPIGlobals, ", "))
			ok = false
		}
	}
	if ok {
		e.httpGlobals = n
	}
}

// resourceKeys are the members a resource may have.
var resourceKeys = map[string]bool{"Type": true, "Properties": true, "DependsOn": true, "Condition": true,
	"Metadata": true, "DeletionPolicy": true, "UpdateReplacePolicy": true, "UpdatePolicy": true,
	"CreationPolicy": true}

var logicalIDRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func (e *evaluator) readResources(n *yaml.Node) {
	if n == nil {
		e.add(nil, "", "the template has no Resources section")
		return
	}
	for _, kv := range pairs(e, n, "Resources") {
		id := kv.key.Value
		where := "Resources." + id
		if !logicalIDRE.MatchString(id) {
			e.add(kv.key, where, "logical ID %q must be alphanumeric (A-Z a-z 0-9)", id)
		}
		r := &res{id: id, node: kv.key, mapping: kv.val}
		for _, m := range pairs(e, kv.val, where) {
			switch m.key.Value {
			case "Type":
				r.typ = m.val.Value
			case "Properties":
				r.props = m.val
			case "Metadata":
				r.metadata = m.val
			case "Condition":
				r.condition = m.val.Value
			default:
				if !resourceKeys[m.key.Value] {
					e.add(m.key, where, "unknown resource member %q", m.key.Value)
				}
			}
		}
		if r.typ == "" {
			e.add(kv.key, where, "the resource has no Type")
		}
		if r.props != nil && r.props.Kind != yaml.MappingNode {
			e.add(r.props, where, "Properties must be a mapping")
			r.props = nil
		}
		if r.typ == "AWS::Serverless::Function" && e.globals != nil {
			r.props = mergeGlobals(e.globals, r.props)
		}
		if r.typ == typeSAMHTTPAPI && e.httpGlobals != nil {
			r.props = mergeGlobals(e.httpGlobals, r.props)
		}
		e.resources[id] = r
		e.order = append(e.order, r)
	}
	for _, r := range e.order {
		if r.condition == "" {
			continue
		}
		if _, ok := e.conditions[r.condition]; !ok {
			e.add(r.node, "Resources."+r.id, "condition %q is not declared in Conditions", r.condition)
		}
	}
}

// mergeGlobals applies SAM's Globals.Function (or Globals.HttpApi) to a function's (an HttpApi's)
// properties: the resource's own values win, mappings are merged key by key, lists are the global items
// followed by the resource's.
func mergeGlobals(global, props *yaml.Node) *yaml.Node {
	if props == nil {
		return global
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: props.Line, Column: props.Column}
	own := map[string]*yaml.Node{}
	for i := 0; i+1 < len(props.Content); i += 2 {
		own[props.Content[i].Value] = deref(props.Content[i+1])
	}
	for i := 0; i+1 < len(global.Content); i += 2 {
		k, g := global.Content[i], deref(global.Content[i+1])
		mine, ok := own[k.Value]
		if !ok {
			out.Content = append(out.Content, k, g)
			continue
		}
		if _, _, isCall := intrinsicCall(mine); !isCall {
			switch {
			case g.Kind == yaml.MappingNode && mine.Kind == yaml.MappingNode:
				if _, _, gCall := intrinsicCall(g); !gCall {
					mine = mergeGlobals(g, mine)
				}
			case g.Kind == yaml.SequenceNode && mine.Kind == yaml.SequenceNode:
				merged := *mine
				merged.Content = append(slices.Clip(g.Content), mine.Content...)
				mine = &merged
			}
		}
		out.Content = append(out.Content, k, mine)
		delete(own, k.Value)
	}
	for i := 0; i+1 < len(props.Content); i += 2 {
		if _, left := own[props.Content[i].Value]; left {
			out.Content = append(out.Content, props.Content[i], props.Content[i+1])
		}
	}
	return out
}

// checkCycles reports circular dependencies between resources (through Ref, Fn::GetAtt, Fn::Sub and
// DependsOn), which CloudFormation refuses to create.
func (e *evaluator) checkCycles() {
	deps := map[string][]string{}
	for _, r := range e.order {
		set := map[string]bool{}
		e.collectRefs(r.props, set, 0)
		e.dependsOn(r, set)
		for name := range set {
			if _, ok := e.resources[name]; ok {
				deps[r.id] = append(deps[r.id], name)
			}
		}
		slices.Sort(deps[r.id])
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	reported := false
	var visit func(id string)
	visit = func(id string) {
		color[id] = grey
		stack = append(stack, id)
		for _, d := range deps[id] {
			if reported {
				return
			}
			switch color[d] {
			case grey:
				i := slices.Index(stack, d)
				cycle := append(slices.Clone(stack[i:]), d)
				e.add(e.resources[d].node, "Resources."+d, "circular dependency between resources: %s", strings.Join(cycle, " → "))
				reported = true
				return
			case white:
				visit(d)
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
	}
	for _, r := range e.order {
		if color[r.id] == white && !reported {
			visit(r.id)
		}
	}
}

// dependsOn adds a resource's DependsOn names to set.
func (e *evaluator) dependsOn(r *res, set map[string]bool) {
	// r.node is the key; the resource's mapping is found again through Resources.
	for _, m := range e.resourceMembers(r) {
		if m.key.Value != "DependsOn" {
			continue
		}
		switch m.val.Kind {
		case yaml.ScalarNode:
			set[m.val.Value] = true
		case yaml.SequenceNode:
			for _, c := range m.val.Content {
				set[deref(c).Value] = true
			}
		}
	}
}

// collectRefs adds every resource name n refers to (Ref, Fn::GetAtt, ${…} in Fn::Sub) to set.
func (e *evaluator) collectRefs(n *yaml.Node, set map[string]bool, depth int) {
	n = deref(n)
	e.steps++
	if n == nil || depth > maxDepth || e.steps > e.maxSteps {
		return
	}
	if name, arg, ok := intrinsicCall(n); ok {
		arg = deref(arg)
		switch name {
		case "Ref":
			if arg.Kind == yaml.ScalarNode {
				set[arg.Value] = true
			}
		case "Fn::GetAtt":
			if arg.Kind == yaml.ScalarNode {
				l, _, _ := strings.Cut(arg.Value, ".")
				set[l] = true
			} else if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
				set[deref(arg.Content[0]).Value] = true
			}
		case "Fn::Sub":
			text := arg
			if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
				text = deref(arg.Content[0])
			}
			if text.Kind == yaml.ScalarNode {
				for _, m := range subVarRE.FindAllStringSubmatch(text.Value, -1) {
					l, _, _ := strings.Cut(strings.TrimSpace(m[1]), ".")
					set[l] = true
				}
			}
		}
		if arg.Kind != yaml.ScalarNode {
			e.collectRefs(arg, set, depth+1)
		}
		return
	}
	for _, c := range n.Content {
		e.collectRefs(c, set, depth+1)
	}
}

var subVarRE = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// resourceMembers returns the members of r's mapping.
func (e *evaluator) resourceMembers(r *res) []keyValue {
	parent := r.mapping
	if parent == nil || parent.Kind != yaml.MappingNode {
		return nil
	}
	var out []keyValue
	for i := 0; i+1 < len(parent.Content); i += 2 {
		out = append(out, keyValue{parent.Content[i], deref(parent.Content[i+1])})
	}
	return out
}

// stableID returns n characters of alphabet derived from the SHA-256 of parts, so that the same stack and
// logical ID always give the same identifier.
func stableID(n int, alphabet string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	out := make([]byte, n)
	for i := range n {
		// Two bytes per character keep the bias of the modulo small; a longer id hashes again.
		if i > 0 && i%16 == 0 {
			next := sha256.Sum256(sum)
			sum = next[:]
		}
		v := binary.BigEndian.Uint16(sum[2*(i%16):])
		out[i] = alphabet[int(v)%len(alphabet)]
	}
	return string(out)
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)
