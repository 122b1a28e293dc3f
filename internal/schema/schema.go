// Package schema compiles API Gateway models (JSON Schema draft 4, the default when a model has no
// $schema) and validates message bodies against them. Models of one API may refer to each other as
// AWS documents it: {"$ref": "https://apigateway.amazonaws.com/restapis/{apiId}/models/{modelName}"}.
// Nothing is loaded from the network or the file system.
package schema

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ErrInvalid reports a body that does not satisfy its model.
var ErrInvalid = errors.New("body does not match the model")

// ModelError names the model that does not compile.
type ModelError struct {
	Model string
	Err   error
}

// Error names the model and the problem.
func (e *ModelError) Error() string { return "model " + e.Model + ": " + e.Err.Error() }

// Unwrap returns the compiler's error.
func (e *ModelError) Unwrap() error { return e.Err }

// Schema is one compiled model. It is safe for concurrent use.
type Schema struct {
	Name string
	s    *jsonschema.Schema
}

// ModelURL is the address under which a model can be referred to by the other models of its API.
func ModelURL(apiID, name string) string {
	return "https://apigateway.amazonaws.com/restapis/" + apiID + "/models/" + name
}

// CompileAll compiles the models of one API (name → schema text). The error names the first model, in
// name order, that is not valid JSON Schema.
func CompileAll(apiID string, models map[string]string) (map[string]*Schema, error) {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(refuseLoader{})
	for _, n := range names {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(models[n]))
		if err != nil {
			return nil, &ModelError{Model: n, Err: fmt.Errorf("schema is not JSON: %w", err)}
		}
		if err := c.AddResource(ModelURL(apiID, n), doc); err != nil {
			return nil, &ModelError{Model: n, Err: err}
		}
	}
	out := make(map[string]*Schema, len(names))
	for _, n := range names {
		s, err := c.Compile(ModelURL(apiID, n))
		if err != nil {
			return nil, &ModelError{Model: n, Err: fmt.Errorf("invalid JSON Schema: %s", strings.ReplaceAll(err.Error(), "\n", " "))}
		}
		out[n] = &Schema{Name: n, s: s}
	}
	return out, nil
}

type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not a model of this API (models refer to each other by %s)", url, ModelURL("{apiId}", "{modelName}"))
}

// Validate checks body against the model. A body that is not JSON, or does not match, is ErrInvalid
// with the reason.
func (s *Schema) Validate(body []byte) error {
	v, err := decode(body)
	if err != nil {
		return fmt.Errorf("%w %s: not JSON: %v", ErrInvalid, s.Name, err)
	}
	if err := s.s.Validate(v); err != nil {
		return fmt.Errorf("%w %s: %v", ErrInvalid, s.Name, oneLine(err))
	}
	return nil
}

var english = message.NewPrinter(language.English)

func oneLine(err error) string {
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		// The deepest causes say what is wrong and where.
		var parts []string
		var walk func(e *jsonschema.ValidationError)
		walk = func(e *jsonschema.ValidationError) {
			if len(e.Causes) == 0 {
				parts = append(parts, "/"+strings.Join(e.InstanceLocation, "/")+": "+e.ErrorKind.LocalizedString(english))
				return
			}
			for _, c := range e.Causes {
				walk(c)
			}
		}
		walk(ve)
		return strings.Join(parts, "; ")
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
