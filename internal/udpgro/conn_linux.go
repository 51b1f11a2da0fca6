//go:build linux

package udpgro

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn is a UDP4 socket with UDP_GRO on. It is a net.PacketConn that
// returns one datagram per read, as a socket without GRO would, and it
// also has the allocation-free methods pion/ice's UDP mux looks for
// (ReadFromAddrPort, WriteToAddrPort). It is safe for concurrent use;
// concurrent reads are served one at a time.
type Conn struct {
	conn   *net.UDPConn
	closed atomic.Bool
	// Coalesced reads: the datagrams that held more than one segment,
	// and the segments they held.
	groMsgs, groSegs atomic.Uint64

	mu   sync.Mutex
	buf  []byte // the last datagram read: possibly several coalesced
	oob  []byte
	from netip.AddrPort // its sender
	// The segments not yet returned are buf[off:end], seg bytes each
	// (the last may be shorter).
	off, end, seg int
}

var _ net.PacketConn = (*Conn)(nil)

// Listen opens a UDP4 socket on addr and turns UDP_GRO on. If the kernel
// refuses, it returns an error wrapping ErrUnsupported.
func Listen(addr *net.UDPAddr) (*Conn, error) {
	uc, err := net.ListenUDP("udp4", addr)
	if err != nil {
		return nil, err
	}
	rc, err := uc.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		uc.Close()
		return nil, fmt.Errorf("%w: setsockopt UDP_GRO: %w", ErrUnsupported, err)
	}
	return &Conn{
		conn: uc,
		buf:  make([]byte, 1<<16),
		oob:  make([]byte, 64), // room for the one int control message, and then some
	}, nil
}

// ReadFromAddrPort copies the next datagram into b (truncating it if b is
// too short, as *net.UDPConn does) and returns its length and sender.
// When no segments of a coalesced datagram are pending it reads one with
// recvmsg.
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Source: c.conn.LocalAddr(), Err: net.ErrClosed}
	}
	for c.off >= c.end {
		n, oobn, flags, from, err := c.conn.ReadMsgUDPAddrPort(c.buf, c.oob)
		if err != nil {
			return 0, netip.AddrPort{}, err
		}
		seg := segmentSize(c.oob[:oobn])
		if seg == 0 && flags&unix.MSG_CTRUNC != 0 {
			continue // the segment size may be what was cut: drop it rather than return a blob
		}
		if seg <= 0 {
			seg = n
		}
		c.from, c.off, c.end, c.seg = from, 0, n, seg
		if n > seg {
			c.groMsgs.Add(1)
			c.groSegs.Add(uint64((n + seg - 1) / seg))
		}
		if n == 0 {
			return 0, from, nil // an empty datagram
		}
	}
	end := min(c.off+c.seg, c.end)
	n := copy(b, c.buf[c.off:end])
	c.off = end
	return n, c.from, nil
}

// Coalesced returns how many of the datagrams the kernel handed over held
// more than one segment, and how many segments those held in all.
func (c *Conn) Coalesced() (msgs, segs uint64) { return c.groMsgs.Load(), c.groSegs.Load() }

// segmentSize returns the segment size of the SOL_UDP/UDP_GRO control
// message in oob, or 0 if there is none (a single datagram).
func segmentSize(oob []byte) int {
	hdr := unix.CmsgLen(0)
	for len(oob) >= hdr {
		// The kernel aligns each header in the buffer, and the buffer
		// comes from make, which aligns it for any type.
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && l-hdr >= 4 {
			return int(*(*int32)(unsafe.Pointer(&oob[hdr])))
		}
		next := unix.CmsgSpace(l - hdr)
		if next >= len(oob) {
			return 0
		}
		oob = oob[next:]
	}
	return 0
}

// ReadFrom is ReadFromAddrPort with a *net.UDPAddr.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// WriteToAddrPort sends one datagram.
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.conn.WriteToUDPAddrPort(b, addr)
}

// WriteTo sends one datagram.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) { return c.conn.WriteTo(b, addr) }

// Close closes the socket; later reads fail even if segments are pending.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.conn.Close()
}

// LocalAddr returns the socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SetDeadline sets the socket's read and write deadlines. A read that
// finds segments pending returns one without looking at the deadline.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }
