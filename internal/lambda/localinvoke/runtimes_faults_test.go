//go:build unix

package localinvoke

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Fault tests for Node.js and Python functions: a handler that never returns, one that logs a lot on both
// streams, and the remaining time a handler sees against the timeout Switchboard enforces.

// faultCode holds, per runtime, the handlers of TestRuntimeFaults: stuck never returns; remaining answers
// the remaining time at once; late works until the remaining time is nearly gone, then answers; noisy
// writes lines×1 KiB lines with print/console.log and to stderr (console.error), and one line of 1 MiB, then answers "done".
var faultCode = map[string]struct {
	runtime string
	files   map[string]string
}{
	"node": {"nodejs20.x", map[string]string{"faults.js": `
exports.stuck = async () => new Promise(() => { setInterval(() => {}, 1000); });
exports.remaining = async (event, context) => ({ remaining: context.getRemainingTimeInMillis() });
exports.late = async (event, context) => {
  while (context.getRemainingTimeInMillis() > 250) await new Promise((r) => setTimeout(r, 10));
  return { remaining: context.getRemainingTimeInMillis() };
};
exports.noisy = async (event) => {
  const line = 'y'.repeat(1024);
  for (let i = 0; i < event.lines; i++) { console.log('out %d %s', i, line); console.error('err %d %s', i, line); }
  process.stdout.write('z'.repeat(1 << 20) + '\n');
  return 'done';
};
`}},
	"python": {"python3.11", map[string]string{"faults.py": `import sys, time

def stuck(event, context):
    while True:
        time.sleep(1)

def remaining(event, context):
    return {"remaining": context.get_remaining_time_in_millis()}

def late(event, context):
    while context.get_remaining_time_in_millis() > 250:
        time.sleep(0.01)
    return {"remaining": context.get_remaining_time_in_millis()}

def noisy(event, context):
    line = "y" * 1024
    for i in range(event["lines"]):
        print("out %d %s" % (i, line))
        print("err %d %s" % (i, line), file=sys.stderr)
    sys.stdout.write("z" * (1 << 20) + "\n")
    return "done"
`}},
}

func TestRuntimeFaults(t *testing.T) {
	t.Parallel()
	for lang, code := range faultCode {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, code.files)
			fn := func(name, handler string, timeout int) resource.Function {
				f := runtimeFn(name, code.runtime, dir, handler)
				f.Timeout = timeout
				return f
			}
			inv, rec := newInvoker(t, Options{RuntimeDir: t.TempDir()},
				fn("stuck", "faults.stuck", 1), fn("remaining", "faults.remaining", 2), fn("late", "faults.late", 1),
				fn("noisy", "faults.noisy", 30))

			t.Run("never returns", func(t *testing.T) {
				start := time.Now()
				doc := invokeErr(t, inv, "stuck", `{}`)
				if doc.Type != "Sandbox.Timedout" || !strings.HasSuffix(doc.Message, "Task timed out after 1.00 seconds") {
					t.Errorf("error = %+v", doc)
				}
				if took := time.Since(start); took > 10*time.Second {
					t.Errorf("a 1 s timeout took %v", took)
				}
				doc = invokeErr(t, inv, "stuck", `{}`) // a new process, stuck again
				if doc.Type != "Sandbox.Timedout" {
					t.Errorf("second time: %+v", doc)
				}
			})
			t.Run("remaining time", func(t *testing.T) {
				invoke(t, inv, "remaining", `{}`) // warm: the first call's figure counts no start-up
				var got struct{ Remaining int64 }
				res := invoke(t, inv, "remaining", `{}`)
				if err := json.Unmarshal(res.Payload, &got); err != nil || res.FunctionError != "" {
					t.Fatalf("got %s %s", res.FunctionError, res.Payload)
				}
				if got.Remaining <= 1000 || got.Remaining > 2000 {
					t.Errorf("remaining time at the start of a 2 s invocation: %d ms", got.Remaining)
				}
			})
			t.Run("works until the deadline it was given", func(t *testing.T) {
				for range 2 { // cold, then warm
					res := invoke(t, inv, "late", `{}`)
					if res.FunctionError != "" {
						t.Fatalf("a handler that answers with 250 ms left was cut off: %s", res.Payload)
					}
				}
			})
			t.Run("huge logs", func(t *testing.T) {
				const lines = 4000
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				res, err := inv.Invoke(ctx, "noisy", []byte(`{"lines":4000}`))
				if err != nil || res.FunctionError != "" || string(res.Payload) != `"done"` {
					t.Fatalf("got %v %+v", err, res)
				}
				// Every line arrives in the log (the 1 MiB one in pieces of maxLine), and the runtime is not
				// held up writing them.
				var last string
				eventuallyf(t, 30*time.Second, "every line in the log", func() bool {
					rec.mu.Lock()
					defer rec.mu.Unlock()
					out, errs, z := 0, 0, 0
					for _, r := range *rec.recs {
						if r.attrs["function"] != "noisy" {
							continue
						}
						switch {
						case strings.Contains(r.msg, "out "):
							out++
						case strings.Contains(r.msg, "err "): // on stderr; Node's console writes it to stdout, as Lambda's does
							errs++
						case strings.HasPrefix(r.msg, "zzzz"):
							z += len(r.msg)
						}
					}
					if out == lines && errs == lines && z == 1<<20 {
						return true
					}
					last = fmt.Sprintf("%d stdout lines, %d stderr lines, %d bytes of the long line", out, errs, z)
					return false
				}, func() string { return last })
				if res := invoke(t, inv, "noisy", `{"lines":1}`); res.FunctionError != "" {
					t.Fatalf("afterwards: %s", res.Payload)
				}
			})
		})
	}
}

// eventuallyf is eventually, saying what it saw last when it gives up.
func eventuallyf(t *testing.T, timeout time.Duration, what string, cond func() bool, saw func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, saw())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
