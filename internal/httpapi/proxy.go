package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/parammap"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// proxy runs HTTP_PROXY integrations
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-http.html).
type proxy struct {
	base *http.Transport

	mu     sync.Mutex // guards byName
	byName map[string]*http.Transport
}

func newProxy(t *http.Transport) *proxy {
	if t == nil {
		t = http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 256
		t.MaxIdleConns = 1024
	}
	return &proxy{base: t, byName: make(map[string]*http.Transport)}
}

// transport returns the transport for an integration: the shared one, or one that verifies the
// backend's certificate against tlsConfig.serverNameToVerify (and sends it as SNI).
func (p *proxy) transport(serverName string) *http.Transport {
	if serverName == "" {
		return p.base
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.byName[serverName]; t != nil {
		return t
	}
	t := p.base.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.ServerName = serverName
	p.byName[serverName] = t
	return t
}

func (p *proxy) closeIdle() {
	p.base.CloseIdleConnections()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.byName {
		t.CloseIdleConnections()
	}
}

// hopByHop are the headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func dropHopByHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
}

// backendURL is the integration URI with the route's path variables put in ({proxy} → the greedy
// variable's value, each segment escaped), and, on the $default route, the whole request path appended
// (AWS: "the $default route sends the full request path to the integration"). The client's query string
// is added to the URI's.
func backendURL(in *snapshot.Integration, route *snapshot.Route, routePath, rawQuery string, params map[string]string) (*url.URL, error) {
	uri := in.URI
	if strings.IndexByte(uri, '{') >= 0 {
		for name, v := range params {
			segs := strings.Split(v, "/")
			for i, s := range segs {
				segs[i] = url.PathEscape(s)
			}
			uri = strings.ReplaceAll(uri, "{"+name+"}", strings.Join(segs, "/"))
		}
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	if route.Method == "" && routePath != "/" { // $default
		esc := strings.TrimSuffix(u.EscapedPath(), "/") + routePath
		if u.Path, err = url.PathUnescape(esc); err != nil {
			return nil, err
		}
		u.RawPath = esc
	}
	switch {
	case rawQuery == "":
	case u.RawQuery == "":
		u.RawQuery = rawQuery
	default:
		u.RawQuery += "&" + rawQuery
	}
	return u, nil
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// serve proxies the request to the integration's URI and streams the answer back.
func (p *proxy) serve(h *Handler, q *request, route *snapshot.Route, in *snapshot.Integration, params map[string]string, ev *proxyevent.HTTPRequest) {
	r := q.r
	u, err := backendURL(in, route, q.routePath, r.URL.RawQuery, params)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		if err == nil {
			err = errors.New("integration URI " + in.URI + " is not an http or https URL")
		}
		h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error", err)
		return
	}
	method := in.Method
	if method == "" || method == resource.MethodAny {
		method = r.Method
	}
	header := r.Header.Clone()
	dropHopByHop(header)
	if xff := header.Get("X-Forwarded-For"); xff != "" {
		header.Set("X-Forwarded-For", xff+", "+q.out.SourceIP)
	} else {
		header.Set("X-Forwarded-For", q.out.SourceIP)
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	header.Set("X-Forwarded-Proto", proto)
	header.Set("X-Forwarded-Port", localPort(r))
	if header.Get("X-Amzn-Trace-Id") == "" {
		header.Set("X-Amzn-Trace-Id", "Root="+traceRoot(q.start))
	}
	if _, ok := header["User-Agent"]; !ok {
		header["User-Agent"] = []string{""} // no Go user agent in the client's name
	}

	var body io.Reader
	contentLength := r.ContentLength
	switch {
	case ev != nil:
		body, contentLength = bytes.NewReader(ev.Body), int64(len(ev.Body))
	case in.Mapping != nil:
		b, ok := h.readBody(q)
		if !ok {
			return
		}
		ev = &proxyevent.HTTPRequest{Body: b}
		body, contentLength = bytes.NewReader(b), int64(len(b))
	case r.Body != nil && r.Body != http.NoBody:
		body = http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	}
	if in.Mapping != nil {
		out := parammap.Outgoing{Header: header, Query: u.Query(), Path: u.Path}
		in.Mapping.Apply(h.mappingInput(q, params, ev, nil), &out)
		u.Path, u.RawPath, u.RawQuery = out.Path, "", out.Query.Encode()
	}

	ctx, cancel := context.WithTimeout(r.Context(), in.Timeout)
	defer cancel()
	out, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error", err)
		return
	}
	out.Header = header
	if body != nil {
		out.ContentLength = contentLength
		if contentLength < 0 {
			out.ContentLength = 0
			out.TransferEncoding = []string{"chunked"}
		}
	}
	started := h.now()
	resp, err := p.transport(in.ServerName).RoundTrip(out)
	q.out.Integrated = true
	if err != nil {
		q.out.IntegrationLatency = h.now().Sub(started)
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			h.refuse(q, http.StatusRequestEntityTooLarge, bodyTooLarge, "too_large", "the body is over 10 MB")
		default:
			h.callFailed(ctx, q, err, "the backend did not answer within "+in.Timeout.String())
		}
		return
	}
	defer resp.Body.Close()
	q.out.IntegrationStatus = resp.StatusCode
	respHeader := q.w.Header()
	for k, vs := range resp.Header {
		respHeader[k] = vs
	}
	dropHopByHop(respHeader)
	respHeader.Set(headerAPIRequestID, q.out.RequestID)
	status := h.mapResponse(q, in, resp.StatusCode, respHeader, ev)
	h.cors(q, respHeader)
	q.w.WriteHeader(status)
	buf := copyBuffers.Get().(*[]byte)
	n, err := io.CopyBuffer(q.w, resp.Body, *buf)
	copyBuffers.Put(buf)
	q.out.IntegrationLatency = h.now().Sub(started)
	q.out.Status, q.out.ResponseLength = status, n
	if err != nil {
		q.out.IntegrationError = err.Error()
		h.log.Info("HTTP API backend answer cut short", "api_id", q.out.APIID, "stage", q.out.Stage, "route_key", q.out.RouteKey,
			"request_id", q.out.RequestID, "err", err)
	}
}
