package runtimeapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startServe serves a new Server with Serve and returns it with its address; the server is closed at the
// end of the test.
func startServe(t testing.TB, opts Options) (*Server, string, <-chan error) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() { s.Close(nil) })
	return s, ln.Addr().String(), served
}

// rawExchange sends data on a new connection, half-closes it, and returns everything the server wrote
// back before closing its side.
func rawExchange(t testing.TB, addr, data string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", clip(data), err)
	}
	return string(out)
}

func TestServeRawRequests(t *testing.T) {
	t.Parallel()
	_, addr, _ := startServe(t, Options{})
	for _, tc := range []struct {
		name, request string
		want          []string // status lines, in order
	}{
		{"garbage", "GARBAGE\r\n\r\n", []string{"HTTP/1.1 400 Bad Request"}},
		{"head too large", "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", maxHeaderBytes+10) + "\r\n\r\n", []string{"HTTP/1.1 400 Bad Request"}},
		{"keep-alive then close", "POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" +
			"POST /2018-06-01/runtime/invocation/b/error HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}" +
			"GET /never-read HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HTTP/1.1 400 Bad Request", "HTTP/1.1 400 Bad Request"}},
		{"HTTP/1.0 closes", "GET /nope HTTP/1.0\r\n\r\nGET /nope HTTP/1.0\r\n\r\n", []string{"HTTP/1.1 404 Not Found"}},
		{"chunked body", "POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\n\r\n" +
			"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HTTP/1.1 400 Bad Request", "HTTP/1.1 404 Not Found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := rawExchange(t, addr, tc.request)
			br := bufio.NewReader(strings.NewReader(out))
			for i, want := range tc.want {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer %d: %v in %q", i+1, err, clip(out))
				}
				body, _ := io.ReadAll(resp.Body)
				if got := "HTTP/1.1 " + resp.Status; got != want || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("answer %d: %s (%s) %s, want %s", i+1, got, resp.Header.Get("Content-Type"), body, want)
				}
			}
			if rest, _ := io.ReadAll(br); len(rest) > 0 {
				t.Errorf("more than %d answers: %q", len(tc.want), clip(string(rest)))
			}
		})
	}
}

func TestServeStopsOnClose(t *testing.T) {
	t.Parallel()
	s, addr, served := startServe(t, Options{})
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	polled := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "next")
		if err != nil {
			polled <- 0
			return
		}
		resp.Body.Close()
		polled <- resp.StatusCode
	}()
	eventually(t, "the poll to wait", func() bool { return s.Idle() == 1 })
	s.Close(errors.New("process exited"))
	if got := <-polled; got != http.StatusServiceUnavailable {
		t.Errorf("the waiting poll got %d, want 503", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after Close", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the listener still accepts after Close")
	}
}

// TestServeNoticesARuntimeGoingAway checks that a poll whose connection closes stops counting as idle, and
// that work enqueued afterwards waits for the next poll rather than going to the dead one.
func TestServeNoticesARuntimeGoingAway(t *testing.T) {
	t.Parallel()
	s, addr, _ := startServe(t, Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the poll to wait", func() bool { return s.Idle() == 1 })
	c.Close()
	eventually(t, "the poll to be withdrawn", func() bool { return s.Idle() == 0 })
	call, err := s.Enqueue(Invocation{Payload: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"n":1}` || resp.Header.Get(HeaderRequestID) != call.RequestID() {
		t.Errorf("next = %s %q, want the call enqueued after the first runtime left", body, resp.Header.Get(HeaderRequestID))
	}
}

// FuzzServe sends arbitrary bytes on a connection: the server answers with well-formed HTTP responses (or
// nothing) and closes the connection, without panicking or hanging.
func FuzzServe(f *testing.F) {
	for _, seed := range []string{
		"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /2018-06-01/runtime/invocation/id/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"POST /2018-06-01/runtime/invocation/id/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
		"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
		"GET / HTTP/1.0\r\n\r\n",
		"\r\n\r\n",
		"GET /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	} {
		f.Add(seed)
	}
	_, addr, _ := startServe(f, Options{})
	f.Fuzz(func(t *testing.T, data string) {
		out := rawExchange(t, addr, data)
		br := bufio.NewReader(strings.NewReader(out))
		for {
			if _, err := br.Peek(1); err != nil {
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("malformed answer to %q: %v in %q", clip(data), err, clip(out))
			}
			if _, err := io.ReadAll(resp.Body); err != nil {
				t.Fatalf("answer body to %q: %v", clip(data), err)
			}
		}
	})
}

// clip shortens s for a failure message.
func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// flakyListener fails its first Accept as a process out of file descriptors does.
type flakyListener struct {
	net.Listener
	n atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.n.Add(1) == 1 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// A temporary Accept error (EMFILE) does not end Serve: the runtime can still connect afterwards.
func TestServeSurvivesATemporaryAcceptError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(&flakyListener{Listener: ln}) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/2018-06-01/runtime/nope")
	if err != nil {
		t.Fatalf("request after the accept error: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s.Close(nil)
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestServePipelinedRuntime is a runtime that sends its outcome and its next poll in one write, as the
// Node.js bootstrap does: the outcome reaches the caller at once, and the runtime gets the outcome's
// answer and then the next event, in order, on the same connection.
func TestServePipelinedRuntime(t *testing.T) {
	t.Parallel()
	s, addr, _ := startServe(t, Options{Notify: func() {}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	const next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
	readAnswer := func(what string, want int) *http.Response {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s answered %s", what, resp.Status)
		}
		return resp
	}
	enqueue := func() *Call {
		t.Helper()
		call, err := s.Enqueue(Invocation{Payload: []byte(`{"n":1}`), FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:f"})
		if err != nil {
			t.Fatal(err)
		}
		return call
	}
	if _, err := io.WriteString(c, next); err != nil {
		t.Fatal(err)
	}
	call := enqueue()
	id := readAnswer("the first event", http.StatusOK).Header.Get(HeaderRequestID)
	for i := range 3 {
		result := fmt.Sprintf(`{"ok":%d}`, i)
		outcome := fmt.Sprintf("POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", id, len(result), result)
		if _, err := io.WriteString(c, outcome+next); err != nil {
			t.Fatal(err)
		}
		if out, err := call.Result(); err != nil || string(out.Payload) != result {
			t.Fatalf("invocation %d: outcome %s, %v", i, out.Payload, err)
		}
		call = enqueue()
		readAnswer(fmt.Sprintf("outcome %d", i), http.StatusAccepted)
		id = readAnswer(fmt.Sprintf("event %d", i+1), http.StatusOK).Header.Get(HeaderRequestID)
	}
}
