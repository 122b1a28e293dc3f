package snapshot_test

import (
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

const modelsConfig = `
apis:
  - name: m
    apiId: m
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    disableSchemaValidation: DISABLE
    models:
      - {name: good, schema: '{"type": "object", "required": ["a"]}'}
      - {name: bad, schema: '{"type": 7}'}
    integrations:
      - integrationId: mock
        integrationType: MOCK
        requestTemplates: {$default: '{"statusCode": 200}', other: '{"statusCode": $input.path(''$.n'')}'}
    routes:
      - routeKey: $default
        target: integrations/mock
        modelSelectionExpression: $request.body.kind
        requestModels: {g: good, b: bad}
        requestParameters: {route.request.body.a: {required: true}, route.request.querystring.q: {required: false}}
    stages: [{stageName: one}, {stageName: two}]
`

// TestModelsCompiledOnce: models compile at load (a bad one is an error naming it, unless the API has
// disableSchemaValidation, when routes choosing it get nil), and a template text is parsed once for all
// the stages that serve it.
func TestModelsCompiledOnce(t *testing.T) {
	f, err := configfile.Parse("m.yaml", []byte(strings.Replace(modelsConfig, "DISABLE", "false", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.Compile(f.Bundle); err == nil || !strings.Contains(err.Error(), "apis[0].models[1].schema: model bad: invalid JSON Schema") {
		t.Fatalf("Compile = %v", err)
	}

	f, err = configfile.Parse("m.yaml", []byte(strings.Replace(modelsConfig, "DISABLE", "true", 1)))
	if err != nil {
		t.Fatal(err)
	}
	set, err := snapshot.Compile(f.Bundle)
	if err != nil {
		t.Fatalf("Compile with disableSchemaValidation: %v", err)
	}
	one, two := set.APIs["m"].Stages["one"].Routes["$default"], set.APIs["m"].Stages["two"].Routes["$default"]
	if one.ModelSelection == nil || one.Models["g"] == nil || one.Models["b"] != nil {
		t.Fatalf("route models = %v (selection %v)", one.Models, one.ModelSelection)
	}
	if err := one.Models["g"].Validate([]byte(`{"b": 1}`)); err == nil {
		t.Error("the good model accepted a body without a")
	}
	if len(one.RequiredParameters) != 1 || one.RequiredParameters[0].Key != "route.request.body.a" {
		t.Errorf("required parameters = %+v", one.RequiredParameters)
	}
	if one.Integration.Templates["other"] == nil || one.Integration.Templates["other"] != two.Integration.Templates["other"] {
		t.Error("stages do not share the parsed template")
	}
}
