// Package awserr is the AWS error model of Switchboard's AWS APIs (the @connections management API, the
// apigatewayv2 control plane and API Gateway's v1 API keys and usage plans) and its one HTTP writer.
//
// API Gateway names an error's type in the X-Amzn-ErrorType header and puts only the shape's members in
// the JSON body: {"message":"..."} (plus resourceType or limitType where the model has them), and no body
// at all for an error without members, such as the management API's 410 GoneException (the SDK reports
// and captures quoted in the project's AWS reference, §6.4 and §10.4). The SDKs resolve the type from that header first, then the
// body's __type, then code, and read the message from the body's "message", so this shape decodes in
// all of them. Write never sends a null message (older aws-sdk-go-v2 versions panic on {"message":null}).
package awserr

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Error is an AWS API error: an HTTP status, an error type name such as "GoneException", and a message.
type Error struct {
	Status  int
	Type    string
	Message string
	// ResourceType (NotFoundException) and LimitType (TooManyRequestsException) are the extra members
	// the apigatewayv2 model gives those errors; empty ones are left out.
	ResourceType string
	LimitType    string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// New returns an *Error.
func New(status int, typ, message string) *Error {
	return &Error{Status: status, Type: typ, Message: message}
}

// Error types used by the management API and the control plane.
const (
	TypeBadRequest       = "BadRequestException"
	TypeForbidden        = "ForbiddenException"
	TypeGone             = "GoneException"
	TypeLimitExceeded    = "LimitExceededException"
	TypePayloadTooLarge  = "PayloadTooLargeException"
	TypeNotFound         = "NotFoundException"
	TypeConflict         = "ConflictException"
	TypeTooManyRequests  = "TooManyRequestsException"
	TypeInternalFailure  = "InternalFailure"
	TypeMethodNotAllowed = "MethodNotAllowedException"
)

// body is an error's JSON body: the shape's members only; the type travels in the X-Amzn-ErrorType header.
type body struct {
	Message      string `json:"message,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
	LimitType    string `json:"limitType,omitempty"`
}

// Write sends err as an AWS error response: the status, X-Amzn-ErrorType, and a JSON body holding the
// error's members, or an empty body when it has none. An err that is not an *Error becomes a 500
// InternalFailure without its text, so internal details never leak to callers.
func Write(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Type: TypeInternalFailure, Message: "internal failure"}
	}
	var b []byte
	if m := (body{Message: e.Message, ResourceType: e.ResourceType, LimitType: e.LimitType}); m != (body{}) {
		b, _ = json.Marshal(m)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Type)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}
