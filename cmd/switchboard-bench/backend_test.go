package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// The backend keeps recording connection IDs past its memory bound (the cluster scenario's handshake
// turns record more than it holds), and /ids?from=N still returns exactly the ones recorded since N.
func TestBackendRecordsThePastItsBound(t *testing.T) {
	b := newBackend()
	record := func(id string) {
		r := httptest.NewRequest(http.MethodPost, "/connect", nil)
		r.Header.Set("X-Connection-Id", id)
		b.ServeHTTP(httptest.NewRecorder(), r)
	}
	since := func(from int) ([]string, int) {
		w := httptest.NewRecorder()
		b.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ids?from="+strconv.Itoa(from), nil))
		var ids []string
		if err := json.Unmarshal(w.Body.Bytes(), &ids); err != nil {
			t.Fatal(err)
		}
		total, err := strconv.Atoi(w.Header().Get("X-Total"))
		if err != nil {
			t.Fatal(err)
		}
		return ids, total
	}
	for i := range maxRecordedIDs + 5 {
		record("id-" + strconv.Itoa(i))
	}
	_, mark := since(0)
	if mark != maxRecordedIDs+5 {
		t.Fatalf("X-Total = %d, want %d", mark, maxRecordedIDs+5)
	}
	record("new-1")
	record("new-2")
	ids, total := since(mark)
	if total != mark+2 || len(ids) != 2 || ids[0] != "new-1" || ids[1] != "new-2" {
		t.Fatalf("since %d: %v (total %d), want [new-1 new-2] (total %d)", mark, ids, total, mark+2)
	}
	if ids, _ := since(total); len(ids) != 0 {
		t.Fatalf("since the newest mark: %v, want none", ids)
	}
}

// The backend's /connect?work=D answers only after D, each request on its own timer: requests that
// wait are all in flight at once, and each ends when its caller leaves. Bad work is refused with 400.
func TestBackendConnectWork(t *testing.T) {
	b := newBackend()
	srv := httptest.NewServer(b)
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second}

	t.Run("a request takes at least its work", func(t *testing.T) {
		const work = 30 * time.Millisecond
		start := time.Now()
		status, err := post(t.Context(), client, srv.URL+"/connect?work="+work.String(), nil)
		if took := time.Since(start); err != nil || status != http.StatusOK || took < work {
			t.Fatalf("status %d, %v, after %v; want 200 after at least %v", status, err, took, work)
		}
	})
	t.Run("requests wait at once", func(t *testing.T) {
		const requests = 8
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range requests {
			wg.Go(func() { _, _ = post(ctx, client, srv.URL+"/connect?work=1m", nil) })
		}
		gatewaytest.Eventually(t, 10*time.Second, func() bool { return b.working.Load() == requests }, "never %d requests working at once (%d)", requests, b.working.Load())
		cancel()
		wg.Wait()
		gatewaytest.Eventually(t, 10*time.Second, func() bool { return b.working.Load() == 0 }, "requests still working after their callers left: %d", b.working.Load())
	})
	for _, tc := range []struct{ name, work string }{
		{"not a duration", "fast"},
		{"negative", "-1ms"},
		{"too long", "2m"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			resp, err := client.Post(srv.URL+"/connect?work="+tc.work, "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `work "`+tc.work+`"`) {
				t.Fatalf("%d %s; want 400 naming the work", resp.StatusCode, body)
			}
		})
	}
}
