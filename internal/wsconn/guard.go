package wsconn

import (
	"encoding/binary"
	"errors"
	"net"
)

// errFrameTooBig ends the read loop after frameGuard has closed the connection with 1009.
var errFrameTooBig = errors.New("frame too big")

// frameGuard watches the frame headers of the client's byte stream and closes the connection with 1009 as
// soon as a data frame announces a payload over the frame limit, before gws reads it. gws applies one
// limit to frames and messages alike; API Gateway has 32 KB frames inside 128 KB messages.
type frameGuard struct {
	net.Conn
	max     int
	conn    *Conn
	pending []byte // bytes read ahead of the handshake, served first

	hdr  [14]byte // the frame header being read
	have int      // bytes of hdr read so far
	skip uint64   // payload bytes left in the current frame
}

// Read reads from the socket and inspects what it read.
func (g *frameGuard) Read(p []byte) (int, error) {
	var n int
	var err error
	if len(g.pending) > 0 {
		n = copy(p, g.pending)
		g.pending = g.pending[n:]
		if len(g.pending) == 0 {
			g.pending = nil
		}
	} else {
		n, err = g.Conn.Read(p)
	}
	if n > 0 && g.scan(p[:n]) {
		g.conn.Close(CloseMessageTooBig, "Message too big")
		return 0, errFrameTooBig
	}
	return n, err
}

// scan advances the frame state machine over b and reports a data frame over the limit.
func (g *frameGuard) scan(b []byte) bool {
	for len(b) > 0 {
		if g.skip > 0 {
			if uint64(len(b)) <= g.skip {
				g.skip -= uint64(len(b))
				return false
			}
			b = b[g.skip:]
			g.skip = 0
		}
		g.hdr[g.have] = b[0]
		g.have++
		b = b[1:]
		if need := headerLen(g.hdr[:g.have]); need > g.have {
			continue
		}
		length := payloadLen(g.hdr[:g.have])
		opcode := g.hdr[0] & 0x0f
		g.have = 0
		if opcode < 0x8 && length > uint64(g.max) {
			return true
		}
		g.skip = length
	}
	return false
}

// headerLen is the full header length implied by the bytes seen so far (at least 2).
func headerLen(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4
	}
	return n
}

func payloadLen(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return binary.BigEndian.Uint64(h[2:10])
	default:
		return uint64(l)
	}
}
