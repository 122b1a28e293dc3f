package controlapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// modelInput is the input shape of CreateModel and UpdateModel. contentType has no default: AWS reports
// it only when it was given.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-models.html
type modelInput struct {
	ContentType string `json:"contentType"`
	Description string `json:"description"`
	Name        string `json:"name"`
	Schema      string `json:"schema"`
}

// modelOutput is the output shape of CreateModel, GetModel and UpdateModel, and an item of GetModels.
type modelOutput struct {
	ContentType string `json:"contentType,omitempty"`
	Description string `json:"description,omitempty"`
	ModelID     string `json:"modelId"`
	Name        string `json:"name"`
	Schema      string `json:"schema,omitempty"`
}

// modelOutputOf is what the control plane reports for m.
func modelOutputOf(m *resource.Model) modelOutput {
	return modelOutput{ContentType: m.ContentType, Description: m.Description, ModelID: m.ModelID, Name: m.Name, Schema: m.Schema}
}

// apply copies the input's members onto m.
func (in *modelInput) apply(m *resource.Model) {
	m.ContentType = in.ContentType
	m.Description = in.Description
	m.Name = in.Name
	m.Schema = in.Schema
}

// check checks a model's members: a name, and a schema that is a JSON object (a JSON Schema draft 4
// document). resource.Validate (through checkAPI) checks the name's characters.
func (in *modelInput) check() error {
	if in.Name == "" {
		return badRequest("name is required")
	}
	if in.Schema == "" {
		return badRequest("schema is required: a JSON Schema (draft 4) document")
	}
	if !json.Valid([]byte(in.Schema)) {
		return badRequest("schema is not valid JSON; it must be a JSON Schema (draft 4) document")
	}
	if s := strings.TrimLeft(in.Schema, " \t\r\n"); !strings.HasPrefix(s, "{") {
		return badRequest("schema must be a JSON object: a JSON Schema (draft 4) document")
	}
	return nil
}

// modelFor returns a's model with id, or the NotFoundException AWS answers.
func modelFor(a *catalog.API, id string) (*resource.Model, error) {
	for i := range a.Models {
		if a.Models[i].ModelID == id {
			return &a.Models[i], nil
		}
	}
	return nil, notFound("Model", "Invalid Model identifier specified %s", id)
}

// checkModelName refuses a name another model of a has.
func checkModelName(a *catalog.API, m *resource.Model) error {
	for _, other := range a.Models {
		if other.Name == m.Name && other.ModelID != m.ModelID {
			return conflict("Model name %s already exists for this API", m.Name)
		}
	}
	return nil
}

// modelInUse refuses to take the model called name away while a route or route response names it.
func modelInUse(a *catalog.API, name string) error {
	for _, r := range a.Routes {
		for _, key := range sortedMapKeys(r.RequestModels) {
			if r.RequestModels[key] == name {
				return conflict("Model %s is used by the requestModels of route %s (routeId %s); change the route first", name, r.RouteKey, r.RouteID)
			}
		}
		for _, rr := range r.RouteResponses {
			for _, key := range sortedMapKeys(rr.ResponseModels) {
				if rr.ResponseModels[key] == name {
					return conflict("Model %s is used by the responseModels of route %s (routeId %s); change the route response first", name, r.RouteKey, r.RouteID)
				}
			}
		}
	}
	return nil
}

// createModel is CreateModel.
func (s *server) createModel(w http.ResponseWriter, r *http.Request) error {
	var in modelInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	var out modelOutput
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		if isHTTP(&a.API) {
			return wsOnlyResources("Models")
		}
		m := resource.Model{ModelID: a.NewChildID()}
		in.apply(&m)
		if err := checkModelName(a, &m); err != nil {
			return err
		}
		a.Models = append(a.Models, m)
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = modelOutputOf(&a.Models[len(a.Models)-1])
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getModels is GetModels.
func (s *server) getModels(w http.ResponseWriter, r *http.Request) error {
	var items []modelOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		for i := range a.Models {
			items = append(items, modelOutputOf(&a.Models[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getModel is GetModel.
func (s *server) getModel(w http.ResponseWriter, r *http.Request) error {
	var out modelOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		m, err := modelFor(a, r.PathValue("modelId"))
		if err != nil {
			return err
		}
		out = modelOutputOf(m)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateModel is UpdateModel. A model that routes name cannot be renamed: they refer to it by name.
func (s *server) updateModel(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out modelOutput
	err = s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		m, err := modelFor(a, r.PathValue("modelId"))
		if err != nil {
			return err
		}
		in := modelInput{ContentType: m.ContentType, Description: m.Description, Name: m.Name, Schema: m.Schema}
		if _, err := decodePatch(data, &in); err != nil {
			return err
		}
		if err := in.check(); err != nil {
			return err
		}
		if in.Name != m.Name {
			if err := modelInUse(a, m.Name); err != nil {
				return err
			}
		}
		next := *m
		in.apply(&next)
		if err := checkModelName(a, &next); err != nil {
			return err
		}
		*m = next
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = modelOutputOf(m)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteModel is DeleteModel. A model a route or route response names cannot be deleted (409).
func (s *server) deleteModel(w http.ResponseWriter, r *http.Request) error {
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		m, err := modelFor(a, r.PathValue("modelId"))
		if err != nil {
			return err
		}
		if err := modelInUse(a, m.Name); err != nil {
			return err
		}
		id := m.ModelID
		a.Models = slices.DeleteFunc(a.Models, func(m resource.Model) bool { return m.ModelID == id })
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// modelTemplateOutput is GetModelTemplate's output shape.
type modelTemplateOutput struct {
	Value string `json:"value"`
}

// getModelTemplate is GetModelTemplate: a mapping template that rebuilds a document of the model's shape
// from $input, for use as a request or response template (see modelTemplate).
func (s *server) getModelTemplate(w http.ResponseWriter, r *http.Request) error {
	var out modelTemplateOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		m, err := modelFor(a, r.PathValue("modelId"))
		if err != nil {
			return err
		}
		out.Value, err = modelTemplate(m.Schema)
		return err
	})
	return respond(w, http.StatusOK, out, err)
}

// Bounds of modelTemplate: how deep it follows nested and (through $ref) recursive schemas, and how many
// values it writes in all, so that a schema that refers to itself many times over cannot make it write
// an exponential amount of text.
const (
	maxTemplateDepth  = 16
	maxTemplateValues = 2000
	// maxTemplateBytes bounds the text itself: long member names repeated in ever longer references
	// grow it faster than the value count.
	maxTemplateBytes = 256 << 10
)

// modelTemplate renders a Velocity mapping template skeleton for a JSON Schema, the way API Gateway's
// GetModelTemplate does: it starts with #set($inputRoot = $input.path('$')) and writes the document the
// schema describes with every value taken from $inputRoot — strings quoted ("$inputRoot.name"),
// numbers, integers and booleans bare, objects member by member in the order the schema lists its
// properties, arrays as a #foreach over their items. Types are taken from "type" (the first non-null one
// of a list), or inferred from "properties" and "items"; a $ref within the document (#/definitions/x) is
// followed. Anything else — no type, combinators such as oneOf, references to other documents, nesting
// deeper than maxTemplateDepth — is written as the bare reference, for the template's author to finish.
// It is a faithful skeleton, not a byte-for-byte copy of AWS's generator, whose exact output is not
// documented. A value past the depth or count bounds is written as its bare reference too.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/models-mappings.html
func modelTemplate(schema string) (string, error) {
	root, err := parseOrdered([]byte(schema))
	if err != nil {
		return "", badRequest("the model's schema is not valid JSON: %v", err)
	}
	t := &templateWriter{root: root}
	t.b.WriteString("#set($inputRoot = $input.path('$'))\n")
	t.value(root, "$inputRoot", "", 0)
	if t.full() {
		return "", badRequest("the model's template would be larger than %d bytes; simplify the schema", maxTemplateBytes)
	}
	t.b.WriteString("\n")
	return t.b.String(), nil
}

// full reports whether the template has outgrown maxTemplateBytes; writing then stops.
func (t *templateWriter) full() bool { return t.b.Len() > maxTemplateBytes }

// templateWriter accumulates a model template.
type templateWriter struct {
	b      strings.Builder
	root   *orderedJSON
	loops  int // #foreach loops written so far, for unique loop variables
	values int // values written so far, bounded by maxTemplateValues
}

// value writes the template text for a value described by schema and found at ref (a VTL reference).
// The first line continues the current one; later lines start with indent.
func (t *templateWriter) value(schema *orderedJSON, ref, indent string, depth int) {
	if t.full() {
		return
	}
	schema = t.resolve(schema, 0)
	t.values++
	if depth > maxTemplateDepth || t.values > maxTemplateValues {
		t.b.WriteString(ref)
		return
	}
	switch schemaType(schema) {
	case "object":
		props := schema.get("properties")
		if props == nil || len(props.members) == 0 {
			t.b.WriteString("{}")
			return
		}
		t.b.WriteString("{\n")
		for i, p := range props.members {
			if t.full() {
				return
			}
			t.b.WriteString(indent + "  " + jsonString(p.name) + " : ")
			t.value(p.value, memberRef(ref, p.name), indent+"  ", depth+1)
			if i < len(props.members)-1 {
				t.b.WriteString(",")
			}
			t.b.WriteString("\n")
		}
		t.b.WriteString(indent + "}")
	case "array":
		elem := "$elem"
		if t.loops > 0 {
			elem += strconv.Itoa(t.loops)
		}
		t.loops++
		t.b.WriteString("[\n#foreach(" + elem + " in " + ref + ")\n" + indent + "  ")
		t.value(schema.get("items"), elem, indent+"  ", depth+1)
		t.b.WriteString("#if($foreach.hasNext),#end\n#end\n" + indent + "]")
	case "string":
		t.b.WriteString(`"` + ref + `"`)
	case "null":
		t.b.WriteString("null")
	default: // number, integer, boolean, or unknown
		t.b.WriteString(ref)
	}
}

// resolve follows a local $ref ("#/definitions/x"), a few times at most.
func (t *templateWriter) resolve(schema *orderedJSON, hops int) *orderedJSON {
	if schema == nil || hops > maxTemplateDepth {
		return schema
	}
	ref := schema.get("$ref")
	if ref == nil {
		return schema
	}
	s, ok := ref.scalar.(string)
	if !ok || !strings.HasPrefix(s, "#") {
		return schema
	}
	n := t.root
	for _, step := range strings.Split(strings.TrimPrefix(strings.TrimPrefix(s, "#"), "/"), "/") {
		if step == "" {
			continue
		}
		step = strings.ReplaceAll(strings.ReplaceAll(step, "~1", "/"), "~0", "~")
		if n = n.get(step); n == nil {
			return schema
		}
	}
	return t.resolve(n, hops+1)
}

// schemaType is the JSON type a schema describes: its "type" (the first non-null one when it is a list),
// else "object" when it has properties and "array" when it has items.
func schemaType(schema *orderedJSON) string {
	if schema == nil {
		return ""
	}
	if typ := schema.get("type"); typ != nil {
		if s, ok := typ.scalar.(string); ok {
			return s
		}
		for _, e := range typ.elems {
			if s, ok := e.scalar.(string); ok && s != "null" {
				return s
			}
		}
	}
	switch {
	case schema.get("properties") != nil:
		return "object"
	case schema.get("items") != nil:
		return "array"
	}
	return ""
}

var vtlIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// memberRef is the VTL reference to member name of the object at ref.
func memberRef(ref, name string) string {
	if vtlIdentifier.MatchString(name) {
		return ref + "." + name
	}
	return ref + ".get('" + strings.ReplaceAll(name, "'", "''") + "')"
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// orderedJSON is a parsed JSON value that keeps the order of object members, which the template follows.
type orderedJSON struct {
	isObject bool
	members  []orderedMember // object members, in document order
	elems    []*orderedJSON  // array elements
	scalar   any             // string, float64, bool or nil
}

type orderedMember struct {
	name  string
	value *orderedJSON
}

// get returns the object member called name, or nil.
func (n *orderedJSON) get(name string) *orderedJSON {
	if n == nil || !n.isObject {
		return nil
	}
	for _, m := range n.members {
		if m.name == name {
			return m.value
		}
	}
	return nil
}

// parseOrdered parses one JSON document into a orderedJSON.
func parseOrdered(data []byte) (*orderedJSON, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	n, err := parseNode(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON document")
	}
	return n, nil
}

// parseNode parses the next JSON value from dec.
func parseNode(dec *json.Decoder) (*orderedJSON, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return &orderedJSON{scalar: tok}, nil
	}
	switch d {
	case '{':
		n := &orderedJSON{isObject: true}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			n.members = append(n.members, orderedMember{name: key.(string), value: v})
		}
		_, err := dec.Token() // '}'
		return n, err
	case '[':
		n := &orderedJSON{}
		for dec.More() {
			v, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, v)
		}
		_, err := dec.Token() // ']'
		return n, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}
