package controlapi

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/authorizer"
	"github.com/switchboard-gw/switchboard/internal/awserr"
)

// Checker verifies a SigV4-signed request (service apigateway) and the signer's permission for action
// on resource. It fails with errors wrapping the sigv4 sentinels, or authorizer.ErrAccessDenied.
type Checker interface {
	Check(r *http.Request, body []byte, action, resource string) error
}

// RequireIAM wraps the control plane so that every request must be signed by a known access key whose
// policy allows apigateway:{METHOD} on arn:aws:apigateway:{region}::{path without /v2} — the action and
// resource IAM policies name for API Gateway's management API (e.g. apigateway:POST on
// arn:aws:apigateway:us-east-1::/apis). Unsigned or wrongly signed requests get 403 with
// the error type AWS uses, and reach no handler.
func RequireIAM(next http.Handler, iam Checker, region string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readRaw(r) // as sent: the signature covers it
		if err != nil {
			awserr.Write(w, err)
			return
		}
		// IAM names API Gateway resources by path without the API version: /apis/{apiId}, /apikeys/{id}.
		resource := "arn:" + authorizer.Partition(region) + ":apigateway:" + region + "::" + strings.TrimPrefix(r.URL.Path, "/v2")
		if err := iam.Check(r, body, "apigateway:"+r.Method, resource); err != nil {
			awserr.Write(w, signatureError(err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// signatureError maps a failed check to the 403 AWS's management APIs answer with.
func signatureError(err error) error {
	typ, msg := authorizer.Refusal(err, "MissingAuthenticationTokenException", "AccessDeniedException")
	return awserr.New(http.StatusForbidden, typ, msg)
}
