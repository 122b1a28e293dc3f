package integration_test

import (
	"testing"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/schema"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// BenchmarkMappedMessage is the gateway-side work the load tool's "mapped" route adds to a message:
// validation against the model, the request template, the integration response's template.
func BenchmarkMappedMessage(b *testing.B) {
	models, err := schema.CompileAll("bench", map[string]string{"message": `{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": {"action": {"type": "string"}, "data": {"type": "string", "maxLength": 131072}}, "required": ["action", "data"]}`})
	if err != nil {
		b.Fatal(err)
	}
	in := &snapshot.Integration{Type: "MOCK", TemplateSelection: selexpr.MustParse(`\$default`),
		Templates: templates(b, map[string]string{"$default": `#set($body = $input.path('$'))
{
  "statusCode": 200,
  "action": "$body.action",
  "connectionId": "$context.connectionId",
  "requestId": "$context.requestId",
  "data": "$util.escapeJavaScript($body.data)",
  "size": $body.data.length()
}`}),
		Responses: []*snapshot.IntegrationResponse{{Key: "/2\\d\\d/", Pattern: mustKey(b, "/2\\d\\d/"),
			Compiled: templates(b, map[string]string{"$default": `{"action":"echo","route":"$context.routeKey","stage":"$context.stage"}`})}}}
	msg := `{"action":"mapped","data":"01234567890123456789012345678901234567890123456789012345678901234567890123"}`
	b.ReportAllocs()
	for b.Loop() {
		req := message(msg)
		if err := models["message"].Validate(req.Body); err != nil {
			b.Fatal(err)
		}
		mapped, err := integration.MapRequest(in, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := integration.MapResponse(in, mapped, &integration.Response{StatusCode: 200}); err != nil {
			b.Fatal(err)
		}
	}
}
