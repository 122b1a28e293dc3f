// Package mock is the MOCK integration: API Gateway answers by itself. The rendered request template
// decides the status code ({"statusCode": 200}); integration.MapResponse then picks the integration
// response whose key matches that status (a /regex/, else $default) and renders its response template.
package mock

import (
	"context"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// Invoker answers MOCK integrations.
type Invoker struct{}

var _ integration.Invoker = Invoker{}

// Invoke reads the status code from req.Body, the rendered request template. It does no I/O and never
// fails; the answer has no body (response templates give it one).
func (Invoker) Invoke(_ context.Context, _ *snapshot.Integration, req *integration.Request) (*integration.Response, error) {
	return &integration.Response{StatusCode: StatusFromTemplate(req.Body)}, nil
}

// StatusFromTemplate reads "statusCode" from a rendered request template; 200 when absent or unreadable.
// It scans the raw JSON for the one member (a rendered template can be large, and this runs for every
// message of a MOCK route).
func StatusFromTemplate(rendered []byte) int {
	v, ok := selexpr.JSONValue(rendered, statusPath)
	if !ok {
		return 200
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 || n > 599 {
		return 200
	}
	return n
}

var statusPath = []selexpr.Step{{Name: "statusCode"}}
