package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/cluster"
)

// The connection log. Each node incarnation appends to one subject of the stream LogStream,
// switchboard.connlog.<node>.<incarnation>; one message carries every record created and removed while
// the previous message was being stored (a batch), so a connect storm costs the store one replicated
// message per batch rather than one per connection and one more per close. Every append carries the
// subject's last sequence as its expected last subject sequence: the subject's messages form one chain,
// and a survivor claims a dead incarnation by appending a claim message at the sequence it has read up
// to. Whichever of the owner's next append and the claim comes second fails, so a connection's
// $disconnect runs on exactly one node: on the owner when its removal is stored before the claim, on the
// claimer otherwise. The claimer goes on appending to the same chain — progress messages naming the
// $disconnects it ran, in batches as they finish, then the complete claim — so a survivor that takes
// over the claim of a claimer that died skips what it recorded, and the claimer learns from its next
// append that it was taken over.
const (
	LogStream     = "switchboard_connlog"
	logSubjectPfx = "switchboard.connlog."
)

// logSubject is node's incarnation inc's subject in LogStream.
func logSubject(node cluster.NodeID, inc string) string {
	return logSubjectPfx + strconv.Itoa(int(node)) + "." + inc
}

// parseLogSubject reads switchboard.connlog.<node>.<incarnation>.
func parseLogSubject(subject string) (cluster.NodeID, string, bool) {
	rest, ok := strings.CutPrefix(subject, logSubjectPfx)
	if !ok {
		return 0, "", false
	}
	node, inc, ok := strings.Cut(rest, ".")
	if !ok || inc == "" || strings.Contains(inc, ".") {
		return 0, "", false
	}
	n, err := strconv.ParseUint(node, 10, 16)
	if err != nil {
		return 0, "", false
	}
	return cluster.NodeID(n), inc, true
}

// Message encoding: "SBL", a version byte, then a kind byte. Version 1:
//
//	'B' batch: uvarint batch number, uvarint op count, then each op:
//	    'c' uvarint len, connection id, uvarint len, record   (a connection opened)
//	    'd' uvarint len, connection id                         (a connection closed)
//	'C' claim complete: uvarint node, uvarint len, incarnation (the node that claimed the log)
//
// Version 2 adds the messages of a claim in progress; batches and the complete claim stay version 1,
// so that nodes that read only version 1 keep claiming a newer node's log and keep seeing its finished
// claims as claims (they log a version 2 message as one they cannot read):
//
//	'S' claim started: uvarint node, uvarint len, incarnation
//	'P' claim progress: uvarint node, uvarint len, incarnation, uvarint count, then each:
//	    uvarint len, connection id                             (its $disconnect has run)
//
// A claimer appends 'S', then a 'P' naming the $disconnects that ran since its previous 'P' (one or
// more; readers take each named connection as done), then 'C' once every one has run. Nodes
// that predate version 2 appended 'C' before running the $disconnects: their 'C' reads as complete, as
// it always did.
//
// The batch number lets an owner whose append had no answer (a timeout, NATS lost) tell from the
// subject's last message whether that append was stored.
const (
	logMagic      = "SBL"
	logVersion    = 1 // batches and complete claims
	claimVersion  = 2 // claims in progress
	kindBatch     = 'B'
	kindClaim     = 'C'
	kindClaimed   = 'S'
	kindProgress  = 'P'
	opCreate      = 'c'
	opDelete      = 'd'
	maxLogVersion = claimVersion
)

// kindVersion is the version each kind is written with.
var kindVersion = map[byte]byte{kindBatch: logVersion, kindClaim: logVersion, kindClaimed: claimVersion, kindProgress: claimVersion}

// logEntry is one operation of a batch.
type logEntry struct {
	create bool
	id     string
	record []byte // create only
}

// size is what the entry counts for against a message's limit: its bytes and room for their framing.
func (e logEntry) size() int { return len(e.id) + len(e.record) + 16 }

// logMsg is a decoded message of the log.
type logMsg struct {
	kind    byte       // kindBatch, kindClaim, kindClaimed or kindProgress
	claim   bool       // one of the claim's messages (any kind but kindBatch)
	batch   uint64     // batch number
	entries []logEntry // batch; progress: the connections whose $disconnect ran (removals)
	node    cluster.NodeID
	inc     string // claim: the claimer
}

// complete reports whether m is a finished claim: every $disconnect the log held has run.
func (m logMsg) complete() bool { return m.kind == kindClaim }

func appendBytes(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeBatch encodes batch number n with its entries.
func encodeBatch(n uint64, entries []logEntry) []byte {
	size := 16
	for _, e := range entries {
		size += len(e.id) + len(e.record) + 8
	}
	b := make([]byte, 0, size)
	b = append(b, logMagic...)
	b = append(b, logVersion, kindBatch)
	b = binary.AppendUvarint(b, n)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		if e.create {
			b = append(b, opCreate)
			b = appendBytes(b, []byte(e.id))
			b = appendBytes(b, e.record)
		} else {
			b = append(b, opDelete)
			b = appendBytes(b, []byte(e.id))
		}
	}
	return b
}

// encodeClaim encodes the complete claim of node's incarnation inc.
func encodeClaim(node cluster.NodeID, inc string) []byte {
	b := append([]byte(logMagic), logVersion, kindClaim)
	b = binary.AppendUvarint(b, uint64(node))
	return appendBytes(b, []byte(inc))
}

// encodeClaimStarted encodes the start of node's incarnation inc's claim.
func encodeClaimStarted(node cluster.NodeID, inc string) []byte {
	b := append([]byte(logMagic), claimVersion, kindClaimed)
	b = binary.AppendUvarint(b, uint64(node))
	return appendBytes(b, []byte(inc))
}

// encodeProgress encodes the progress of node's incarnation inc's claim: the $disconnect of each of ids
// has run.
func encodeProgress(node cluster.NodeID, inc string, ids []string) []byte {
	b := append([]byte(logMagic), claimVersion, kindProgress)
	b = binary.AppendUvarint(b, uint64(node))
	b = appendBytes(b, []byte(inc))
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = appendBytes(b, []byte(id))
	}
	return b
}

// encodeLogMsg encodes m again (tests: what decodes encodes back).
func encodeLogMsg(m logMsg) []byte {
	switch m.kind {
	case kindClaim:
		return encodeClaim(m.node, m.inc)
	case kindClaimed:
		return encodeClaimStarted(m.node, m.inc)
	case kindProgress:
		ids := make([]string, len(m.entries))
		for i, e := range m.entries {
			ids[i] = e.id
		}
		return encodeProgress(m.node, m.inc, ids)
	default:
		return encodeBatch(m.batch, m.entries)
	}
}

var errShort = errors.New("truncated")

// reader walks an encoded message.
type reader struct{ b []byte }

func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errShort
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, errShort
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *reader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, errShort
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

// decodeLogMsg decodes one message of the log; anything else is an error that says what is wrong.
func decodeLogMsg(b []byte) (logMsg, error) {
	var m logMsg
	if len(b) < len(logMagic)+2 || string(b[:len(logMagic)]) != logMagic {
		return m, errors.New("not a connection log message (no SBL header)")
	}
	v, kind := b[len(logMagic)], b[len(logMagic)+1]
	if v == 0 || v > maxLogVersion {
		return m, fmt.Errorf("connection log message version %d; this node reads versions 1 to %d", v, maxLogVersion)
	}
	if want, ok := kindVersion[kind]; ok && v != want {
		return m, fmt.Errorf("connection log message kind %q is written as version %d, not %d", kind, want, v)
	}
	r := &reader{b: b[len(logMagic)+2:]}
	m.kind = kind
	switch kind {
	case kindClaim, kindClaimed, kindProgress:
		node, err := r.uvarint()
		if err != nil || node > 0xFFFF {
			return m, fmt.Errorf("claim: bad node id")
		}
		inc, err := r.bytes()
		if err != nil || len(inc) == 0 {
			return m, fmt.Errorf("claim: bad incarnation")
		}
		m.claim, m.node, m.inc = true, cluster.NodeID(node), string(inc)
		if kind != kindProgress {
			break
		}
		n, err := r.uvarint()
		if err != nil {
			return m, fmt.Errorf("claim progress: connection count: %w", err)
		}
		if n > uint64(len(r.b)) { // every id takes at least one byte
			return m, fmt.Errorf("claim progress: connection count %d exceeds the message", n)
		}
		m.entries = make([]logEntry, 0, n)
		for i := range n {
			id, err := r.bytes()
			if err != nil || len(id) == 0 {
				return m, fmt.Errorf("claim progress: connection %d: bad connection id", i)
			}
			m.entries = append(m.entries, logEntry{id: string(id)})
		}
	case kindBatch:
		var err error
		if m.batch, err = r.uvarint(); err != nil {
			return m, fmt.Errorf("batch number: %w", err)
		}
		n, err := r.uvarint()
		if err != nil {
			return m, fmt.Errorf("entry count: %w", err)
		}
		if n > uint64(len(r.b))/2 { // every entry takes at least two bytes
			return m, fmt.Errorf("entry count %d exceeds the message", n)
		}
		m.entries = make([]logEntry, 0, n)
		for i := range n {
			op, err := r.byte()
			if err != nil {
				return m, fmt.Errorf("entry %d: %w", i, err)
			}
			id, err := r.bytes()
			if err != nil || len(id) == 0 {
				return m, fmt.Errorf("entry %d: bad connection id", i)
			}
			e := logEntry{id: string(id)}
			switch op {
			case opCreate:
				e.create = true
				if e.record, err = r.bytes(); err != nil {
					return m, fmt.Errorf("entry %d: record: %w", i, err)
				}
			case opDelete:
			default:
				return m, fmt.Errorf("entry %d: unknown operation %q", i, op)
			}
			m.entries = append(m.entries, e)
		}
	default:
		return m, fmt.Errorf("unknown connection log message kind %q", kind)
	}
	if len(r.b) != 0 {
		return m, fmt.Errorf("%d bytes after the message", len(r.b))
	}
	return m, nil
}
