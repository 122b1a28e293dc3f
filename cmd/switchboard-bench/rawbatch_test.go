package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestParseRawNATSBatch checks a batch's entries as the holder reads them: what the batcher writes, in
// order, and a refusal naming the entry and the byte of anything else.
func TestParseRawNATSBatch(t *testing.T) {
	entries := []rawNATSBatchEntry{{id: "1", data: []byte("record one")}, {remove: true, id: "7"}, {id: "12", data: []byte{}}, {id: "9", data: bytes.Repeat([]byte("r"), 300)}}
	var valid []byte
	for _, e := range entries {
		valid = appendRawNATSBatchEntry(valid, e)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want []rawNATSBatchEntry
		err  string
	}{
		{name: "empty", data: nil},
		{name: "records and removals", data: valid, want: entries},
		{name: "an unknown kind", data: []byte("q1\n\x00"), err: `batch entry 1 at byte 0: kind 'q', want 'r' (a record) or 'x' (a removal)`},
		{name: "no newline", data: []byte("r1"), err: "batch entry 1 at byte 0: no newline after the connection's ID"},
		{name: "an empty ID", data: []byte("r\n\x00"), err: "batch entry 1 at byte 0: an empty connection ID"},
		{name: "no length", data: []byte("r1\n"), err: "batch entry 1 at byte 0: the data's length is not a uvarint"},
		{name: "a length past the end", data: []byte("r1\n\x05abc"), err: "batch entry 1 at byte 0: 5 bytes of data, 3 left"},
		{name: "a removal with data", data: []byte("x1\n\x01a"), err: "batch entry 1 at byte 0: a removal with 1 bytes of data"},
		{name: "a bad second entry", data: append(appendRawNATSBatchEntry(nil, entries[0]), 'r'), err: "batch entry 2 at byte 14: no newline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRawNATSBatch(tc.data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || got != nil {
					t.Fatalf("got %v, %v; want no entries and %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tc.want, sameEntry) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func sameEntry(a, b rawNATSBatchEntry) bool {
	return a.remove == b.remove && a.id == b.id && bytes.Equal(a.data, b.data)
}

// FuzzRawNATSBatch: any bytes either parse into entries that, written back, read as the same entries, or
// are refused; nothing panics.
func FuzzRawNATSBatch(f *testing.F) {
	f.Add([]byte(nil))
	f.Add(appendRawNATSBatchEntry(nil, rawNATSBatchEntry{id: "1", data: []byte("rrr")}))
	f.Add(appendRawNATSBatchEntry(appendRawNATSBatchEntry(nil, rawNATSBatchEntry{id: "1", data: []byte("rrr")}), rawNATSBatchEntry{remove: true, id: "1"}))
	f.Add([]byte("r1\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Add([]byte("x\n\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseRawNATSBatch(data)
		if err != nil {
			if entries != nil {
				t.Fatalf("refused (%v) with entries %v", err, entries)
			}
			return
		}
		var back []byte
		for _, e := range entries {
			if e.id == "" || strings.Contains(e.id, "\n") || e.remove && len(e.data) > 0 {
				t.Fatalf("entry %+v", e)
			}
			back = appendRawNATSBatchEntry(back, e)
		}
		// A uvarint may be written with more bytes than needed; what it says must not change.
		again, err := parseRawNATSBatch(back)
		if err != nil || !slices.EqualFunc(again, entries, sameEntry) {
			t.Fatalf("written back and read again: %v, %v; want %v", again, err, entries)
		}
	})
}

// TestRawNATSBatcher checks the group commit without NATS: the first entry goes out alone, those handed
// over while its request is in flight go together in the next (at most rawNATSMaxBatch a request, in
// order), each record's wait ends with its own request's answer, and a stopped batcher refuses.
func TestRawNATSBatcher(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var sent [][]rawNATSBatchEntry
	fail := errors.New("the holder is gone")
	b := newRawNATSBatcher(func(ctx context.Context, batch []byte) error {
		if batch[0] != rawNATSBatch {
			t.Errorf("a batch starts with %q", batch[0])
		}
		entries, err := parseRawNATSBatch(batch[1:])
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		sent = append(sent, entries)
		first := len(sent) == 1
		last := len(sent) == 3
		mu.Unlock()
		if first {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if last {
			return fail
		}
		return nil
	})
	defer b.close()
	requests := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(sent)
	}
	first := b.hold("0", []byte("r"))
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return requests() == 1 }, "the first record never went out")
	const more = rawNATSMaxBatch + 10
	ops := make([]*rawNATSBatchOp, more)
	for i := range ops {
		ops[i] = b.hold(strconv.Itoa(i+1), []byte("r"))
		if i == 3 {
			b.drop("2")
		}
	}
	if got := b.waiting(); got != more+1 {
		t.Fatalf("%d entries waiting behind the first request, want %d", got, more+1)
	}
	close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := b.wait(ctx, first); err != nil {
		t.Fatalf("the first record: %v", err)
	}
	for i, op := range ops {
		err := b.wait(ctx, op)
		switch {
		case i < rawNATSMaxBatch-1 && err != nil: // the second request: its 511 records and the removal
			t.Fatalf("record %d: %v", i+1, err)
		case i >= rawNATSMaxBatch-1 && !errors.Is(err, fail): // the third, which the holder did not answer
			t.Fatalf("record %d: %v, want %v", i+1, err, fail)
		}
	}
	mu.Lock()
	sizes := []int{len(sent[0]), len(sent[1]), len(sent[2])}
	second := sent[1]
	mu.Unlock()
	if !slices.Equal(sizes, []int{1, rawNATSMaxBatch, more + 1 - rawNATSMaxBatch}) {
		t.Errorf("requests of %v entries, want [1 %d %d]", sizes, rawNATSMaxBatch, more+1-rawNATSMaxBatch)
	}
	if e := second[4]; !e.remove || e.id != "2" || second[3].id != "4" || second[5].id != "5" {
		t.Errorf("the removal is not where it was handed over: %+v %+v %+v", second[3], e, second[5])
	}
	b.close()
	if err := b.wait(ctx, b.hold("late", []byte("r"))); !errors.Is(err, errRawNATSBatcherStopped) {
		t.Errorf("a record handed to a stopped batcher: %v, want %v", err, errRawNATSBatcherStopped)
	}
}
