package mgmtapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/mgmtapi"
	"github.com/switchboard-gw/switchboard/internal/registry"
)

// listRegistry holds a few connections for the extension's list and broadcast.
type listRegistry struct{ fakeRegistry }

func (listRegistry) List(_ context.Context, _ registry.Scope, after string, limit int) ([]registry.Listed, bool, error) {
	var page []registry.Listed
	for _, id := range []string{"AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "CCCCCCCCCCCCCCC="} {
		if id > after {
			if len(page) == limit {
				return page, true, nil
			}
			page = append(page, registry.Listed{ID: id})
		}
	}
	return page, false, nil
}

func (listRegistry) SendAll(context.Context, registry.Scope, []byte) (int, map[string]error, error) {
	return 2, map[string]error{"CCCCCCCCCCCCCCC=": registry.ErrQueueFull}, nil
}

func (listRegistry) Send(_ context.Context, _ registry.Scope, id string, _ []byte) error {
	if strings.HasPrefix(id, "A") {
		return nil
	}
	return registry.ErrGone
}

// The extension's inputs — a broadcast body, list query parameters — never crash it, and every answer is
// a 200 with JSON or an AWS-shaped 4XX with its type in X-Amzn-ErrorType.
func FuzzExtension(f *testing.F) {
	for _, s := range []struct{ body, query string }{
		{`{"data":"hi"}`, ""},
		{`{"data":"hi","connectionIds":["AAAAAAAAAAAAAAA=","nope"]}`, "maxResults=2"},
		{`{"connectionIds":[]}`, "maxResults=0"},
		{`not json`, "nextToken=%%%"},
		{`{"data":null}`, "nextToken=QUFBQUFBQUFBQUFBQUFBPQ&maxResults=1000"},
	} {
		f.Add(s.body, s.query)
	}
	h := mgmtapi.New(listRegistry{}, mgmtapi.Auth{}, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, body, query string) {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			r := httptest.NewRequest(method, "/dev/@connections", strings.NewReader(body))
			r.URL.RawQuery = query
			if _, err := url.ParseQuery(query); err != nil {
				r.URL.RawQuery = url.QueryEscape(query)
			}
			w := httptest.NewRecorder()
			h.Serve(w, r, registry.Scope{Stage: "dev"}, "", "")
			switch {
			case w.Code == http.StatusOK:
				if !json.Valid(w.Body.Bytes()) {
					t.Fatalf("%s %q %q: 200 with %q", method, body, query, w.Body)
				}
			case w.Code >= 400 && w.Code < 500:
				if w.Header().Get("X-Amzn-ErrorType") == "" {
					t.Fatalf("%s %q %q: %d without X-Amzn-ErrorType", method, body, query, w.Code)
				}
			default:
				t.Fatalf("%s %q %q: status %d", method, body, query, w.Code)
			}
		}
	})
}
