//go:build linux

package udpbatch

import (
	"errors"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// holdFactor × Delay is the longest a queued packet waits once a deadline
// is set, however often End(false) pushes the idle deadline back: runs
// that keep coming must not hold the oldest packet forever.
const holdFactor = 4

// Conn is the batching conn NewConn returns on Linux. It is safe for
// concurrent use.
type Conn struct {
	conn   *net.UDPConn
	rc     syscall.RawConn
	inet6  bool // the socket is AF_INET6 (IPv4 goes out v4-mapped)
	slot   int
	delay  int64                 // Config.Delay in nanoseconds
	epoch  time.Time             // now() counts from here, on the monotonic clock
	sendFn func(fd uintptr) bool // c.send, bound once: no allocation per flush

	gso  atomic.Bool  // group packets with UDP_SEGMENT; cleared for good when the kernel refuses
	runs atomic.Int32 // open runs (Begin without End yet)

	mu     sync.Mutex
	b      *batch
	closed bool
	segMax int // largest segment size a group may have (lowered after an MTU failure)
	// Deadlines of the queued packets, in now() units; 0 is unset.
	firstAt int64 // when the oldest queued packet was queued
	unrunAt int64 // Delay after the oldest write made with no run open
	idleAt  int64 // Delay after the last End(false)
	// During a flush.
	off  int           // first entry not yet sent
	werr syscall.Errno // error of entry off, set by send
	acct sendCounts    // what this flush sent, published to the atomics at its end

	armed atomic.Bool // the timer goroutine was told about the current batch's deadline (written under mu)
	// reading is set from a datagram the reader returned until it finds
	// the socket empty, when it sends what is queued (drained) before it
	// waits. Meanwhile neither a write nor End(false) arms the timer: a
	// forwarder that writes from the reader goroutine (the engine's SRTP
	// ingress) has its held packets sent then, without waking the timer
	// goroutine twice per held frame. Cleared under mu.
	reading atomic.Bool
	kick    chan struct{} // capacity 1
	done    chan struct{}
	wg      sync.WaitGroup

	packets, batches, gsoMsgs, gsoSegs, gsoFails, direct, drops atomic.Uint64

	rd reader
}

var (
	_ net.PacketConn = (*Conn)(nil)
	_ Batcher        = (*Conn)(nil)
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
	var serr, gsoErr error
	if err := rc.Control(func(fd uintptr) {
		sa, serr = unix.Getsockname(int(fd))
		// Reading UDP_SEGMENT (the socket's default segment size, 0)
		// succeeds exactly on kernels that parse the cmsg.
		_, gsoErr = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
	}); err != nil || serr != nil {
		return c
	}
	_, inet6 := sa.(*unix.SockaddrInet6)
	b := &Conn{
		conn:   c,
		rc:     rc,
		inet6:  inet6,
		slot:   cfg.SlotSize,
		delay:  int64(cfg.Delay),
		epoch:  time.Now(),
		b:      newBatch(cfg.Capacity, cfg.SlotSize, inet6),
		segMax: math.MaxInt32,
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	b.sendFn = b.send
	b.rd.c, b.rd.fn = b, b.rd.recv
	b.gso.Store(!cfg.DisableGSO && gsoErr == nil)
	b.wg.Add(1)
	go b.timerLoop()
	return b
}

// GSO reports whether flushes currently group packets with UDP GSO: the
// kernel supports it, Config.DisableGSO is off and no GSO send failed in
// a way that turned it off.
func (c *Conn) GSO() bool { return c.gso.Load() }

// now is the monotonic time in nanoseconds since NewConn, never 0.
func (c *Conn) now() int64 { return int64(time.Since(c.epoch)) + 1 }

// WriteToAddrPort queues b for addr and returns len(b). A send error
// shows up later as a drop in Stats, not here.
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	ip, ok := c.batchable(addr)
	if !ok || len(b) > c.slot {
		return c.writeDirect(b, addr, nil)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.b.push(b, ip, addr.Port())
	c.queuedLocked()
	c.mu.Unlock()
	return len(b), nil
}

// errFillSize is returned by WriteToAddrPortFunc when fill reports more
// bytes than its slot holds (or fewer than none).
var errFillSize = errors.New("udpbatch: fill returned a size outside its slot")

// WriteToAddrPortFunc queues for addr the packet fill writes into the
// start of slot, which has room for the largest batched packet, and
// returns its size. A caller that builds its packets (the SRTP egress
// sealing them) so writes each one once, where the kernel copies it
// from, instead of into a buffer of its own that WriteToAddrPort copies:
// one copy less per packet. fill runs with the conn locked: it must not
// use the conn, and should be short. If fill fails, nothing is queued and
// its error is returned.
func (c *Conn) WriteToAddrPortFunc(addr netip.AddrPort, fill func(slot []byte) (int, error)) (int, error) {
	ip, ok := c.batchable(addr)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if !ok {
		c.mu.Unlock()
		b := make([]byte, c.slot) // rare: an address no batch can encode
		n, err := fill(b)
		if err != nil {
			return 0, err
		}
		return c.writeDirect(b[:n], addr, nil)
	}
	n, err := fill(c.b.next())
	if err == nil && (n < 0 || n > c.slot) {
		err = errFillSize
	}
	if err != nil {
		c.mu.Unlock()
		return 0, err
	}
	c.b.commit(n, ip, addr.Port())
	c.queuedLocked()
	c.mu.Unlock()
	return n, nil
}

// batchable returns addr's IP as the batch stores it, and whether the
// batch can encode it: unmapped IPv4, or IPv6 without a zone on an
// AF_INET6 socket.
func (c *Conn) batchable(addr netip.AddrPort) (netip.Addr, bool) {
	ip := addr.Addr().Unmap()
	return ip, ip.IsValid() && (!ip.Is6() || c.inet6 && ip.Zone() == "")
}

// queuedLocked follows a packet's queueing: it sends a full batch, or
// sets and arms the deadline a write made with no run open needs.
func (c *Conn) queuedLocked() {
	var now int64
	if c.b.n == 1 {
		now = c.now()
		c.firstAt = now
	}
	if c.b.full() {
		c.flushLocked()
	} else if c.unrunAt == 0 && c.runs.Load() == 0 {
		// The first write of this batch made with no run open: it sets
		// the deadline that later ones (all queued later) share.
		if now == 0 {
			now = c.now()
		}
		c.unrunAt = now + c.delay
		if !c.reading.Load() {
			c.armLocked()
		}
	}
}

// writeDirect sends b at once, after what is queued, so order holds: to
// addr, or to other when it is not nil (an address that is no *net.UDPAddr).
func (c *Conn) writeDirect(b []byte, addr netip.AddrPort, other net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.flushLocked()
	c.direct.Add(1)
	if other != nil {
		return c.conn.WriteTo(b, other)
	}
	return c.conn.WriteToUDPAddrPort(b, addr)
}

// WriteTo queues b like WriteToAddrPort for a *net.UDPAddr.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(b, ua.AddrPort())
	}
	return c.writeDirect(b, netip.AddrPort{}, addr)
}

// Flush sends what is queued before it returns.
func (c *Conn) Flush() {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

// Begin opens a run: until its End, writes (by any goroutine) do not
// arm the timer. See Batcher.
func (c *Conn) Begin() { c.runs.Add(1) }

// End closes a run. With flush, what is queued is sent before End
// returns; without, once no run was open for Delay after the last
// End(false), or by 4×Delay after the oldest queued packet, whichever is
// first. See Batcher.
func (c *Conn) End(flush bool) {
	if c.runs.Add(-1) < 0 {
		panic("udpbatch: End without Begin")
	}
	c.mu.Lock()
	switch {
	case c.closed || c.b.n == 0:
	case flush:
		c.flushLocked()
	default:
		now := c.now()
		c.idleAt = now + c.delay
		if d, _ := c.deadlineLocked(now); d <= now {
			c.flushLocked() // the hard cap has passed: no point waking the timer
		} else if !c.reading.Load() {
			c.armLocked()
		}
	}
	c.mu.Unlock()
}

// drained is called by the reader when it finds the socket empty, before
// it waits: it sends what is queued.
func (c *Conn) drained() {
	c.mu.Lock()
	c.reading.Store(false)
	if c.b.n > 0 && !c.closed {
		c.flushLocked()
	}
	c.mu.Unlock()
}

// deadlineLocked returns when, seen at now, the queued packets must be
// sent, if any write or End has set a deadline yet (writes inside a run
// leave it to their End). While a run is open the idle deadline is at
// least Delay away: the next run of a burst may take longer than Delay
// to write its fan-out, and its End decides; the timer looks again then.
func (c *Conn) deadlineLocked(now int64) (int64, bool) {
	d, ok := int64(math.MaxInt64), false
	if c.unrunAt != 0 {
		d, ok = c.unrunAt, true
	}
	if c.idleAt != 0 {
		idle := c.idleAt
		if c.runs.Load() > 0 {
			idle = max(idle, now+c.delay)
		}
		d, ok = min(d, idle), true
	}
	if ok {
		d = min(d, c.firstAt+holdFactor*c.delay)
	}
	return d, ok
}

// armLocked wakes the timer goroutine if it has not been told about this
// batch yet. Once told, it re-reads the deadline whenever it wakes, so
// later events need no kick: a deadline is at most Delay after the event
// that sets it, so a later event never moves the batch's deadline
// earlier than the one the goroutine sleeps on.
func (c *Conn) armLocked() {
	if c.armed.Load() {
		return
	}
	c.armed.Store(true)
	select {
	case c.kick <- struct{}{}:
	default: // a kick is pending: the goroutine will read the new state
	}
}

// timerLoop sends batches whose deadline passed with nobody flushing.
func (c *Conn) timerLoop() {
	defer c.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-c.done:
			t.Stop()
			return
		case <-c.kick:
		case <-t.C:
		}
		c.mu.Lock()
		wait := int64(-1)
		if now := c.now(); c.b.n > 0 && !c.closed {
			if d, ok := c.deadlineLocked(now); ok && d <= now {
				c.flushLocked()
			} else if ok {
				wait = d - now
			}
		}
		c.mu.Unlock()
		if wait > 0 {
			// Since Go 1.23 Reset also drops a stale tick.
			t.Reset(time.Duration(wait))
		}
	}
}

// Stats returns counters since NewConn.
func (c *Conn) Stats() Stats {
	return Stats{
		Packets:     c.packets.Load(),
		Batches:     c.batches.Load(),
		GSOMessages: c.gsoMsgs.Load(),
		GSOSegments: c.gsoSegs.Load(),
		GSOFailures: c.gsoFails.Load(),
		Direct:      c.direct.Load(),
		Drops:       c.drops.Load(),
	}
}

// Close sends what is queued, stops the timer and closes the socket.
// Writes and Ends after Close do nothing (writes return net.ErrClosed).
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

// LocalAddr returns the socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SetDeadline sets the socket's deadlines; the write deadline also bounds
// a flush waiting for the socket to become writable.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline (see SetDeadline).
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }
