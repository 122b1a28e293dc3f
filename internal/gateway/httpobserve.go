package gateway

import (
	"github.com/switchboard-gw/switchboard/internal/httpapi"
)

// httpObserver turns what the HTTP API handler reports into metrics and access logs, with the same
// machinery as the WebSocket side.
type httpObserver struct {
	o *observer
}

var _ httpapi.Observer = (*httpObserver)(nil)

// Request counts one HTTP API request.
func (h *httpObserver) Request(out *httpapi.Outcome) {}
