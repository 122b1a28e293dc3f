// Package loopbackport picks loopback TCP addresses for servers that must be told their port before they
// start: embedded NATS servers whose cluster routes name each other (in tests and in the load tool), and
// Go functions that listen on the port _LAMBDA_SERVER_PORT names (lambda/localinvoke).
//
// Listening on port 0 and closing the listener leaves a port that the kernel may hand out again at once:
// ports for port-0 listeners and for outgoing connections come from the same ephemeral range, so on a
// busy machine (a test suite opening thousands of connections) another socket can take it before the
// server binds it, and the server then fails to start. Ports below the ephemeral range are never handed
// out that way, so a random free one of those stays free unless somebody asks for that very number.
package loopbackport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the lowest port Reserve picks: above the registered services people run on a development
// machine.
const lowest = 10000

// Reserve returns n distinct 127.0.0.1:port addresses that were free a moment ago, below the kernel's
// ephemeral range when there is room there, else from it.
func Reserve(n int) ([]string, error) {
	high := ephemeralLow()
	out := make([]string, 0, n)
	seen := map[int]bool{}
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("loopbackport: no free loopback port found in 1000 tries")
		}
		port := 0
		if high-lowest >= 1000 {
			port = lowest + rand.IntN(high-lowest)
			if seen[port] {
				continue
			}
		}
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		addr := ln.Addr().(*net.TCPAddr)
		_ = ln.Close()
		if seen[addr.Port] {
			continue
		}
		seen[addr.Port] = true
		out = append(out, fmt.Sprintf("127.0.0.1:%d", addr.Port))
	}
	return out, nil
}

// ephemeralLow is the first port of Linux's ephemeral range (32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 0 {
		return 32768
	}
	return low
}
