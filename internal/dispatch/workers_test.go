package dispatch

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkers(t *testing.T) {
	t.Run("an idle worker takes the next job", func(t *testing.T) {
		w := newWorkers()
		var ran atomic.Int32
		for range 50 {
			done := make(chan struct{})
			w.Go(func() { ran.Add(1); close(done) })
			<-done
			// Poll until the worker waits for the next job.
			deadline := time.Now().Add(10 * time.Second)
			for w.waiting.Load() == 0 && time.Now().Before(deadline) {
				runtime.Gosched()
			}
		}
		w.Wait()
		if ran.Load() != 50 {
			t.Fatalf("%d of 50 jobs ran", ran.Load())
		}
		// One, unless a job came in the instant between a worker saying it waits and its receive.
		if n := w.started.Load(); n > 5 {
			t.Errorf("%d workers started for 50 jobs one after another, want about 1", n)
		}
	})
	t.Run("concurrent jobs get their own workers", func(t *testing.T) {
		w := newWorkers()
		release := make(chan struct{})
		var ran atomic.Int32
		for range 8 {
			w.Go(func() { <-release; ran.Add(1) })
		}
		close(release)
		w.Wait()
		if ran.Load() != 8 || w.started.Load() != 8 {
			t.Fatalf("%d jobs ran on %d workers, want 8 on 8", ran.Load(), w.started.Load())
		}
	})
	t.Run("Wait ends the workers", func(t *testing.T) {
		before := runtime.NumGoroutine()
		w := newWorkers()
		for range 4 {
			w.Go(func() {})
		}
		w.Wait()
		if after := runtime.NumGoroutine(); after > before {
			t.Errorf("%d goroutines after Wait, %d before", after, before)
		}
		// A job given after Wait still runs, on a worker that ends after it.
		done := make(chan struct{})
		w.Go(func() { close(done) })
		<-done
		w.Wait()
	})
}
