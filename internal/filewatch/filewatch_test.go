package filewatch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestChanged(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "one")
	w := New(a, b)
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"nothing happened", func() {}, nil},
		{"same content, new modification time", func() {
			later := time.Now().Add(time.Minute)
			_ = os.Chtimes(a, later, later)
		}, nil},
		{"content changed", func() { write(a, "two") }, []string{a}},
		{"content changed with the same size and time", func() {
			fi, _ := os.Stat(a)
			write(a, "tw0")
			_ = os.Chtimes(a, fi.ModTime(), fi.ModTime())
		}, nil}, // size and time unchanged: not read again (the documented cost of polling cheaply)
		{"a file appears", func() { write(b, "x") }, []string{b}},
		{"replaced by rename, as editors save", func() {
			tmp := filepath.Join(dir, ".a.tmp")
			write(tmp, "three")
			_ = os.Rename(tmp, a)
		}, []string{a}},
		{"a file disappears", func() { _ = os.Remove(b) }, []string{b}},
	}
	for _, s := range steps {
		s.do()
		if got := w.Changed(); !slices.Equal(got, s.want) {
			t.Fatalf("%s: Changed() = %v, want %v", s.name, got, s.want)
		}
	}
}

func TestRunCallsBackUntilCancelled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := New(p)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []string, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, 5*time.Millisecond, func(c []string) { got <- c })
	}()
	if err := os.WriteFile(p, []byte("two!"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if !slices.Equal(c, []string{p}) {
			t.Fatalf("changed %v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback within 10 s")
	}
	cancel()
	<-done
}
