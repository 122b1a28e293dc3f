package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
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
