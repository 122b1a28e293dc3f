package runtimeapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRuntime is a runtime client speaking to a Server, the way aws-lambda-go does.
type fakeRuntime struct {
	t    *testing.T
	base string
}

// newFake returns a Server served by its lean server (Serve), as localinvoke serves it, and a runtime
// client for it.
func newFake(t *testing.T, opts Options) (*Server, *fakeRuntime) {
	t.Helper()
	s := New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close(nil) // stops the server
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, &fakeRuntime{t: t, base: "http://" + ln.Addr().String() + "/2018-06-01/runtime/"}
}

// newFakeHTTP is newFake with the Server served by net/http instead, as an http.Handler.
func newFakeHTTP(t *testing.T, opts Options) (*Server, *fakeRuntime) {
	t.Helper()
	s := New(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close(nil) // releases long polls, so that the test server can close
		hs.Close()
	})
	return s, &fakeRuntime{t: t, base: hs.URL + "/2018-06-01/runtime/"}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (f *fakeRuntime) do(req *http.Request) answer {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (f *fakeRuntime) next(ctx context.Context) answer {
	f.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"invocation/next", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.do(req)
}

func (f *fakeRuntime) post(path, body string, header http.Header) answer {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return f.do(req)
}

// trailerBody yields data, then fails like aws-lambda-go's errorCapturingReader: it sets the error
// trailers and ends the body.
type trailerBody struct {
	data    io.Reader
	trailer http.Header
	errType string
	errDoc  string
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.data.Read(p)
	if err == io.EOF {
		b.trailer.Set(HeaderFunctionErrorType, b.errType)
		b.trailer.Set(HeaderFunctionErrorBody, base64.StdEncoding.EncodeToString([]byte(b.errDoc)))
	}
	return n, err
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func errorType(t *testing.T, body string) string {
	t.Helper()
	var d struct {
		ErrorType string `json:"errorType"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return d.ErrorType
}

func TestNextSendsTheInvocation(t *testing.T) {
	t.Parallel()
	var notified atomic.Int32
	s, rt := newFake(t, Options{Notify: func() { notified.Add(1) }})
	capAt := time.Now().Add(2 * time.Second)
	call, err := s.Enqueue(Invocation{
		Payload:       []byte(`{"hello":"world"}`),
		Timeout:       time.Minute,
		Deadline:      capAt,
		FunctionARN:   "arn:aws:lambda:us-east-1:123456789012:function:f",
		ClientContext: `{"custom":{}}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Busy() != 1 || s.Idle() != 0 {
		t.Errorf("Busy %d Idle %d before the runtime polls", s.Busy(), s.Idle())
	}
	a := rt.next(context.Background())
	if a.status != http.StatusOK || a.body != `{"hello":"world"}` {
		t.Fatalf("next = %d %q", a.status, a.body)
	}
	if got := a.header.Get(HeaderRequestID); got != call.RequestID() {
		t.Errorf("request id header %q, call %q", got, call.RequestID())
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(call.RequestID()) {
		t.Errorf("request id %q is not a UUID", call.RequestID())
	}
	if got := a.header.Get(HeaderDeadlineMS); got != strconv.FormatInt(capAt.UnixMilli(), 10) {
		t.Errorf("deadline %s, want the cap %d (earlier than the timeout)", got, capAt.UnixMilli())
	}
	if !call.Deadline().Equal(capAt) || !call.HandedOff() {
		t.Errorf("call deadline %v handed off %v", call.Deadline(), call.HandedOff())
	}
	if got := a.header.Get(HeaderInvokedFunctionARN); got != "arn:aws:lambda:us-east-1:123456789012:function:f" {
		t.Errorf("ARN header %q", got)
	}
	if got := a.header.Get(HeaderTraceID); !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(got) {
		t.Errorf("trace id %q", got)
	}
	if a.header.Get(HeaderClientContext) != `{"custom":{}}` || a.header.Get(HeaderCognitoIdentity) != "" {
		t.Errorf("client context %q cognito %q", a.header.Get(HeaderClientContext), a.header.Get(HeaderCognitoIdentity))
	}
	if got := a.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("content type %q", got)
	}
	ok := rt.post("invocation/"+call.RequestID()+"/response", `"done"`, http.Header{"Content-Type": {"application/json"}})
	if ok.status != http.StatusAccepted || ok.body != `{"status":"OK"}` {
		t.Errorf("response = %d %q", ok.status, ok.body)
	}
	out, err := call.Result()
	if err != nil || out.FunctionError || string(out.Payload) != `"done"` || out.ContentType != "application/json" {
		t.Errorf("Result = %+v, %v", out, err)
	}
	if notified.Load() == 0 {
		t.Error("Notify was not called for the poll")
	}
	if s.Busy() != 0 || s.AnsweredAt().IsZero() {
		t.Errorf("Busy %d AnsweredAt %v after the answer", s.Busy(), s.AnsweredAt())
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	const limit = 1024
	tests := []struct {
		name string
		// answer sends the runtime's answer for the in-flight id and returns the HTTP answers.
		answer     func(rt *fakeRuntime, id string) []answer
		wantStatus []int
		wantTypes  []string // errorType of each HTTP answer, "" for none
		// The call's outcome.
		wantFunctionError bool
		wantErrorType     string
		wantPayload       string // exact, unless empty
	}{
		{
			name: "response",
			answer: func(rt *fakeRuntime, id string) []answer {
				return []answer{rt.post("invocation/"+id+"/response", `{"ok":true}`, nil)}
			},
			wantStatus:  []int{202},
			wantTypes:   []string{""},
			wantPayload: `{"ok":true}`,
		},
		{
			name: "error document",
			answer: func(rt *fakeRuntime, id string) []answer {
				return []answer{rt.post("invocation/"+id+"/error", `{"errorMessage":"nope","errorType":"MyError","stackTrace":[]}`,
					http.Header{"Lambda-Runtime-Function-Xray-Error-Cause": {"{}"}})}
			},
			wantStatus:        []int{202},
			wantTypes:         []string{""},
			wantFunctionError: true,
			wantErrorType:     "MyError",
			wantPayload:       `{"errorMessage":"nope","errorType":"MyError","stackTrace":[]}`,
		},
		{
			name: "error that is not JSON",
			answer: func(rt *fakeRuntime, id string) []answer {
				return []answer{rt.post("invocation/"+id+"/error", `it broke`, http.Header{HeaderFunctionErrorType: {"Custom.Err"}})}
			},
			wantStatus:        []int{202},
			wantTypes:         []string{""},
			wantFunctionError: true,
			wantErrorType:     "Custom.Err",
			wantPayload:       `{"errorMessage":"it broke","errorType":"Custom.Err"}`,
		},
		{
			name: "response stream failed: error trailers",
			answer: func(rt *fakeRuntime, id string) []answer {
				body := &trailerBody{
					data:    strings.NewReader("partial"),
					trailer: http.Header{HeaderFunctionErrorType: nil, HeaderFunctionErrorBody: nil},
					errType: "ReadError",
					errDoc:  `{"errorMessage":"read failed","errorType":"ReadError"}`,
				}
				req, err := http.NewRequest(http.MethodPost, rt.base+"invocation/"+id+"/response", body)
				if err != nil {
					t.Fatal(err)
				}
				req.Trailer = body.trailer
				return []answer{rt.do(req)}
			},
			wantStatus:        []int{202},
			wantTypes:         []string{""},
			wantFunctionError: true,
			wantErrorType:     "ReadError",
			wantPayload:       `{"errorMessage":"read failed","errorType":"ReadError"}`,
		},
		{
			name: "unknown id, then the right one",
			answer: func(rt *fakeRuntime, id string) []answer {
				return []answer{
					rt.post("invocation/not-an-id/response", `{}`, nil),
					rt.post("invocation/not-an-id/error", `{}`, nil),
					rt.post("invocation/"+id+"/response", `{}`, nil),
				}
			},
			wantStatus:  []int{400, 400, 202},
			wantTypes:   []string{"InvalidRequestID", "InvalidRequestID", ""},
			wantPayload: `{}`,
		},
		{
			name: "duplicate answers",
			answer: func(rt *fakeRuntime, id string) []answer {
				return []answer{
					rt.post("invocation/"+id+"/response", `1`, nil),
					rt.post("invocation/"+id+"/response", `2`, nil),
					rt.post("invocation/"+id+"/error", `{}`, nil),
				}
			},
			wantStatus:  []int{202, 400, 400},
			wantTypes:   []string{"", "InvalidRequestID", "InvalidRequestID"},
			wantPayload: `1`,
		},
		{
			name: "response too large",
			answer: func(rt *fakeRuntime, id string) []answer {
				return []answer{rt.post("invocation/"+id+"/response", strings.Repeat("x", limit+1), nil)}
			},
			wantStatus:        []int{413},
			wantTypes:         []string{"RequestEntityTooLarge"},
			wantFunctionError: true,
			wantErrorType:     "Function.ResponseSizeTooLarge",
		},
		{
			name: "response at the limit",
			answer: func(rt *fakeRuntime, id string) []answer {
				return []answer{rt.post("invocation/"+id+"/response", strings.Repeat("x", limit), nil)}
			},
			wantStatus:  []int{202},
			wantTypes:   []string{""},
			wantPayload: strings.Repeat("x", limit),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, rt := newFake(t, Options{MaxPayload: limit})
			call, err := s.Enqueue(Invocation{Payload: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			if a := rt.next(context.Background()); a.status != 200 {
				t.Fatalf("next = %d", a.status)
			}
			answers := tt.answer(rt, call.RequestID())
			for i, a := range answers {
				if a.status != tt.wantStatus[i] {
					t.Errorf("answer %d: status %d %s, want %d", i, a.status, a.body, tt.wantStatus[i])
				}
				if tt.wantTypes[i] != "" && errorType(t, a.body) != tt.wantTypes[i] {
					t.Errorf("answer %d: %s, want errorType %s", i, a.body, tt.wantTypes[i])
				}
			}
			out, err := call.Result()
			if err != nil {
				t.Fatalf("Result: %v", err)
			}
			if out.FunctionError != tt.wantFunctionError || out.ErrorType != tt.wantErrorType {
				t.Errorf("outcome %+v, want function error %v type %q", out, tt.wantFunctionError, tt.wantErrorType)
			}
			if tt.wantPayload != "" && string(out.Payload) != tt.wantPayload {
				t.Errorf("payload %q, want %q", out.Payload, tt.wantPayload)
			}
		})
	}
}

// TestSeenIsBounded checks that a long-lived runtime's Server does not keep every request id it ever
// handed out (one map entry per invocation, forever), while a duplicate answer for a recent one is still
// recognised.
func TestSeenIsBounded(t *testing.T) {
	s, rt := newFake(t, Options{})
	const n = seenLimit + 200
	var last string
	for range n {
		call, err := s.Enqueue(Invocation{Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		a := rt.next(context.Background())
		last = a.header.Get(HeaderRequestID)
		if a := rt.post("invocation/"+last+"/response", `{}`, nil); a.status != http.StatusAccepted {
			t.Fatalf("answer: %d %s", a.status, a.body)
		}
		<-call.Done()
	}
	s.mu.Lock()
	kept := len(s.seen)
	s.mu.Unlock()
	if kept > seenLimit {
		t.Errorf("%d invocations: %d request ids kept, want at most %d", n, kept, seenLimit)
	}
	if a := rt.post("invocation/"+last+"/response", `{}`, nil); a.status != http.StatusBadRequest || !strings.Contains(a.body, "already has a response") {
		t.Errorf("duplicate answer for a recent id: %d %s", a.status, a.body)
	}
}

func TestInitError(t *testing.T) {
	t.Parallel()
	var notified atomic.Int32
	s, rt := newFake(t, Options{Notify: func() { notified.Add(1) }})
	call, err := s.Enqueue(Invocation{Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"errorMessage":"no config","errorType":"Runtime.ConfigError"}`
	if a := rt.post("init/error", doc, nil); a.status != http.StatusAccepted {
		t.Fatalf("init/error = %d %s", a.status, a.body)
	}
	_, err = call.Result()
	var ie *InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Runtime.ConfigError" || string(ie.Payload) != doc {
		t.Fatalf("Result error = %v", err)
	}
	if s.InitErr() == nil || notified.Load() == 0 {
		t.Error("the init error is not reported to the owner")
	}
	if _, err := s.Enqueue(Invocation{}); !errors.As(err, &ie) {
		t.Errorf("Enqueue after init error = %v", err)
	}
	if a := rt.next(context.Background()); a.status != http.StatusForbidden || errorType(t, a.body) != "InvalidStateTransition" {
		t.Errorf("next after init error = %d %s", a.status, a.body)
	}
	if a := rt.post("init/error", doc, nil); a.status != http.StatusForbidden {
		t.Errorf("second init/error = %d", a.status)
	}
}

func TestInitErrorAfterNext(t *testing.T) {
	t.Parallel()
	s, rt := newFake(t, Options{})
	if _, err := s.Enqueue(Invocation{}); err != nil {
		t.Fatal(err)
	}
	rt.next(context.Background())
	if a := rt.post("init/error", `{}`, nil); a.status != http.StatusForbidden {
		t.Errorf("init/error after next = %d, want 403", a.status)
	}
}

func TestCloseReleasesPollsAndCalls(t *testing.T) {
	t.Parallel()
	// net/http keeps serving after Close, so the late answer below gets through; the lean server stops
	// (TestServeStopsOnClose).
	s, rt := newFakeHTTP(t, Options{})
	done := make(chan answer, 1)
	go func() { done <- rt.next(context.Background()) }()
	eventually(t, "the poll to wait", func() bool { return s.Idle() == 1 })
	inflight, _ := s.Enqueue(Invocation{})
	<-done // took inflight
	go func() { done <- rt.next(context.Background()) }()
	eventually(t, "the second poll to wait", func() bool { return s.Idle() == 1 })

	cause := errors.New("process exited")
	s.Close(cause)
	if a := <-done; a.status != http.StatusServiceUnavailable {
		t.Errorf("released poll = %d", a.status)
	}
	if _, err := inflight.Result(); !errors.Is(err, cause) {
		t.Errorf("in-flight call ended with %v, want the cause", err)
	}
	if _, err := s.Enqueue(Invocation{}); !errors.Is(err, cause) {
		t.Errorf("Enqueue after Close = %v", err)
	}
	if a := rt.post("invocation/"+inflight.RequestID()+"/response", `{}`, nil); a.status != http.StatusBadRequest {
		t.Errorf("late response = %d", a.status)
	}
	s.Close(errors.New("again")) // no-op
}

func TestAbandon(t *testing.T) {
	t.Parallel()
	s, rt := newFake(t, Options{})
	queued, _ := s.Enqueue(Invocation{Payload: []byte(`1`)})
	second, _ := s.Enqueue(Invocation{Payload: []byte(`2`)})
	if !s.Abandon(queued) || queued.HandedOff() {
		t.Fatal("Abandon of a queued call")
	}
	if _, err := queued.Result(); !errors.Is(err, ErrAbandoned) {
		t.Errorf("abandoned call ended with %v", err)
	}
	a := rt.next(context.Background())
	if a.body != `2` {
		t.Fatalf("next = %q, want the call that was not abandoned", a.body)
	}
	if !s.Abandon(second) || !second.HandedOff() {
		t.Fatal("Abandon of an in-flight call")
	}
	if a := rt.post("invocation/"+second.RequestID()+"/response", `{}`, nil); a.status != http.StatusBadRequest {
		t.Errorf("response for an abandoned call = %d, want 400", a.status)
	}
	if s.Abandon(second) {
		t.Error("second Abandon returned true")
	}
	if s.Busy() != 0 {
		t.Errorf("Busy = %d", s.Busy())
	}
}

func TestConcurrentPolls(t *testing.T) {
	t.Parallel()
	// AWS_LAMBDA_MAX_CONCURRENCY=3: one process, three polls.
	s, rt := newFake(t, Options{})
	got := make(chan string, 3)
	for range 3 {
		go func() { got <- rt.next(context.Background()).body }()
	}
	eventually(t, "three polls", func() bool { return s.Idle() == 3 })
	for i := range 3 {
		if _, err := s.Enqueue(Invocation{Payload: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range 3 {
		seen[<-got] = true
	}
	if len(seen) != 3 || s.Idle() != 0 || s.Busy() != 3 {
		t.Errorf("events %v, Idle %d, Busy %d", seen, s.Idle(), s.Busy())
	}
}

func TestCancelledPollIsNotIdle(t *testing.T) {
	t.Parallel()
	s, rt := newFake(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rt.base+"invocation/next", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "the poll to wait", func() bool { return s.Idle() == 1 })
	cancel()
	<-done
	eventually(t, "the poll to go", func() bool { return s.Idle() == 0 })
	call, _ := s.Enqueue(Invocation{Payload: []byte(`x`)})
	if a := rt.next(context.Background()); a.body != `x` || a.header.Get(HeaderRequestID) != call.RequestID() {
		t.Errorf("next = %q", a.body)
	}
}

func TestExtensionsAndUnknownPaths(t *testing.T) {
	t.Parallel()
	// Served as an http.Handler: the extension's poll may reach the server before or after Close, and
	// either way it must end with SHUTDOWN (Serve would refuse a connection made after Close).
	s, rt := newFakeHTTP(t, Options{FunctionName: "f", FunctionVersion: "$LATEST", Handler: "bootstrap"})
	base := strings.TrimSuffix(rt.base, "2018-06-01/runtime/")
	req, _ := http.NewRequest(http.MethodPost, base+"2020-01-01/extension/register", strings.NewReader(`{"events":[]}`))
	req.Header.Set("Lambda-Extension-Name", "GoLangEnableSIGTERM")
	a := rt.do(req)
	if a.status != 200 || a.header.Get("Lambda-Extension-Identifier") == "" || !strings.Contains(a.body, `"functionName":"f"`) {
		t.Errorf("register = %d %v %s", a.status, a.header, a.body)
	}
	done := make(chan answer, 1)
	go func() { // reports a failed request as status 0 rather than ending the goroutine with t.Fatal
		defer close(done)
		resp, err := http.Get(base + "2020-01-01/extension/event/next")
		if err != nil {
			done <- answer{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- answer{resp.StatusCode, resp.Header, string(b)}
	}()
	req, _ = http.NewRequest(http.MethodGet, base+"2018-06-01/runtime/nope", nil)
	if a := rt.do(req); a.status != http.StatusNotFound {
		t.Errorf("unknown path = %d", a.status)
	}
	// Closed before the poll arrived, the server would refuse it instead.
	eventually(t, "the extension poll to wait", func() bool { return s.extensionPolls.Load() == 1 })
	s.Close(nil)
	if a := <-done; a.status != 200 || !strings.Contains(a.body, "SHUTDOWN") {
		t.Errorf("extension next after Close = %d %s", a.status, a.body)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	s, rt := newFake(t, Options{})
	base := strings.TrimSuffix(rt.base, "/2018-06-01/runtime/")
	for _, tc := range []struct {
		name, method, path string
		status             int
		errorType          string
	}{
		{"next with POST", http.MethodPost, "/2018-06-01/runtime/invocation/next", 405, "MethodNotAllowed"},
		{"response with GET", http.MethodGet, "/2018-06-01/runtime/invocation/abc/response", 405, "MethodNotAllowed"},
		{"response of an unknown id", http.MethodPost, "/2018-06-01/runtime/invocation/abc/response", 400, "InvalidRequestID"},
		{"error of an unknown id", http.MethodPost, "/2018-06-01/runtime/invocation/abc/error", 400, "InvalidRequestID"},
		{"empty id", http.MethodPost, "/2018-06-01/runtime/invocation//response", 404, "NotFound"},
		{"unknown suffix", http.MethodPost, "/2018-06-01/runtime/invocation/abc/result", 404, "NotFound"},
		{"extra segment", http.MethodPost, "/2018-06-01/runtime/invocation/abc/response/x", 404, "NotFound"},
		{"no suffix", http.MethodPost, "/2018-06-01/runtime/invocation/abc", 404, "NotFound"},
		{"init error with GET", http.MethodGet, "/2018-06-01/runtime/init/error", 405, "MethodNotAllowed"},
		{"extension register with GET", http.MethodGet, "/2020-01-01/extension/register", 405, "MethodNotAllowed"},
		{"another API version", http.MethodGet, "/2019-01-01/runtime/invocation/next", 404, "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			a := rt.do(req)
			if a.status != tc.status || errorType(t, a.body) != tc.errorType {
				t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, a.status, a.body, tc.status, tc.errorType)
			}
		})
	}
	if s.Polled() {
		t.Error("a refused request counted as a poll")
	}
}

// FuzzServeHTTP sends arbitrary methods and paths to a closed Server (so that nothing waits): every
// request gets a JSON error document or an accepted answer, and nothing panics.
func FuzzServeHTTP(f *testing.F) {
	for _, seed := range []struct{ method, path string }{
		{"GET", "/2018-06-01/runtime/invocation/next"},
		{"POST", "/2018-06-01/runtime/invocation/id/response"},
		{"POST", "/2018-06-01/runtime/invocation/id/error"},
		{"POST", "/2018-06-01/runtime/invocation//error"},
		{"POST", "/2018-06-01/runtime/invocation/a/b/c"},
		{"POST", "/2018-06-01/runtime/init/error"},
		{"POST", "/2020-01-01/extension/register"},
		{"DELETE", "/"},
	} {
		f.Add(seed.method, seed.path)
	}
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	s.Close(nil)
	f.Fuzz(func(t *testing.T, method, path string) {
		if !validMethod(method) {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", strings.NewReader("{}"))
		r.Method = method
		r.URL.Path = path
		r.Header.Set("Lambda-Extension-Name", "fuzz")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code < 200 || w.Code >= 600 || !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s %q = %d %q", method, path, w.Code, w.Body.String())
		}
	})
}

// validMethod reports whether m is an HTTP token, as net/http requires of a method.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range []byte(m) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
