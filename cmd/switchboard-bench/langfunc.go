package main

// Node.js and Python echo functions: the same echo as the Go function, run by Switchboard's own bootstraps
// (runtime nodejs20.x and python3.12 with a codeUri), when the machine has node and python3.

import (
	"context"
	"os"
	"path/filepath"
	"runtime"

	"github.com/switchboard-gw/switchboard/internal/lambda/bootstrap"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// pythonEchoFile and pythonEchoHandler are the Python echo handler (handler "echo.handler").
const (
	pythonEchoFile    = "echo.py"
	pythonEchoHandler = "def handler(event, context):\n    return {\"statusCode\": 200, \"body\": event[\"body\"]}\n"
)

// langFunction is one echo function run by an interpreter: its route (also its scenario key), the
// function's name and runtime, and the directory its code is written to (codeUri).
type langFunction struct {
	key, name, runtime, label string
	lang                      resource.Language
	file, code                string
	dir                       string
}

// langFunctions are the interpreted echo functions the rtt scenario measures when their interpreter is
// installed.
var langFunctions = []langFunction{
	{key: "lambda-node", name: "echonode", runtime: "nodejs20.x", label: "AWS_PROXY (local Node.js function)",
		lang: resource.LanguageNode, file: nodeEchoFile, code: nodeEchoHandler},
	{key: "lambda-python", name: "echopython", runtime: "python3.12", label: "AWS_PROXY (local Python function)",
		lang: resource.LanguagePython, file: pythonEchoFile, code: pythonEchoHandler},
}

// langConcurrency is how many processes each interpreted echo function may run: one per core. A Node.js
// or Python process runs one thread of its own code, and more processes than cores only add context
// switches: with 8 on 2 cores, each Node.js invocation cost its process 300-380 µs of CPU against about
// 150 µs with 2, and the route did 2,300-3,040 round trips/s against 3,288-3,643 (interleaved runs).
var langConcurrency = max(2, runtime.NumCPU())

// prepareLangFunctions writes the code of each interpreted echo function whose interpreter is installed
// under b.dir and returns those functions; the others are reported as warnings.
func (b *bench) prepareLangFunctions(ctx context.Context) ([]langFunction, error) {
	var out []langFunction
	for _, f := range langFunctions {
		if _, err := bootstrap.Find(ctx, f.lang); err != nil {
			b.res.warnf(b.stderr, "%s not measured: %v", f.label, err)
			continue
		}
		f.dir = filepath.Join(b.dir, f.name)
		if err := os.MkdirAll(f.dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(f.dir, f.file), []byte(f.code), 0o644); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
