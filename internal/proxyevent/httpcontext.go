package proxyevent

import (
	"strconv"
	"strings"
)

// ContextVar returns the HTTP API $context variable name (without "$context.") for r, and whether it has
// a value: the request-time variables of AWS's "Customizing HTTP API access logs" list, which parameter
// mappings and $context identity sources read. path is the request path as the client sent it, with
// the stage (AWS: "the request path"); authorizer.claims.NAME reads a JWT claim, authorizer.principalId
// and authorizer.NAME a Lambda authorizer's output (a string as itself, other values as their JSON
// text), identity.* the caller (IAM members only on AWS_IAM routes).
func (r *HTTPRequest) ContextVar(name string) (string, bool) {
	v := ""
	switch name {
	case "accountId":
		v = r.AccountID
	case "apiId":
		v = r.APIID
	case "domainName":
		v = r.DomainName
	case "domainPrefix":
		v = r.DomainPrefix
	case "httpMethod":
		v = r.Method
	case "path":
		v = r.RawPath
	case "protocol":
		v = r.Protocol
	case "requestId", "extendedRequestId":
		v = r.RequestID
	case "requestTime":
		v = formatRequestTime(r.Time)
	case "requestTimeEpoch":
		v = strconv.FormatInt(r.Time.UnixMilli(), 10)
	case "routeKey":
		v = r.RouteKey
	case "stage":
		v = r.Stage
	case "identity.sourceIp":
		v = r.SourceIP
	case "identity.userAgent":
		v = r.Header.Get("User-Agent")
	default:
		return r.authorizerVar(name)
	}
	return v, v != ""
}

func (r *HTTPRequest) authorizerVar(name string) (string, bool) {
	a := r.Authorizer
	if a == nil {
		return "", false
	}
	if iam := a.IAM; iam != nil {
		switch name {
		case "identity.accountId":
			return iam.AccountID, iam.AccountID != ""
		case "identity.caller":
			return iam.CallerID, iam.CallerID != ""
		case "identity.user":
			return iam.UserID, iam.UserID != ""
		case "identity.userArn":
			return iam.UserARN, iam.UserARN != ""
		case "identity.accessKey":
			return iam.AccessKey, iam.AccessKey != ""
		}
	}
	key, ok := strings.CutPrefix(name, "authorizer.")
	if !ok {
		return "", false
	}
	if claim, ok := strings.CutPrefix(key, "claims."); ok && a.JWT != nil {
		v, ok := a.JWT.Claims[claim]
		return v, ok && v != ""
	}
	if a.Lambda != nil {
		switch v := a.Lambda[key].(type) {
		case nil:
			return "", false
		case string:
			return v, v != ""
		default:
			return string(Encode(v)), true
		}
	}
	return "", false
}

// QueryValue returns the values of the query parameter name (decoded) joined with commas, as payload
// 2.0's queryStringParameters carry them; "" when the request has none.
func (r *HTTPRequest) QueryValue(name string) string {
	for _, p := range parseQuery(r.RawQuery) {
		if p.name == name {
			return strings.Join(p.values, ",")
		}
	}
	return ""
}
