//go:build linux

package udpbatch

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr (x/sys/unix does not define it). Go pads it
// like C does: 64 bytes on 64-bit, 32 on 32-bit systems.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// Conn is the batching conn NewConn returns on Linux. It is safe for
// concurrent use.
type Conn struct {
	conn   *net.UDPConn
	rc     syscall.RawConn
	inet6  bool // the socket is AF_INET6 (IPv4 goes out v4-mapped)
	slot   int
	delay  time.Duration
	sendFn func(fd uintptr) bool // c.send, bound once: no allocation per flush

	mu     sync.Mutex
	n      int // queued packets
	off    int // first packet not yet sent, during a flush
	werr   syscall.Errno
	closed bool
	bufs   []byte // Capacity × slot bytes
	names  [][unix.SizeofSockaddrInet6]byte
	iovs   []unix.Iovec
	msgs   []mmsghdr

	armed atomic.Bool   // the timer goroutine has been kicked and not yet flushed
	kick  chan struct{} // capacity 1
	done  chan struct{}
	wg    sync.WaitGroup

	packets, batches, direct, drops atomic.Uint64
}

var (
	_ net.PacketConn = (*Conn)(nil)
	_ Flusher        = (*Conn)(nil)
)

// NewConn wraps c; the returned conn owns c and closes it. It falls back
// to returning c itself if the socket cannot be inspected.
func NewConn(c *net.UDPConn, cfg Config) net.PacketConn {
	cfg = cfg.withDefaults()
	rc, err := c.SyscallConn()
	if err != nil {
		return c
	}
	var sa unix.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) { sa, serr = unix.Getsockname(int(fd)) }); err != nil || serr != nil {
		return c
	}
	_, inet6 := sa.(*unix.SockaddrInet6)
	b := &Conn{
		conn:  c,
		rc:    rc,
		inet6: inet6,
		slot:  cfg.SlotSize,
		delay: cfg.Delay,
		bufs:  make([]byte, cfg.Capacity*cfg.SlotSize),
		names: make([][unix.SizeofSockaddrInet6]byte, cfg.Capacity),
		iovs:  make([]unix.Iovec, cfg.Capacity),
		msgs:  make([]mmsghdr, cfg.Capacity),
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	b.sendFn = b.send
	for i := range b.msgs {
		b.iovs[i].Base = &b.bufs[i*cfg.SlotSize]
		h := &b.msgs[i].hdr
		h.Name = &b.names[i][0]
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
	}
	b.wg.Add(1)
	go b.timerLoop()
	return b
}

// WriteToAddrPort queues b for addr and returns len(b). A send error
// shows up later as a drop in Stats, not here.
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	ip := addr.Addr().Unmap()
	if len(b) > c.slot || !ip.IsValid() || (ip.Is6() && (!c.inet6 || ip.Zone() != "")) {
		return c.writeDirect(b, addr)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	i := c.n
	copy(c.bufs[i*c.slot:], b)
	c.iovs[i].SetLen(len(b))
	c.msgs[i].hdr.Namelen = c.putName(i, ip, addr.Port())
	c.n++
	if c.n == len(c.msgs) {
		c.flushLocked()
	} else if i == 0 && !c.armed.Load() && c.armed.CompareAndSwap(false, true) {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	return len(b), nil
}

// putName writes slot i's sockaddr and returns its length.
func (c *Conn) putName(i int, ip netip.Addr, port uint16) uint32 {
	n := &c.names[i]
	binary.BigEndian.PutUint16(n[2:4], port)
	if !c.inet6 {
		binary.NativeEndian.PutUint16(n[0:2], unix.AF_INET)
		a := ip.As4()
		copy(n[4:8], a[:])
		return unix.SizeofSockaddrInet4
	}
	binary.NativeEndian.PutUint16(n[0:2], unix.AF_INET6)
	a := ip.As16() // v4-mapped for an IPv4 address
	copy(n[8:24], a[:])
	return unix.SizeofSockaddrInet6
}

// writeDirect sends b at once, after what is queued, so order holds.
func (c *Conn) writeDirect(b []byte, addr netip.AddrPort) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.flushLocked()
	c.direct.Add(1)
	return c.conn.WriteToUDPAddrPort(b, addr)
}

// WriteTo queues b like WriteToAddrPort for a *net.UDPAddr.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(b, ua.AddrPort())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.flushLocked()
	c.direct.Add(1)
	return c.conn.WriteTo(b, addr)
}

// Flush sends what is queued, in one sendmmsg call if the socket takes it.
func (c *Conn) Flush() {
	c.mu.Lock()
	if c.n > 0 {
		c.flushLocked()
	}
	c.mu.Unlock()
}

func (c *Conn) flushLocked() {
	if c.n == 0 {
		return
	}
	c.off = 0
	for c.off < c.n {
		c.werr = 0
		before := c.off
		if err := c.rc.Write(c.sendFn); err != nil {
			// Closed, or a write deadline (pion/ice aborts blocked
			// writes that way): drop the rest rather than wait.
			c.drops.Add(uint64(c.n - c.off))
			break
		}
		if c.off > before {
			c.batches.Add(1)
			c.packets.Add(uint64(c.off - before))
		}
		if c.werr != 0 || c.off == before {
			// The packet at c.off failed (sendmmsg reports the error
			// of the first message it could not send): drop it alone.
			c.drops.Add(1)
			c.off++
		}
	}
	c.n, c.off = 0, 0
}

// send is the RawConn.Write callback: it returns false on EAGAIN so the
// runtime poller waits until the socket is writable and calls it again.
func (c *Conn) send(fd uintptr) bool {
	for c.off < c.n {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&c.msgs[c.off])), uintptr(c.n-c.off), 0, 0, 0)
		switch e {
		case 0:
			if r == 0 {
				return true // should not happen; the caller drops one
			}
			c.off += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			c.werr = e
			return true
		}
	}
	return true
}

// timerLoop flushes a while after the first write that found the batch
// empty, for writes nobody flushes.
func (c *Conn) timerLoop() {
	defer c.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-c.kick:
		}
		t.Reset(c.delay)
		select {
		case <-c.done:
			t.Stop()
			return
		case <-t.C:
		}
		c.armed.Store(false)
		c.Flush()
	}
}

// Stats returns counters since NewConn.
func (c *Conn) Stats() Stats {
	return Stats{Packets: c.packets.Load(), Batches: c.batches.Load(), Direct: c.direct.Load(), Drops: c.drops.Load()}
}

// Close sends what is queued, stops the timer and closes the socket.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.conn.Close() // reports net.ErrClosed as a second close should
	}
	c.flushLocked()
	c.closed = true
	c.mu.Unlock()
	close(c.done)
	c.wg.Wait()
	return c.conn.Close()
}

// ReadFromAddrPort reads from the socket (pion/ice's allocation-free read).
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.conn.ReadFromUDPAddrPort(b)
}

// ReadFromUDPAddrPort is ReadFromAddrPort under *net.UDPConn's name.
func (c *Conn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.conn.ReadFromUDPAddrPort(b)
}

// ReadFrom reads from the socket.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) { return c.conn.ReadFrom(b) }

// LocalAddr returns the socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SetDeadline sets the socket's deadlines; the write deadline also bounds
// a flush waiting for the socket to become writable.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline (see SetDeadline).
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }
