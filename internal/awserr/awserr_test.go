package awserr

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"gone has an empty body", New(410, TypeGone, ""), 410, "GoneException", ``},
		{"too large", New(413, TypePayloadTooLarge, "Request body too large"), 413, "PayloadTooLargeException", `{"message":"Request body too large"}`},
		{"not found names the resource type", &Error{Status: 404, Type: TypeNotFound, Message: "Invalid API identifier specified 123456789012:abc", ResourceType: "Api"}, 404, "NotFoundException", `{"message":"Invalid API identifier specified 123456789012:abc","resourceType":"Api"}`},
		{"too many requests names the limit", &Error{Status: 429, Type: TypeTooManyRequests, Message: "Too Many Requests", LimitType: "account"}, 429, "TooManyRequestsException", `{"message":"Too Many Requests","limitType":"account"}`},
		{"wrapped error keeps its shape", fmt.Errorf("get api: %w", New(409, TypeConflict, "exists")), 409, "ConflictException", `{"message":"exists"}`},
		{"plain error hides text", errors.New("secret detail"), 500, "InternalFailure", `{"message":"internal failure"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, tc.err)
			if rec.Code != tc.wantStatus || rec.Header().Get("X-Amzn-ErrorType") != tc.wantType || rec.Body.String() != tc.wantBody ||
				rec.Header().Get("Content-Length") != fmt.Sprint(len(tc.wantBody)) || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %s", rec.Code, rec.Header().Get("X-Amzn-ErrorType"), rec.Body.String())
			}
		})
	}
}
