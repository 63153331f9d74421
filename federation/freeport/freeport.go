// Package freeport picks loopback ports for nodes that bind them later: the
// development federation's nodes and tests' clusters, whose addresses must
// be known (to write a genesis or a configuration) before the nodes start.
//
// A port that was free a moment ago can be taken before the node binds it.
// Ports from the kernel's ephemeral range are the ones most at risk, since
// every outgoing connection on the machine takes its local port from that
// range; ports are therefore chosen below it, at random, and never handed out
// twice by one process.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the lowest port picked: above the well-known and most
// registered service ports.
const lowest = 10000

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Port returns a loopback TCP port that was free when it was chosen.
func Port() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	if top := ephemeralLow(); top-lowest >= 1000 {
		for range 100 {
			p := lowest + rand.IntN(top-lowest)
			if !given[p] && free(p) {
				given[p] = true
				return p, nil
			}
		}
	}
	// No room below the ephemeral range: let the kernel choose.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	p := ln.Addr().(*net.TCPAddr).Port
	given[p] = true
	return p, nil
}

// Addr returns "127.0.0.1:PORT" for a port from Port.
func Addr() (string, error) {
	p, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range: Linux
// says in ip_local_port_range; elsewhere, and by default, it is 32768 or
// higher.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil {
		return 32768
	}
	return low
}
