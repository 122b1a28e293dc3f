package configfile

import (
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	const head = "apis:\n  - name: chat\n    protocolType: WEBSOCKET\n"
	routes := "    routes:\n      - routeKey: sendmessage\n        target: integrations/mock\n      - routeKey: $default\n        target: integrations/mock\n" +
		"    integrations:\n      - integrationId: mock\n        integrationType: MOCK\n"
	cases := []struct {
		name string
		yaml string
		want string // "" for no warning
	}{
		{"body variable", head + "    routeSelectionExpression: $request.body.action\n" + routes, ""},
		{"dollar forgotten", head + "    routeSelectionExpression: request.body.action\n" + routes,
			`test.yaml:4:5: apis[0].routeSelectionExpression: routeSelectionExpression "request.body.action" has no variable, so every message selects the route key "request.body.action", which no route has: the custom routes sendmessage can never be selected and every message goes to $default; did you mean $request.body.action?`},
		{"static text matching no route", head + "    routeSelectionExpression: chat\n" + routes,
			`apis[0].routeSelectionExpression: routeSelectionExpression "chat" has no variable, so every message selects the route key "chat", which no route has`},
		{"static text matching a route", head + "    routeSelectionExpression: sendmessage\n" + routes, ""},
		{"escaped $default with no custom route", head + "    routeSelectionExpression: \\$default\n" +
			"    routes:\n      - routeKey: $default\n        target: integrations/mock\n    integrations:\n      - integrationId: mock\n        integrationType: MOCK\n", ""},
		{"variables in static text", head + "    routeSelectionExpression: ${request.body.service}/${request.body.action}\n" + routes, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("test.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := f.Warnings()
			switch {
			case tc.want == "" && len(got) > 0:
				t.Fatalf("unexpected warnings: %v", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].Error(), tc.want)):
				t.Fatalf("warnings %v, want one containing %q", got, tc.want)
			}
		})
	}
}
