//go:build unix

package localinvoke

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// writeTree writes files (path → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// nodeCode is a Node.js code directory with one handler per way Lambda loads them.
var nodeCode = map[string]string{
	// ES module (.mjs), async, context and console.
	"esm.mjs": `export const value = 42;
export const handler = async (event, context) => {
  console.log('hello %s', event.name, {n: 1});
  console.warn('two\nlines');
  return {
    requestId: context.awsRequestId, functionName: context.functionName, functionVersion: context.functionVersion,
    arn: context.invokedFunctionArn, memory: context.memoryLimitInMB, logGroup: context.logGroupName,
    logStream: context.logStreamName, remaining: context.getRemainingTimeInMillis(),
    waits: context.callbackWaitsForEmptyEventLoop, event,
  };
};
export const throws = async () => { throw new TypeError('bad input'); };
export const rejectsString = () => Promise.reject('plain string');
`,
	// The event back, as it came.
	"echo.js": "exports.handler = async (event) => event;\n",
	// A response over Lambda's 6 MB limit when asked for one.
	"big.js": "exports.handler = async (event) => (event.big ? 'x'.repeat(7 * 1024 * 1024) : { pid: process.pid });\n",
	// CommonJS (.js without "type": "module"), nested export, callback style.
	"lib/app.js": `exports.handlers = { cb: (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  callback(null, { style: 'callback', kind: typeof require });
} };
exports.succeed = (event, context) => { context.succeed({ style: 'succeed' }); };
`,
	// Lambda's event-loop rules (Runtime.js, CallbackContext.js): a callback's result is sent when the event
	// loop is empty (so the timer's change is in it) unless callbackWaitsForEmptyEventLoop is false; an async
	// handler whose promise can never settle is an error; a sync handler that never calls back returns null.
	"loop.js": `exports.waits = (event, context, callback) => {
  const result = { state: 'before' };
  setTimeout(() => { result.state = 'after'; }, 20);
  callback(null, result);
};
exports.nowait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  const result = { state: 'before' };
  setTimeout(() => { result.state = 'after'; }, 20);
  callback(null, result);
};
exports.never = async () => new Promise(() => {});
exports.silent = (event) => {};
exports.throwsLater = (event, context, callback) => { setTimeout(() => { throw new RangeError('async boom'); }, 0); };
exports.rejectsLater = (event, context, callback) => { Promise.reject(new Error('nobody catches me')); };
`,
	// .js in a "type": "module" package is an ES module.
	"typed/package.json": `{"type": "module"}`,
	"typed/index.js":     `export const handler = async () => ({ style: 'esm-by-package', meta: typeof import.meta.url });`,
	// .cjs.
	"other.cjs": `module.exports.handler = async () => ({ style: 'cjs' });`,
	// Load failures.
	"broken.mjs":  "export const handler = async () => {\n  return {;\n};\n",
	"imports.mjs": "import 'no-such-package-anywhere';\nexport const handler = async () => ({});\n",
	"version.mjs": "export const handler = async () => ({ version: 1 });\n",
}

var pythonCode = map[string]string{
	"app.py": `import logging, sys
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    logger.info("hello %s", event.get("name"))
    print("printed")
    return {"requestId": context.aws_request_id, "functionName": context.function_name,
            "functionVersion": context.function_version, "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb, "logGroup": context.log_group_name,
            "logStream": context.log_stream_name, "remaining": context.get_remaining_time_in_millis(),
            "event": event, "path0": sys.path[0]}

def raises(event, context):
    raise ValueError("bad input")

def big(event, context):
    if event.get("big"):
        return "x" * (7 * 1024 * 1024)
    import os
    return {"pid": os.getpid()}
`,
	"pkg/__init__.py": "",
	"pkg/mod.py":      "def fn(event, context):\n    return {'style': 'package'}\n",
	"broken.py":       "def handler(event, context)\n    return 1\n",
}

// runtimeFn is a Node.js or Python function for these tests.
func runtimeFn(name, runtime, codeURI, handler string) resource.Function {
	return resource.Function{FunctionName: name, Runtime: runtime, CodeURI: codeURI, Handler: handler,
		Timeout: 10, MemorySize: 512, ReservedConcurrentExecutions: 2}
}

// stdoutLines returns what the function's processes wrote to stdout.
func stdoutLines(rec *recorder, function string) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, r := range *rec.recs {
		if r.attrs["stream"] == "stdout" && r.attrs["function"] == function {
			out = append(out, r.msg)
		}
	}
	return out
}

func hasLine(t *testing.T, rec *recorder, function string, re *regexp.Regexp) {
	t.Helper()
	eventually(t, 5*time.Second, "log line "+re.String(), func() bool {
		for _, l := range stdoutLines(rec, function) {
			if re.MatchString(l) {
				return true
			}
		}
		return false
	})
}

type contextEcho struct {
	RequestID, FunctionName, FunctionVersion, ARN, LogGroup, LogStream string
	Memory                                                             any
	Remaining                                                          float64
	Waits                                                              *bool
	Event                                                              map[string]any
	Path0                                                              string
}

func TestNodeRuntime(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, nodeCode)
	node := func(name, handler string) resource.Function { return runtimeFn(name, "nodejs20.x", dir, handler) }
	inv, rec := newInvoker(t, Options{Region: "eu-west-1", RuntimeDir: t.TempDir()},
		node("esm", "esm.handler"), node("throws", "esm.throws"), node("rejects", "esm.rejectsString"),
		node("cb", "lib/app.handlers.cb"), node("succeed", "lib/app.succeed"), node("typed", "typed/index.handler"),
		node("cjs", "other.handler"), node("notfound", "esm.nope"), node("notfunc", "esm.value"),
		node("syntax", "broken.handler"), node("importerr", "imports.handler"), node("missing", "absent.handler"),
		node("version", "version.handler"), node("waits", "loop.waits"), node("nowait", "loop.nowait"),
		node("never", "loop.never"), node("silent", "loop.silent"), node("throwsLater", "loop.throwsLater"),
		node("rejectsLater", "loop.rejectsLater"), node("echo", "echo.handler"), node("big", "big.handler"))

	t.Run("response too large, then the next invocation", func(t *testing.T) {
		before := invoke(t, inv, "big", `{}`)
		res := invoke(t, inv, "big", `{"big": true}`)
		if res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), "Function.ResponseSizeTooLarge") {
			t.Fatalf("got %q %.200s", res.FunctionError, res.Payload)
		}
		for range 2 {
			if res := invoke(t, inv, "big", `{}`); res.FunctionError != "" || string(res.Payload) != string(before.Payload) {
				t.Fatalf("afterwards: %s %s, want %s (the same process)", res.FunctionError, res.Payload, before.Payload)
			}
		}
	})
	t.Run("ES module, context and logs", func(t *testing.T) {
		res := invoke(t, inv, "esm", `{"name":"world"}`)
		if res.FunctionError != "" {
			t.Fatalf("function error: %s", res.Payload)
		}
		var c contextEcho
		if err := json.Unmarshal(res.Payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.FunctionName != "esm" || c.FunctionVersion != "$LATEST" || c.ARN != "arn:aws:lambda:eu-west-1:123456789012:function:esm" ||
			c.Memory != "512" || c.LogGroup != "/aws/lambda/esm" || !strings.Contains(c.LogStream, "[$LATEST]") ||
			c.Remaining <= 0 || c.Remaining > 10000 || c.Waits == nil || !*c.Waits || c.Event["name"] != "world" || c.RequestID == "" {
			t.Fatalf("context: %s", res.Payload)
		}
		ts := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`
		hasLine(t, rec, "esm", regexp.MustCompile(`^`+ts+`\t`+c.RequestID+`\tINFO\thello world \{ n: 1 \}$`))
		hasLine(t, rec, "esm", regexp.MustCompile(`^`+ts+`\t`+c.RequestID+`\tWARN\ttwo\rlines$`))
	})
	// The bootstrap's own Runtime API client reads events that arrive in many reads, in UTF-8, on a
	// kept-alive connection, one invocation after another.
	for _, size := range []int{0, 100, 64 << 10, 3 << 20} {
		t.Run(fmt.Sprintf("event of %d bytes", size), func(t *testing.T) {
			event := `{"text":"` + strings.Repeat("é€😀x", size/10) + `"}`
			for range 3 {
				res := invoke(t, inv, "echo", event)
				if res.FunctionError != "" || string(res.Payload) != event {
					t.Fatalf("got %q, %d bytes, want the %d bytes sent", res.FunctionError, len(res.Payload), len(event))
				}
			}
		})
	}
	for _, tc := range []struct{ name, function, want string }{
		{"CommonJS nested callback handler", "cb", `{"style":"callback","kind":"function"}`},
		{"context.succeed", "succeed", `{"style":"succeed"}`},
		{"package.json type module", "typed", `{"style":"esm-by-package","meta":"string"}`},
		{".cjs", "cjs", `{"style":"cjs"}`},
		{"callback waits for the empty event loop", "waits", `{"state":"after"}`},
		{"callback with callbackWaitsForEmptyEventLoop false", "nowait", `{"state":"before"}`},
		{"sync handler that never calls back", "silent", `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := invoke(t, inv, tc.function, `{}`)
			if res.FunctionError != "" || string(res.Payload) != tc.want {
				t.Fatalf("got %s %s, want %s", res.FunctionError, res.Payload, tc.want)
			}
		})
	}
	type nodeError struct {
		ErrorType    string   `json:"errorType"`
		ErrorMessage string   `json:"errorMessage"`
		Trace        []string `json:"trace"`
	}
	for _, tc := range []struct{ name, function, errorType, message, trace0 string }{
		{"thrown error", "throws", "TypeError", "bad input", "TypeError: bad input"},
		{"rejected with a string", "rejects", "string", "plain string", ""},
		{"export not found", "notfound", "Runtime.HandlerNotFound", "esm.nope is undefined or not exported", "Runtime.HandlerNotFound: esm.nope is undefined or not exported"},
		{"export not a function", "notfunc", "Runtime.HandlerNotFound", "esm.value is not a function", ""},
		{"syntax error", "syntax", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token ';'", ""},
		{"import of a missing package", "importerr", "Runtime.ImportModuleError", "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'no-such-package-anywhere'", ""},
		{"missing module", "missing", "Runtime.ImportModuleError", "Error: Cannot find module 'absent'", ""},
		{"promise never settled", "never", "Runtime.NodeJsExit", "The Lambda runtime client detected an unexpected Node.js exit code", ""},
		{"uncaught exception in a timer", "throwsLater", "RangeError", "async boom", "RangeError: async boom"},
		{"unhandled rejection", "rejectsLater", "Runtime.UnhandledPromiseRejection", "Error: nobody catches me", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := invoke(t, inv, tc.function, `{}`)
			var e nodeError
			if res.FunctionError != "Unhandled" || json.Unmarshal(res.Payload, &e) != nil {
				t.Fatalf("got %q %s", res.FunctionError, res.Payload)
			}
			if e.ErrorType != tc.errorType || !strings.HasPrefix(e.ErrorMessage, tc.message) || tc.trace0 != "" && (len(e.Trace) == 0 || e.Trace[0] != tc.trace0) {
				t.Fatalf("got %s, want type %q, message %q…, trace[0] %q", res.Payload, tc.errorType, tc.message, tc.trace0)
			}
		})
	}
	t.Run("edit and go on", func(t *testing.T) {
		if got := string(invoke(t, inv, "version", `{}`).Payload); got != `{"version":1}` {
			t.Fatalf("got %s", got)
		}
		writeTree(t, dir, map[string]string{"version.mjs": "export const handler = async () => ({ version: 2 });\n"})
		eventually(t, 10*time.Second, "the edited handler to answer", func() bool {
			return string(invoke(t, inv, "version", `{}`).Payload) == `{"version":2}`
		})
	})
}

func TestPythonRuntime(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, pythonCode)
	py := func(name, handler string) resource.Function { return runtimeFn(name, "python3.11", dir, handler) }
	inv, rec := newInvoker(t, Options{RuntimeDir: t.TempDir()},
		py("py", "app.handler"), py("raises", "app.raises"), py("pkg", "pkg/mod.fn"), py("dotted", "pkg.mod.fn"),
		py("notfound", "app.missing"), py("importerr", "nomod.handler"), py("syntax", "broken.handler"), py("big", "app.big"))

	t.Run("context and logs", func(t *testing.T) {
		res := invoke(t, inv, "py", `{"name":"world"}`)
		var c contextEcho
		if res.FunctionError != "" || json.Unmarshal(res.Payload, &c) != nil {
			t.Fatalf("got %s %s", res.FunctionError, res.Payload)
		}
		if c.FunctionName != "py" || c.FunctionVersion != "$LATEST" || c.ARN != "arn:aws:lambda:us-east-1:123456789012:function:py" ||
			c.Memory != "512" || c.LogGroup != "/aws/lambda/py" || !strings.Contains(c.LogStream, "[$LATEST]") ||
			c.Remaining <= 0 || c.Remaining > 10000 || c.Event["name"] != "world" || c.RequestID == "" || c.Path0 != dir {
			t.Fatalf("context: %s", res.Payload)
		}
		hasLine(t, rec, "py", regexp.MustCompile(`^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t`+c.RequestID+`\thello world$`))
		hasLine(t, rec, "py", regexp.MustCompile(`^printed$`))
	})
	t.Run("response too large, then the next invocation", func(t *testing.T) {
		// The Runtime API answers 413 and closes the connection, which also held the pipelined GET /next:
		// the bootstrap asks again on a new one.
		before := invoke(t, inv, "big", `{}`)
		res := invoke(t, inv, "big", `{"big": true}`)
		if res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), "Function.ResponseSizeTooLarge") {
			t.Fatalf("got %q %.200s", res.FunctionError, res.Payload)
		}
		for range 2 {
			if res := invoke(t, inv, "big", `{}`); res.FunctionError != "" || string(res.Payload) != string(before.Payload) {
				t.Fatalf("afterwards: %s %s, want %s (the same process)", res.FunctionError, res.Payload, before.Payload)
			}
		}
	})
	for _, tc := range []struct{ name, function, want string }{
		{"package path with /", "pkg", `{"style": "package"}`},
		{"dotted package", "dotted", `{"style": "package"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := invoke(t, inv, tc.function, `{}`)
			if res.FunctionError != "" || string(res.Payload) != tc.want {
				t.Fatalf("got %s %s, want %s", res.FunctionError, res.Payload, tc.want)
			}
		})
	}
	type pyError struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		RequestID    *string  `json:"requestId"`
		StackTrace   []string `json:"stackTrace"`
	}
	for _, tc := range []struct{ name, function, errorType, message, stack string }{
		{"raised exception", "raises", "ValueError", "bad input", `app.py", line 15, in raises`},
		{"handler not found", "notfound", "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'app'", ""},
		{"module not found", "importerr", "Runtime.ImportModuleError", "Unable to import module 'nomod': No module named 'nomod'", ""},
		{"syntax error", "syntax", "Runtime.UserCodeSyntaxError", "Syntax error in module 'broken'", `broken.py" Line 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := invoke(t, inv, tc.function, `{}`)
			var e pyError
			if res.FunctionError != "Unhandled" || json.Unmarshal(res.Payload, &e) != nil {
				t.Fatalf("got %q %s", res.FunctionError, res.Payload)
			}
			if e.ErrorType != tc.errorType || !strings.HasPrefix(e.ErrorMessage, tc.message) || e.RequestID == nil ||
				tc.stack != "" && (len(e.StackTrace) == 0 || !strings.Contains(strings.Join(e.StackTrace, ""), tc.stack)) {
				t.Fatalf("got %s, want type %q, message %q…, stack with %q", res.Payload, tc.errorType, tc.message, tc.stack)
			}
		})
	}
}

func TestRuntimeEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"env.mjs": "export const handler = async (e) => Object.fromEntries(e.keys.map((k) => [k, process.env[k] ?? null]));\n"})
	fn := runtimeFn("envnode", "nodejs22.x", dir, "env.handler")
	fn.Environment = map[string]string{"REQUESTS_CA_BUNDLE": "/own.pem"}
	inv, _ := newInvoker(t, Options{RuntimeDir: t.TempDir(), NodeSDKDir: "/sdk", GatewayAddr: func() string { return "127.0.0.1:9999" },
		Env: map[string]string{"AWS_CA_BUNDLE": "/ca.pem"}}, fn)
	keys := []string{"AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "_HANDLER", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE",
		"SWITCHBOARD_GATEWAY_ADDR", "SWITCHBOARD_NODE_SDK", "NODE_PATH"}
	ev, _ := json.Marshal(map[string]any{"keys": keys})
	var got map[string]*string
	if err := json.Unmarshal(invoke(t, inv, "envnode", string(ev)).Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs22.x", "LAMBDA_TASK_ROOT": dir, "_HANDLER": "env.handler",
		"NODE_EXTRA_CA_CERTS": "/ca.pem", "REQUESTS_CA_BUNDLE": "/own.pem", "SWITCHBOARD_GATEWAY_ADDR": "127.0.0.1:9999",
		"SWITCHBOARD_NODE_SDK": "/sdk", "NODE_PATH": "/sdk/node_modules"}
	for k, v := range want {
		if got[k] == nil || *got[k] != v {
			t.Errorf("%s = %v, want %q", k, got[k], v)
		}
	}
}

func TestTreeID(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.py": "1", "sub/b.py": "22"})
	base := treeID(dir)
	steps := []struct {
		name    string
		change  func()
		changed bool
	}{
		{"nothing", func() {}, false},
		{"an interpreter cache", func() { writeTree(t, dir, map[string]string{"__pycache__/a.pyc": "x"}) }, false},
		{"a file edited", func() { writeTree(t, dir, map[string]string{"sub/b.py": "33"}) }, true},
		{"a file added", func() { writeTree(t, dir, map[string]string{"c.py": ""}) }, true},
		{"a file renamed", func() {
			if err := os.Rename(filepath.Join(dir, "c.py"), filepath.Join(dir, "d.py")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a file removed", func() { os.Remove(filepath.Join(dir, "d.py")) }, true},
	}
	for _, s := range steps {
		s.change()
		id := treeID(dir)
		if (id != base) != s.changed {
			t.Fatalf("%s: changed = %v, want %v", s.name, id != base, s.changed)
		}
		base = id
	}
}
