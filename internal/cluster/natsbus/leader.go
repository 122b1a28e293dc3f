package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LeaderReader reads a stream's first or last message on a subject as the stream's leader holds it.
//
// nats.go's jetstream package reads a stream that allows direct gets (every KV bucket nats.go makes,
// and the connection log) through $JS.API.DIRECT.GET, a queue group every replica of the stream joins
// once it is nearly caught up (nats-server's monitorStream enables it at 90 % synchronised): any replica
// answers, one that has not applied the newest messages included, so a read just after a write may miss
// it. That is fine for a read whose answer is checked by a compare-and-set; a decision taken on the
// answer alone (the store lost the catalog, a node's log was claimed or purged, a node is not a member)
// must not rest on it. LeaderReader asks $JS.API.STREAM.MSG.GET, which only the stream's leader answers
// (a follower stays silent: nats-server's jsMsgGetRequest). It costs one request like a direct get, to
// one server; while the stream has no leader (one is being elected) it fails, and the caller decides
// later.
type LeaderReader struct {
	nc *nats.Conn
	// api is the JetStream API's subject prefix: "$JS.API.", or js's domain's or API prefix's.
	api string
}

// NewLeaderReader reads through js's connection, with its API prefix or domain.
func NewLeaderReader(js jetstream.JetStream) *LeaderReader {
	api := jetstream.DefaultAPIPrefix
	switch o := js.Options(); {
	case o.Domain != "":
		api = "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		api = strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	return &LeaderReader{nc: js.Conn(), api: api}
}

// LastMsg returns the last message on subject in stream as its leader holds it, or an error wrapping
// jetstream.ErrMsgNotFound when the subject has none (jetstream.ErrStreamNotFound when the stream is gone),
// as jetstream.Stream.GetLastMsgForSubject does. The request is {"last_by_subj":subject}.
func (r *LeaderReader) LastMsg(ctx context.Context, stream, subject string) (*jetstream.RawStreamMsg, error) {
	return r.get(ctx, stream, "last message on "+subject, msgGetRequest{LastFor: subject})
}

// FirstMsg returns the first message on subject in stream as its leader holds it, with the same errors
// as LastMsg: one wrapping jetstream.ErrMsgNotFound when the subject has none (never written, or purged
// whole), jetstream.ErrStreamNotFound when the stream is gone. A replica that has not applied a purge
// of the subject's first messages still answers a direct get with the first of them; the leader
// answers with the first it kept. The request is {"seq":1,"next_by_subj":subject}.
func (r *LeaderReader) FirstMsg(ctx context.Context, stream, subject string) (*jetstream.RawStreamMsg, error) {
	return r.get(ctx, stream, "first message on "+subject, msgGetRequest{Seq: 1, NextFor: subject})
}

// msgGetRequest is the body of a $JS.API.STREAM.MSG.GET request (nats-server's JSApiMsgGetRequest):
// with LastFor, the last message on that subject; with NextFor, the first on it at Seq or after it.
type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

// msgGetResponse is its answer (nats-server's JSApiMsgGetResponse): the message, or an error.
type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Subject  string    `json:"subject"`
		Sequence uint64    `json:"seq"`
		Header   []byte    `json:"hdrs,omitempty"`
		Data     []byte    `json:"data,omitempty"`
		Time     time.Time `json:"time"`
	} `json:"message,omitempty"`
}

// get sends req to stream's $JS.API.STREAM.MSG.GET, which its leader alone answers, and returns the
// message; what names it in errors. nats.go sends a get to a stream that allows direct gets as a direct
// get (its jetstream package), or a next-by-subject get always (its JetStreamContext), so the request is
// made here. A stream name that is none (empty, or with a character the API subject cannot carry) is
// refused as nats.go refuses it, jetstream.ErrStreamNameRequired or ErrInvalidStreamName. A ctx without
// a deadline is bounded by DefaultTimeout.
func (r *LeaderReader) get(ctx context.Context, stream, what string, req msgGetRequest) (*jetstream.RawStreamMsg, error) {
	switch {
	case stream == "":
		return nil, fmt.Errorf("%s: %w", what, jetstream.ErrStreamNameRequired)
	case strings.ContainsAny(stream, ">*. /\\\t\r\n"):
		return nil, fmt.Errorf("%s: %w: %q", what, jetstream.ErrInvalidStreamName, stream)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%s in stream %s: %w", what, stream, err)
	}
	reply, err := r.nc.RequestWithContext(ctx, r.api+"STREAM.MSG.GET."+stream, body)
	if err != nil {
		return nil, fmt.Errorf("%s in stream %s, from its leader: %w", what, stream, err)
	}
	var resp msgGetResponse
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, fmt.Errorf("%s in stream %s: %w: %w", what, stream, jetstream.ErrInvalidJetStreamResponse, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, fmt.Errorf("%w (the stream's leader answered)", jetstream.ErrMsgNotFound)
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeStreamNotFound:
		return nil, fmt.Errorf("%w (the stream's leader answered)", jetstream.ErrStreamNotFound)
	case resp.Error != nil:
		return nil, fmt.Errorf("%s in stream %s: %w", what, stream, resp.Error)
	case resp.Message == nil:
		return nil, fmt.Errorf("%s in stream %s: %w", what, stream, jetstream.ErrInvalidJetStreamResponse)
	}
	m := resp.Message
	var hdr nats.Header
	if len(m.Header) > 0 {
		if hdr, err = nats.DecodeHeadersMsg(m.Header); err != nil {
			return nil, fmt.Errorf("%s in stream %s: headers: %w", what, stream, err)
		}
	}
	return &jetstream.RawStreamMsg{Subject: m.Subject, Sequence: m.Sequence, Header: hdr, Data: m.Data, Time: m.Time}, nil
}

// Deletion reports whether a KV entry's message marks the key deleted or purged: a KV-Operation header
// (nats.go's KeyValue.Delete and Purge) or a server marker (a purge's, or a bucket TTL's expiry).
func Deletion(h nats.Header) bool {
	return h.Get("KV-Operation") != "" || h.Get(jetstream.MarkerReasonHeader) != ""
}
