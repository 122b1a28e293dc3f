package dispatch

import (
	"strings"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// validate runs a route's request validation on a message: its required request parameters, then the
// model its modelSelectionExpression picks (else the $default model). It returns why the message is
// refused, or "". AWS: with a model selection expression set, a message for which there is no model
// fails validation.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-request-validation.html
func validate(route *snapshot.Route, req *integration.Request) string {
	if missing := missingParameters(route, req); len(missing) > 0 {
		return "missing required request parameters: " + strings.Join(missing, ", ")
	}
	if route.ModelSelection == nil {
		return ""
	}
	key := route.ModelSelection.Eval(req.Env())
	sch, ok := route.Models[key]
	if !ok {
		if sch, ok = route.Models[resource.RouteKeyDefault]; !ok {
			return "no model for key " + quote(key) + " and no $default model"
		}
	}
	if sch == nil {
		return "the model for key " + quote(key) + " is not valid JSON Schema"
	}
	if err := sch.Validate(req.Body); err != nil {
		return err.Error()
	}
	return ""
}

// missingParameters lists the route's required request parameters that req lacks. Header and query
// string parameters exist on $connect only; body parameters on messages.
func missingParameters(route *snapshot.Route, req *integration.Request) []string {
	var missing []string
	for _, p := range route.RequiredParameters {
		if (p.Source.Kind == snapshot.SourceBody) != (req.Header == nil && req.Query == nil) {
			continue
		}
		if _, ok := req.ParameterValue(p.Source); !ok {
			missing = append(missing, p.Key)
		}
	}
	return missing
}

// missingBody is the handshake refusal for missing required parameters, in API Gateway's words.
func missingBody(missing []string) []byte {
	names := make([]string, len(missing))
	for i, k := range missing {
		names[i] = k[strings.LastIndexByte(k, '.')+1:]
	}
	return []byte(`{"message": "Missing required request parameters: [` + strings.Join(names, ", ") + `]"}`)
}

func quote(s string) string { return `"` + s + `"` }
