//go:build !linux

package udpbatch

import "net"

// NewConn returns c itself: batching is implemented on Linux only.
func NewConn(c *net.UDPConn, _ Config) net.PacketConn { return c }
