package runtimeapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewRequestID returns a random request id in Lambda's format (a version 4 UUID).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewTraceID returns an X-Ray trace header for an invocation starting at t, in the form Lambda sends in
// Lambda-Runtime-Trace-Id: Root=1-<8 hex: epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0.
func NewTraceID(t time.Time) string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", uint32(t.Unix()), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}
