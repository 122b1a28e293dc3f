package console

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// fakeGateway knows one connection, "live".
type fakeGateway struct{ posted []string }

func (f *fakeGateway) Snapshot() *snapshot.Set { return nil }
func (f *fakeGateway) Connections() []Connection {
	return []Connection{{ID: "live", APIID: "a", Stage: "dev"}}
}
func (f *fakeGateway) SendAsClient(_ context.Context, id string, _ []byte) error { return f.check(id) }
func (f *fakeGateway) Post(_ context.Context, id string, data []byte) error {
	if err := f.check(id); err != nil {
		return err
	}
	f.posted = append(f.posted, string(data))
	return nil
}
func (f *fakeGateway) Disconnect(_ context.Context, id string) error { return f.check(id) }
func (f *fakeGateway) check(id string) error {
	if id != "live" {
		return ErrGone
	}
	return nil
}

// Actions need the console's header and a loopback Host (a cross-site form or a rebound DNS name gets
// 403), and a gone connection answers AWS's 410.
func TestActions(t *testing.T) {
	fg := &fakeGateway{}
	h := New(fg, slog.New(slog.DiscardHandler), nil).Handler("/console/")
	for _, tc := range []struct {
		name, host, path string
		header           bool
		want             int
	}{
		{"post", "127.0.0.1:8081", "/console/api/connections/live/post", true, http.StatusOK},
		{"localhost host", "localhost:8081", "/console/api/connections/live/send", true, http.StatusOK},
		{"without the header (a cross-site form)", "127.0.0.1:8081", "/console/api/connections/live/post", false, http.StatusForbidden},
		{"a DNS name pointing at loopback", "evil.example:8081", "/console/api/connections/live/post", true, http.StatusForbidden},
		{"a gone connection", "127.0.0.1:8081", "/console/api/connections/gone/post", true, http.StatusGone},
		{"disconnect", "[::1]:8081", "/console/api/connections/live/disconnect", true, http.StatusOK},
		{"unknown action", "127.0.0.1:8081", "/console/api/connections/live/explode", true, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://"+tc.host+tc.path, strings.NewReader("hi"))
			r.Host = tc.host
			if tc.header {
				r.Header.Set(ActionHeader, "1")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
	if len(fg.posted) != 1 {
		t.Fatalf("posted %v, want one post", fg.posted)
	}
}

// The page and its script are served from the binary, with a policy that allows only the console's own
// scripts.
func TestPageEmbedded(t *testing.T) {
	h := New(&fakeGateway{}, slog.New(slog.DiscardHandler), nil).Handler("/console/")
	for _, p := range []string{"/console/", "/console/console.js", "/console/console.css", "/console/api/state"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
		if w.Code != http.StatusOK || w.Body.Len() == 0 {
			t.Fatalf("%s: %d", p, w.Code)
		}
		if !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("%s: CSP %q", p, w.Header().Get("Content-Security-Policy"))
		}
	}
}
