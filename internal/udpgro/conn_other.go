//go:build !linux

package udpgro

import (
	"net"
	"net/netip"
)

// Conn is a UDP socket that reads with UDP GRO; only Linux has it, so
// Listen never returns one here.
type Conn struct{ *net.UDPConn }

// Listen returns ErrUnsupported: UDP GRO is Linux only.
func Listen(*net.UDPAddr) (*Conn, error) { return nil, ErrUnsupported }

// ReadFromAddrPort reads one datagram.
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.UDPConn.ReadFromUDPAddrPort(b)
}

// Coalesced returns 0, 0: nothing is coalesced here.
func (c *Conn) Coalesced() (msgs, segs uint64) { return 0, 0 }

// WriteToAddrPort sends one datagram.
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.UDPConn.WriteToUDPAddrPort(b, addr)
}
