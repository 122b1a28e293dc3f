package localinvoke

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestGoRPCCapable(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec ./handler\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Markers that straddle the scan's 1 MiB chunks are found; one marker alone is not enough.
	straddling := filepath.Join(dir, "straddling")
	one := filepath.Join(dir, "one-marker")
	pad := make([]byte, 1<<20-10)
	if err := os.WriteFile(straddling, slices.Concat(pad, rpcInvokeMarker, pad, pad, rpcStartMarker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(one, slices.Concat(pad, rpcInvokeMarker, pad), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want bool
	}{
		{name: "markers across chunk boundaries", path: straddling, want: true},
		{name: "one marker only", path: one, want: false},
		{name: "aws-lambda-go binary", path: bin.behave, want: true},
		{name: "stripped aws-lambda-go binary", path: bin.behaveStripped, want: true},
		{name: "built with -tags lambda.norpc", path: bin.behaveNoRPC, want: false},
		{name: "shell script bootstrap", path: script, want: false},
		{name: "missing file", path: filepath.Join(dir, "missing"), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := goRPCCapable(tt.path); got != tt.want {
				t.Errorf("goRPCCapable(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

// Each executable is driven over the protocol it serves, and a warm process is reused either way.
func TestGoRPCProtocolChosen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler string
		opts    Options
		wantRPC bool
	}{
		{name: "aws-lambda-go binary", handler: bin.behave, wantRPC: true},
		{name: "stripped binary", handler: bin.behaveStripped, wantRPC: true},
		{name: "lambda.norpc binary", handler: bin.behaveNoRPC},
		{name: "RuntimeAPIOnly", handler: bin.behave, opts: Options{RuntimeAPIOnly: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fn := fnConfig("proto")
			fn.Handler = tt.handler
			inv, rec := newInvoker(t, tt.opts, fn)
			event := `{"env":["_LAMBDA_SERVER_PORT","AWS_LAMBDA_RUNTIME_API"]}`
			first := invokeOK(t, inv, "proto", event)
			if got := first.Env["_LAMBDA_SERVER_PORT"] != ""; got != tt.wantRPC {
				t.Errorf("_LAMBDA_SERVER_PORT = %q; want it set: %v", first.Env["_LAMBDA_SERVER_PORT"], tt.wantRPC)
			}
			if first.Env["AWS_LAMBDA_RUNTIME_API"] == "" {
				t.Error("AWS_LAMBDA_RUNTIME_API is not set (extensions and init errors use it in both modes)")
			}
			_, logged := rec.find(func(r record) bool { return r.msg == "function process started" && r.attrs["go_rpc"] != "" })
			if logged != tt.wantRPC {
				t.Errorf("process start logged with go_rpc: %v, want %v", logged, tt.wantRPC)
			}
			second := invokeOK(t, inv, "proto", event)
			if second.PID != first.PID || second.RequestID == first.RequestID {
				t.Errorf("second invocation: pid %d request %s; first: pid %d request %s", second.PID, second.RequestID, first.PID, first.RequestID)
			}
		})
	}
}
