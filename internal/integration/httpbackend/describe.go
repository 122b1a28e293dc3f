package httpbackend

import (
	"context"
	"net/http"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// Request returns the HTTP request Invoke sends for req, without sending it: method, URL, headers and
// body after requestParameters and request templates. The development console shows it as what the
// backend received; building it is deterministic, so it is the request Invoke sent for the same req.
func (h *Invoker) Request(ctx context.Context, in *snapshot.Integration, req *integration.Request) (*http.Request, error) {
	return h.build(ctx, in, req)
}
