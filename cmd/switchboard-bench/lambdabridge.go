package main

// The raw Lambda bridge: the least a WebSocket gateway in front of a local Go function can do, as the
// baseline of the AWS_PROXY route to the local Go function. It is the same gws server as echoHandler and
// bridgeHandler, and it runs the same function binary, as many processes, with the environment
// Switchboard gives a Go function (GOMAXPROCS included), driven over the go1.x runtime's protocol as
// Switchboard drives it (internal/lambda/localinvoke, internal/lambda/runtimeapi/gorpc.go): net/rpc's
// Function.Invoke with aws-lambda-go's messages, one call at a time per process, on a kept connection.
// Each message becomes a proxy event of the same bytes as Switchboard's MESSAGE event, spliced into a
// template rendered once; the answer's body goes back as the route's reply. Route ÷ bridge then says how
// close the gateway is to the work itself, and bridge ÷ a peer says what the machine allows at all.

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/lxzan/gws"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/lambda/runtimeapi"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// The bridge's function and API, as the bench's gateway config names them.
const (
	bridgeFunctionName = "echo"
	bridgeRegion       = "us-east-1"
	bridgeFunctionARN  = "arn:aws:lambda:" + bridgeRegion + ":123456789012:function:" + bridgeFunctionName
	bridgeRouteKey     = "lambda"
	// bridgeMemorySize is the function's memory size: Switchboard's default, as the bench's config sets none.
	bridgeMemorySize = 128
	// bridgeTimeout is the function's timeout: Switchboard's default (3 s), sent as the invocation's deadline.
	bridgeTimeout = 3 * time.Second
	// bridgeAcquireTimeout bounds the wait for a free process; a message that waits longer fails.
	bridgeAcquireTimeout = 10 * time.Second
	// bridgeStartTimeout bounds a process's start, up to its answer to Function.Ping.
	bridgeStartTimeout = 10 * time.Second
)

// errNoFreeProcess is why a message fails when no function process became free in time.
var errNoFreeProcess = errors.New("no function process became free in time")

// lambdaBridgeOptions configure a raw Lambda bridge.
type lambdaBridgeOptions struct {
	exe     string    // the function executable, run as "EXE handler"
	procs   int       // function processes, all started before the bridge serves
	connect bool      // invoke the function with a $connect event before each upgrade
	log     io.Writer // where failures and refusals are reported (the server's standard error)
	// env is added to each function process's environment (the bench's functionEnv: where the processes
	// write CPU profiles with -profile), as the gateway's config adds it to the function's.
	env map[string]string
}

// lambdaBridge is the raw Lambda bridge's handler and its function processes.
type lambdaBridge struct {
	opts  lambdaBridgeOptions
	up    *gws.Upgrader
	free  chan *bridgeProcess // processes waiting for a call: each is used by one caller at a time
	procs []*bridgeProcess
	// messageTemplates render the MESSAGE event: [0] for a connection without a User-Agent, [1] with one
	// (identity.userAgent is left out when empty, as Switchboard does).
	messageTemplates [2]*eventTemplate
	stopping         atomic.Bool
	reapers          sync.WaitGroup // one per process, until it is waited for
}

// newLambdaBridge starts opts.procs function processes and returns the bridge once each answers
// Function.Ping.
func newLambdaBridge(opts lambdaBridgeOptions) (*lambdaBridge, error) {
	if opts.procs < 1 {
		return nil, fmt.Errorf("lambdabridge: want at least one function process, not %d", opts.procs)
	}
	lb := &lambdaBridge{opts: opts, free: make(chan *bridgeProcess, opts.procs)}
	for i, withUA := range []bool{false, true} {
		t, err := newMessageTemplate(withUA)
		if err != nil {
			return nil, err
		}
		lb.messageTemplates[i] = t
	}
	lb.up = gws.NewUpgrader(lb, &gws.ServerOption{
		ReadBufferSize:     4096,
		ReadMaxPayloadSize: 128 * 1024,
		CheckUtf8Enabled:   true,
		Recovery:           gws.Recovery,
	})
	for i := range opts.procs {
		p, err := lb.startProcess(i)
		if err != nil {
			lb.close()
			return nil, err
		}
		lb.procs = append(lb.procs, p)
		lb.free <- p
	}
	return lb, nil
}

// bridgeConn is what the bridge knows of one connection: the values of its events.
type bridgeConn struct {
	id          string
	connectedAt int64
	sourceIP    string
	userAgent   string
	domainName  string
}

// bridgeConnKey is the key of a connection's *bridgeConn in its gws session.
const bridgeConnKey = "c"

// ServeHTTP upgrades r; with opts.connect, only once the function has answered a $connect event with 200
// (any other answer is the handshake's response, as the gateway sends it).
func (lb *lambdaBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	c := &bridgeConn{id: awsid.NewConnectionID(1), connectedAt: now.UnixMilli(), sourceIP: remoteIP(r.RemoteAddr),
		userAgent: r.Header.Get("User-Agent"), domainName: r.Host}
	if lb.opts.connect {
		status, body, err := lb.connect(c, r, now)
		if err != nil {
			lb.logf("$connect of %s from %s: %v; answered 502", c.id, c.sourceIP, err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"message": "Internal server error"}`))
			return
		}
		if status != http.StatusOK {
			lb.logf("$connect of %s from %s: the function answered %d; handshake refused", c.id, c.sourceIP, status)
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
	}
	socket, err := lb.up.Upgrade(w, r)
	if err != nil {
		lb.logf("upgrade of %s from %s: %v", c.id, c.sourceIP, err)
		return
	}
	socket.Session().Store(bridgeConnKey, c)
	go socket.ReadLoop() // gws's pattern: the loop ends when the connection does
}

// connect invokes the function with c's $connect event, built by the gateway's own encoder (once per
// handshake), and returns its answer's status and body.
func (lb *lambdaBridge) connect(c *bridgeConn, r *http.Request, now time.Time) (int, []byte, error) {
	id := awsid.NewRequestID()
	rc := proxyevent.RequestContext{RouteKey: "$connect", EventType: proxyevent.EventConnect, ExtendedRequestID: id,
		RequestID: id, MessageDirection: "IN", Stage: benchStage, ConnectedAt: c.connectedAt,
		Identity: proxyevent.Identity{SourceIP: c.sourceIP, UserAgent: c.userAgent}, DomainName: c.domainName,
		ConnectionID: c.id, APIID: benchAPIID}
	rc.SetRequestTime(now)
	out, err := lb.invoke(proxyevent.ConnectEvent(&rc, r.Header, r.URL.Query(), nil), now)
	if err != nil {
		return 0, nil, err
	}
	resp, err := proxyevent.ParseResponse(out)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, resp.Body, nil
}

// OnPing answers pings.
func (*lambdaBridge) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnMessage invokes the function with the message's event and answers with the body of its response; a
// failure is reported and closes the connection with 1011.
func (lb *lambdaBridge) OnMessage(socket *gws.Conn, m *gws.Message) {
	defer m.Close()
	v, _ := socket.Session().Load(bridgeConnKey)
	c, _ := v.(*bridgeConn)
	if c == nil {
		lb.logf("a message on a connection the bridge does not know")
		socket.WriteClose(1011, []byte("unknown connection"))
		return
	}
	now := time.Now()
	t := lb.messageTemplates[0]
	if c.userAgent != "" {
		t = lb.messageTemplates[1]
	}
	out, err := lb.invoke(t.render(c, m.Bytes(), now), now)
	if err == nil {
		var resp *proxyevent.Response
		if resp, err = proxyevent.ParseResponse(out); err == nil {
			_ = socket.WriteMessage(gws.OpcodeText, resp.Body)
			return
		}
	}
	lb.logf("message on %s: %v; connection closed with 1011", c.id, err)
	socket.WriteClose(1011, []byte("function failed"))
}

// OnClose has nothing to do: a connection holds nothing but its session.
func (*lambdaBridge) OnClose(*gws.Conn, error) {}

// OnOpen is called once the connection is upgraded.
func (*lambdaBridge) OnOpen(*gws.Conn) {}

// OnPong ignores pongs.
func (*lambdaBridge) OnPong(*gws.Conn, []byte) {}

// invoke runs payload in a free function process and returns its answer. A process whose connection
// fails is reported and taken out of the pool.
func (lb *lambdaBridge) invoke(payload []byte, now time.Time) ([]byte, error) {
	var p *bridgeProcess
	select {
	case p = <-lb.free:
	default:
		t := time.NewTimer(bridgeAcquireTimeout)
		select {
		case p = <-lb.free:
			t.Stop()
		case <-t.C:
			return nil, errNoFreeProcess
		}
	}
	out, err := p.invoke(payload, now)
	var fnErr *functionError
	if err != nil && !errors.As(err, &fnErr) {
		lb.logf("function process %d: %v; taken out of the pool", p.pid, err)
		p.kill()
		return nil, err
	}
	lb.free <- p
	return out, err
}

// close stops every function process (SIGTERM, then SIGKILL) and waits for them.
func (lb *lambdaBridge) close() {
	lb.stopping.Store(true)
	for _, p := range lb.procs {
		p.stop()
	}
	lb.reapers.Wait()
}

func (lb *lambdaBridge) logf(format string, args ...any) {
	fmt.Fprintf(lb.opts.log, "lambdabridge: "+format+"\n", args...)
}

// bridgeProcess is one function process and its go1.x runtime connection.
type bridgeProcess struct {
	pid    int
	cmd    *exec.Cmd
	conn   net.Conn
	rpc    *rpcCodec
	exited chan struct{} // closed once the process has been waited for
}

// functionError is a call the function answered with an error document (its process lives on).
type functionError struct {
	doc *messages.InvokeResponse_Error
}

func (e *functionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.doc.Type, e.doc.Message)
}

// startProcess starts function process i with the environment Switchboard gives a Go function and
// connects to its go1.x runtime port once it listens.
func (lb *lambdaBridge) startProcess(i int) (*bridgeProcess, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, fmt.Errorf("lambdabridge: a port for function process %d: %w", i, err)
	}
	cmd := exec.Command(lb.opts.exe, "handler")
	cmd.Dir = filepath.Dir(lb.opts.exe)
	cmd.Env = functionEnviron(lb.opts.exe, port, lb.opts.env)
	cmd.Stdout, cmd.Stderr = lb.opts.log, lb.opts.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lambdabridge: start function process %d: %w", i, err)
	}
	p := &bridgeProcess{pid: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{})}
	lb.reapers.Add(1)
	go func() {
		defer lb.reapers.Done()
		err := cmd.Wait()
		close(p.exited)
		if !lb.stopping.Load() {
			lb.logf("function process %d exited: %v", p.pid, err)
		}
	}()
	if err := p.dial(port); err != nil {
		p.stop()
		return nil, fmt.Errorf("lambdabridge: function process %d: %w", p.pid, err)
	}
	return p, nil
}

// dial connects to the process's go1.x runtime port on localhost, as Switchboard does (aws-lambda-go
// listens on localhost:$_LAMBDA_SERVER_PORT), retrying while it initialises, and pings it.
func (p *bridgeProcess) dial(port string) error {
	deadline := time.Now().Add(bridgeStartTimeout)
	pause := time.Millisecond
	for {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("localhost", port), time.Second)
		if err == nil {
			p.conn, p.rpc = conn, newRPCCodec(conn)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("its go1.x runtime port %s was not reached within %v: %w", port, bridgeStartTimeout, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-p.exited:
			t.Stop()
			return fmt.Errorf("it exited before listening on its go1.x runtime port: %w", err)
		case <-t.C:
		}
		pause = min(2*pause, 20*time.Millisecond)
	}
	_ = p.conn.SetDeadline(deadline)
	if err := p.rpc.call("Function.Ping", &messages.PingRequest{}, &messages.PingResponse{}); err != nil {
		return err
	}
	return p.conn.SetDeadline(time.Time{})
}

// invoke sends one Function.Invoke with Switchboard's fields (a Lambda request ID, an X-Ray trace header,
// the deadline of the function's timeout, its ARN) and returns the answer's payload.
func (p *bridgeProcess) invoke(payload []byte, now time.Time) ([]byte, error) {
	deadline := now.Add(bridgeTimeout)
	req := messages.InvokeRequest{
		Payload:            payload,
		RequestId:          runtimeapi.NewRequestID(),
		XAmznTraceId:       runtimeapi.NewTraceID(now),
		Deadline:           messages.InvokeRequest_Timestamp{Seconds: deadline.Unix(), Nanos: int64(deadline.Nanosecond())},
		InvokedFunctionArn: bridgeFunctionARN,
	}
	// A function that does not answer by its deadline (plus a second) fails the call instead of hanging.
	_ = p.conn.SetDeadline(deadline.Add(time.Second))
	var resp messages.InvokeResponse
	if err := p.rpc.call("Function.Invoke", &req, &resp); err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, &functionError{doc: resp.Error}
	}
	return resp.Payload, nil
}

// kill ends a process whose connection failed.
func (p *bridgeProcess) kill() {
	if p.conn != nil {
		_ = p.conn.Close()
	}
	_ = p.cmd.Process.Kill()
}

// stop asks the process to exit (SIGTERM, as Switchboard stops its functions) and kills it after 5 s.
func (p *bridgeProcess) stop() {
	if p.conn != nil {
		_ = p.conn.Close()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// functionEnviron is the environment Switchboard gives the bench's Go function
// (localinvoke's environ): PATH and HOME, the function's own variables (extra), GOMAXPROCS for a 128 MB
// function, the variables Lambda defines, and _LAMBDA_SERVER_PORT. AWS_LAMBDA_RUNTIME_API is left out: aws-lambda-go takes _LAMBDA_SERVER_PORT
// first, and the bridge serves no Runtime API (Switchboard's stays idle during calls over the go1.x
// protocol).
func functionEnviron(exe, port string, extra map[string]string) []string {
	env := map[string]string{}
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	maps.Copy(env, extra)
	maps.Copy(env, map[string]string{
		"GOMAXPROCS":                      strconv.Itoa(functionGoMaxProcs(bridgeMemorySize, runtime.NumCPU())),
		"AWS_LAMBDA_FUNCTION_NAME":        bridgeFunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(bridgeMemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + bridgeFunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + strings.ReplaceAll(runtimeapi.NewRequestID(), "-", ""),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"AWS_REGION":                      bridgeRegion,
		"AWS_DEFAULT_REGION":              bridgeRegion,
		"LAMBDA_TASK_ROOT":                filepath.Dir(exe),
		"_HANDLER":                        filepath.Base(exe),
		"TZ":                              ":UTC",
		"_LAMBDA_SERVER_PORT":             port,
	})
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// functionGoMaxProcs is localinvoke's goMaxProcs, copied because it is unexported: the vCPUs Lambda gives
// memoryMB ("at 1,769 MB, a function has the equivalent of one vCPU"), at least 1, at most the machine's.
func functionGoMaxProcs(memoryMB, cpus int) int {
	const mbPerVCPU = 1769
	return max(1, min(cpus, (memoryMB+mbPerVCPU-1)/mbPerVCPU))
}

// freeLoopbackPort returns a TCP port free on 127.0.0.1 a moment ago.
func freeLoopbackPort() (string, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, ln.Close()
}

// rpcCodec is one go1.x runtime connection's client side: net/rpc's gob stream, called synchronously.
// It is the codec Switchboard uses (runtimeapi's rpcConn), written again here because it is unexported;
// rpc.Client would add its reader goroutine's hand-off to every call, which Switchboard does not pay.
type rpcCodec struct {
	buf *bufio.Writer
	enc *gob.Encoder
	dec *gob.Decoder
	seq uint64
}

func newRPCCodec(rw io.ReadWriter) *rpcCodec {
	buf := bufio.NewWriter(rw)
	return &rpcCodec{buf: buf, enc: gob.NewEncoder(buf), dec: gob.NewDecoder(bufio.NewReader(rw))}
}

// call sends method's request and reads its answer into reply.
func (c *rpcCodec) call(method string, args, reply any) error {
	c.seq++
	if err := c.enc.Encode(&rpc.Request{ServiceMethod: method, Seq: c.seq}); err != nil {
		return fmt.Errorf("write %s: %w", method, err)
	}
	if err := c.enc.Encode(args); err != nil {
		return fmt.Errorf("write %s: %w", method, err)
	}
	if err := c.buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", method, err)
	}
	var h rpc.Response
	if err := c.dec.Decode(&h); err != nil {
		return fmt.Errorf("read the answer to %s: %w", method, err)
	}
	if h.Seq != c.seq {
		return fmt.Errorf("read the answer to %s: sequence %d, want %d", method, h.Seq, c.seq)
	}
	if h.Error != "" {
		var discard any
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

// eventTemplate is a MESSAGE event rendered once by the gateway's encoder with markers in place of the
// values that change, cut at the markers: rendering an event is appending the pieces and the values.
type eventTemplate struct {
	parts []templatePart
	size  int // bytes of the literal parts
}

// templatePart is literal text followed by a field's value (fieldNone after the last part).
type templatePart struct {
	text  []byte
	field templateField
}

type templateField int

const (
	fieldNone templateField = iota
	fieldMessageID
	fieldRequestID // extendedRequestId and requestId: one ID, as Switchboard sends
	fieldRequestTime
	fieldRequestTimeEpoch
	fieldConnectedAt
	fieldSourceIP
	fieldUserAgent
	fieldDomainName
	fieldConnectionID
	fieldBody
)

// The markers: strings the encoder writes as they are and no real value contains. The numbers are
// epoch milliseconds far from any real one.
const (
	markMessageID    = "@@messageId@@"
	markRequestID    = "@@requestId@@"
	markRequestTime  = "@@requestTime@@"
	markEpoch        = 1111111111111
	markConnectedAt  = 2222222222222
	markSourceIP     = "@@sourceIp@@"
	markUserAgent    = "@@userAgent@@"
	markDomainName   = "@@domainName@@"
	markConnectionID = "@@connectionId@@"
	markBody         = "@@body@@"
)

// newMessageTemplate renders the bench route's MESSAGE event with markers, with or without a userAgent.
func newMessageTemplate(withUA bool) (*eventTemplate, error) {
	rc := proxyevent.RequestContext{RouteKey: bridgeRouteKey, MessageID: markMessageID, ExtendedRequestID: markRequestID,
		RequestID: markRequestID, RequestTime: markRequestTime, RequestTimeEpoch: markEpoch, MessageDirection: "IN",
		Stage: benchStage, ConnectedAt: markConnectedAt, Identity: proxyevent.Identity{SourceIP: markSourceIP},
		DomainName: markDomainName, ConnectionID: markConnectionID, APIID: benchAPIID}
	if withUA {
		rc.Identity.UserAgent = markUserAgent
	}
	ev := proxyevent.MessageEvent(&rc, []byte(markBody), nil)
	markers := []struct {
		text  string
		field templateField
	}{
		{`"` + markMessageID + `"`, fieldMessageID}, {`"` + markRequestID + `"`, fieldRequestID},
		{`"` + markRequestTime + `"`, fieldRequestTime}, {strconv.Itoa(markEpoch), fieldRequestTimeEpoch},
		{strconv.Itoa(markConnectedAt), fieldConnectedAt}, {`"` + markSourceIP + `"`, fieldSourceIP},
		{`"` + markUserAgent + `"`, fieldUserAgent}, {`"` + markDomainName + `"`, fieldDomainName},
		{`"` + markConnectionID + `"`, fieldConnectionID}, {`"` + markBody + `"`, fieldBody},
	}
	t := &eventTemplate{}
	rest := ev
	for len(rest) > 0 {
		at, which := len(rest), -1
		for i, m := range markers {
			if j := bytes.Index(rest, []byte(m.text)); j >= 0 && j < at {
				at, which = j, i
			}
		}
		part := templatePart{text: rest[:at]}
		t.size += at
		if which < 0 {
			t.parts = append(t.parts, part)
			break
		}
		part.field = markers[which].field
		t.parts = append(t.parts, part)
		rest = rest[at+len(markers[which].text):]
	}
	found := map[templateField]bool{}
	for _, p := range t.parts {
		found[p.field] = true
	}
	for _, m := range markers {
		if !found[m.field] && (m.field != fieldUserAgent || withUA) {
			return nil, fmt.Errorf("lambdabridge: the MESSAGE event has no %s: %s", m.text, ev)
		}
	}
	return t, nil
}

// render returns c's MESSAGE event for body at now, with new request and message IDs.
func (t *eventTemplate) render(c *bridgeConn, body []byte, now time.Time) []byte {
	return t.renderIDs(c, body, now, awsid.NewRequestID(), awsid.NewRequestID())
}

// renderIDs is render with the IDs given.
func (t *eventTemplate) renderIDs(c *bridgeConn, body []byte, now time.Time, requestID, messageID string) []byte {
	b := make([]byte, 0, t.size+len(body)+len(body)/8+len(c.userAgent)+len(c.domainName)+160)
	for _, p := range t.parts {
		b = append(b, p.text...)
		switch p.field {
		case fieldMessageID:
			b = appendQuoted(b, messageID)
		case fieldRequestID:
			b = appendQuoted(b, requestID)
		case fieldRequestTime:
			b = appendQuoted(b, requestTime(now))
		case fieldRequestTimeEpoch:
			b = strconv.AppendInt(b, now.UnixMilli(), 10)
		case fieldConnectedAt:
			b = strconv.AppendInt(b, c.connectedAt, 10)
		case fieldSourceIP:
			b = proxyevent.AppendJSONString(b, c.sourceIP)
		case fieldUserAgent:
			b = proxyevent.AppendJSONString(b, c.userAgent)
		case fieldDomainName:
			b = proxyevent.AppendJSONString(b, c.domainName)
		case fieldConnectionID:
			b = appendQuoted(b, c.id)
		case fieldBody:
			b = proxyevent.AppendJSONString(b, string(body))
		}
	}
	return b
}

// appendQuoted appends s, which needs no escaping (an ID, a date), in quotes.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// lastRequestTime caches requestTime's text for the latest second, as the gateway does.
var lastRequestTime atomic.Pointer[struct {
	unix int64
	text string
}]

// requestTime is requestContext.requestTime for t.
func requestTime(t time.Time) string {
	sec := t.Unix()
	if f := lastRequestTime.Load(); f != nil && f.unix == sec {
		return f.text
	}
	text := t.UTC().Format(proxyevent.RequestTimeLayout)
	lastRequestTime.Store(&struct {
		unix int64
		text string
	}{sec, text})
	return text
}

// remoteIP is the IP of a host:port remote address (the address itself if it has no port).
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
