// Package mgmtapi serves the @connections management API — PostToConnection, GetConnection and
// DeleteConnection — with the status codes, JSON and error shapes the AWS SDKs decode
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-how-to-call-websocket-api-connections.html).
//
// The edge recognises the paths (/{stage}/@connections/{id} and its variants) and calls Serve with the
// endpoint's scope; this package knows nothing of hosts or sockets.
package mgmtapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchboard-gw/switchboard/internal/authorizer"
	"github.com/switchboard-gw/switchboard/internal/awserr"
	"github.com/switchboard-gw/switchboard/internal/registry"
)

// MaxPayload is PostToConnection's limit on Data: 128 KiB.
const MaxPayload = 128 * 1024

// Registry is what the management API needs from the connection registry.
type Registry interface {
	Send(ctx context.Context, scope registry.Scope, id string, data []byte) error
	Info(ctx context.Context, scope registry.Scope, id string) (registry.Info, error)
	Disconnect(ctx context.Context, scope registry.Scope, id string) error
	// List and SendAll serve the management extension (list and broadcast); see extension.go.
	List(ctx context.Context, scope registry.Scope, after string, limit int) ([]registry.Listed, bool, error)
	SendAll(ctx context.Context, scope registry.Scope, data []byte) (sent int, failed map[string]error, err error)
}

// Checker verifies a SigV4-signed request and the signer's permission (authorizer.IAM).
type Checker interface {
	Check(r *http.Request, body []byte, action, resource string) error
}

// Auth makes the management API require SigV4 signatures, as AWS always does. The zero value checks
// nothing (local development).
type Auth struct {
	IAM             Checker
	Region, Account string
}

// Observer is told the outcome of every call (metrics): operation is PostToConnection, GetConnection or
// DeleteConnection (or an extension's), id the connection ("" for the extension), status the HTTP
// status answered, and reason, for refusals, the error type (GoneException, ForbiddenException, …; the
// signature checks' types too).
type Observer interface {
	Call(operation, id string, status int, reason string)
}

// Handler serves @connections requests.
type Handler struct {
	reg  Registry
	auth Auth
	log  *slog.Logger
	obs  Observer // nil observes nothing
}

// SetObserver makes obs the handler's observer; call it before the first request.
func (h *Handler) SetObserver(obs Observer) { h.obs = obs }

// Operation names a request's @connections operation as the AWS API does, or the extension's
// (ListConnections, Broadcast) when the path names no connection.
func Operation(method, id string) string {
	switch {
	case method == http.MethodGet && id == "":
		return "ListConnections"
	case method == http.MethodPost && id == "":
		return "Broadcast"
	case method == http.MethodPost:
		return "PostToConnection"
	case method == http.MethodGet:
		return "GetConnection"
	case method == http.MethodDelete:
		return "DeleteConnection"
	}
	return "Unknown"
}

// New returns a Handler backed by reg.
func New(reg Registry, auth Auth, log *slog.Logger) *Handler {
	return &Handler{reg: reg, auth: auth, log: log}
}

// Serve answers one request for connection id within scope. id is already percent-decoded. apiID names
// the API for the IAM resource ARN when scope does not.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, scope registry.Scope, apiID, id string) {
	err := h.serve(w, r, scope, apiID, id)
	if h.obs != nil {
		status, reason := http.StatusOK, ""
		var ae *awserr.Error
		switch {
		case errors.As(err, &ae):
			status, reason = ae.Status, ae.Type
		case err != nil:
			status, reason = http.StatusInternalServerError, "InternalServerErrorException"
		case r.Method == http.MethodDelete:
			status = http.StatusNoContent
		}
		h.obs.Call(Operation(r.Method, id), id, status, reason)
	}
	if err != nil {
		var ae *awserr.Error
		switch {
		case !errors.As(err, &ae):
			h.log.Error("@connections request failed", "conn_id", id, "stage", scope.Stage, "method", r.Method, "err", err)
		case ae.Status == http.StatusGone:
			// Routine for a backend that fans out to connections that have just left.
			h.log.Debug("@connections refused", "conn_id", id, "api_id", apiID, "stage", scope.Stage, "method", r.Method, "status", ae.Status, "type", ae.Type)
		default:
			// Refusals are the operator's business: a signature or policy that does not allow the call, a
			// default endpoint the connection's API has disabled, a full send queue, a payload too large.
			h.log.Info("@connections refused", "conn_id", id, "api_id", apiID, "stage", scope.Stage, "method", r.Method,
				"source_ip", r.RemoteAddr, "status", ae.Status, "type", ae.Type, "message", ae.Message)
		}
		awserr.Write(w, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, scope registry.Scope, apiID, id string) error {
	var data []byte
	if r.Method == http.MethodPost {
		var err error
		limit := int64(MaxPayload)
		if id == "" {
			limit = maxBroadcastBody
		}
		data, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, "could not read request body")
		}
	}
	if h.auth.IAM != nil {
		if scope.APIID != "" {
			apiID = scope.APIID
		}
		arn := authorizer.ManageConnectionsARN(h.auth.Region, h.auth.Account, apiID, scope.Stage, r.Method, id)
		if err := h.auth.IAM.Check(r, data, "execute-api:ManageConnections", arn); err != nil {
			return signatureError(err)
		}
	}
	if id == "" {
		return h.extension(w, r, scope, data)
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodPost:
		if len(data) > MaxPayload {
			return awserr.New(http.StatusRequestEntityTooLarge, awserr.TypePayloadTooLarge, "Request entity too large: the maximum is 131072 bytes")
		}
		if err := h.reg.Send(ctx, scope, id, data); err != nil {
			return mapError(id, err)
		}
		w.WriteHeader(http.StatusOK)
		return nil
	case http.MethodGet:
		info, err := h.reg.Info(ctx, scope, id)
		if err != nil {
			return mapError(id, err)
		}
		body, _ := json.Marshal(connectionJSON(info))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		return nil
	case http.MethodDelete:
		if err := h.reg.Disconnect(ctx, scope, id); err != nil {
			return mapError(id, err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return awserr.New(http.StatusForbidden, awserr.TypeForbidden, "Forbidden")
}

// mapError turns registry errors into the AWS shapes; anything else stays an internal error. GoneException
// and LimitExceededException have no members in the service model and AWS sends them with the type in
// X-Amzn-ErrorType and an empty body (spec §6.4: Java reports "GoneException: null", JS v2 the message
// "410"), so they carry no message.
func mapError(id string, err error) error {
	switch {
	case errors.Is(err, registry.ErrGone):
		return awserr.New(http.StatusGone, awserr.TypeGone, "")
	case errors.Is(err, registry.ErrQueueFull):
		return awserr.New(http.StatusTooManyRequests, awserr.TypeLimitExceeded, "")
	case errors.Is(err, registry.ErrForbidden):
		return awserr.New(http.StatusForbidden, awserr.TypeForbidden, "Forbidden")
	case errors.Is(err, registry.ErrMalformedID):
		return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, "Invalid connectionId: "+id)
	}
	return err
}

type identityJSON struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent,omitempty"`
}

type getConnectionJSON struct {
	ConnectedAt  string       `json:"connectedAt"`
	Identity     identityJSON `json:"identity"`
	LastActiveAt string       `json:"lastActiveAt"`
}

// isoMillis is the timestamp format of GetConnection: ISO-8601 UTC with milliseconds.
const isoMillis = "2006-01-02T15:04:05.000Z"

func connectionJSON(info registry.Info) getConnectionJSON {
	return getConnectionJSON{
		ConnectedAt:  info.ConnectedAt.UTC().Format(isoMillis),
		Identity:     identityJSON{SourceIP: info.SourceIP, UserAgent: info.UserAgent},
		LastActiveAt: info.LastActiveAt.UTC().Truncate(time.Millisecond).Format(isoMillis),
	}
}

// signatureError turns a failed IAM check into the error AWS answers with: always 403, typed so that SDKs
// report what went wrong. The management API answers ForbiddenException where no signature is given and
// where the policy refuses.
func signatureError(err error) error {
	typ, msg := authorizer.Refusal(err, awserr.TypeForbidden, awserr.TypeForbidden)
	return awserr.New(http.StatusForbidden, typ, msg)
}
