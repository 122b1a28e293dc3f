package awserr

import (
	"errors"
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
		{"gone", New(410, TypeGone, ""), 410, "GoneException", `{"__type":"GoneException"}`},
		{"too large", New(413, TypePayloadTooLarge, "Request body too large"), 413, "PayloadTooLargeException", `{"__type":"PayloadTooLargeException","message":"Request body too large"}`},
		{"not found names the resource type", &Error{Status: 404, Type: TypeNotFound, Message: "Invalid API identifier specified 123456789012:abc", ResourceType: "Api"}, 404, "NotFoundException", `{"__type":"NotFoundException","message":"Invalid API identifier specified 123456789012:abc","resourceType":"Api"}`},
		{"plain error hides text", errors.New("secret detail"), 500, "InternalFailure", `{"__type":"InternalFailure","message":"internal failure"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, tc.err)
			if rec.Code != tc.wantStatus || rec.Header().Get("X-Amzn-ErrorType") != tc.wantType || rec.Body.String() != tc.wantBody {
				t.Fatalf("got %d %q %s", rec.Code, rec.Header().Get("X-Amzn-ErrorType"), rec.Body.String())
			}
		})
	}
}
