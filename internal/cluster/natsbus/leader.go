package natsbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LeaderReader reads a stream's last message on a subject as the stream's leader holds it.
//
// nats.go's jetstream package reads a stream that allows direct gets (every KV bucket nats.go makes,
// and the connection log) through $JS.API.DIRECT.GET, a queue group every replica of the stream joins
// once it is nearly caught up (nats-server's monitorStream enables it at 90 % synchronised): any replica
// answers, one that has not applied the newest messages included, so a read just after a write may miss
// it. That is fine for a read whose answer is checked by a compare-and-set; a decision taken on the
// answer alone (the store lost the catalog, a node's log was claimed, a node is not a member) must not
// rest on it. LeaderReader asks $JS.API.STREAM.MSG.GET, which only the stream's leader answers (a
// follower stays silent: nats-server's jsMsgGetRequest), through nats.go's JetStreamContext, whose gets
// are not direct unless asked to be. It costs one request like a direct get, to one server; while the
// stream has no leader (one is being elected) it fails, and the caller decides later.
type LeaderReader struct {
	js nats.JetStreamContext
}

// NewLeaderReader reads through js's connection, with its API prefix or domain.
func NewLeaderReader(js jetstream.JetStream) (*LeaderReader, error) {
	var opts []nats.JSOpt
	switch o := js.Options(); {
	case o.Domain != "":
		opts = append(opts, nats.Domain(o.Domain))
	case o.APIPrefix != "":
		opts = append(opts, nats.APIPrefix(o.APIPrefix))
	}
	legacy, err := js.Conn().JetStream(opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: JetStream context for reads from a stream's leader: %w", err)
	}
	return &LeaderReader{js: legacy}, nil
}

// LastMsg returns the last message on subject in stream as its leader holds it, or an error wrapping
// jetstream.ErrMsgNotFound when the subject has none (jetstream.ErrStreamNotFound when the stream is gone),
// as jetstream.Stream.GetLastMsgForSubject does.
func (r *LeaderReader) LastMsg(ctx context.Context, stream, subject string) (*jetstream.RawStreamMsg, error) {
	m, err := r.js.GetLastMsg(stream, subject, nats.Context(ctx))
	switch {
	case errors.Is(err, nats.ErrMsgNotFound):
		return nil, fmt.Errorf("%w (the stream's leader answered)", jetstream.ErrMsgNotFound)
	case errors.Is(err, nats.ErrStreamNotFound):
		return nil, fmt.Errorf("%w (the stream's leader answered)", jetstream.ErrStreamNotFound)
	case err != nil:
		return nil, err
	}
	return &jetstream.RawStreamMsg{Subject: m.Subject, Sequence: m.Sequence, Header: m.Header, Data: m.Data, Time: m.Time}, nil
}

// Deletion reports whether a KV entry's message marks the key deleted or purged: a KV-Operation header
// (nats.go's KeyValue.Delete and Purge) or a server marker (a purge's, or a bucket TTL's expiry).
func Deletion(h nats.Header) bool {
	return h.Get("KV-Operation") != "" || h.Get(jetstream.MarkerReasonHeader) != ""
}
