package controlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awserr"
	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// maxBody bounds a request body. The largest legitimate bodies (models' schemas, mapping templates) are
// far smaller.
const maxBody = 1 << 20

// badRequest returns a BadRequestException.
func badRequest(format string, args ...any) error {
	return awserr.New(http.StatusBadRequest, awserr.TypeBadRequest, fmt.Sprintf(format, args...))
}

// notFound returns a NotFoundException for a resource type ("Api", "Route", …).
func notFound(resourceType, format string, args ...any) error {
	return &awserr.Error{Status: http.StatusNotFound, Type: awserr.TypeNotFound, Message: fmt.Sprintf(format, args...), ResourceType: resourceType}
}

// conflict returns a ConflictException.
func conflict(format string, args ...any) error {
	return awserr.New(http.StatusConflict, awserr.TypeConflict, fmt.Sprintf(format, args...))
}

// apiNotFound is the NotFoundException for an apiId that names no API, worded as AWS words it. Every
// operation on an API or one of its children answers it first when the API is missing.
func (s *server) apiNotFound(apiID string) error {
	return notFound("Api", "Invalid API identifier specified %s:%s", s.cfg.Account, apiID)
}

// writeError is the one place where errors become AWS error responses: *awserr.Error as it is,
// resource.FieldErrors (a change that does not validate or compile) as BadRequestException, a cluster's
// shared catalog out of reach as 503 ServiceUnavailableException and a change that kept losing to other
// nodes' as ConflictException, anything else as a logged 500 that reveals nothing. Every refusal is logged
// with what the client was told, so the operator sees why a tool's call failed.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *awserr.Error
	if !errors.As(err, &ae) {
		switch {
		case errors.Is(err, catalog.ErrUnavailable):
			// A cluster node that cannot reach the shared catalog refuses changes; it keeps serving.
			s.log.Warn("control plane change refused: the shared catalog cannot be reached", "method", r.Method, "path", r.URL.Path, "err", err)
			awserr.Write(w, awserr.New(http.StatusServiceUnavailable, "ServiceUnavailableException",
				"The change was not made: this node cannot reach the cluster's shared catalog (NATS). Try again later."))
			return
		case errors.Is(err, catalog.ErrConflict):
			s.log.Warn("control plane change refused: other nodes kept changing the catalog", "method", r.Method, "path", r.URL.Path, "err", err)
			awserr.Write(w, conflict("The change was not made: the catalog was changed by other nodes at the same time. Try again."))
			return
		}
		if fe, ok := resource.AsFieldErrors(err); ok {
			msgs := make([]string, 0, len(fe))
			for _, e := range fe {
				msgs = append(msgs, e.Message)
			}
			ae, _ = badRequest("%s", strings.Join(msgs, "; ")).(*awserr.Error)
		}
	}
	if ae != nil {
		s.log.Info("control plane refusal", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "error_type", ae.Type, "message", ae.Message)
		awserr.Write(w, ae)
		return
	}
	s.log.Error("control plane request", "method", r.Method, "path", r.URL.Path, "err", err)
	awserr.Write(w, err)
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		awserr.Write(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// respond ends a handler: the operation's error if it failed, else v as JSON with status.
func respond(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

// respondEmpty ends a handler whose success has no body (204 for apigatewayv2 deletes, 202 for v1's).
func respondEmpty(w http.ResponseWriter, status int, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(status)
	return nil
}

// readBody reads the request body, at most maxBody bytes. An empty body reads as "{}".
func readBody(r *http.Request) ([]byte, error) {
	data, err := readRaw(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return []byte("{}"), nil
	}
	return data, nil
}

// readRaw reads the request body as sent, at most maxBody bytes.
func readRaw(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("could not read the request body: %v", err)
	}
	if len(data) > maxBody {
		return nil, badRequest("the request body is larger than %d bytes", maxBody)
	}
	return data, nil
}

// decode reads the request body into in, an operation's input shape: a JSON object whose members must
// all be known and of the right type.
func decode(r *http.Request, in any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeBytes(data, in)
}

func decodeBytes(data []byte, in any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("Invalid request body: unexpected data after the JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a BadRequestException that names the member.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("Invalid request body: expected a JSON object, got %s", te.Value)
		}
		return badRequest("Invalid request body: member %s must be %s, got %s", te.Field, jsonKind(te.Type), te.Value)
	case errors.As(err, &se):
		return badRequest("Invalid request body: malformed JSON at byte %d: %v", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("Invalid request body: unknown member %s", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return badRequest("Invalid request body: the JSON document ends early")
	}
	return badRequest("Invalid request body: %v", err)
}

// jsonKind names a Go type the way a JSON user thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return t.String()
}

// decodePatch applies an Update (PATCH) body, already read with readBody, to in, which holds the
// resource's current values in the operation's input shape: members present in the body replace the
// current ones whole (maps and lists too), members absent keep theirs. It returns the names of the members
// present. Handlers read the body before they take the catalog's write lock and fill in the current
// values under it.
func decodePatch(data []byte, in any) (map[string]bool, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, jsonError(err)
	}
	v := reflect.ValueOf(in).Elem()
	fields := jsonFields(v.Type())
	present := make(map[string]bool, len(raw))
	for name := range raw {
		i, ok := fields[name]
		if !ok {
			return nil, badRequest("Invalid request body: unknown member %s", name)
		}
		v.Field(i).SetZero()
		present[name] = true
	}
	if err := decodeBytes(data, in); err != nil {
		return nil, err
	}
	return present, nil
}

// jsonFields maps a struct type's JSON member names to field indexes.
func jsonFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}

// page cuts one page out of items for a List operation's maxResults and nextToken query parameters. The
// token is the index of the next item, as text; clients treat it as opaque.
func page[T any](r *http.Request, items []T) ([]T, string, error) {
	q := r.URL.Query()
	start := 0
	if tok := q.Get("nextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", badRequest("Invalid nextToken %q", tok)
		}
		start = n
	}
	limit := len(items) - start
	if ms := q.Get("maxResults"); ms != "" {
		n, err := strconv.Atoi(ms)
		if err != nil || n < 1 {
			return nil, "", badRequest("Invalid maxResults %q: use a positive integer", ms)
		}
		limit = min(limit, n)
	}
	end := start + limit
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

// listOut is every List operation's output shape.
type listOut[T any] struct {
	Items     []T    `json:"items"`
	NextToken string `json:"nextToken,omitempty"`
}

// writeList answers a List operation with the page of items the request asks for.
func writeList[T any](s *server, w http.ResponseWriter, r *http.Request, items []T) {
	p, next, err := page(r, items)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if p == nil {
		p = []T{}
	}
	writeJSON(w, http.StatusOK, listOut[T]{Items: p, NextToken: next})
}

// timestamp formats t as the model's date-time (ISO 8601, UTC, seconds).
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
