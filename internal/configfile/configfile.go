// Package configfile reads Switchboard's declarative configuration: a YAML file that describes APIs with
// their routes, integrations and stages, using the apigatewayv2 member names, and turns it into a
// resource.Bundle.
//
// The YAML mirrors the Bundle's yaml tags one to one (top level: an apis list). Reading is strict —
// unknown fields, values of the wrong type and duplicate keys are errors — because a typo in a gateway
// config should stop a deploy, not silently drop a route. Every problem is reported with the file, line,
// column and field path, and all problems found are reported together. The defaults AWS fills in are
// applied (resource.ApplyDefaults) and the result is checked (resource.Validate), so a File that Parse
// returns holds a Bundle that is ready to compile. Anchors, aliases and merge keys (<<) work as in any
// YAML file; top-level fields whose names start with "x-" are ignored, so that anchors shared by several
// APIs can be defined there.
package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/resource"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest config file accepted. It keeps a mistaken path (a log file, a disk image)
// from exhausting memory; real configs are a few kilobytes.
const MaxFileSize = 10 << 20

// File is a parsed config file: the bundle plus where each field was written.
type File struct {
	// Name is the name the file was parsed under; errors are reported with it.
	Name string
	// Bundle is the configuration, with defaults applied and validated.
	Bundle *resource.Bundle

	// positions maps field paths (resource.FieldError convention) to where the field's key, or the list
	// item, was written.
	positions map[string]Pos
}

// Load reads the file at path and parses it (see Parse); errors are reported under path.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit so that Parse sees an oversized file as oversized.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	file, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	// Function handlers are relative to the config file, so a config and its handlers move together.
	dir := filepath.Dir(path)
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) && !strings.Contains(*p, "://") {
			*p = filepath.Join(dir, *p)
		}
	}
	// A handler string (node, python) is not a path; codeUri is.
	for i := range file.Bundle.Functions {
		fn := &file.Bundle.Functions[i]
		if lang, _ := resource.RuntimeLanguage(fn.Runtime); lang == resource.LanguageExecutable {
			rel(&fn.Handler)
		}
		rel(&fn.CodeURI)
	}
	if errs := file.checkFunctionCode(); len(errs) > 0 {
		return nil, errs
	}
	// So are custom domains' certificate, key and truststore files.
	for i := range file.Bundle.DomainNames {
		d := &file.Bundle.DomainNames[i]
		for j := range d.DomainNameConfigurations {
			rel(&d.DomainNameConfigurations[j].CertificateFile)
			rel(&d.DomainNameConfigurations[j].PrivateKeyFile)
		}
		if d.MutualTLSAuthentication != nil {
			if u, ok := strings.CutPrefix(d.MutualTLSAuthentication.TruststoreURI, "file://"); ok {
				d.MutualTLSAuthentication.TruststoreURI = u
			}
			rel(&d.MutualTLSAuthentication.TruststoreURI)
		}
	}
	return file, nil
}

// noAPIs explains an empty file.
const noAPIs = "no apis declared; the file needs an apis list with at least one API, or apis: [] when the APIs come from the control plane"

// Parse decodes a config file, applies the defaults AWS fills in and validates the result. name is used
// in error messages only. On failure the error is an Errors listing every problem found, each located in
// the file; YAML syntax errors stop parsing at the first one.
//
// An unknown field does not hide the file's other problems: validation still runs, and only the errors
// about members missing from a mapping that has an unknown field are left out (the unknown key is most
// often the misspelt member: "routekey" for routeKey). Validation is skipped for an API with other
// decoding errors (wrong types, unparsable values): with those values missing, its validation errors
// would mostly be echoes of the decoding ones.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Message: fmt.Sprintf("the file is larger than %d bytes (10 MiB); refusing to read it", MaxFileSize)}}
	}
	root, errs := parseYAML(name, data)
	if errs != nil {
		return nil, errs
	}

	d := newDecoder(name)
	var b resource.Bundle
	if root != nil {
		d.positions[""] = nodePos(root)
		d.decode(root, reflect.ValueOf(&b).Elem(), "")
	}
	f := &File{Name: name, Bundle: &b, positions: d.positions}
	if d.exhausted {
		return nil, truncateErrors(d.errs)
	}
	// A file that declares nothing is a mistake; "apis: []" (APIs come from the control plane) is not.
	if len(d.errs) == 0 && reflect.ValueOf(b).IsZero() {
		pos, _ := f.Position("apis")
		return nil, Errors{{File: name, Pos: pos, Message: noAPIs}}
	}

	twoWayByDefault(&b)
	resource.ApplyDefaults(&b)
	errs = d.errs
	broken := make(map[string]bool) // "apis[N]" of APIs with decoding errors other than unknown fields
	for _, e := range d.errs {
		if api, ok := apiPrefix(e.Path); ok && !d.unknownKeys[e.Path] {
			broken[api] = true
		}
	}
	for _, fe := range resource.Validate(&b) {
		if api, ok := apiPrefix(fe.Path); ok && broken[api] {
			continue
		}
		if _, present := d.positions[fe.Path]; !present && d.unknownIn[parentPath(fe.Path)] {
			continue // a missing member beside an unknown field: reported as the unknown field
		}
		errs = append(errs, f.locate(fe))
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, truncateErrors(errs)
	}
	return f, nil
}

// maxReportedErrors bounds the errors Parse reports: past a few hundred nobody reads them, and a file
// whose aliases repeat one mistake could otherwise produce millions.
const maxReportedErrors = 1000

func truncateErrors(es Errors) Errors {
	if len(es) <= maxReportedErrors {
		return es
	}
	more := len(es) - maxReportedErrors
	es = es[:maxReportedErrors:maxReportedErrors]
	return append(es, Error{File: es[0].File, Message: fmt.Sprintf("%d more problems not shown", more)})
}

// parentPath returns the path of the mapping that holds the member at path ("apis[0].routes[1]" for
// "apis[0].routes[1].routeKey", "" for a top-level member). Paths into map entries whose keys hold dots
// give a prefix that names no mapping, which is harmless where it is used.
func parentPath(path string) string {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return ""
	}
	return path[:i]
}

var apiPathPattern = regexp.MustCompile(`^apis\[\d+\]`)

// apiPrefix returns the "apis[N]" that path starts with.
func apiPrefix(path string) (string, bool) {
	p := apiPathPattern.FindString(path)
	return p, p != ""
}

var syntaxErrorPattern = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// parseYAML returns the top node of the only document in data, nil for an empty document, or the syntax
// error, located as well as can be done (see syntaxError).
func parseYAML(name string, data []byte) (*yaml.Node, Errors) {
	root, extra, err := decodeDocuments(data)
	switch {
	case err != nil:
		return nil, Errors{syntaxError(name, data, err)}
	case extra != nil:
		return nil, Errors{{File: name, Pos: nodePos(extra), Message: "the file holds more than one YAML document (---); put every API in the apis list of a single document"}}
	}
	return root, nil
}

// decodeDocuments parses the first document of data and peeks at a second one. root is nil for an empty
// document; extra is the second document when there is one.
func decodeDocuments(data []byte) (root, extra *yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err = safeYAML(func() error { return dec.Decode(&doc) })
	if errors.Is(err, io.EOF) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var next yaml.Node
	switch err := safeYAML(func() error { return dec.Decode(&next) }); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, nil, err
	default:
		extra = &next
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	return root, extra, nil
}

// maxRelocateSize bounds the size of files whose syntax errors are relocated (see syntaxError).
const maxRelocateSize = 1 << 20

// syntaxError locates a YAML syntax error. The YAML library reports only a line, and for most parser
// errors it is the (zero-based) line where the enclosing block starts rather than where the problem is,
// which sends the reader to the wrong place. So, for files up to maxRelocateSize, the line is found again
// by bisection: the first line such that the text up to and including it fails with the same message.
// The library's line is kept when bisection finds nothing.
func syntaxError(name string, data []byte, err error) Error {
	line, msg := splitSyntaxError(err)
	if len(data) <= maxRelocateSize {
		if l := firstFailingLine(data, msg); l > 0 {
			line = l
		}
	}
	return Error{File: name, Pos: Pos{Line: line}, Message: "YAML syntax error: " + msg}
}

// splitSyntaxError separates the line number, if any, from a YAML library error message.
func splitSyntaxError(err error) (int, string) {
	text := err.Error()
	if m := syntaxErrorPattern.FindStringSubmatch(text); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, strings.TrimPrefix(text, "yaml: ")
}

// firstFailingLine returns the smallest n such that the first n lines of data fail to parse with msg,
// or 0.
func firstFailingLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	fails := func(n int) bool {
		_, _, err := decodeDocuments(bytes.Join(lines[:n], nil))
		if err == nil {
			return false
		}
		_, m := splitSyntaxError(err)
		return m == msg
	}
	n := sort.Search(len(lines), func(i int) bool { return fails(i + 1) })
	if n == len(lines) {
		return 0
	}
	return n + 1
}

// Position returns where the field at path was written, in resource.FieldError path convention. When
// the field itself is not in the file — a required member left out, a member filled in by defaults — it
// falls back to the nearest enclosing field that is, so that the error points at the mapping the member
// belongs in. The result is false only when no enclosing field is known either (an empty file).
func (f *File) Position(path string) (Pos, bool) {
	for {
		if pos, ok := f.positions[path]; ok {
			return pos, true
		}
		if path == "" {
			return Pos{}, false
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

// Locate turns resource.FieldErrors — from Validate, or from a later compile step that names fields the
// same way — into Errors located in this file, in file order. Any other error is returned prefixed with
// the file name; nil stays nil.
func (f *File) Locate(err error) error {
	if err == nil {
		return nil
	}
	fes, ok := resource.AsFieldErrors(err)
	if !ok || len(fes) == 0 {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	es := make(Errors, 0, len(fes))
	for _, fe := range fes {
		es = append(es, f.locate(fe))
	}
	sortErrors(es)
	return es
}

func (f *File) locate(fe *resource.FieldError) Error {
	pos, _ := f.Position(fe.Path)
	return Error{File: f.Name, Pos: pos, Path: fe.Path, Message: fe.Message}
}

// twoWayByDefault gives a route that lists routeResponses but no routeResponseSelectionExpression the
// only value a WebSocket API allows, $default. This is a convenience of the file format, not AWS's: AWS
// needs both to make a route two-way, and asking a config author to write $default twice only invites
// mistakes. The control plane does not do it.
func twoWayByDefault(b *resource.Bundle) {
	for i := range b.APIs {
		for j := range b.APIs[i].Routes {
			if r := &b.APIs[i].Routes[j]; len(r.RouteResponses) > 0 && r.RouteResponseSelectionExpression == "" {
				r.RouteResponseSelectionExpression = resource.RouteResponseKeyDefault
			}
		}
	}
}
