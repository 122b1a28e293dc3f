package loopbackport

import (
	"net"
	"strconv"
	"testing"
)

func TestReserve(t *testing.T) {
	addrs, err := Reserve(5)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 5 {
		t.Fatalf("got %d addresses, want 5", len(addrs))
	}
	low := ephemeralLow()
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s returned twice: %v", a, addrs)
		}
		seen[a] = true
		host, p, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("%q is not a 127.0.0.1 address", a)
		}
		port, _ := strconv.Atoi(p)
		if low-lowest >= 1000 && (port < lowest || port >= low) {
			t.Errorf("port %d is not below the ephemeral range (%d) and at least %d", port, low, lowest)
		}
		ln, err := net.Listen("tcp4", a)
		if err != nil {
			t.Fatalf("%s cannot be bound: %v", a, err)
		}
		ln.Close()
	}
}
