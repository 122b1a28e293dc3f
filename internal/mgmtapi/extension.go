package mgmtapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/awserr"
	"github.com/switchboard-gw/switchboard/internal/registry"
)

// The management extension — Switchboard's, not AWS's — answers on the @connections path without a
// connection ID, under the same SigV4/IAM rules (execute-api:ManageConnections on
// .../{METHOD}/@connections/):
//
//	GET  /{stage}/@connections?maxResults=N&nextToken=T   ListConnections: the stage's connections on every node, paged
//	POST /{stage}/@connections  {"data": "…", "connectionIds": ["…"]}   Broadcast: one message to many
//
// Broadcast without connectionIds sends to every connection of the stage, on every node of a cluster.
// ListConnections pages are in connection ID order across the cluster; nextToken is the last ID listed.

const (
	// maxBroadcastBody bounds a Broadcast request: the message (128 KiB) and a list of IDs.
	maxBroadcastBody = 4 << 20
	// maxBroadcastIDs bounds connectionIds.
	maxBroadcastIDs = 100_000
	// defaultPage and maxPage bound ListConnections pages.
	defaultPage, maxPage = 100, 1000
)

type listedJSON struct {
	ConnectionID string `json:"connectionId"`
	getConnectionJSON
}

type listJSON struct {
	Items     []listedJSON `json:"items"`
	NextToken string       `json:"nextToken,omitempty"`
}

type broadcastJSON struct {
	Data          *string  `json:"data"`
	ConnectionIDs []string `json:"connectionIds"`
}

type broadcastResultJSON struct {
	Sent int `json:"sent"`
	// GoneConnectionIDs and LimitExceededConnectionIDs name the connections that did not get the
	// message: gone (410 for PostToConnection) or with a full send queue (429).
	GoneConnectionIDs          []string `json:"goneConnectionIds"`
	LimitExceededConnectionIDs []string `json:"limitExceededConnectionIds"`
}

func (h *Handler) extension(w http.ResponseWriter, r *http.Request, scope registry.Scope, body []byte) error {
	switch r.Method {
	case http.MethodGet:
		return h.list(w, r, scope)
	case http.MethodPost:
		return h.broadcast(w, r.Context(), scope, body)
	}
	return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, "Invalid connectionId: ")
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, scope registry.Scope) error {
	q := r.URL.Query()
	limit := defaultPage
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, fmt.Sprintf("maxResults must be a number from 1 to %d", maxPage))
		}
		limit = n
	}
	after := ""
	if v := q.Get("nextToken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) == 0 {
			return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, "Invalid nextToken")
		}
		after = string(b)
	}
	page, more, err := h.reg.List(r.Context(), scope, after, limit)
	if err != nil {
		return err
	}
	out := listJSON{Items: make([]listedJSON, 0, len(page))}
	for _, c := range page {
		out.Items = append(out.Items, listedJSON{ConnectionID: c.ID, getConnectionJSON: connectionJSON(c.Info)})
	}
	if more && len(page) > 0 {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].ID))
	}
	body, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
	return nil
}

func (h *Handler) broadcast(w http.ResponseWriter, ctx context.Context, scope registry.Scope, body []byte) error {
	if len(body) > maxBroadcastBody {
		return awserr.New(http.StatusRequestEntityTooLarge, awserr.TypePayloadTooLarge, fmt.Sprintf("Request entity too large: the maximum is %d bytes", maxBroadcastBody))
	}
	var req broadcastJSON
	if err := json.Unmarshal(body, &req); err != nil {
		return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, "Broadcast body must be JSON: {\"data\": \"…\", \"connectionIds\": [\"…\"]}: "+err.Error())
	}
	switch {
	case req.Data == nil:
		return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, "Broadcast body has no data member")
	case len(*req.Data) > MaxPayload:
		return awserr.New(http.StatusRequestEntityTooLarge, awserr.TypePayloadTooLarge, "Request entity too large: the maximum is 131072 bytes")
	case len(req.ConnectionIDs) > maxBroadcastIDs:
		return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, fmt.Sprintf("connectionIds has %d members; the maximum is %d", len(req.ConnectionIDs), maxBroadcastIDs))
	}
	data := []byte(*req.Data)
	out := broadcastResultJSON{GoneConnectionIDs: []string{}, LimitExceededConnectionIDs: []string{}}
	record := func(id string, err error) error {
		switch {
		case err == nil:
			out.Sent++
		case errors.Is(err, registry.ErrQueueFull):
			out.LimitExceededConnectionIDs = append(out.LimitExceededConnectionIDs, id)
		case errors.Is(err, registry.ErrGone), errors.Is(err, registry.ErrMalformedID), errors.Is(err, registry.ErrForbidden):
			// Malformed IDs and other APIs' connections are as good as gone for this stage.
			out.GoneConnectionIDs = append(out.GoneConnectionIDs, id)
		default:
			return err
		}
		return nil
	}
	if req.ConnectionIDs == nil {
		sent, failed, err := h.reg.SendAll(ctx, scope, data)
		if err != nil {
			return err
		}
		out.Sent = sent
		for id, err := range failed {
			if err := record(id, err); err != nil {
				return err
			}
		}
	} else {
		for _, id := range req.ConnectionIDs {
			if err := record(id, h.reg.Send(ctx, scope, id, data)); err != nil {
				return err
			}
		}
	}
	if n := len(out.GoneConnectionIDs) + len(out.LimitExceededConnectionIDs); n > 0 {
		h.log.Info("broadcast not delivered to every connection", "stage", scope.Stage, "api_id", scope.APIID,
			"sent", out.Sent, "gone", len(out.GoneConnectionIDs), "limit_exceeded", len(out.LimitExceededConnectionIDs))
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}
