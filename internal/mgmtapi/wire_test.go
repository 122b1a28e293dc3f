package mgmtapi_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/authorizer"
	"github.com/switchboard-gw/switchboard/internal/mgmtapi"
	"github.com/switchboard-gw/switchboard/internal/registry"
	"github.com/switchboard-gw/switchboard/internal/sigv4"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fakeRegistry answers every operation with err, so that each registry condition can be put on the wire.
type fakeRegistry struct{ err error }

func (f fakeRegistry) Send(context.Context, registry.Scope, string, []byte) error { return f.err }
func (f fakeRegistry) Info(context.Context, registry.Scope, string) (registry.Info, error) {
	return registry.Info{}, f.err
}
func (f fakeRegistry) Disconnect(context.Context, registry.Scope, string) error { return f.err }
func (f fakeRegistry) List(context.Context, registry.Scope, string, int) ([]registry.Listed, bool, error) {
	return nil, false, nil
}
func (f fakeRegistry) SendAll(context.Context, registry.Scope, []byte) (int, map[string]error, error) {
	return 0, nil, nil
}

// refusingChecker refuses every signature with err.
type refusingChecker struct{ err error }

func (c refusingChecker) Check(*http.Request, []byte, string, string) error { return c.err }

// dumpResponse renders what a client sees of an error response: the status, the headers the SDKs read, and
// the body byte for byte (an empty body shows as nothing between the markers).
func dumpResponse(status int, h http.Header, body []byte) string {
	return fmt.Sprintf("<<< %d\nContent-Type: %s\nContent-Length: %s\nX-Amzn-ErrorType: %s\n[%s]\n",
		status, h.Get("Content-Type"), h.Get("Content-Length"), h.Get("X-Amzn-ErrorType"), body)
}

// TestErrorWire pins the raw error responses of the management API, as a gateway and as the handler with
// registry conditions that are hard to provoke end to end (testdata/errors.golden; -update rewrites it).
// AWS sends the type in X-Amzn-ErrorType, an empty body for GoneException and LimitExceededException, and
// {"message":...} where there is a message; no __type in the body.
func TestErrorWire(t *testing.T) {
	f := newFixture(t)
	_, id := f.connect(t, "wire")
	const unknown = "AAAAAAAAAAAAAAA=" // well formed, never issued
	hc := httpClient(f.g, false)
	t.Cleanup(hc.CloseIdleConnections)

	type result struct {
		status int
		header http.Header
		body   []byte
	}
	viaGateway := func(method, path string, body []byte) func(t *testing.T) result {
		return func(t *testing.T) result {
			req, err := http.NewRequest(method, f.g.HTTPURL+path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return result{resp.StatusCode, resp.Header, data}
		}
	}
	viaHandler := func(reg mgmtapi.Registry, auth mgmtapi.Auth, method string) func(t *testing.T) result {
		return func(t *testing.T) result {
			h := mgmtapi.New(reg, auth, slog.New(slog.DiscardHandler))
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(method, "/dev/@connections/"+unknown, strings.NewReader("x"))
			h.Serve(rec, r, registry.Scope{APIID: "chat", Stage: "dev"}, "chat", unknown)
			return result{rec.Code, rec.Header(), rec.Body.Bytes()}
		}
	}
	iam := func(err error) mgmtapi.Auth {
		return mgmtapi.Auth{IAM: refusingChecker{err}, Region: "us-east-1", Account: "123456789012"}
	}
	cases := []struct {
		name string
		do   func(t *testing.T) result
	}{
		{"PostToConnection unknown id", viaGateway(http.MethodPost, "/chat/dev/@connections/"+unknown, []byte("x"))},
		{"GetConnection unknown id", viaGateway(http.MethodGet, "/chat/dev/@connections/"+unknown, nil)},
		{"DeleteConnection unknown id", viaGateway(http.MethodDelete, "/chat/dev/@connections/"+unknown, nil)},
		{"malformed id", viaGateway(http.MethodPost, "/chat/dev/@connections/abc", []byte("x"))},
		{"payload too large", viaGateway(http.MethodPost, "/chat/dev/@connections/"+id, bytes.Repeat([]byte("x"), mgmtapi.MaxPayload+1))},
		{"another stage", viaGateway(http.MethodGet, "/prod/@connections/"+id, nil)},
		{"unsupported method", viaGateway(http.MethodPut, "/chat/dev/@connections/"+id, nil)},
		{"queue full", viaHandler(fakeRegistry{registry.ErrQueueFull}, mgmtapi.Auth{}, http.MethodPost)},
		{"gone, handler", viaHandler(fakeRegistry{registry.ErrGone}, mgmtapi.Auth{}, http.MethodGet)},
		{"missing signature", viaHandler(fakeRegistry{}, iam(sigv4.ErrMissingAuthentication), http.MethodPost)},
		{"policy denies", viaHandler(fakeRegistry{}, iam(fmt.Errorf("%w: execute-api:ManageConnections", authorizer.ErrAccessDenied)), http.MethodPost)},
	}
	var got strings.Builder
	for _, tc := range cases {
		res := tc.do(t)
		if n := len(res.body); res.header.Get("Content-Length") != fmt.Sprint(n) {
			t.Errorf("%s: Content-Length %q for a body of %d bytes", tc.name, res.header.Get("Content-Length"), n)
		}
		fmt.Fprintf(&got, ">>> %s\n%s\n", tc.name, dumpResponse(res.status, res.header, res.body))
	}
	golden := filepath.Join("testdata", "errors.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got.String() != string(want) {
		t.Errorf("error responses differ from %s (run go test -update to accept):\n%s", golden, got.String())
	}
}
