package sigv4

import (
	"errors"
	"strings"
)

// The sentinel errors below classify every verification failure. Verify returns an *Error whose Kind is one
// of them, so callers test with errors.Is(err, ErrInvalidSignature) and read details with errors.As. Each
// sentinel's text is the message AWS sends for that class of failure.
var (
	// ErrMissingAuthentication: the request carries neither an Authorization header nor presigned X-Amz-*
	// query parameters.
	ErrMissingAuthentication = errors.New("Missing Authentication Token")

	// ErrIncompleteSignature: the Authorization header or the presigned query parameters are malformed or
	// incomplete (AWS's IncompleteSignatureException).
	ErrIncompleteSignature = errors.New("Authorization header or query-string parameters are incomplete or malformed.")

	// ErrInvalidSignature: the signature does not match the one computed from the request.
	ErrInvalidSignature = errors.New("The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")

	// ErrUnknownAccessKey: the access key id is not known to the Credentials.
	ErrUnknownAccessKey = errors.New("The security token included in the request is invalid.")

	// ErrExpired: the request date lies outside the allowed clock skew, or a presigned URL is past its
	// X-Amz-Expires.
	ErrExpired = errors.New("Signature expired")

	// ErrWrongScope: the credential scope's date, region, service or terminator does not match.
	ErrWrongScope = errors.New("Credential should be scoped correctly.")
)

// Error is the error Verify returns. Kind is one of the sentinel errors of this package; Message is the
// AWS-style message for this particular failure. For signature mismatches CanonicalRequest and StringToSign
// hold what the verifier computed (they contain no secret), which AWS also reveals to help debug clients.
type Error struct {
	// Kind is the sentinel error classifying the failure (ErrInvalidSignature, ...).
	Kind error
	// Message is the AWS-like, client-presentable message.
	Message string
	// CanonicalRequest is the canonical request the verifier computed (signature mismatches only).
	CanonicalRequest string
	// StringToSign is the string to sign the verifier computed (signature mismatches only).
	StringToSign string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns Kind, so errors.Is(err, ErrInvalidSignature) works.
func (e *Error) Unwrap() error { return e.Kind }

// AWSMessage returns the message exactly as AWS formats it for clients: for a signature mismatch this
// appends the canonical request and the string to sign ("The Canonical String for this request should have
// been ..."), otherwise it is Message.
func (e *Error) AWSMessage() string {
	if e.CanonicalRequest == "" && e.StringToSign == "" {
		return e.Message
	}
	var b strings.Builder
	b.Grow(len(e.Message) + len(e.CanonicalRequest) + len(e.StringToSign) + 100)
	b.WriteString(e.Message)
	b.WriteString("\n\nThe Canonical String for this request should have been\n'")
	b.WriteString(e.CanonicalRequest)
	b.WriteString("'\n\nThe String-to-Sign should have been\n'")
	b.WriteString(e.StringToSign)
	b.WriteString("'\n")
	return b.String()
}

// newError returns an *Error of the given kind; an empty message means the sentinel's own text.
func newError(kind error, msg string) *Error {
	if msg == "" {
		msg = kind.Error()
	}
	return &Error{Kind: kind, Message: msg}
}

// maxEcho bounds how much client-supplied text is echoed into an error message.
const maxEcho = 128

// echo makes client-supplied text safe and short for an error message: non-printable bytes become '?',
// single quotes are kept, and the text is cut to maxEcho bytes.
func echo(s string) string {
	cut := false
	if len(s) > maxEcho {
		s, cut = s[:maxEcho], true
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			clean = false
			break
		}
	}
	if !clean {
		b := []byte(s)
		for i, c := range b {
			if c < 0x20 || c >= 0x7f {
				b[i] = '?'
			}
		}
		s = string(b)
	}
	if cut {
		s += "..."
	}
	return s
}
