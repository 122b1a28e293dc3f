// Package httpbackend is the HTTP_PROXY and HTTP integrations: each event becomes one HTTP request to
// integrationUri with integrationMethod. For HTTP (non-proxy) the body is what the request template
// rendered (integration.MapRequest), and the answer goes through the integration responses.
//
// What the backend receives (AWS documents little of this; the README's "differences from AWS" lists it):
//   - MESSAGE: the message text as the body, Content-Type application/json when it is JSON, else text/plain.
//   - $connect: no body; the handshake's headers (without the hop-by-hop and WebSocket handshake headers)
//     and its query string, so a backend can authenticate the client and pick a subprotocol.
//   - $disconnect: no body.
//   - Every event: the integration's requestParameters — e.g. integration.request.header.connectionId ←
//     context.connectionId, the way AWS users pass the connection ID.
//
// The answer's status, headers and body come back unchanged; bodies over MaxResponseBytes are an error.
package httpbackend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// MaxResponseBytes bounds what is read from a backend: larger answers are an integration failure.
const MaxResponseBytes = 10 << 20

// Invoker sends events to HTTP backends. It keeps a pool of connections per backend.
type Invoker struct {
	client *http.Client
}

var _ integration.Invoker = (*Invoker)(nil)

// New returns an Invoker with a connection pool sized for many concurrent messages.
func New() *Invoker {
	std := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Invoker{client: &http.Client{
		Transport: newDirectTransport(std, 512),
		// Redirects are the backend's answer, as with API Gateway's HTTP_PROXY.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// CloseIdleConnections drops pooled backend connections (at shutdown).
func (h *Invoker) CloseIdleConnections() { h.client.CloseIdleConnections() }

// hopHeaders are not forwarded from the handshake: they describe the client's connection to the gateway.
var hopHeaders = map[string]bool{
	"Connection": true, "Upgrade": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Content-Length": true, "Host": true,
	"Sec-Websocket-Key": true, "Sec-Websocket-Version": true, "Sec-Websocket-Extensions": true,
}

// Invoke sends req to the backend and returns its answer. A backend that does not answer within the
// integration's timeout gives integration.ErrTimeout.
func (h *Invoker) Invoke(ctx context.Context, in *snapshot.Integration, req *integration.Request) (*integration.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	hreq, err := h.build(ctx, in, req)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(hreq)
	if err != nil {
		// *url.Error repeats the full URL, query string included; the URL is named redacted below.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if timedOut(ctx, err) {
			return nil, fmt.Errorf("%s %s: %w", in.Method, redact(hreq.URL), integration.ErrTimeout)
		}
		return nil, fmt.Errorf("%s %s: %w", in.Method, redact(hreq.URL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		if timedOut(ctx, err) {
			return nil, fmt.Errorf("read answer of %s: %w", redact(hreq.URL), integration.ErrTimeout)
		}
		return nil, fmt.Errorf("read answer of %s: %w", redact(hreq.URL), err)
	}
	if len(body) > MaxResponseBytes {
		return nil, fmt.Errorf("answer of %s is over %d bytes", redact(hreq.URL), MaxResponseBytes)
	}
	return &integration.Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func (h *Invoker) build(ctx context.Context, in *snapshot.Integration, req *integration.Request) (*http.Request, error) {
	rawURL := in.URI
	header := make(http.Header)
	var query url.Values
	eventType := ""
	if req.Context != nil {
		eventType = req.Context.EventType
	}
	if eventType == proxyevent.EventConnect {
		for k, vs := range req.Header {
			if !hopHeaders[http.CanonicalHeaderKey(k)] {
				header[k] = append([]string(nil), vs...)
			}
		}
		if len(req.Query) > 0 {
			query = make(url.Values, len(req.Query))
			for k, vs := range req.Query {
				query[k] = append([]string(nil), vs...)
			}
		}
	}
	for _, p := range in.RequestParameters {
		v, ok := req.ParameterValue(p.Source)
		if !ok {
			continue
		}
		switch p.Location {
		case "header":
			header.Set(p.Name, v)
		case "querystring":
			if query == nil {
				query = make(url.Values)
			}
			query.Set(p.Name, v)
		case "path":
			rawURL = strings.ReplaceAll(rawURL, "{"+p.Name+"}", url.PathEscape(v))
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("integration %s: bad integrationUri: %w", in.ID, err)
	}
	if len(query) > 0 {
		q := u.Query()
		for k, vs := range query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	var body io.Reader = http.NoBody
	// HTTP (non-proxy) integrations send what the request template rendered, on every event.
	if eventType == proxyevent.EventMessage || in.Type == resource.IntegrationHTTP && len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
		if json.Valid(req.Body) {
			header.Set("Content-Type", "application/json")
		} else {
			header.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	hreq, err := http.NewRequestWithContext(ctx, in.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("integration %s: %w", in.ID, err)
	}
	hreq.Header = header
	if header.Get("User-Agent") == "" {
		// What API Gateway sends on its own calls (the client's User-Agent is forwarded on $connect).
		apiID := ""
		if req.Context != nil {
			apiID = req.Context.APIID
		}
		header.Set("User-Agent", "AmazonAPIGateway_"+apiID)
	}
	return hreq, nil
}

// timedOut reports whether err means the integration's deadline passed: the context says so, or the
// socket's deadline (set from the context's) fired an instant before the context's own timer.
func timedOut(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	_, hasDeadline := ctx.Deadline()
	return hasDeadline && errors.Is(err, os.ErrDeadlineExceeded)
}

// redact drops the query string and credentials from a URL before it is logged.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	return c.String()
}
