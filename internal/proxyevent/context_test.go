package proxyevent

import (
	"testing"
	"time"
)

func TestVarAndRequestTime(t *testing.T) {
	rc := RequestContext{RouteKey: "sendmessage", ConnectionID: "R1kmxc2VNjMCFIA=", ConnectedAt: 1705751697419,
		Identity: Identity{SourceIP: "198.51.100.7", UserAgent: "ua"}, APIID: "a1", Stage: "prod"}
	rc.SetRequestTime(time.Date(2024, 1, 20, 11, 55, 0, 453e6, time.FixedZone("x", 3600)))
	cases := map[string]string{
		"routeKey":          "sendmessage",
		"connectionId":      "R1kmxc2VNjMCFIA=",
		"connectedAt":       "1705751697419",
		"identity.sourceIp": "198.51.100.7",
		"requestTime":       "20/Jan/2024:10:55:00 +0000",
		"requestTimeEpoch":  "1705748100453",
		"stage":             "prod",
		"unknown":           "",
		"disconnectReason":  "",
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			if got := rc.Var(name); got != want {
				t.Fatalf("Var(%q) = %q, want %q", name, got, want)
			}
		})
	}
}
