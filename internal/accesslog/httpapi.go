package accesslog

import (
	"strconv"
	"strings"
	"time"
)

// httpVariables are the $context variables only HTTP API access logs have
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html); the
// variables both kinds of API share are in variables.
var httpVariables = []string{
	"httpMethod", "path", "protocol", "responseLength", "responseLatency", "dataProcessed", "domainPrefix",
	"accountId", "integrationErrorMessage", "integrationStatus", "integration.integrationStatus",
	"authorizer.claims.property", "identity.clientCert.clientCertPem", "identity.clientCert.subjectDN",
	"identity.clientCert.issuerDN", "identity.clientCert.serialNumber", "identity.clientCert.validity.notBefore",
	"identity.clientCert.validity.notAfter", "customDomain.basePathMatched",
}

// CompileHTTP parses the format of an HTTP API stage's access log: as Compile, with the HTTP API
// variables besides.
func CompileHTTP(format string) (*Format, error) { return compile(format, true) }

// HTTPRecord is what an HTTP API request adds to its Record.
type HTTPRecord struct {
	Method, Path, Protocol, DomainPrefix, AccountID string
	ResponseLength                                  int64
	ResponseLatency                                 time.Duration
	// Claims are a JWT authorizer's claims ($context.authorizer.claims.NAME).
	Claims map[string]string
}

func (h *HTTPRecord) value(name string) (string, bool) {
	switch name {
	case "httpMethod":
		return h.Method, true
	case "path":
		return h.Path, true
	case "protocol":
		return h.Protocol, true
	case "domainPrefix":
		return h.DomainPrefix, true
	case "accountId":
		return h.AccountID, true
	case "responseLength", "dataProcessed":
		return strconv.FormatInt(h.ResponseLength, 10), true
	case "responseLatency":
		return strconv.FormatInt(h.ResponseLatency.Milliseconds(), 10), true
	}
	if claim, ok := strings.CutPrefix(name, "authorizer.claims."); ok {
		return h.Claims[claim], true
	}
	return "", false
}
