// Package awserr is the AWS error model of Switchboard's two AWS APIs (the @connections management API and,
// later, the apigatewayv2 control plane) and its one HTTP writer.
//
// The SDKs resolve an error's type from the X-Amzn-ErrorType header first, then the body's __type, then
// code; the message comes from the body's "message". Write sends all of them consistently, and never a null
// message (older aws-sdk-go-v2 versions panic on {"message":null}).
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

type body struct {
	Type         string `json:"__type"`
	Message      string `json:"message,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
	LimitType    string `json:"limitType,omitempty"`
}

// Write sends err as an AWS error response. An err that is not an *Error becomes a 500 InternalFailure
// without its text, so internal details never leak to callers.
func Write(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Type: TypeInternalFailure, Message: "internal failure"}
	}
	b, _ := json.Marshal(body{Type: e.Type, Message: e.Message, ResourceType: e.ResourceType, LimitType: e.LimitType})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Type)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}
