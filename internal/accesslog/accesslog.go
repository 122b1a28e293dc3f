// Package accesslog writes API Gateway access logs: one line per WebSocket event ($connect, a message,
// $disconnect) in the stage's accessLogSettings.format, with the $context variables AWS documents for
// WebSocket APIs substituted. Values that do not apply are written as "-", as AWS does.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html
package accesslog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// MaxFormat is the longest format AWS accepts (3 KB).
const MaxFormat = 3 << 10

// variables lists the $context variables of WebSocket access logs that Switchboard fills (the rest of
// AWS's list — WAF, Cognito, principalOrgId — are accepted and written as "-").
var variables = []string{
	"apiId", "authorize.error", "authorize.latency", "authorize.status", "authorizer.error",
	"authorizer.integrationLatency", "authorizer.integrationStatus", "authorizer.latency",
	"authorizer.requestId", "authorizer.status", "authorizer.principalId", "authenticate.error",
	"authenticate.latency", "authenticate.status", "connectedAt", "connectionId", "domainName",
	"error.message", "error.messageString", "error.responseType", "error.validationErrorString",
	"eventType", "extendedRequestId", "identity.accountId", "identity.apiKey", "identity.apiKeyId",
	"identity.caller", "identity.cognitoAuthenticationProvider", "identity.cognitoAuthenticationType",
	"identity.cognitoIdentityId", "identity.cognitoIdentityPoolId", "identity.principalOrgId",
	"identity.sourceIp", "identity.user", "identity.userAgent", "identity.userArn", "integration.error",
	"integration.integrationStatus", "integration.latency", "integration.requestId", "integration.status",
	"integrationLatency", "messageId", "requestId", "requestTime", "requestTimeEpoch", "routeKey", "stage",
	"status", "waf.error", "waf.latency", "waf.status",
}

// UnsupportedError lists the variables of a format that are not $context variables of WebSocket access
// logs; its message is AWS's.
type UnsupportedError struct {
	Variables []string
}

func (e *UnsupportedError) Error() string {
	return "The following context variables are not supported: [" + strings.Join(e.Variables, ", ") + "]"
}

// Format is a compiled format: literal text and variables in order.
type Format struct {
	parts []part
}

type part struct {
	literal  string
	variable string // without "$context."; empty for literal text
}

// Compile parses format. A format that is empty, longer than MaxFormat, spans several lines, names a
// variable AWS does not define for WebSocket access logs, or lacks $context.requestId (or
// extendedRequestId) is an error saying so.
func Compile(format string) (*Format, error) { return compile(format, false) }

func compile(format string, http bool) (*Format, error) {
	switch {
	case strings.TrimSpace(format) == "":
		return nil, fmt.Errorf("the format is empty")
	case len(format) > MaxFormat:
		return nil, fmt.Errorf("the format is %d bytes long; the maximum is %d", len(format), MaxFormat)
	case strings.ContainsAny(format, "\r\n"):
		return nil, fmt.Errorf("the format must be a single line")
	}
	f := &Format{}
	var unsupported []string
	hasID := false
	rest := format
	for {
		i := strings.Index(rest, "$context.")
		if i < 0 {
			f.literal(rest)
			break
		}
		f.literal(rest[:i])
		rest = rest[i+len("$context."):]
		n := 0
		for n < len(rest) && isNameByte(rest[n]) {
			n++
		}
		name := strings.TrimRight(rest[:n], ".")
		rest = rest[len(name):]
		switch {
		case name == "":
			f.literal("$context.")
			continue
		case name == "requestId" || name == "extendedRequestId":
			hasID = true
		case !known(name, http):
			unsupported = append(unsupported, "$context."+name)
		}
		f.parts = append(f.parts, part{variable: name})
	}
	if len(unsupported) > 0 {
		return nil, &UnsupportedError{Variables: unsupported}
	}
	if !hasID {
		return nil, fmt.Errorf("the format must contain $context.requestId or $context.extendedRequestId")
	}
	return f, nil
}

func (f *Format) literal(s string) {
	if s != "" {
		f.parts = append(f.parts, part{literal: s})
	}
}

func isNameByte(b byte) bool {
	return b == '.' || b == '_' || b == '-' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

func known(name string, http bool) bool {
	if slices.Contains(variables, name) || http && slices.Contains(httpVariables, name) {
		return true
	}
	// $context.authorizer.<property>: any key of the Lambda authorizer's context.
	prop, ok := strings.CutPrefix(name, "authorizer.")
	return ok && prop != ""
}

// Record is one event as its access-log line describes it.
type Record struct {
	// Context is the event's requestContext; it may be partial (a handshake refused before any route
	// was chosen has no request time yet).
	Context *proxyevent.RequestContext
	// Status is the status the client saw (the handshake's, or 200/the error frame's for a message).
	Status int
	// ErrorMessage is the error frame's or refused handshake's message; empty on success.
	ErrorMessage string
	// ResponseType names the error (FORBIDDEN, THROTTLED, INTEGRATION_FAILURE, …); empty on success.
	ResponseType string
	// Integration is set when an integration was called.
	Integrated         bool
	IntegrationStatus  int
	IntegrationLatency time.Duration
	IntegrationError   string
	// HTTP is set for a request to an HTTP API: the variables only HTTP APIs have.
	HTTP *HTTPRecord
}

// Append writes r's line, without a newline, to dst. Values are escaped like JSON string contents
// (quotes, backslashes, control characters), so a line stays one line and a JSON format stays JSON.
func (f *Format) Append(dst []byte, r *Record) []byte {
	for _, p := range f.parts {
		if p.variable == "" {
			dst = append(dst, p.literal...)
			continue
		}
		v := r.value(p.variable)
		if v == "" {
			v = "-"
		}
		dst = appendEscaped(dst, v)
	}
	return dst
}

func (r *Record) value(name string) string {
	rc := r.Context
	if rc == nil {
		rc = &proxyevent.RequestContext{}
	}
	switch name {
	case "apiId":
		return rc.APIID
	case "stage":
		return rc.Stage
	case "connectionId":
		return rc.ConnectionID
	case "connectedAt":
		return itoa(rc.ConnectedAt)
	case "domainName":
		return rc.DomainName
	case "eventType":
		return rc.EventType
	case "routeKey":
		return rc.RouteKey
	case "requestId":
		return rc.RequestID
	case "extendedRequestId":
		return rc.ExtendedRequestID
	case "messageId":
		return rc.MessageID
	case "requestTime":
		return rc.RequestTime
	case "requestTimeEpoch":
		return itoa(rc.RequestTimeEpoch)
	case "status":
		return itoa(int64(r.Status))
	case "identity.sourceIp":
		return rc.Identity.SourceIP
	case "identity.userAgent":
		return rc.Identity.UserAgent
	case "identity.apiKey":
		return rc.Identity.APIKey
	case "identity.apiKeyId":
		return rc.Identity.APIKeyID
	case "error.message", "error.messageString":
		if r.ErrorMessage == "" {
			return ""
		}
		if name == "error.messageString" {
			return strconv.Quote(r.ErrorMessage)
		}
		return r.ErrorMessage
	case "error.responseType":
		return r.ResponseType
	case "integrationLatency", "integration.latency":
		if !r.Integrated {
			return ""
		}
		return itoa(r.IntegrationLatency.Milliseconds())
	case "integration.status", "integration.integrationStatus", "integrationStatus":
		if !r.Integrated || r.IntegrationStatus == 0 {
			return ""
		}
		return itoa(int64(r.IntegrationStatus))
	case "integration.error", "integrationErrorMessage":
		return r.IntegrationError
	}
	if r.HTTP != nil {
		if v, ok := r.HTTP.value(name); ok {
			return v
		}
	}
	if prop, ok := strings.CutPrefix(name, "authorizer."); ok && rc.Authorizer != nil {
		if v, ok := rc.Authorizer[prop]; ok {
			return fmt.Sprint(v)
		}
	}
	return ""
}

func itoa(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20 || c == 0x7f:
			dst = append(dst, fmt.Sprintf(`\u%04x`, c)...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
