package accesslog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

func TestCompileRefusesWhatAWSRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, format, want string
	}{
		{"empty", "  ", "the format is empty"},
		{"two lines", "$context.requestId\n$context.status", "single line"},
		{"too long", "$context.requestId " + strings.Repeat("x", MaxFormat), "maximum is 3072"},
		{"unknown variable", "$context.requestId $context.httpMethod $context.path", "The following context variables are not supported: [$context.httpMethod, $context.path]"},
		{"no request ID", "$context.status $context.connectionId", "must contain $context.requestId"},
		{"authorizer without a property", "$context.requestId $context.authorizer.", "not supported: [$context.authorizer]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.format)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile(%q) = %v, want an error containing %q", tc.format, err, tc.want)
			}
		})
	}
	var ue *UnsupportedError
	if _, err := Compile("$context.requestId $context.nope"); !errors.As(err, &ue) || len(ue.Variables) != 1 {
		t.Fatalf("unknown variable: %v", err)
	}
}

func record() *Record {
	rc := &proxyevent.RequestContext{
		APIID: "a1b2c3", Stage: "dev", ConnectionID: "Zk1w3dK7IAMCJYA=", ConnectedAt: 1700000000123,
		DomainName: "localhost:8080", EventType: "MESSAGE", RouteKey: "sendmessage", RequestID: "Zk1xTFFgIAMFq5Q=",
		ExtendedRequestID: "Zk1xTFFgIAMFq5Q=", MessageID: "Zk1xTdSQIAMCJYA=",
		Identity:   proxyevent.Identity{SourceIP: "127.0.0.1", UserAgent: `curl/8 "quoted"` + "\nnext"},
		Authorizer: map[string]any{"principalId": "me", "tier": 2},
	}
	rc.SetRequestTime(time.Date(2026, 12, 6, 11, 30, 0, 0, time.UTC))
	return &Record{Context: rc, Status: 200, Integrated: true, IntegrationStatus: 200, IntegrationLatency: 42 * time.Millisecond}
}

func TestAppendSubstitutesVariables(t *testing.T) {
	for _, tc := range []struct {
		name, format, want string
		edit               func(*Record)
	}{
		{"CLF-style", `$context.identity.sourceIp - - [$context.requestTime] "$context.eventType $context.routeKey" $context.status $context.requestId`,
			`127.0.0.1 - - [06/Dec/2026:11:30:00 +0000] "MESSAGE sendmessage" 200 Zk1xTFFgIAMFq5Q=`, nil},
		{"JSON with escaping", `{"requestId":"$context.requestId","ua":"$context.identity.userAgent","latency":$context.integrationLatency}`,
			`{"requestId":"Zk1xTFFgIAMFq5Q=","ua":"curl/8 \"quoted\"\nnext","latency":42}`, nil},
		{"authorizer context", `$context.requestId $context.authorizer.principalId $context.authorizer.tier $context.authorizer.missing`,
			`Zk1xTFFgIAMFq5Q= me 2 -`, nil},
		{"values that do not apply are -", `$context.requestId $context.error.message $context.waf.status $context.identity.apiKey`,
			`Zk1xTFFgIAMFq5Q= - - -`, nil},
		{"an error", `$context.requestId $context.status $context.error.message $context.error.messageString $context.error.responseType $context.integrationLatency`,
			`Zk1xTFFgIAMFq5Q= 403 Forbidden \"Forbidden\" MISSING_AUTHENTICATION_TOKEN -`, func(r *Record) {
				r.Status, r.ErrorMessage, r.ResponseType, r.Integrated = 403, "Forbidden", "MISSING_AUTHENTICATION_TOKEN", false
			}},
		{"a dollar that is not a variable", `$context.requestId costs $5 and $context.`, `Zk1xTFFgIAMFq5Q= costs $5 and $context.`, nil},
		{"a variable followed by a full stop", `id=$context.requestId.`, `id=Zk1xTFFgIAMFq5Q=.`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			r := record()
			if tc.edit != nil {
				tc.edit(r)
			}
			if got := string(f.Append(nil, r)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Lines from any accepted format are one line, and a JSON format stays valid JSON whatever the values.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{
		`$context.requestId`,
		`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","ua":"$context.identity.userAgent"}`,
		`$context.identity.sourceIp - - [$context.requestTime] "$context.eventType $context.routeKey" $context.status $context.requestId`,
		`$context.requestId $context.authorizer.a.b $context.`,
		`$$context.requestId$context.status$context`,
	} {
		f.Add(s, "Mozilla/5.0 \"x\"\n\\")
	}
	f.Fuzz(func(t *testing.T, format, userAgent string) {
		c, err := Compile(format)
		if err != nil {
			return
		}
		r := record()
		r.Context.Identity.UserAgent = userAgent
		line := c.Append(nil, r)
		if strings.ContainsAny(string(line), "\r\n") {
			t.Fatalf("format %q wrote several lines: %q", format, line)
		}
		if utf8.ValidString(userAgent) && strings.HasPrefix(format, "{") && json.Valid([]byte(strings.ReplaceAll(format, "$context.requestId", "x"))) {
			// A format that is JSON with its variables inside strings stays JSON.
			if strings.Count(format, "$context.") == strings.Count(format, `"$context.`) && !json.Valid(line) {
				t.Fatalf("format %q wrote invalid JSON %s", format, line)
			}
		}
	})
}
