package dispatch

import (
	"sync"
	"sync/atomic"
	"time"
)

// workers runs background messages, and $connect integrations, on goroutines that outlive one job: a job
// is handed to an idle worker when there is one, and a new worker is started only when there is not. A
// goroutine started per message grew its stack (copying it) on most messages, about 4% of the gateway's
// CPU on the Lambda route, and so did each handshake's own goroutine; a worker keeps its grown stack. A
// worker idle for workerIdle ends.
type workers struct {
	jobs    chan func() // unbuffered: a send succeeds only when a worker is waiting
	pending sync.WaitGroup
	running sync.WaitGroup
	quit    chan struct{}
	stop    sync.Once
	started atomic.Int64 // workers started, for tests
	waiting atomic.Int32 // workers waiting for a job, for tests
}

// workerIdle is how long a worker waits for another job before it ends.
const workerIdle = 2 * time.Second

func newWorkers() *workers {
	return &workers{jobs: make(chan func()), quit: make(chan struct{})}
}

// Go runs job on an idle worker, or on a new one.
func (w *workers) Go(job func()) {
	w.pending.Add(1)
	select {
	case w.jobs <- job:
		return
	default:
	}
	w.started.Add(1)
	w.running.Go(func() { w.work(job) })
}

func (w *workers) work(job func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		job()
		w.pending.Done()
		idle.Reset(workerIdle)
		w.waiting.Add(1)
		select {
		case job = <-w.jobs:
			w.waiting.Add(-1)
		case <-idle.C:
			w.waiting.Add(-1)
			return
		case <-w.quit:
			w.waiting.Add(-1)
			return
		}
	}
}

// Wait blocks until every job has finished, then ends the workers and waits for them. Jobs given after
// Wait has begun still run, each on a worker that ends after it.
func (w *workers) Wait() {
	w.pending.Wait()
	w.stop.Do(func() { close(w.quit) })
	w.running.Wait()
}
