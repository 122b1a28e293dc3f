// Package mock is the MOCK integration: API Gateway answers by itself. The selected request template
// decides the status code ({"statusCode": 200}); the integration response whose key matches that status
// (a /regex/, else $default) supplies the answer through its selected response template.
//
// Templates are used as static text for now: the Velocity (VTL) engine that evaluates $context, $input
// and $util in them comes later.
package mock

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// Invoker answers MOCK integrations.
type Invoker struct{}

var _ integration.Invoker = Invoker{}

// Invoke computes the mock answer for req. It does no I/O and never fails.
func (Invoker) Invoke(_ context.Context, in *snapshot.Integration, req *integration.Request) (*integration.Response, error) {
	env := req.Env()
	status := 200
	if tmpl, ok := integration.SelectTemplate(in.RequestTemplates, in.TemplateSelection, env); ok {
		status = statusFromTemplate(tmpl)
	}
	resp := &integration.Response{StatusCode: status}
	code := strconv.Itoa(status)
	if ir := selectResponse(in.Responses, code); ir != nil {
		// The response's template selection expression may name the mock's status code.
		env.Fallback = statusEnv(code)
		if body, ok := integration.SelectTemplate(ir.Templates, ir.TemplateSelection, env); ok {
			resp.Body = []byte(body)
		}
	}
	return resp, nil
}

// statuses caches statusFromTemplate: templates are static text, and a MOCK route answers every message.
var statuses sync.Map // template → int

// statusFromTemplate reads "statusCode" from a rendered request template; 200 when absent or unreadable.
func statusFromTemplate(tmpl string) int {
	if v, ok := statuses.Load(tmpl); ok {
		return v.(int)
	}
	n := parseStatus(tmpl)
	statuses.Store(tmpl, n)
	return n
}

func parseStatus(tmpl string) int {
	var v struct {
		StatusCode json.Number `json:"statusCode"`
	}
	if json.Unmarshal([]byte(tmpl), &v) != nil {
		return 200
	}
	n, err := v.StatusCode.Int64()
	if err != nil || n < 100 || n > 599 {
		return 200
	}
	return int(n)
}

// statusEnv resolves $integration.response.statuscode; a mock answer has no headers or body.
type statusEnv string

func (s statusEnv) Value(v *selexpr.Var) string {
	if v.Source == selexpr.SourceStatusCode {
		return string(s)
	}
	return ""
}

// selectResponse returns the first integration response whose /regex/ key matches status, else the
// $default one, else nil.
func selectResponse(responses []*snapshot.IntegrationResponse, status string) *snapshot.IntegrationResponse {
	var def *snapshot.IntegrationResponse
	for _, ir := range responses {
		if ir.Pattern.IsDefault() {
			if def == nil {
				def = ir
			}
			continue
		}
		if ir.Pattern.Match(status) {
			return ir
		}
	}
	return def
}
