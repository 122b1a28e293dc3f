//go:build unix

package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkExchange measures one invocation through the Runtime API as a warm function sees it: the owner
// enqueues an event, the runtime takes it with GET /next and answers with POST .../response over one
// kept-alive connection (Go's HTTP client, as aws-lambda-go uses), and the owner reads the outcome. The
// client's cost is included; the Server's share is what the gateway pays per invocation. "lean" is the
// server localinvoke uses (Serve), "net/http" the same handlers behind net/http's server, and "go1.x RPC"
// the protocol localinvoke drives aws-lambda-go binaries over (ServeGoRPC), with aws-lambda-go's server.
func BenchmarkExchange(b *testing.B) {
	b.Run("lean", func(b *testing.B) {
		s := New(Options{Logger: slog.New(slog.DiscardHandler), Notify: func() {}})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = s.Serve(ln) }()
		defer s.Close(nil)
		benchmarkExchange(b, s, ln.Addr().String())
	})
	b.Run("lean, pipelining client", func(b *testing.B) {
		s := New(Options{Logger: slog.New(slog.DiscardHandler), Notify: func() {}})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = s.Serve(ln) }()
		defer s.Close(nil)
		benchmarkPipelined(b, s, ln.Addr().String())
	})
	b.Run("go1.x RPC, aws-lambda-go's server", func(b *testing.B) {
		// The same invocation over the go1.x runtime's protocol (ServeGoRPC), served by aws-lambda-go's own
		// net/rpc Function with a handler that returns the event, as the HTTP runtimes above do.
		s := New(Options{Logger: slog.New(slog.DiscardHandler), Notify: func() {}})
		conn := goRuntime(b, func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) { return ev, nil })
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = s.ServeGoRPC(conn)
		}()
		defer func() {
			s.Close(nil)
			<-served
		}()
		inv := Invocation{Payload: []byte(`{"body":"` + strings.Repeat("x", 100) + `"}`), FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:f"}
		b.ReportAllocs()
		cpu0 := processCPU()
		for b.Loop() {
			call, err := s.Enqueue(inv)
			if err != nil {
				b.Fatal(err)
			}
			if out, err := call.Result(); err != nil || len(out.Payload) != len(inv.Payload) {
				b.Fatalf("outcome %+v, %v", out, err)
			}
		}
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	b.Run("net/http", func(b *testing.B) {
		s := New(Options{Logger: slog.New(slog.DiscardHandler), Notify: func() {}})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: s}
		go func() { _ = srv.Serve(ln) }()
		defer func() {
			s.Close(nil)
			_ = srv.Close()
		}()
		benchmarkExchange(b, s, ln.Addr().String())
	})
}

func benchmarkExchange(b *testing.B, s *Server, addr string) {
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	payload := bytes.Repeat([]byte("x"), 1000)
	inv := Invocation{Payload: []byte(`{"body":"` + string(payload[:100]) + `"}`), FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:f"}
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		call, err := s.Enqueue(inv)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := client.Get(base + "next")
		if err != nil {
			b.Fatal(err)
		}
		event, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get(HeaderRequestID)
		resp, err = client.Post(base+id+"/response", "application/json", bytes.NewReader(event))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if out, err := call.Result(); err != nil || resp.StatusCode != http.StatusAccepted || len(out.Payload) != len(event) {
			b.Fatalf("status %d, outcome %+v, %v", resp.StatusCode, out, err)
		}
	}
	// CPU time says more than wall time on a shared machine, where the exchange waits for the scheduler.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// benchmarkPipelined makes the exchange as the Node.js and Python bootstraps do: raw requests on one
// connection, the outcome and the next GET /next in one write, answers read by their Content-Length. The
// client does little, so the Server's cost is most of cpu-ns/op.
func benchmarkPipelined(b *testing.B, s *Server, addr string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	const next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: " + "127.0.0.1\r\n\r\n"
	inv := Invocation{Payload: []byte(`{"body":"` + strings.Repeat("x", 100) + `"}`), FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:f"}
	if _, err := io.WriteString(conn, next); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	first := true
	for b.Loop() {
		call, err := s.Enqueue(inv)
		if err != nil {
			b.Fatal(err)
		}
		if !first { // the previous outcome's answer comes with this event, in the same write
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				b.Fatalf("answer to the outcome: %v, %v", resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		first = false
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		event, _ := io.ReadAll(resp.Body)
		id := resp.Header.Get(HeaderRequestID)
		post := "POST /2018-06-01/runtime/invocation/" + id + "/response HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(event)) + "\r\n\r\n" + string(event) + next
		if _, err := io.WriteString(conn, post); err != nil {
			b.Fatal(err)
		}
		if out, err := call.Result(); err != nil || len(out.Payload) != len(event) {
			b.Fatalf("outcome %+v, %v", out, err)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU returns the CPU time (user + system) the test process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
