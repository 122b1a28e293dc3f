// Package runtimeapi serves the AWS Lambda Runtime API (version 2018-06-01) to one runtime process, so that
// unmodified Lambda handlers (aws-lambda-go binaries, custom runtimes' bootstraps) can run locally.
//
// A Server is the Runtime API of one execution environment, as on AWS, where every sandbox has its own
// endpoint: whoever runs the process gives it a listener of its own (127.0.0.1:0) and passes its address in
// AWS_LAMBDA_RUNTIME_API. One endpoint per process makes the question "which process is asking?" answerable
// by construction, with no token in the path: runtime clients treat AWS_LAMBDA_RUNTIME_API as host:port, and
// not all of them would keep a path prefix. Serve serves that listener with a lean HTTP/1.1 server made for
// the Runtime API's hot path; a Server is also an http.Handler for any other server.
//
// The owner queues events with Enqueue and waits for each Call's outcome; the runtime takes them with
// GET /runtime/invocation/next (a long poll) and answers with .../response or .../error. Idle and Busy tell
// the owner whether the process is waiting for work, Abandon withdraws a call (timeout, cancellation), and
// Close fails every pending call and releases every poll when the process is gone or being stopped. The
// Server enforces no timeouts itself: the deadline it sends is information for the runtime; killing a
// process that overruns it is its owner's job.
package runtimeapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Header names of the Runtime API.
const (
	// HeaderRequestID carries the invocation's request id in the answer to GET /next.
	HeaderRequestID = "Lambda-Runtime-Aws-Request-Id"
	// HeaderDeadlineMS carries the invocation's deadline, in Unix epoch milliseconds.
	HeaderDeadlineMS = "Lambda-Runtime-Deadline-Ms"
	// HeaderInvokedFunctionARN carries the ARN the function was invoked with.
	HeaderInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	// HeaderTraceID carries the X-Ray trace header.
	HeaderTraceID = "Lambda-Runtime-Trace-Id"
	// HeaderClientContext carries the mobile SDK client context (JSON), when there is one.
	HeaderClientContext = "Lambda-Runtime-Client-Context"
	// HeaderCognitoIdentity carries the Cognito identity (JSON), when there is one.
	HeaderCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	// HeaderFunctionErrorType is both an optional header of POST .../error and, with
	// HeaderFunctionErrorBody (base64 JSON), an HTTP trailer aws-lambda-go sends when reading a streamed
	// response fails part-way.
	HeaderFunctionErrorType = "Lambda-Runtime-Function-Error-Type"
	// HeaderFunctionErrorBody is the trailer with the base64 error document (see HeaderFunctionErrorType).
	HeaderFunctionErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// DefaultMaxPayload is Lambda's limit on a synchronous response (6 MiB); larger responses are refused with
// 413 RequestEntityTooLarge.
const DefaultMaxPayload = 6 * 1024 * 1024

// DefaultTimeout is the deadline given to an Invocation without Timeout (Lambda's default timeout).
const DefaultTimeout = 3 * time.Second

// Errors a Call can end with besides those passed to Close.
var (
	// ErrAbandoned ends a call its owner withdrew with Abandon.
	ErrAbandoned = errors.New("invocation abandoned")
	// ErrClosed ends calls when the Server was closed without a cause, and refuses new ones.
	ErrClosed = errors.New("runtime api closed")
)

// InitError is the error a runtime reported with POST /runtime/init/error: its initialisation failed, so
// the process is unusable. Calls pending or enqueued afterwards end with it; Payload is the error document
// to report as the invocation's function error.
type InitError struct {
	ErrorType string
	Payload   []byte
}

// Error describes the failed initialisation.
func (e *InitError) Error() string {
	return fmt.Sprintf("runtime init failed: %s: %s", e.ErrorType, errorMessage(e.Payload))
}

// Invocation is one event for the runtime.
type Invocation struct {
	// RequestID is the invocation's id; NewRequestID is used when it is empty.
	RequestID string
	// Payload is the event, sent as the body of GET /next.
	Payload []byte
	// ContentType is the event's media type; application/json when empty.
	ContentType string
	// Timeout is the function timeout: the deadline sent to the runtime is the hand-off time plus Timeout
	// (DefaultTimeout when zero), so time spent waiting for a cold process to initialise does not count, as
	// on AWS.
	Timeout time.Duration
	// Deadline, when set, caps the deadline sent (the caller's own deadline, if earlier).
	Deadline time.Time
	// FunctionARN is sent in Lambda-Runtime-Invoked-Function-Arn.
	FunctionARN string
	// TraceID is the X-Ray header sent in Lambda-Runtime-Trace-Id; NewTraceID is used when it is empty.
	TraceID string
	// ClientContext is an optional JSON document sent in Lambda-Runtime-Client-Context.
	ClientContext string
	// CognitoIdentity is an optional JSON document sent in Lambda-Runtime-Cognito-Identity.
	CognitoIdentity string
}

// Outcome is what the runtime reported for a call.
type Outcome struct {
	// Payload is the response body, or the error document when FunctionError is set.
	Payload []byte
	// ContentType is the media type the runtime gave its response.
	ContentType string
	// FunctionError reports a function error: POST .../error, error trailers on .../response, or a
	// response larger than the payload limit.
	FunctionError bool
	// ErrorType is the error's type when FunctionError is set (errorType of the document, or the
	// Lambda-Runtime-Function-Error-Type header).
	ErrorType string
}

type callState int

const (
	stateQueued   callState = iota // in Server.queue
	stateAssigned                  // handed to a waiting /next, not yet written
	stateInFlight                  // sent to the runtime, in Server.inflight
	stateDone
)

// Call is an invocation for a Server. Its channels tell when the runtime took it, when it has run for its
// timeout and when it ended.
type Call struct {
	inv      Invocation
	state    callState // guarded by Server.mu
	started  chan struct{}
	timedOut chan struct{}
	done     chan struct{}
	timer    *time.Timer // closes timedOut; set at hand-off, stopped when the call ends (under Server.mu)
	handed   atomic.Bool
	queued   bool      // given to a Server (guarded by that Server's mu)
	deadline time.Time // set before started is closed
	outcome  Outcome   // set before done is closed
	err      error     // set before done is closed
}

// NewCall returns a Call for inv, to be given to a Server with EnqueueCall. An owner that creates the Call
// before it knows which runtime will run it can wait on its channels from the start: nothing has to wake
// it when the call is handed to a runtime. Empty fields of inv get their defaults (a new request id and
// trace id, application/json, DefaultTimeout).
func NewCall(inv Invocation) *Call {
	if inv.RequestID == "" {
		inv.RequestID = NewRequestID()
	}
	if inv.TraceID == "" {
		inv.TraceID = NewTraceID(time.Now())
	}
	if inv.ContentType == "" {
		inv.ContentType = "application/json"
	}
	if inv.Timeout <= 0 {
		inv.Timeout = DefaultTimeout
	}
	return &Call{inv: inv, started: make(chan struct{}), timedOut: make(chan struct{}), done: make(chan struct{})}
}

// RequestID returns the invocation's request id.
func (c *Call) RequestID() string { return c.inv.RequestID }

// Started is closed when the runtime has taken the invocation (its GET /next was answered).
func (c *Call) Started() <-chan struct{} { return c.started }

// HandedOff reports whether the runtime has taken the invocation, so that its owner knows, after Abandon,
// whether the process is still busy with it.
func (c *Call) HandedOff() bool { return c.handed.Load() }

// TimedOut is closed once the runtime has had the invocation for its Invocation.Timeout (counted from the
// hand-off, as Lambda counts a function's timeout) without ending it. Its timer is armed by the hand-off,
// so an owner waiting on TimedOut and Done is not woken when the runtime takes the call.
func (c *Call) TimedOut() <-chan struct{} { return c.timedOut }

// Deadline returns the deadline sent to the runtime; it is valid once Started is closed.
func (c *Call) Deadline() time.Time {
	<-c.started
	return c.deadline
}

// Done is closed when the call has ended: with an outcome, or with an error (Abandon, Close, init error).
func (c *Call) Done() <-chan struct{} { return c.done }

// Result returns the call's outcome, or why it has none; it blocks until Done is closed.
func (c *Call) Result() (Outcome, error) {
	<-c.done
	return c.outcome, c.err
}

// Options configures a Server.
type Options struct {
	// Logger receives protocol errors (nil: slog.Default()).
	Logger *slog.Logger
	// MaxPayload bounds response and error bodies (zero: DefaultMaxPayload).
	MaxPayload int64
	// Notify, when set, is called whenever the runtime waits in GET /next for work, on its first GET /next
	// even when work was waiting, and when it reports an init error, so that the owner can hand it work,
	// note that it has initialised, or replace it. (A poll that takes queued work at once is not reported
	// after the first: the owner enqueued that work and knows the process is busy.) It is called from the request's goroutine, with no lock held, and must not block for long.
	Notify func()
	// FunctionName is reported to extensions that register.
	FunctionName string
	// FunctionVersion is reported to extensions that register.
	FunctionVersion string
	// Handler is reported to extensions that register.
	Handler string
}

type poll struct {
	ch chan *Call // capacity 1: the one call assigned to this poll
}

// Server is the Runtime API of one runtime process. It is an http.Handler; its methods are safe for
// concurrent use.
type Server struct {
	log    *slog.Logger
	max    int64
	notify func()
	opts   Options
	// extensionPolls counts the extension event polls waiting, so that tests can wait for one.
	extensionPolls atomic.Int32

	mu       sync.Mutex
	queue    []*Call          // enqueued, not yet assigned; non-empty only while polls is empty
	polls    []*poll          // /next requests waiting for work
	inflight map[string]*Call // taken by the runtime, no outcome yet
	pending  map[*Call]struct{}
	seen     map[string]bool // the last seenLimit request ids handed to the runtime (for duplicate answers)
	seenRing []string        // the same ids, oldest overwritten first
	seenNext int             // where seenRing is written next
	polled   bool            // the runtime has called /next at least once
	answered time.Time       // when the runtime last answered an invocation
	initErr  *InitError
	closed   bool
	closeErr error
	closing  chan struct{} // closed by Close
}

// New returns a Server ready to be served on the process's listener.
func New(opts Options) *Server {
	s := &Server{
		log:      opts.Logger,
		max:      opts.MaxPayload,
		notify:   opts.Notify,
		opts:     opts,
		inflight: make(map[string]*Call),
		pending:  make(map[*Call]struct{}),
		seen:     make(map[string]bool),
		closing:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.max <= 0 {
		s.max = DefaultMaxPayload
	}
	return s
}

// Paths of the Runtime API and of the minimal Extensions API (aws-lambda-go's WithEnableSIGTERM registers
// an extension that subscribes to nothing and then waits in event/next forever).
const (
	runtimePrefix      = "/2018-06-01/runtime/"
	invocationPrefix   = runtimePrefix + "invocation/"
	pathNext           = invocationPrefix + "next"
	pathInitError      = runtimePrefix + "init/error"
	extensionPrefix    = "/2020-01-01/extension/"
	pathExtRegister    = extensionPrefix + "register"
	pathExtNext        = extensionPrefix + "event/next"
	pathExtInitError   = extensionPrefix + "init/error"
	pathExtExitError   = extensionPrefix + "exit/error"
	suffixResponse     = "/response"
	suffixError        = "/error"
	methodNotAllowedFm = "%s is not allowed on %s"
)

// ServeHTTP serves the Runtime API. It routes by hand: the two requests of every invocation (GET
// .../next, POST .../{id}/response) are the hot path, and a pattern mux costs more than the handlers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, invocationPrefix); ok && path != pathNext {
		id, suffix, ok := cutID(rest)
		switch {
		case !ok:
		case r.Method != http.MethodPost:
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", fmt.Sprintf(methodNotAllowedFm, r.Method, path))
			return
		case suffix == suffixResponse:
			s.handleResponse(w, r, id)
			return
		case suffix == suffixError:
			s.handleError(w, r, id)
			return
		}
		writeError(w, http.StatusNotFound, "NotFound", "unknown Runtime API path "+path)
		return
	}
	var handler func(http.ResponseWriter, *http.Request)
	method := http.MethodPost
	switch path {
	case pathNext:
		handler, method = s.handleNext, http.MethodGet
	case pathInitError:
		handler = s.handleInitError
	case pathExtRegister:
		handler = s.handleExtensionRegister
	case pathExtNext:
		handler, method = s.handleExtensionNext, http.MethodGet
	case pathExtInitError, pathExtExitError:
		handler = s.handleExtensionError
	default:
		writeError(w, http.StatusNotFound, "NotFound", "unknown Runtime API path "+path)
		return
	}
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", fmt.Sprintf(methodNotAllowedFm, r.Method, path))
		return
	}
	handler(w, r)
}

// cutID splits "{id}/response" or "{id}/error" into the id and the suffix; the id is one non-empty path
// segment.
func cutID(rest string) (id, suffix string, ok bool) {
	i := strings.IndexByte(rest, '/')
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i:], true
}

// Enqueue queues inv for the runtime and returns its Call. It fails once the Server is closed or the
// runtime reported an init error (the *InitError is returned).
func (s *Server) Enqueue(inv Invocation) (*Call, error) {
	c := NewCall(inv)
	if err := s.EnqueueCall(c); err != nil {
		return nil, err
	}
	return c, nil
}

// EnqueueCall queues c, made by NewCall, for the runtime. It fails, leaving c as it was, once the Server is
// closed or the runtime reported an init error (the *InitError is returned); then c may be given to
// another Server. A Call is run by one Server only: giving it to a second one after the first accepted it
// is refused.
func (s *Server) EnqueueCall(c *Call) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closeErr
	}
	if s.initErr != nil {
		return s.initErr
	}
	if c.queued {
		return errors.New("runtime api: the call was enqueued already")
	}
	c.queued = true
	s.pending[c] = struct{}{}
	s.dispatchLocked(c)
	return nil
}

// dispatchLocked hands c to a waiting poll, or queues it (at the front when requeued).
func (s *Server) dispatchLocked(c *Call) {
	if len(s.polls) > 0 {
		p := s.popPollLocked()
		c.state = stateAssigned
		p.ch <- c
		return
	}
	c.state = stateQueued
	s.queue = append(s.queue, c)
}

// Idle returns how many GET /next polls are waiting with no work: a process with Idle() > 0 can take an
// invocation at once. A process between answering one invocation and asking for the next is not idle.
func (s *Server) Idle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.polls)
}

// Busy returns how many calls are pending: queued, being handed over or in flight.
func (s *Server) Busy() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Polled reports whether the runtime has asked for work at least once (it has finished initialising).
func (s *Server) Polled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polled
}

// AnsweredAt returns when the runtime last answered an invocation (zero if never). A process with no
// pending call that answered a moment ago and is not Idle yet is on its way back to GET /next; unless
// it is about to exit (aws-lambda-go exits after reporting a panic).
func (s *Server) AnsweredAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered
}

// InitErr returns the init error the runtime reported, or nil.
func (s *Server) InitErr() *InitError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initErr
}

// Abandon withdraws c: it ends with ErrAbandoned, and the runtime's later answers for it get 400. It
// returns false when c had already ended (then Result has its outcome). After Abandon returns true,
// c.HandedOff() tells whether the runtime is still working on it.
func (s *Server) Abandon(c *Call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.state {
	case stateDone:
		return false
	case stateQueued:
		if i := slices.Index(s.queue, c); i >= 0 {
			s.queue = slices.Delete(s.queue, i, i+1)
		}
	case stateInFlight:
		delete(s.inflight, c.inv.RequestID)
	case stateAssigned:
		// The /next handler holding it sees stateDone and skips it.
	}
	s.finishLocked(c, Outcome{}, ErrAbandoned)
	return true
}

// Close ends every pending call with cause (ErrClosed when nil), refuses new ones and releases the
// runtime's waiting polls (they get 503, to which aws-lambda-go reacts by exiting). It is meant for a
// process that has exited or is being stopped. Later calls are no-ops.
func (s *Server) Close(cause error) {
	if cause == nil {
		cause = ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.closeErr = cause
	for c := range s.pending {
		s.finishLocked(c, Outcome{}, cause)
	}
	s.queue = nil
	clear(s.inflight)
	close(s.closing)
}

// finishLocked ends c; c must be pending.
func (s *Server) finishLocked(c *Call, out Outcome, err error) {
	c.state = stateDone
	c.outcome, c.err = out, err
	if c.timer != nil {
		c.timer.Stop()
	}
	delete(s.pending, c)
	close(c.done)
}

// reassignLocked gives c, assigned to a poll whose runtime went away, to another poll, or puts it back at
// the head of the queue.
func (s *Server) reassignLocked(c *Call) {
	if c.state != stateAssigned {
		return
	}
	if len(s.polls) > 0 {
		s.dispatchLocked(c)
		return
	}
	c.state = stateQueued
	s.queue = slices.Insert(s.queue, 0, c)
}

func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "runtime API closed")
		return
	}
	if s.initErr != nil {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "init error already reported")
		return
	}
	first := !s.polled
	s.polled = true
	// gone tells that the runtime went away; on the lean server it is watched for only once a poll has
	// waited pollWatchDelay.
	gone, watch := connGone(r)
	var slow <-chan time.Time // armed only once a poll has to wait: under load, work is handed at once
	for {
		c, p := s.takeOrPollLocked(nil)
		if p != nil {
			first = false // the owner has heard of this poll
			if watch != nil && slow == nil {
				select {
				case c = <-p.ch:
					s.mu.Lock()
					goto assigned
				default:
				}
				t := time.NewTimer(pollWatchDelay)
				defer t.Stop()
				slow = t.C
			}
		wait:
			select {
			case c = <-p.ch:
				s.mu.Lock()
				select {
				case <-gone: // the runtime went away just as work was assigned: the work must not be lost
					s.reassignLocked(c)
					s.mu.Unlock()
					return
				default:
				}
			case <-slow:
				slow, gone, watch = nil, watch(), nil
				goto wait
			case <-gone:
				s.mu.Lock()
				if i := slices.Index(s.polls, p); i >= 0 {
					s.polls = slices.Delete(s.polls, i, i+1)
					s.mu.Unlock()
					return
				}
				// Work was assigned as the runtime went away.
				s.reassignLocked(<-p.ch)
				s.mu.Unlock()
				return
			case <-s.closing:
				s.mu.Lock()
				if i := slices.Index(s.polls, p); i >= 0 {
					s.polls = slices.Delete(s.polls, i, i+1)
				}
				s.mu.Unlock()
				writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "runtime API closed")
				return
			}
		}
	assigned:
		if c.state == stateDone || s.closed {
			// Abandoned (or closed) while being handed over: wait for other work.
			if s.closed {
				s.mu.Unlock()
				writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "runtime API closed")
				return
			}
			continue
		}
		s.handOffLocked(c)
		s.mu.Unlock()
		if first && s.notify != nil {
			s.notify() // the first poll ends initialisation, even when work was already waiting
		}
		s.writeEvent(w, c)
		return
	}
}

// popPollLocked removes and returns the first waiting poll. It shifts the rest rather than reslicing, so
// that the slice keeps its capacity: a runtime that waits for work once per invocation would otherwise
// make the next append allocate every time.
func (s *Server) popPollLocked() *poll {
	p := s.polls[0]
	n := copy(s.polls, s.polls[1:])
	s.polls[n] = nil
	s.polls = s.polls[:n]
	return p
}

// takeOrPollLocked takes the first queued call; when there is none, it registers a poll, unlocks s.mu and
// tells the owner (Notify, which may hand the poll work at once), and the caller waits on the poll. That
// poll is reuse when reuse is not nil (its channel must be empty), else a new one.
func (s *Server) takeOrPollLocked(reuse *poll) (*Call, *poll) {
	if len(s.queue) > 0 {
		c := s.queue[0]
		s.queue = s.queue[1:]
		return c, nil
	}
	p := reuse
	if p == nil {
		p = &poll{ch: make(chan *Call, 1)}
	}
	s.polls = append(s.polls, p)
	s.mu.Unlock()
	if s.notify != nil {
		s.notify()
	}
	return nil, p
}

// handOffLocked moves c in flight and fixes its deadline.
func (s *Server) handOffLocked(c *Call) {
	deadline := time.Now().Add(c.inv.Timeout)
	if !c.inv.Deadline.IsZero() && c.inv.Deadline.Before(deadline) {
		deadline = c.inv.Deadline
	}
	c.deadline = deadline
	c.state = stateInFlight
	s.inflight[c.inv.RequestID] = c
	s.rememberLocked(c.inv.RequestID)
	c.handed.Store(true)
	c.timer = time.AfterFunc(c.inv.Timeout, func() { close(c.timedOut) })
	close(c.started)
}

func (s *Server) writeEvent(w http.ResponseWriter, c *Call) {
	// The header names are canonical already: assigning skips canonicalising them on every event.
	h := w.Header()
	h[HeaderRequestID] = []string{c.inv.RequestID}
	h[HeaderDeadlineMS] = []string{strconv.FormatInt(c.deadline.UnixMilli(), 10)}
	h[HeaderInvokedFunctionARN] = []string{c.inv.FunctionARN}
	h[HeaderTraceID] = []string{c.inv.TraceID}
	if c.inv.ClientContext != "" {
		h[HeaderClientContext] = []string{c.inv.ClientContext}
	}
	if c.inv.CognitoIdentity != "" {
		h[HeaderCognitoIdentity] = []string{c.inv.CognitoIdentity}
	}
	h["Content-Type"] = []string{c.inv.ContentType}
	h["Content-Length"] = []string{strconv.Itoa(len(c.inv.Payload))}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(c.inv.Payload); err != nil {
		// The runtime went away with the event; its owner learns it when the process exits.
		s.log.Debug("runtime API: writing the event failed", "request_id", c.inv.RequestID, "error", err)
	}
}

// seenLimit is how many handed request ids a Server remembers, to say that a duplicate answer is one: a
// process that lives long under load would otherwise keep every id it was ever given (about 100 bytes
// each). An answer for an older id gets the same 400 InvalidRequestID with the generic message.
const seenLimit = 1024

// rememberLocked adds id to the handed request ids, forgetting the oldest beyond seenLimit.
func (s *Server) rememberLocked(id string) {
	if len(s.seenRing) < seenLimit {
		s.seenRing = append(s.seenRing, id)
	} else {
		delete(s.seen, s.seenRing[s.seenNext])
		s.seenRing[s.seenNext] = id
		s.seenNext = (s.seenNext + 1) % seenLimit
	}
	s.seen[id] = true
}

// takeInFlight removes and returns the in-flight call id names, or answers 400.
func (s *Server) takeInFlight(w http.ResponseWriter, id string) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.inflight[id]
	if !ok {
		msg := "Invalid request ID"
		if s.seen[id] {
			msg = "Invalid request ID: the invocation already has a response, or was abandoned"
		}
		writeError(w, http.StatusBadRequest, "InvalidRequestID", msg)
		return nil
	}
	delete(s.inflight, id)
	return c
}

// complete ends c with out unless it ended meanwhile (Close).
func (s *Server) complete(c *Call, out Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answered = time.Now()
	if c.state != stateDone {
		s.finishLocked(c, out, nil)
	}
}

// readBody reads a response or error body up to the payload limit. Too large: it answers 413, and the
// call ends with Lambda's Function.ResponseSizeTooLarge error.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, c *Call) ([]byte, bool) {
	body, err := readLimited(r, s.max+1)
	if err != nil {
		// The runtime died mid-request: put the call back in flight so that the process's exit ends it.
		s.mu.Lock()
		if c.state == stateInFlight {
			s.inflight[c.inv.RequestID] = c
		}
		s.mu.Unlock()
		s.log.Debug("runtime API: reading the body failed", "request_id", c.inv.RequestID, "error", err)
		writeError(w, http.StatusBadRequest, "InvalidRequest", "reading the body failed")
		return nil, false
	}
	if int64(len(body)) > s.max {
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", s.max))
		s.complete(c, tooLarge(s.max))
		return nil, false
	}
	return body, true
}

func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request, id string) {
	c := s.takeInFlight(w, id)
	if c == nil {
		return
	}
	body, ok := s.readBody(w, r, c)
	if !ok {
		return
	}
	out := Outcome{Payload: body, ContentType: r.Header.Get("Content-Type")}
	// Trailers are readable once the body has been read to its end.
	if typ := r.Trailer.Get(HeaderFunctionErrorType); typ != "" {
		doc, err := base64.StdEncoding.DecodeString(r.Trailer.Get(HeaderFunctionErrorBody))
		if err != nil || !json.Valid(doc) {
			doc = errorDocument(typ, "the response stream failed")
		}
		out = Outcome{Payload: doc, ContentType: "application/json", FunctionError: true, ErrorType: typ}
	}
	s.complete(c, out)
	writeAccepted(w)
}

func (s *Server) handleError(w http.ResponseWriter, r *http.Request, id string) {
	c := s.takeInFlight(w, id)
	if c == nil {
		return
	}
	body, ok := s.readBody(w, r, c)
	if !ok {
		return
	}
	doc, typ := errorBody(body, r.Header.Get(HeaderFunctionErrorType))
	s.complete(c, Outcome{Payload: doc, ContentType: "application/json", FunctionError: true, ErrorType: typ})
	writeAccepted(w)
}

func (s *Server) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.max))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "reading the body failed")
		return
	}
	doc, typ := errorBody(body, r.Header.Get(HeaderFunctionErrorType))
	ie := &InitError{ErrorType: typ, Payload: doc}
	s.mu.Lock()
	if s.polled || s.initErr != nil || s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "init error after initialisation")
		return
	}
	s.initErr = ie
	for c := range s.pending {
		s.finishLocked(c, Outcome{}, ie)
	}
	s.queue = nil
	s.mu.Unlock()
	s.log.Debug("runtime API: init error", "error_type", typ)
	writeAccepted(w)
	if s.notify != nil {
		s.notify()
	}
}

func (s *Server) handleExtensionRegister(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get("Lambda-Extension-Name")
	if name == "" {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "missing Lambda-Extension-Name")
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
	w.Header().Set("Lambda-Extension-Identifier", NewRequestID())
	w.Header().Set("Content-Type", "application/json")
	body, _ := json.Marshal(map[string]string{
		"functionName":    s.opts.FunctionName,
		"functionVersion": s.opts.FunctionVersion,
		"handler":         s.opts.Handler,
	})
	_, _ = w.Write(body)
}

// handleExtensionNext blocks until the runtime goes away or the Server closes: Switchboard sends extensions
// no events (SIGTERM is what a process gets when it is stopped).
func (s *Server) handleExtensionNext(w http.ResponseWriter, r *http.Request) {
	gone, watch := connGone(r)
	if watch != nil {
		gone = watch()
	}
	s.extensionPolls.Add(1)
	defer s.extensionPolls.Add(-1)
	select {
	case <-gone:
	case <-s.closing:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"eventType":"SHUTDOWN","shutdownReason":"spindown"}`))
	}
}

func (s *Server) handleExtensionError(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, s.max))
	s.log.Debug("runtime API: extension error", "path", r.URL.Path, "error_type", r.Header.Get("Lambda-Extension-Function-Error-Type"))
	writeAccepted(w)
}

// errorBody returns the error document to report for body (the runtime's, when it is JSON), and its type.
func errorBody(body []byte, headerType string) ([]byte, string) {
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	if len(bytes.TrimSpace(body)) > 0 && json.Valid(body) {
		if json.Unmarshal(body, &doc) == nil && doc.ErrorType != "" {
			return body, doc.ErrorType
		}
		if headerType == "" {
			headerType = "Runtime.Unknown"
		}
		return body, headerType
	}
	if headerType == "" {
		headerType = "Runtime.Unknown"
	}
	msg := string(body)
	if msg == "" {
		msg = "the runtime reported an error without a message"
	}
	return errorDocument(headerType, msg), headerType
}

// errorMessage returns the errorMessage of an error document, or the document itself.
func errorMessage(doc []byte) string {
	var d struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(doc, &d) == nil && d.ErrorMessage != "" {
		return d.ErrorMessage
	}
	return string(doc)
}

// errorDocument renders Lambda's error document.
func errorDocument(errorType, message string) []byte {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{message, errorType})
	return b
}

// readLimited reads r's body, up to limit bytes; a declared Content-Length sizes the buffer at once.
func readLimited(r *http.Request, limit int64) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n < limit {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, limit))
}

// accepted is the body of 202 answers.
var accepted = []byte(`{"status":"OK"}`)

func writeAccepted(w http.ResponseWriter) {
	w.Header()["Content-Type"] = []string{"application/json"}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(accepted)
}

func writeError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(errorDocument(errorType, message))
}
