//go:build linux

package udpbatch

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendCounts accumulates one flush's counters so that the atomics are
// touched once per flush, not per entry.
type sendCounts struct {
	packets, batches, gsoMsgs, gsoSegs, gsoFails, drops uint64
}

// flushLocked sends what is queued and empties the batch. Send errors
// drop packets (counted), except GSO refusals, whose packets are resent
// one datagram each.
func (c *Conn) flushLocked() {
	q := c.b
	if q.n > 0 {
		q.plan(c.gso.Load(), c.segMax)
		c.off = 0
		for c.off < q.nmsg {
			c.werr = 0
			before := c.off
			err := c.rc.Write(c.sendFn)
			c.countSent(before, c.off)
			if err != nil {
				// Closed, or a write deadline (pion/ice aborts blocked
				// writes that way): drop the rest rather than wait.
				for _, g := range q.groups[c.off:q.nmsg] {
					c.acct.drops += uint64(g.n)
				}
				break
			}
			if c.werr == 0 && c.off > before {
				continue // all sent
			}
			// Entry c.off failed (sendmmsg reports the error of the
			// first entry it could not send).
			g := &q.groups[c.off]
			if g.n > 1 && c.gsoRefusedLocked(int(g.seg), c.werr) {
				q.split(c.off, int(g.end-g.n))
				continue
			}
			c.acct.drops += uint64(g.n)
			c.off++
		}
		c.publishCounts()
	}
	q.n, c.off = 0, 0
	c.firstAt, c.unrunAt, c.idleAt = 0, 0, 0
	c.armed.Store(false)
}

// countSent counts entries [from, to) as sent.
func (c *Conn) countSent(from, to int) {
	for _, g := range c.b.groups[from:to] {
		c.acct.packets += uint64(g.n)
		if g.n > 1 {
			c.acct.gsoMsgs++
			c.acct.gsoSegs += uint64(g.n)
		}
	}
}

func (c *Conn) publishCounts() {
	a := &c.acct
	if a.packets != 0 {
		c.packets.Add(a.packets)
	}
	if a.batches != 0 {
		c.batches.Add(a.batches)
	}
	if a.gsoMsgs != 0 {
		c.gsoMsgs.Add(a.gsoMsgs)
		c.gsoSegs.Add(a.gsoSegs)
	}
	if a.gsoFails != 0 {
		c.gsoFails.Add(a.gsoFails)
	}
	if a.drops != 0 {
		c.drops.Add(a.drops)
	}
	*a = sendCounts{}
}

// gsoRefusedLocked reports whether err, returned for a GSO entry of seg
// byte segments, means the kernel or route refuses UDP GSO rather than
// the destination being unreachable; the caller then resends the entry's
// packets one by one. It also stops forming the groups that would fail
// again:
//   - EMSGSIZE, or EINVAL before Linux 6.14, is what a segment larger
//     than the route's MTU gets (a lone datagram would be fragmented
//     instead). Groups of segments above mtuSafeSegment stop; a failure
//     below that is not an MTU problem, and turns GSO off.
//   - EIO (a device without checksum offload, IPsec), EINVAL (e.g.
//     SO_NO_CHECK), EOPNOTSUPP and ENOPROTOOPT turn GSO off for the conn.
func (c *Conn) gsoRefusedLocked(seg int, err unix.Errno) bool {
	switch err {
	case unix.EMSGSIZE, unix.EINVAL:
		if seg > mtuSafeSegment && c.segMax > mtuSafeSegment {
			c.segMax = mtuSafeSegment
			break
		}
		c.gso.Store(false)
	case unix.EIO, unix.EOPNOTSUPP, unix.ENOPROTOOPT:
		c.gso.Store(false)
	default:
		return false
	}
	c.acct.gsoFails++
	return true
}

// send is the RawConn.Write callback: it returns false on EAGAIN so the
// runtime poller waits until the socket is writable and calls it again.
//
// It calls sendmmsg as a raw syscall, without telling the scheduler: the
// socket is non-blocking, so the call never waits, it only works. A
// plain syscall lasting over 20 µs (a batch to a hundred receivers on
// loopback takes longer) gets its P handed to another thread by sysmon,
// which wakes an idle thread for nothing and keeps sysmon polling every
// 20 µs. The cost is that a stop-the-world waits for the call to return
// (2 to 4 ms for a full batch of 1024 on loopback, by BenchmarkFrameFanOut).
func (c *Conn) send(fd uintptr) bool {
	q := c.b
	for c.off < q.nmsg {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&q.msgs[c.off])), uintptr(q.nmsg-c.off), 0, 0, 0)
		switch e {
		case 0:
			if r == 0 {
				return true // should not happen; the caller drops one
			}
			c.off += int(r)
			c.acct.batches++
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
