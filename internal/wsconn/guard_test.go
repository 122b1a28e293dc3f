package wsconn

import (
	"encoding/binary"
	"testing"
)

// frame builds one masked client frame header for opcode and payload length, followed by the payload.
func frame(opcode byte, n int) []byte {
	h := []byte{0x80 | opcode}
	switch {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = append(h, 0x80|126, 0, 0)
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h = append(h, 0x80|127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	}
	h = append(h, 1, 2, 3, 4) // mask key
	return append(h, make([]byte, n)...)
}

func TestFrameGuardScan(t *testing.T) {
	cases := []struct {
		name   string
		stream []byte
		want   bool
	}{
		{"small text frame", frame(0x1, 10), false},
		{"exactly at limit (16-bit length)", frame(0x1, 32768), false},
		{"one over the limit", frame(0x1, 32769), true},
		{"64-bit length over the limit", frame(0x1, 70000), true},
		{"continuation over the limit", append(frame(0x1, 100), frame(0x0, 40000)...), true},
		{"control frames are not data frames", frame(0x9, 125), false},
		{"second frame over the limit", append(frame(0x1, 32768), frame(0x1, 32769)...), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &frameGuard{max: 32768}
			if got := g.scan(tc.stream); got != tc.want {
				t.Fatalf("scan = %v, want %v", got, tc.want)
			}
			// Byte by byte must agree: headers and payloads split across reads.
			g = &frameGuard{max: 32768}
			got := false
			for i := range tc.stream {
				if g.scan(tc.stream[i : i+1]) {
					got = true
					break
				}
			}
			if got != tc.want {
				t.Fatalf("byte-wise scan = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzFrameGuard: any chunking of a stream gives the verdict of scanning it whole, and nothing panics.
func FuzzFrameGuard(f *testing.F) {
	f.Add(frame(0x1, 10), uint8(3))
	f.Add(append(frame(0x1, 200), frame(0x0, 40000)...), uint8(7))
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		whole := (&frameGuard{max: 1000}).scan(stream)
		size := int(chunk%32) + 1
		g := &frameGuard{max: 1000}
		split := false
		for i := 0; i < len(stream) && !split; i += size {
			split = g.scan(stream[i:min(i+size, len(stream))])
		}
		if whole != split {
			t.Fatalf("whole scan %v, chunked (%d) scan %v", whole, size, split)
		}
	})
}
