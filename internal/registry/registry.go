// Package registry knows every connection of this node and reaches the others' through a cluster.Bus.
// It is what the @connections API talks to: Send, Info and Disconnect by connection ID, answering ErrGone
// for IDs that no node holds.
//
// The owning node is read from the connection ID itself (see awsid), so the common case — the connection is
// local — is a map lookup, and a remote one is a single request to the owner.
package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awsid"
	"github.com/switchboard-gw/switchboard/internal/cluster"
)

// Errors a caller maps to @connections responses.
var (
	// ErrGone: no connection with that ID exists in the given scope (410 GoneException).
	ErrGone = errors.New("connection gone")
	// ErrQueueFull: the connection's send queue is full (429 LimitExceededException).
	ErrQueueFull = errors.New("connection send queue full")
	// ErrMalformedID: the string cannot be a connection ID (400 BadRequestException).
	ErrMalformedID = awsid.ErrMalformedConnectionID
	// ErrForbidden: the connection's API has disabled the default endpoint the operation came through
	// (403 ForbiddenException).
	ErrForbidden = errors.New("default endpoint disabled for the connection's API")
)

// Session is one live connection as the registry needs it. The WebSocket layer implements it; the registry
// never sees sockets.
type Session interface {
	// Send queues data for delivery as one text message. It returns ErrQueueFull when the connection's
	// bounded queue has no room and ErrGone when the connection is closing.
	Send(data []byte) error
	// Info describes the connection for GetConnection; ErrGone once it is closing.
	Info() (Info, error)
	// Disconnect closes the connection with status 1000, as DeleteConnection does; ErrGone when it is
	// already closing.
	Disconnect() error
	// Scope is the API and stage the connection belongs to.
	Scope() Scope
}

// Info is what GetConnection reports about a connection.
type Info struct {
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	SourceIP     string    `json:"sourceIp"`
	UserAgent    string    `json:"userAgent,omitempty"`
}

// Scope limits an operation to the connections of one API stage. An empty APIID is the endpoint form
// that names the stage only, one of the default endpoints: it matches the stage of any API whose default
// endpoint is enabled.
type Scope struct {
	APIID string `json:"apiId,omitempty"`
	Stage string `json:"stage"`
	// DefaultEndpointDisabled is set on a connection's own scope (Session.Scope) when its API has
	// disableExecuteApiEndpoint, so that endpoint scopes without an API ID do not reach it. Endpoint
	// scopes leave it false; it does not travel between nodes.
	DefaultEndpointDisabled bool `json:"-"`
	// All is the operator's scope (the development console): every connection of every API and stage.
	// Endpoint scopes, built from a request's URL, never set it.
	All bool `json:"all,omitempty"`
}

// Contains reports whether a connection in scope c is visible through the endpoint scope s.
func (s Scope) Contains(c Scope) bool {
	return s.check(c) == nil
}

// check is nil when the connection in scope c is reachable through the endpoint scope s, ErrGone when it
// belongs to another stage or API (as if it did not exist), and ErrForbidden when the endpoint is a
// default endpoint its API has disabled.
func (s Scope) check(c Scope) error {
	switch {
	case s.All:
		return nil
	case s.Stage != c.Stage || (s.APIID != "" && s.APIID != c.APIID):
		return ErrGone
	case s.APIID == "" && c.DefaultEndpointDisabled:
		return ErrForbidden
	}
	return nil
}

// Registry holds this node's sessions.
type Registry struct {
	node     cluster.NodeID
	bus      cluster.Bus
	nodes    func() []cluster.NodeID // the cluster's live nodes; nil when alone
	sessions sync.Map                // connection ID → Session
}

// SetNodes tells the registry how to list the cluster's live nodes (this one included), so that SendAll
// reaches every node's connections. Call it before the registry is used.
func (r *Registry) SetNodes(nodes func() []cluster.NodeID) { r.nodes = nodes }

// New returns a registry for node. bus may be nil for a node that is alone.
func New(node cluster.NodeID, bus cluster.Bus) *Registry {
	return &Registry{node: node, bus: bus}
}

// SetBus sets the bus after construction; the bus is usually created with the registry's Handle as its
// handler. It must be called before the registry is used.
func (r *Registry) SetBus(bus cluster.Bus) { r.bus = bus }

// Node is this registry's node ID.
func (r *Registry) Node() cluster.NodeID { return r.node }

// NewConnectionID allocates an ID owned by this node.
func (r *Registry) NewConnectionID() string { return awsid.NewConnectionID(uint16(r.node)) }

// Register makes s reachable under id.
func (r *Registry) Register(id string, s Session) { r.sessions.Store(id, s) }

// Unregister removes id; later calls for it answer ErrGone.
func (r *Registry) Unregister(id string) { r.sessions.Delete(id) }

// Len counts local sessions.
func (r *Registry) Len() int {
	n := 0
	r.sessions.Range(func(any, any) bool { n++; return true })
	return n
}

// Each calls f for every local session until f returns false.
func (r *Registry) Each(f func(id string, s Session) bool) {
	r.sessions.Range(func(k, v any) bool { return f(k.(string), v.(Session)) })
}

// Send delivers data to connection id within scope.
func (r *Registry) Send(ctx context.Context, scope Scope, id string, data []byte) error {
	_, err := r.do(ctx, op{Op: opSend, ID: id, Scope: scope, Data: data})
	return err
}

// Info describes connection id within scope.
func (r *Registry) Info(ctx context.Context, scope Scope, id string) (Info, error) {
	return r.do(ctx, op{Op: opInfo, ID: id, Scope: scope})
}

// Disconnect closes connection id within scope.
func (r *Registry) Disconnect(ctx context.Context, scope Scope, id string) error {
	_, err := r.do(ctx, op{Op: opDisconnect, ID: id, Scope: scope})
	return err
}

const (
	opSend       = "send"
	opInfo       = "info"
	opDisconnect = "disconnect"
	opSendAll    = "sendall"
	opList       = "list"
)

// op is one registry operation; it travels as JSON when the owner is another node.
type op struct {
	Op    string `json:"op"`
	ID    string `json:"id"`
	Scope Scope  `json:"scope"`
	Data  []byte `json:"data,omitempty"`
	// After and Limit ask opList for the node's first Limit connections whose IDs sort after After.
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

type reply struct {
	Err  string `json:"err,omitempty"`
	Info *Info  `json:"info,omitempty"`
	// Sent and Failed answer opSendAll: how many of the node's connections took the data, and the
	// errors (wire form) of those that did not.
	Sent   int               `json:"sent,omitempty"`
	Failed map[string]string `json:"failed,omitempty"`
	// Listed and More answer opList: the node's page and whether it has more after it.
	Listed []Listed `json:"listed,omitempty"`
	More   bool     `json:"more,omitempty"`
}

// okReply is the answer to a send or disconnect the owner carried out: what encoding/json makes of an
// empty reply, so every version of the gateway reads it, written and recognised without encoding/json
// on the common path (a decode cost the sender five allocations).
var okReply = []byte("{}")

func (r *Registry) do(ctx context.Context, o op) (Info, error) {
	node, err := awsid.ConnectionNode(o.ID)
	if err != nil {
		return Info{}, err
	}
	if cluster.NodeID(node) == r.node {
		return r.local(o)
	}
	if r.bus == nil {
		return Info{}, ErrGone
	}
	req, err := json.Marshal(o)
	if err != nil {
		return Info{}, fmt.Errorf("encode %s: %w", o.Op, err)
	}
	raw, err := r.bus.Request(ctx, cluster.NodeID(node), req)
	if errors.Is(err, cluster.ErrNoNode) {
		return Info{}, ErrGone
	}
	if err != nil {
		return Info{}, fmt.Errorf("%s on node %d: %w", o.Op, node, err)
	}
	if bytes.Equal(raw, okReply) {
		return Info{}, nil
	}
	var rep reply
	if err := json.Unmarshal(raw, &rep); err != nil {
		return Info{}, fmt.Errorf("decode reply from node %d: %w", node, err)
	}
	var info Info
	if rep.Info != nil {
		info = *rep.Info
	}
	return info, errorFromWire(rep.Err)
}

func (r *Registry) local(o op) (Info, error) {
	v, ok := r.sessions.Load(o.ID)
	if !ok {
		return Info{}, ErrGone
	}
	s := v.(Session)
	if err := o.Scope.check(s.Scope()); err != nil {
		return Info{}, err
	}
	switch o.Op {
	case opSend:
		return Info{}, s.Send(o.Data)
	case opInfo:
		return s.Info()
	case opDisconnect:
		return Info{}, s.Disconnect()
	}
	return Info{}, fmt.Errorf("unknown registry operation %q", o.Op)
}

// Handle answers operations forwarded by other nodes; attach it to the bus as this node's handler.
func (r *Registry) Handle(_ context.Context, req []byte) ([]byte, error) {
	var o op
	if err := json.Unmarshal(req, &o); err != nil {
		return nil, fmt.Errorf("decode forwarded operation: %w", err)
	}
	if o.Op == opSendAll {
		sent, failed := r.sendAllLocal(o.Scope, o.Data)
		rep := reply{Sent: sent}
		for id, err := range failed {
			if rep.Failed == nil {
				rep.Failed = map[string]string{}
			}
			rep.Failed[id] = errorToWire(err)
		}
		return json.Marshal(rep)
	}
	if o.Op == opList {
		if o.Limit < 1 {
			return nil, fmt.Errorf("forwarded %s: limit %d is not positive", opList, o.Limit)
		}
		page, more := r.listLocal(o.Scope, o.After, o.Limit)
		return json.Marshal(reply{Listed: page, More: more})
	}
	info, err := r.local(o)
	if err == nil && o.Op != opInfo {
		return okReply, nil
	}
	rep := reply{Err: errorToWire(err)}
	if o.Op == opInfo && err == nil {
		rep.Info = &info
	}
	return json.Marshal(rep)
}

func errorToWire(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrGone):
		return "gone"
	case errors.Is(err, ErrQueueFull):
		return "full"
	case errors.Is(err, ErrMalformedID):
		return "malformed"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	}
	return err.Error()
}

func errorFromWire(s string) error {
	switch s {
	case "":
		return nil
	case "gone":
		return ErrGone
	case "full":
		return ErrQueueFull
	case "malformed":
		return ErrMalformedID
	case "forbidden":
		return ErrForbidden
	}
	return errors.New(s)
}

// Listed is one connection of a List page.
type Listed struct {
	ID    string `json:"id"`
	Scope Scope  `json:"scope"`
	Info  Info   `json:"info"`
}

// List returns up to limit of the connections visible through scope whose IDs sort after after, in ID
// order, and whether more remain, across every live node of the cluster (this node's when it is alone):
// each node is asked for its own first limit after after, and the pages are merged, so that after may be
// the last ID of a previous page whichever node answered it. Connections that are closing are left out;
// a node gone meanwhile took its connections with it. A node that does not answer is an error.
func (r *Registry) List(ctx context.Context, scope Scope, after string, limit int) (page []Listed, more bool, err error) {
	if limit < 1 {
		return nil, false, fmt.Errorf("list connections: limit %d is not positive", limit)
	}
	page, more = r.listLocal(scope, after, limit)
	if r.nodes == nil || r.bus == nil {
		return page, more, nil
	}
	req, err := json.Marshal(op{Op: opList, Scope: scope, After: after, Limit: limit})
	if err != nil {
		return nil, false, fmt.Errorf("encode %s: %w", opList, err)
	}
	var errs []error
	for _, a := range r.askOthers(ctx, req) {
		switch {
		case a.err != nil:
			errs = append(errs, fmt.Errorf("list connections on node %d: %w", a.node, a.err))
		default:
			page = append(page, a.rep.Listed...)
			more = more || a.rep.More
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, false, err
	}
	slices.SortFunc(page, func(a, b Listed) int { return strings.Compare(a.ID, b.ID) })
	page = slices.CompactFunc(page, func(a, b Listed) bool { return a.ID == b.ID })
	if len(page) > limit {
		page, more = page[:limit], true
	}
	return page, more, nil
}

// nodeAnswer is one other node's reply to a request asked of every node.
type nodeAnswer struct {
	node cluster.NodeID
	rep  reply
	err  error
}

// askOthers sends req to every other live node at once and waits for all their answers. A node gone
// meanwhile (cluster.ErrNoNode) is left out: its connections are gone with it.
func (r *Registry) askOthers(ctx context.Context, req []byte) []nodeAnswer {
	var others []cluster.NodeID
	for _, n := range r.nodes() {
		if n != r.node {
			others = append(others, n)
		}
	}
	answers := make(chan nodeAnswer, len(others))
	for _, n := range others {
		go func() {
			a := nodeAnswer{node: n}
			raw, err := r.bus.Request(ctx, n, req)
			if err == nil {
				err = json.Unmarshal(raw, &a.rep)
			}
			a.err = err
			answers <- a
		}()
	}
	out := make([]nodeAnswer, 0, len(others))
	for range others {
		if a := <-answers; !errors.Is(a.err, cluster.ErrNoNode) {
			out = append(out, a)
		}
	}
	return out
}

// listLocal is List on this node's connections only.
func (r *Registry) listLocal(scope Scope, after string, limit int) (page []Listed, more bool) {
	var ids []string
	r.sessions.Range(func(k, v any) bool {
		id := k.(string)
		if id > after && scope.Contains(v.(Session).Scope()) {
			ids = append(ids, id)
		}
		return true
	})
	slices.Sort(ids)
	for i, id := range ids {
		if len(page) == limit {
			return page, i < len(ids)
		}
		v, ok := r.sessions.Load(id)
		if !ok {
			continue
		}
		s := v.(Session)
		info, err := s.Info()
		if err != nil {
			continue
		}
		page = append(page, Listed{ID: id, Scope: s.Scope(), Info: info})
	}
	return page, false
}

// SendAll queues data for every connection visible through scope on every live node of the cluster
// (this node's when it is alone), and reports how many accepted it and the IDs of those that did not
// (ErrQueueFull, or ErrGone for one closing meanwhile). A node that does not answer is an error, with
// what the others did.
func (r *Registry) SendAll(ctx context.Context, scope Scope, data []byte) (sent int, failed map[string]error, err error) {
	sent, failed = r.sendAllLocal(scope, data)
	if r.nodes == nil || r.bus == nil {
		return sent, failed, nil
	}
	req, err := json.Marshal(op{Op: opSendAll, Scope: scope, Data: data})
	if err != nil {
		return sent, failed, fmt.Errorf("encode %s: %w", opSendAll, err)
	}
	var errs []error
	for _, a := range r.askOthers(ctx, req) {
		switch {
		case a.err != nil:
			errs = append(errs, fmt.Errorf("broadcast on node %d: %w", a.node, a.err))
		default:
			sent += a.rep.Sent
			for id, e := range a.rep.Failed {
				if failed == nil {
					failed = map[string]error{}
				}
				failed[id] = errorFromWire(e)
			}
		}
	}
	return sent, failed, errors.Join(errs...)
}

// sendAllLocal is SendAll on this node's connections only.
func (r *Registry) sendAllLocal(scope Scope, data []byte) (sent int, failed map[string]error) {
	r.sessions.Range(func(k, v any) bool {
		s := v.(Session)
		if !scope.Contains(s.Scope()) {
			return true
		}
		if err := s.Send(data); err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[k.(string)] = err
			return true
		}
		sent++
		return true
	})
	return sent, failed
}
