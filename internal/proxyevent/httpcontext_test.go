package proxyevent

import (
	"encoding/json"
	"testing"
)

func TestHTTPContextVar(t *testing.T) {
	r := baseRequest()
	jwt := baseRequest()
	jwt.Authorizer = &HTTPAuthorizer{JWT: &JWTAuthorization{Claims: map[string]string{"sub": "u-1", "email": ""}}}
	lambda := baseRequest()
	lambda.Authorizer = &HTTPAuthorizer{Lambda: map[string]any{"principalId": "p1", "n": json.Number("2"), "list": []any{"a"}}}
	iam := baseRequest()
	iam.Authorizer = &HTTPAuthorizer{IAM: &IAMAuthorization{AccessKey: "AKID", AccountID: "123", CallerID: "AKID", UserARN: "arn:aws:iam::123:user/a", UserID: "AKID"}}
	cases := []struct {
		name string
		req  *HTTPRequest
		v    string
		want string
		ok   bool
	}{
		{"accountId", r, "accountId", "123456789012", true},
		{"apiId", r, "apiId", "a1b2c3d4e5", true},
		{"domainPrefix", r, "domainPrefix", "a1b2c3d4e5", true},
		{"httpMethod", r, "httpMethod", "GET", true},
		{"path with the stage", r, "path", "/dev/pets/1", true},
		{"protocol", r, "protocol", "HTTP/1.1", true},
		{"requestId", r, "requestId", "LV7fzho-PHcEJPw=", true},
		{"requestTime", r, "requestTime", "06/Dec/2026:13:20:31 +0000", true},
		{"requestTimeEpoch", r, "requestTimeEpoch", "1796563231123", true},
		{"routeKey", r, "routeKey", "GET /pets/{id}", true},
		{"stage", r, "stage", "dev", true},
		{"sourceIp", r, "identity.sourceIp", "203.0.113.7", true},
		{"userAgent", r, "identity.userAgent", "curl/8.5.0", true},
		{"unknown", r, "nope", "", false},
		{"claim", jwt, "authorizer.claims.sub", "u-1", true},
		{"empty claim", jwt, "authorizer.claims.email", "", false},
		{"missing claim", jwt, "authorizer.claims.zip", "", false},
		{"lambda string", lambda, "authorizer.principalId", "p1", true},
		{"lambda number", lambda, "authorizer.n", "2", true},
		{"lambda array", lambda, "authorizer.list", `["a"]`, true},
		{"no authorizer", r, "authorizer.principalId", "", false},
		{"iam user arn", iam, "identity.userArn", "arn:aws:iam::123:user/a", true},
		{"iam caller", iam, "identity.caller", "AKID", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.req.ContextVar(tc.v)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ContextVar(%q) = %q, %v; want %q, %v", tc.v, got, ok, tc.want, tc.ok)
			}
		})
	}
}
