//go:build linux

package udpbatch

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reader is the state of one ReadFromAddrPort call, kept in the Conn so
// that the RawConn.Read callback is bound once and reading allocates
// nothing. mu serialises readers (pion/ice's UDP mux has one).
type reader struct {
	c      *Conn
	mu     sync.Mutex
	fn     func(fd uintptr) bool // recv, bound once
	buf    []byte
	n      int
	from   netip.AddrPort
	errno  syscall.Errno
	rsa    unix.RawSockaddrAny
	rsaLen uint32
}

// ReadFromAddrPort reads one datagram (pion/ice's allocation-free read).
//
// Like send, it calls recvfrom as a raw syscall: the socket is
// non-blocking, and the runtime poller does the waiting. A plain syscall
// wakes sysmon when the process comes out of idle, and sysmon then polls
// every 20 µs for the next millisecond; at one wake-up per arriving
// packet that polling cost more than the reading.
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	r := &c.rd
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf, r.n, r.from, r.errno = b, 0, netip.AddrPort{}, 0
	err := c.rc.Read(r.fn)
	r.buf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if r.errno != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Source: c.conn.LocalAddr(), Err: r.errno}
	}
	return r.n, r.from, nil
}

// ReadFromUDPAddrPort is ReadFromAddrPort under *net.UDPConn's name.
func (c *Conn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromAddrPort(b)
}

// ReadFrom reads one datagram.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// recv is the RawConn.Read callback: false on EAGAIN makes the poller
// wait until the socket is readable. Before that wait, the reader sends
// what was queued while it was reading (see Conn.reading).
func (r *reader) recv(fd uintptr) bool {
	for {
		r.rsaLen = unix.SizeofSockaddrAny
		var p unsafe.Pointer
		if len(r.buf) > 0 {
			p = unsafe.Pointer(&r.buf[0])
		}
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(p), uintptr(len(r.buf)), 0,
			uintptr(unsafe.Pointer(&r.rsa)), uintptr(unsafe.Pointer(&r.rsaLen)))
		switch e {
		case 0:
			r.n, r.from = int(n), r.sockaddr()
			r.c.reading.Store(true)
			return true
		case unix.EINTR:
		case unix.EAGAIN:
			if r.c.reading.Load() {
				r.c.drained()
			}
			return false
		default:
			r.errno = e
			return true
		}
	}
}

// sockaddr decodes the sender's address recvfrom wrote.
func (r *reader) sockaddr() netip.AddrPort {
	switch r.rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.rsa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&r.rsa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port)
	}
	return netip.AddrPort{}
}
