// Package proxyevent holds the shapes API Gateway gives integrations: the requestContext of every WebSocket
// event (also the source of $context variables and context.* request parameters), and the Lambda proxy
// events built from it.
package proxyevent

import (
	"strconv"
	"sync/atomic"
	"time"
)

// Event types of a WebSocket API.
const (
	EventConnect    = "CONNECT"
	EventMessage    = "MESSAGE"
	EventDisconnect = "DISCONNECT"
)

// RequestTimeLayout is the CLF time format of requestContext.requestTime, always in UTC.
const RequestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// Identity is requestContext.identity: only populated keys are sent, as AWS does today, in the order of
// AWS's captures (userAgent before sourceIp).
type Identity struct {
	UserAgent string `json:"userAgent,omitempty"`
	SourceIP  string `json:"sourceIp"`
	// APIKey and APIKeyID are set when the event's connection was let through with an API key: on every
	// event when $connect requires one, else on the events of the routes that do.
	APIKey   string `json:"apiKey,omitempty"`
	APIKeyID string `json:"apiKeyId,omitempty"`
	// ClientCert describes the client certificate of a mutual-TLS custom domain (certs.ClientCert):
	// clientCertPem, subjectDN, issuerDN, serialNumber, validity. nil without one.
	ClientCert any `json:"clientCert,omitempty"`
}

// RequestContext is requestContext of a WebSocket proxy event. Field order follows AWS's captures.
type RequestContext struct {
	RouteKey             string   `json:"routeKey"`
	MessageID            string   `json:"messageId,omitempty"`
	DisconnectStatusCode int      `json:"disconnectStatusCode,omitempty"`
	EventType            string   `json:"eventType"`
	ExtendedRequestID    string   `json:"extendedRequestId"`
	RequestTime          string   `json:"requestTime"`
	MessageDirection     string   `json:"messageDirection"`
	DisconnectReason     *string  `json:"disconnectReason,omitempty"`
	Stage                string   `json:"stage"`
	ConnectedAt          int64    `json:"connectedAt"`
	RequestTimeEpoch     int64    `json:"requestTimeEpoch"`
	Identity             Identity `json:"identity"`
	RequestID            string   `json:"requestId"`
	DomainName           string   `json:"domainName"`
	ConnectionID         string   `json:"connectionId"`
	APIID                string   `json:"apiId"`
	// Authorizer is what a Lambda authorizer returned at $connect (principalId, integrationLatency and the
	// context keys), repeated in every event of the connection; nil without one.
	Authorizer map[string]any `json:"authorizer,omitempty"`

	// ForwardedPort and ForwardedProto say how the client reached the gateway: the port it connected to
	// ("443") and "https" or "http". They become the X-Forwarded-Port and X-Forwarded-Proto headers of the
	// $connect proxy event and are not part of requestContext. Empty means AWS's values, "443" and "https"
	// ("80" when ForwardedProto is "http").
	ForwardedPort  string `json:"-"`
	ForwardedProto string `json:"-"`
	// TraceID is the X-Amzn-Trace-Id of the handshake, so the authorizer and $connect events of one
	// handshake can share it; empty means ConnectEvent makes one (see NewTraceID). It is not part of
	// requestContext.
	TraceID string `json:"-"`
}

// SetRequestTime sets requestTime and requestTimeEpoch from t.
func (rc *RequestContext) SetRequestTime(t time.Time) {
	rc.RequestTime = formatRequestTime(t)
	rc.RequestTimeEpoch = t.UnixMilli()
}

// lastRequestTime caches the formatted requestTime of the latest second: every event needs it and
// most events of a busy gateway share their second.
var lastRequestTime atomic.Pointer[formattedSecond]

type formattedSecond struct {
	unix int64
	text string
}

func formatRequestTime(t time.Time) string {
	sec := t.Unix()
	if f := lastRequestTime.Load(); f != nil && f.unix == sec {
		return f.text
	}
	f := &formattedSecond{unix: sec, text: t.UTC().Format(RequestTimeLayout)}
	lastRequestTime.Store(f)
	return f.text
}

// Var returns the $context variable name (without the "context." prefix), or "" when it has no value. It
// serves $context in selection expressions and context.* request parameters.
func (rc *RequestContext) Var(name string) string {
	switch name {
	case "routeKey":
		return rc.RouteKey
	case "messageId":
		return rc.MessageID
	case "eventType":
		return rc.EventType
	case "extendedRequestId":
		return rc.ExtendedRequestID
	case "requestId":
		return rc.RequestID
	case "requestTime":
		return rc.RequestTime
	case "requestTimeEpoch":
		return strconv.FormatInt(rc.RequestTimeEpoch, 10)
	case "messageDirection":
		return rc.MessageDirection
	case "stage":
		return rc.Stage
	case "connectedAt":
		return strconv.FormatInt(rc.ConnectedAt, 10)
	case "domainName":
		return rc.DomainName
	case "connectionId":
		return rc.ConnectionID
	case "apiId":
		return rc.APIID
	case "identity.sourceIp":
		return rc.Identity.SourceIP
	case "identity.userAgent":
		return rc.Identity.UserAgent
	case "disconnectStatusCode":
		if rc.DisconnectStatusCode == 0 {
			return ""
		}
		return strconv.Itoa(rc.DisconnectStatusCode)
	case "disconnectReason":
		if rc.DisconnectReason == nil {
			return ""
		}
		return *rc.DisconnectReason
	}
	return ""
}
