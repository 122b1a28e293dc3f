package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/rpc"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// seen is what the test handler reports about its invocation.
type seen struct {
	Event       json.RawMessage `json:"event"`
	RequestID   string          `json:"requestId"`
	ARN         string          `json:"arn"`
	DeadlineMS  int64           `json:"deadlineMs"`
	TraceID     string          `json:"traceId"`
	ClientApp   string          `json:"clientApp"`
	IdentityID  string          `json:"identityId"`
	IdentityPID string          `json:"identityPoolId"`
}

// goRuntime serves aws-lambda-go's own go1.x runtime (lambda.NewFunction over net/rpc, as its
// _LAMBDA_SERVER_PORT start does) on a loopback port, and returns a connection to it.
func goRuntime(t testing.TB, handler any) net.Conn {
	t.Helper()
	srv := rpc.NewServer()
	//nolint:staticcheck // Function is what aws-lambda-go registers for the go1.x runtime
	if err := srv.Register(lambda.NewFunction(lambda.NewHandler(handler))); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		srv.ServeConn(c)
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		_ = ln.Close()
		<-done
	})
	return conn
}

// handler answers what it saw, or fails as the event asks.
func handler(ctx context.Context, ev map[string]any) (any, error) {
	switch {
	case ev["error"] != nil:
		return nil, errors.New(ev["error"].(string))
	case ev["panic"] != nil:
		panic(ev["panic"])
	case ev["bigMB"] != nil:
		return strings.Repeat("x", int(ev["bigMB"].(float64))<<20), nil
	}
	lc, _ := lambdacontext.FromContext(ctx)
	d, _ := ctx.Deadline()
	b, _ := json.Marshal(ev)
	trace, _ := ctx.Value("x-amzn-trace-id").(string)
	return seen{Event: b, RequestID: lc.AwsRequestID, ARN: lc.InvokedFunctionArn, DeadlineMS: d.UnixMilli(), TraceID: trace,
		ClientApp: lc.ClientContext.Client.AppTitle, IdentityID: lc.Identity.CognitoIdentityID,
		IdentityPID: lc.Identity.CognitoIdentityPoolID}, nil
}

// serveGoRPC runs s over conn until the test ends, and returns what ServeGoRPC returned on a channel.
func serveGoRPC(t *testing.T, s *Server, conn net.Conn) <-chan error {
	t.Helper()
	out := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		out <- s.ServeGoRPC(conn)
	}()
	t.Cleanup(func() {
		s.Close(nil)
		_ = conn.Close()
		<-done
	})
	return out
}

func TestServeGoRPC(t *testing.T) {
	notified := make(chan struct{}, 16)
	s := New(Options{Notify: func() { notified <- struct{}{} }})
	served := serveGoRPC(t, s, goRuntime(t, handler))
	select { // the first wait for work, after the Ping, tells the owner the runtime has initialised
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatal("the owner was never told the runtime waits for work")
	}
	if !s.Polled() || s.Idle() != 1 {
		t.Fatalf("Polled %v, Idle %d; want a runtime waiting for work", s.Polled(), s.Idle())
	}

	start := time.Now()
	c, err := s.Enqueue(Invocation{
		Payload:         []byte(`{"greeting":"hi"}`),
		Timeout:         3 * time.Second,
		FunctionARN:     "arn:aws:lambda:us-east-1:123456789012:function:f",
		TraceID:         "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
		ClientContext:   `{"client":{"app_title":"chat"},"custom":{},"env":{}}`,
		CognitoIdentity: `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Result()
	if err != nil || out.FunctionError {
		t.Fatalf("Result: %+v, %v", out, err)
	}
	var got seen
	if err := json.Unmarshal(out.Payload, &got); err != nil {
		t.Fatalf("payload %s: %v", out.Payload, err)
	}
	want := seen{Event: json.RawMessage(`{"greeting":"hi"}`), RequestID: c.RequestID(),
		ARN: "arn:aws:lambda:us-east-1:123456789012:function:f", DeadlineMS: c.Deadline().UnixMilli(),
		TraceID: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", ClientApp: "chat",
		IdentityID: "us-east-1:abc", IdentityPID: "us-east-1:pool"}
	if string(got.Event) != string(want.Event) || got.RequestID != want.RequestID || got.ARN != want.ARN ||
		got.TraceID != want.TraceID || got.ClientApp != want.ClientApp || got.IdentityID != want.IdentityID ||
		got.IdentityPID != want.IdentityPID || got.DeadlineMS != want.DeadlineMS {
		t.Errorf("the handler saw %+v, want %+v", got, want)
	}
	if d := time.UnixMilli(got.DeadlineMS); d.Before(start.Add(2*time.Second)) || d.After(time.Now().Add(3*time.Second)) {
		t.Errorf("deadline %v is not the 3 s timeout from the hand-off", d)
	}
	if out.ContentType != "application/json" || s.AnsweredAt().IsZero() {
		t.Errorf("content type %q, answered at %v", out.ContentType, s.AnsweredAt())
	}

	s.Close(nil)
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ServeGoRPC after Close = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeGoRPC did not return after Close")
	}
}

func TestServeGoRPCErrors(t *testing.T) {
	tests := []struct {
		name       string
		event      string
		wantType   string
		wantMsg    string // substring of errorMessage
		wantStack  bool
		wantReturn error // what ServeGoRPC returns after the call
	}{
		{name: "returned error", event: `{"error":"bad input"}`, wantType: "errorString", wantMsg: "bad input"},
		{name: "panic", event: `{"panic":"boom"}`, wantType: "string", wantMsg: "boom", wantStack: true, wantReturn: ErrShouldExit},
		{name: "response too large", event: `{"bigMB":7}`, wantType: "Function.ResponseSizeTooLarge",
			wantMsg: "Response payload size exceeded maximum allowed payload size (6291456 bytes).", wantReturn: ErrShouldExit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{})
			served := serveGoRPC(t, s, goRuntime(t, handler))
			c, err := s.Enqueue(Invocation{Payload: []byte(tt.event)})
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Result()
			if err != nil || !out.FunctionError || out.ErrorType != tt.wantType {
				t.Fatalf("Result: %+v, %v; want a %s function error", out, err, tt.wantType)
			}
			var doc struct {
				Message string            `json:"errorMessage"`
				Type    string            `json:"errorType"`
				Stack   []json.RawMessage `json:"stackTrace"`
			}
			if err := json.Unmarshal(out.Payload, &doc); err != nil {
				t.Fatalf("error document %s: %v", out.Payload, err)
			}
			if doc.Type != tt.wantType || !strings.Contains(doc.Message, tt.wantMsg) || (len(doc.Stack) > 0) != tt.wantStack {
				t.Errorf("error document %s", out.Payload)
			}
			if tt.wantReturn == nil {
				if c2, err := s.Enqueue(Invocation{Payload: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				} else if out, err := c2.Result(); err != nil || out.FunctionError {
					t.Errorf("the next call on the same runtime: %+v, %v", out, err)
				}
				return
			}
			select {
			case err := <-served:
				if !errors.Is(err, tt.wantReturn) {
					t.Errorf("ServeGoRPC = %v, want %v", err, tt.wantReturn)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ServeGoRPC did not return")
			}
		})
	}
}

// A runtime that goes away mid-call leaves the call in flight: its process's exit (Close) ends it.
func TestServeGoRPCRuntimeGone(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	conn := goRuntime(t, func(ctx context.Context) (string, error) {
		close(started)
		<-release
		return "late", nil
	})
	defer close(release)
	s := New(Options{})
	served := serveGoRPC(t, s, conn)
	c, err := s.Enqueue(Invocation{Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	_ = conn.Close() // as the process's end of the socket closing when it dies
	select {
	case err := <-served:
		if err == nil {
			t.Fatal("ServeGoRPC = nil after its connection failed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeGoRPC did not return after its connection failed")
	}
	select {
	case <-c.Done():
		t.Fatal("the call ended before the process did")
	default:
	}
	if s.Busy() != 1 {
		t.Errorf("Busy = %d, want the call in flight", s.Busy())
	}
	gone := errors.New("process exited")
	s.Close(gone)
	if _, err := c.Result(); !errors.Is(err, gone) {
		t.Errorf("Result after Close = %v, want %v", err, gone)
	}
}

// Something on the port that is not a go1.x runtime is refused at the Ping: the process never counts as
// initialised.
func TestServeGoRPCNotARuntime(t *testing.T) {
	srv := rpc.NewServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			srv.ServeConn(c)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := New(Options{})
	defer s.Close(nil)
	err = s.ServeGoRPC(conn)
	if err == nil || !strings.Contains(err.Error(), "Function.Ping") {
		t.Errorf("ServeGoRPC = %v, want the Ping refused", err)
	}
	if s.Polled() {
		t.Error("a port that is no runtime counted as initialised")
	}
}

// The answer kept from call to call (rpcConn) is emptied before each is decoded into it: gob decodes a
// byte slice into the capacity it finds, and a field the answer does not carry keeps its value. An
// earlier outcome's payload must survive the next call, and an error must not outlive its call.
func TestServeGoRPCAnswersDoNotShareMemory(t *testing.T) {
	s := New(Options{})
	serveGoRPC(t, s, goRuntime(t, func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) {
		if string(ev) == `"fail"` {
			return nil, errors.New("failed")
		}
		return ev, nil
	}))
	run := func(event string) Outcome {
		t.Helper()
		c, err := s.Enqueue(Invocation{Payload: []byte(event)})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Result()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := run(`"a long first answer, longer than the second"`)
	second := run(`"second"`)
	if string(first.Payload) != `"a long first answer, longer than the second"` || string(second.Payload) != `"second"` {
		t.Errorf("outcomes %q and %q", first.Payload, second.Payload)
	}
	if failed := run(`"fail"`); !failed.FunctionError {
		t.Fatalf("a failing call: %+v", failed)
	}
	if after := run(`"ok"`); after.FunctionError || string(after.Payload) != `"ok"` {
		t.Errorf("the call after a function error: %+v", after)
	}
}
