package runtimeapi

// The go1.x runtime's protocol. Before the Runtime API, Lambda ran Go functions by starting the binary with
// _LAMBDA_SERVER_PORT set: aws-lambda-go then listens on localhost:$_LAMBDA_SERVER_PORT and serves net/rpc
// (gob encoding) with two methods, Function.Ping and Function.Invoke, whose messages are the types of
// github.com/aws/aws-lambda-go/lambda/messages (used here as they are). Every aws-lambda-go binary still
// serves it unless it was built with -tags lambda.norpc, and it takes _LAMBDA_SERVER_PORT over
// AWS_LAMBDA_RUNTIME_API when both are set. One invocation is then one request and one answer on a kept
// connection, where the Runtime API takes two HTTP exchanges: ServeGoRPC drives a Server's calls that way,
// with every other behaviour (queueing, hand-off, deadlines, Abandon, Close, payload limit, error
// documents) the Runtime API's.

import (
	"bufio"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// ErrShouldExit is what ServeGoRPC returns after a call whose handler panicked or whose response was over
// the payload limit: aws-lambda-go's Runtime API loop exits the process after either (a panic's
// ShouldExit; the 413 to its POST), so over RPC it is the owner's job to replace the process, for the same
// behaviour.
var ErrShouldExit = errors.New("runtime api: the runtime must be replaced after this call")

// Method names aws-lambda-go registers for the go1.x runtime.
const (
	rpcInvoke = "Function.Invoke"
	rpcPing   = "Function.Ping"
)

// rpcConn is one go1.x runtime connection: a gob stream each way, as net/rpc's client codec keeps it.
// The headers, and the Function.Invoke request and answer (ServeGoRPC), are kept from call to call:
// passed to gob as interfaces, each would be an allocation per invocation.
type rpcConn struct {
	buf  *bufio.Writer
	enc  *gob.Encoder
	dec  *gob.Decoder
	seq  uint64
	req  rpc.Request
	resp rpc.Response

	invokeReq  messages.InvokeRequest
	invokeResp messages.InvokeResponse
}

func newRPCConn(rw io.ReadWriter) *rpcConn {
	buf := bufio.NewWriter(rw)
	return &rpcConn{buf: buf, enc: gob.NewEncoder(buf), dec: gob.NewDecoder(bufio.NewReader(rw))}
}

// call sends one request and reads its answer into reply. An error the server reports for the call
// itself (an unknown method) is returned as an error too, after its body has been read.
func (c *rpcConn) call(method string, args, reply any) error {
	c.seq++
	c.req = rpc.Request{ServiceMethod: method, Seq: c.seq}
	if err := c.enc.Encode(&c.req); err != nil {
		return fmt.Errorf("write %s: %w", method, err)
	}
	if err := c.enc.Encode(args); err != nil {
		return fmt.Errorf("write %s: %w", method, err)
	}
	if err := c.buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", method, err)
	}
	h := &c.resp
	*h = rpc.Response{} // gob leaves the fields a message does not carry (its zero values) as they were
	if err := c.dec.Decode(h); err != nil {
		return fmt.Errorf("read the answer to %s: %w", method, err)
	}
	if h.Seq != c.seq {
		return fmt.Errorf("read the answer to %s: sequence %d, want %d", method, h.Seq, c.seq)
	}
	if h.Error != "" {
		var discard any // gob discards a value decoded into nil
		if err := c.dec.Decode(discard); err != nil {
			return fmt.Errorf("read the answer to %s: %w", method, err)
		}
		return fmt.Errorf("%s: %s", method, h.Error)
	}
	if err := c.dec.Decode(reply); err != nil {
		return fmt.Errorf("read the answer to %s: %w", method, err)
	}
	return nil
}

// pingTimeout bounds the wait for the answer to the first Function.Ping.
const pingTimeout = 10 * time.Second

// ServeGoRPC runs s's calls, one at a time, in a runtime reached over the go1.x runtime's protocol on
// conn, until s is closed or conn fails. It first checks with Function.Ping that the runtime speaks it;
// only then does the runtime count as initialised. Each call is taken as GET /next takes it (Notify is called when the
// runtime waits for work, and on its first wait), sent with Function.Invoke, and ended with the
// runtime's answer as .../response or .../error would end it. It returns nil once s is closed,
// ErrShouldExit after a call that ends aws-lambda-go's Runtime API loop, or the connection's error; a call in flight when the
// connection fails stays in flight, so the process's exit (Close) ends it. It does not close conn.
func (s *Server) ServeGoRPC(conn net.Conn) error {
	rc := newRPCConn(conn)
	_ = conn.SetDeadline(time.Now().Add(pingTimeout))
	if err := rc.call(rpcPing, &messages.PingRequest{}, &messages.PingResponse{}); err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	p := &poll{ch: make(chan *Call, 1)}
	for {
		c := s.awaitCall(p)
		if c == nil {
			return nil
		}
		req := &rc.invokeReq
		*req = messages.InvokeRequest{
			Payload:            c.inv.Payload,
			RequestId:          c.inv.RequestID,
			XAmznTraceId:       c.inv.TraceID,
			Deadline:           messages.InvokeRequest_Timestamp{Seconds: c.deadline.Unix(), Nanos: int64(c.deadline.Nanosecond())},
			InvokedFunctionArn: c.inv.FunctionARN,
		}
		if c.inv.ClientContext != "" {
			req.ClientContext = []byte(c.inv.ClientContext)
		}
		if c.inv.CognitoIdentity != "" {
			var id struct {
				ID     string `json:"cognitoIdentityId"`
				PoolID string `json:"cognitoIdentityPoolId"`
			}
			if err := json.Unmarshal([]byte(c.inv.CognitoIdentity), &id); err == nil {
				req.CognitoIdentityId, req.CognitoIdentityPoolId = id.ID, id.PoolID
			}
		}
		resp := &rc.invokeResp
		*resp = messages.InvokeResponse{} // gob leaves the fields the answer does not carry as they were
		err := rc.call(rpcInvoke, req, resp)
		*req = messages.InvokeRequest{} // an idle runtime's connection does not hold on to the last event (up to 6 MiB)
		if err != nil {
			return err
		}
		s.mu.Lock()
		delete(s.inflight, c.inv.RequestID)
		s.mu.Unlock()
		out := Outcome{Payload: resp.Payload, ContentType: "application/json"}
		switch {
		case resp.Error != nil:
			doc, _ := json.Marshal(resp.Error)
			doc, typ := errorBody(doc, resp.Error.Type)
			out = Outcome{Payload: doc, ContentType: "application/json", FunctionError: true, ErrorType: typ}
		case int64(len(resp.Payload)) > s.max:
			out = tooLarge(s.max)
		}
		s.complete(c, out)
		if resp.Error != nil && resp.Error.ShouldExit || out.ErrorType == "Function.ResponseSizeTooLarge" {
			return ErrShouldExit
		}
	}
}

// awaitCall is GET /next for a runtime that does not poll over HTTP: it takes the first queued call, or
// waits for one (telling the owner through Notify), and hands it off. It returns nil once s is closed or
// the runtime has reported an init error.
//
// The runtime's one poll is reused from wait to wait (it is never left with a call in its channel while
// the runtime runs: a poll is handed one call and leaves s.polls in the same step); a new poll per wait
// was four allocations per invocation.
func (s *Server) awaitCall(p *poll) *Call {
	s.mu.Lock()
	first := !s.polled
	s.polled = true
	for {
		if s.closed || s.initErr != nil {
			s.mu.Unlock()
			return nil
		}
		c, waited := s.takeOrPollLocked(p)
		if waited != nil {
			first = false // the owner has heard of this wait
			select {
			case c = <-p.ch:
				s.mu.Lock()
			case <-s.closing:
				s.mu.Lock()
				if i := slices.Index(s.polls, p); i >= 0 {
					s.polls = slices.Delete(s.polls, i, i+1)
				}
				s.mu.Unlock()
				return nil // a call assigned meanwhile is pending, and Close ended it
			}
		}
		if c.state == stateDone {
			continue // abandoned while being handed over: wait for other work
		}
		s.handOffLocked(c)
		s.mu.Unlock()
		if first && s.notify != nil {
			s.notify() // the first wait ends initialisation, even when work was already queued
		}
		return c
	}
}

// tooLarge is the outcome of a response over the payload limit max.
func tooLarge(max int64) Outcome {
	return Outcome{
		Payload: errorDocument("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", max)),
		ContentType:   "application/json",
		FunctionError: true,
		ErrorType:     "Function.ResponseSizeTooLarge",
	}
}
