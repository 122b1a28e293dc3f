package runtimeapi

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewRequestID returns a random request id in Lambda's format (a version 4 UUID).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// NewTraceID returns an X-Ray trace header for an invocation starting at t, in the form Lambda sends in
// Lambda-Runtime-Trace-Id: Root=1-<8 hex: epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0.
func NewTraceID(t time.Time) string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	var sec [4]byte
	binary.BigEndian.PutUint32(sec[:], uint32(t.Unix()))
	out := make([]byte, 0, len("Root=1-")+8+1+24+len(";Parent=")+16+len(";Sampled=0"))
	out = append(out, "Root=1-"...)
	out = hex.AppendEncode(out, sec[:])
	out = append(out, '-')
	out = hex.AppendEncode(out, b[:12])
	out = append(out, ";Parent="...)
	out = hex.AppendEncode(out, b[12:])
	out = append(out, ";Sampled=0"...)
	return string(out)
}
