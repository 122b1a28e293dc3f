package localinvoke

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/racebuild"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// functionNameBySplit is functionName as it was written with strings.Split, the reference FuzzFunctionName
// holds the allocation-free version to.
func functionNameBySplit(s string) string {
	parts := strings.Split(s, ":")
	switch {
	case parts[0] == "arn":
		if (len(parts) == 7 || len(parts) == 8) && parts[2] == "lambda" && parts[5] == "function" {
			return parts[6]
		}
		return ""
	case len(parts) == 1:
		return s
	case len(parts) == 2:
		return parts[0]
	case (len(parts) == 3 || len(parts) == 4) && parts[1] == "function":
		return parts[2]
	}
	return ""
}

func FuzzFunctionName(f *testing.F) {
	for _, s := range []string{"", ":", "my-fn", "my-fn:prod", "123456789012:function:my-fn:3",
		"arn:aws:lambda:us-east-1:123456789012:function:my-fn:$LATEST", "arn:aws:lambda:us-east-1:123456789012:function:a:b:c",
		"a:b:c:d:e:f:g:h", "a:b:c:d:e:f:g:h:i", "a:b:c:d:e:f:g:h:i:j", "::::::::", ":::::::::", "arn::::::::::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := functionName(s), functionNameBySplit(s); got != want {
			t.Errorf("functionName(%q) = %q, want %q", s, got, want)
		}
	})
}

func TestFunctionNameDoesNotAllocate(t *testing.T) {
	arn := "arn:aws:lambda:us-east-1:123456789012:function:my-fn:live"
	if n := testing.AllocsPerRun(100, func() { _ = functionName(arn) }); n != 0 {
		t.Errorf("functionName allocates %v times per call, want 0", n)
	}
}

// maxWarmInvocationAllocs bounds the allocations of one warm invocation of an aws-lambda-go process over
// the go1.x runtime's protocol, on the gateway's side: the call and its channels, ids, timer, the
// answer's gob messages (gob reads each message into a new buffer and allocates the payload and the
// strings it decodes), the result. A new poll per wait (4), the RPC headers and the Function.Invoke
// request and answer made anew per call (4) and strings.Split in functionName (1) were on top of these:
// 24 before.
const maxWarmInvocationAllocs = 15

// TestWarmInvocationAllocations guards the invocation path's allocations (GC is a share of the gateway's
// CPU per local invocation): every goroutine's allocations count, the connection's own included, since
// the invocation waits for its outcome, which the connection's goroutine sets before it waits again.
// Not parallel: other tests' allocations would count.
func TestWarmInvocationAllocations(t *testing.T) {
	fn := fnConfig("allocs")
	fn.ReservedConcurrentExecutions = 1
	inv := New([]resource.Function{fn}, Options{Logger: slog.New(slog.DiscardHandler)})
	defer func() { _ = inv.Close(context.Background()) }()
	ctx := context.Background()
	payload := []byte(`{"body":"hello"}`)
	invoke := func() {
		if res, err := inv.Invoke(ctx, "allocs", payload); err != nil || res.FunctionError != "" {
			t.Fatal(err, res)
		}
	}
	invoke() // the cold start
	if !poolOf(inv, "allocs").procs[0].rt.Polled() {
		t.Fatal("the process has not initialised")
	}
	limit := float64(maxWarmInvocationAllocs)
	if racebuild.Enabled {
		limit += 3 // pooled buffers (gob, bufio) the race detector's sync.Pool drops
	}
	n := testing.AllocsPerRun(500, invoke)
	t.Logf("a warm invocation allocates %v times", n)
	if n > limit {
		t.Errorf("a warm invocation allocates %v times, want at most %v", n, limit)
	}
}
