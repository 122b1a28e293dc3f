// Package awsid makes identifiers in the shapes API Gateway uses, so that clients and handlers that store,
// log or validate them see what they see on AWS.
//
// Connection IDs are 11 bytes, base64url with padding: 16 characters ending in "=" (e.g. "R1kmxc2VNjMCFIA=").
// Two bytes name the node that owns the connection (mixed with the last two random bytes, so IDs do not
// all start alike), so any node can route an @connections call to the owner without a lookup; the other
// nine bytes are random. Clients treat the ID as opaque.
package awsid

import (
	crand "crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/rand/v2"
)

// ConnectionIDLen is the length of a connection ID in characters.
const ConnectionIDLen = 16

const idBytes = 11

// ErrMalformedConnectionID reports a string that cannot be a connection ID.
var ErrMalformedConnectionID = errors.New("malformed connection id")

var enc = base64.URLEncoding

// NewConnectionID returns a fresh connection ID owned by node. The random part comes from crypto/rand so
// that IDs cannot be guessed from one another.
func NewConnectionID(node uint16) string {
	var b [idBytes]byte
	_, _ = crand.Read(b[2:])
	// The node is mixed with random bytes so IDs do not all begin alike; ConnectionNode undoes it.
	binary.BigEndian.PutUint16(b[:2], node^binary.BigEndian.Uint16(b[9:]))
	return enc.EncodeToString(b[:])
}

// ConnectionNode returns the node that owns the connection id, or ErrMalformedConnectionID.
func ConnectionNode(id string) (uint16, error) {
	if len(id) != ConnectionIDLen || id[ConnectionIDLen-1] != '=' {
		return 0, ErrMalformedConnectionID
	}
	var b [idBytes + 1]byte
	n, err := enc.Decode(b[:], []byte(id))
	if err != nil || n != idBytes {
		return 0, ErrMalformedConnectionID
	}
	return binary.BigEndian.Uint16(b[:2]) ^ binary.BigEndian.Uint16(b[9:idBytes]), nil
}

// NewRequestID returns a request ID in the same 16-character style AWS uses for requestId,
// extendedRequestId and messageId. It is unique enough for correlation, not a secret.
func NewRequestID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
	return enc.EncodeToString(b[:idBytes])
}
