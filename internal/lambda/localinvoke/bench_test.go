//go:build unix

package localinvoke

import (
	"context"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// BenchmarkInvokeGoRPC measures the gateway's side of a warm invocation of an aws-lambda-go process over
// the go1.x runtime's protocol: cpu-ns/op is this process's CPU per invocation (the function processes
// are others), the figure the gateway pays. "sequential" has one caller and an idle process for each
// call; "queued" has 8 callers on 2 processes, so that most invocations wait for a process, as under
// load.
func BenchmarkInvokeGoRPC(b *testing.B) {
	for _, bc := range []struct {
		name           string
		callers, procs int
	}{
		{name: "sequential", callers: 1, procs: 1},
		{name: "queued", callers: 8, procs: 2},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fn := fnConfig("bench")
			fn.ReservedConcurrentExecutions = bc.procs
			inv := New([]resource.Function{fn}, Options{Logger: slog.New(slog.DiscardHandler)})
			defer func() { _ = inv.Close(context.Background()) }()
			ctx, cancel := context.WithCancel(context.Background()) // a context that can end, as a caller's does
			defer cancel()
			payload := []byte(`{"body":"0123456789012345678901234567890123456789012345678901234567890123456789"}`)
			var wg sync.WaitGroup // the processes start before the measurement
			for range bc.procs {
				wg.Go(func() {
					if _, err := inv.Invoke(ctx, "bench", payload); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := benchCPU()
			work := make(chan struct{})
			for range bc.callers {
				wg.Go(func() {
					for range work {
						if res, err := inv.Invoke(ctx, "bench", payload); err != nil || res.FunctionError != "" {
							b.Error(err, res)
						}
					}
				})
			}
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			b.ReportMetric(float64(benchCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// benchCPU returns the CPU time this process has used.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
