//go:build linux

package udpbatch

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limits of one GSO group.
const (
	// maxGSOSegments is UDP_MAX_SEGMENTS before Linux 6.9 (128 since):
	// more fails with EINVAL.
	maxGSOSegments = 64
	// maxGSOBytes keeps a group inside one IP datagram (65507 bytes of
	// UDP payload over IPv4, 65527 over IPv6).
	maxGSOBytes = 65000
	// mtuSafeSegment is the largest segment that fits a 1280-byte MTU
	// (IPv6's minimum) after 40 bytes of IPv6 and 8 of UDP header. A
	// segment larger than the route's MTU makes a GSO send fail while
	// the same datagram alone would be fragmented.
	mtuSafeSegment = 1232
)

// cmsgSpace is the control buffer of one GSO entry: a UDP_SEGMENT cmsg.
var cmsgSpace = unix.CmsgSpace(2)

// mmsghdr is struct mmsghdr (x/sys/unix does not define it). Go pads it
// like C does: 64 bytes on 64-bit, 32 on 32-bit systems.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// group is one sendmmsg entry of a plan: a run of one destination's
// packets, all seg bytes long except possibly the last.
type group struct {
	first int32 // slot of the first packet (its sockaddr is the entry's)
	seg   int32 // size of the first packet: the GSO segment size
	n     int32 // packets
	bytes int32 // their total size
	end   int32 // iovs[end-n:end] are the packets, after layout
	open  bool  // another packet of seg bytes or less may join
}

// tableEntry maps a destination to its open group during one plan. An
// entry whose gen is not the plan's is empty, so the table need not be
// cleared between flushes.
type tableEntry struct {
	gen uint32
	g   int32
}

// batch is the queue of a Conn and the sendmmsg plan built from it at
// flush time. All of it is allocated once; it is guarded by Conn.mu.
type batch struct {
	slot    int
	namelen uint32
	n       int // queued packets

	bufs  []byte // capacity × slot bytes
	lens  []int32
	names [][unix.SizeofSockaddrInet6]byte

	// The plan: msgs[:nmsg] point into iovs, names and ctrl.
	grp     []int32 // per slot: its group
	groups  []group // per entry
	iovSlot []int32 // per iovec: its slot
	iovs    []unix.Iovec
	msgs    []mmsghdr
	ctrl    []byte // capacity × cmsgSpace bytes
	nmsg    int
	table   []tableEntry // a power of two, at least twice the capacity
	shift   uint         // 64 − log2(len(table))
	gen     uint32
}

func newBatch(capacity, slot int, inet6 bool) *batch {
	b := &batch{
		slot:    slot,
		namelen: unix.SizeofSockaddrInet4,
		bufs:    make([]byte, capacity*slot),
		lens:    make([]int32, capacity),
		names:   make([][unix.SizeofSockaddrInet6]byte, capacity),
		grp:     make([]int32, capacity),
		groups:  make([]group, capacity),
		iovSlot: make([]int32, capacity),
		iovs:    make([]unix.Iovec, capacity),
		msgs:    make([]mmsghdr, capacity),
		ctrl:    make([]byte, capacity*cmsgSpace),
	}
	if inet6 {
		b.namelen = unix.SizeofSockaddrInet6
	}
	logSize := bits.Len(uint(2*capacity - 1)) // 2^logSize ≥ 2×capacity
	b.table = make([]tableEntry, 1<<logSize)
	b.shift = uint(64 - logSize)
	for i := range b.msgs {
		// Every entry's cmsg header is the same; only the segment size
		// is written per plan.
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b.ctrl[i*cmsgSpace]))
		h.Level = unix.SOL_UDP
		h.Type = unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
	}
	return b
}

// full reports whether no slot is left.
func (b *batch) full() bool { return b.n == len(b.lens) }

// push queues p for ip:port; the caller checked that p fits a slot, the
// batch is not full and ip suits the socket (unmapped IPv4, or IPv6
// without a zone on an AF_INET6 socket).
func (b *batch) push(p []byte, ip netip.Addr, port uint16) {
	b.commit(copy(b.next(), p), ip, port)
}

// next returns the next free slot, whole; commit queues what was written
// to its start. The batch is not full.
func (b *batch) next() []byte {
	i := b.n * b.slot
	return b.bufs[i : i+b.slot : i+b.slot]
}

// commit queues the first size bytes of the next slot for ip:port (see
// push for what the caller checked).
func (b *batch) commit(size int, ip netip.Addr, port uint16) {
	i := b.n
	b.lens[i] = int32(size)
	n := &b.names[i]
	binary.BigEndian.PutUint16(n[2:4], port)
	if b.namelen == unix.SizeofSockaddrInet4 {
		binary.NativeEndian.PutUint16(n[0:2], unix.AF_INET)
		a := ip.As4()
		copy(n[4:8], a[:])
	} else {
		binary.NativeEndian.PutUint16(n[0:2], unix.AF_INET6)
		a := ip.As16() // v4-mapped for an IPv4 address
		copy(n[8:24], a[:])
	}
	b.n++
}

// destKey returns slot i's sockaddr as three words: family and port,
// (IPv6 only) flow info and the first half of the address, and the rest
// of the address. Bytes a sockaddr_in does not use are always zero.
func (b *batch) destKey(i int) (k0, k1, k2 uint64) {
	n := b.names[i][:24]
	return binary.LittleEndian.Uint64(n[0:8]), binary.LittleEndian.Uint64(n[8:16]), binary.LittleEndian.Uint64(n[16:24])
}

// lookup returns the table index holding slot i's destination in the
// current plan, or the empty index where it belongs. The table is never
// more than half full, so linear probing stays short.
func (b *batch) lookup(i int) int {
	k0, k1, k2 := b.destKey(i)
	h := (k0 ^ bits.RotateLeft64(k1, 21) ^ bits.RotateLeft64(k2, 42)) * 0x9e3779b97f4a7c15
	mask := len(b.table) - 1
	key := (*[24]byte)(b.names[i][:24])
	for t := int(h >> b.shift); ; t = (t + 1) & mask {
		e := &b.table[t]
		if e.gen != b.gen || *(*[24]byte)(b.names[b.groups[e.g].first][:24]) == *key {
			return t
		}
	}
}

// plan turns the queued packets into sendmmsg entries. With gso, each
// destination's packets form groups by the kernel's UDP_SEGMENT rule; a
// packet larger than segMax is never grouped. Without gso every packet
// is an entry of its own. Either way entries are ordered by their first
// packet, so each destination's packets keep their queue order.
func (b *batch) plan(gso bool, segMax int) {
	if !gso {
		for i := range b.n {
			b.iovs[i] = unix.Iovec{Base: &b.bufs[i*b.slot]}
			b.iovs[i].SetLen(int(b.lens[i]))
			b.iovSlot[i] = int32(i)
		}
		b.split(0, 0)
		return
	}
	if b.gen++; b.gen == 0 { // wrapped: stale entries could look current
		clear(b.table)
		b.gen = 1
	}
	ng := int32(0)
	for i := range b.n {
		size := b.lens[i]
		e := &b.table[b.lookup(i)]
		if e.gen == b.gen {
			g := &b.groups[e.g]
			if g.open && size > 0 && size <= g.seg && g.n < maxGSOSegments && g.bytes+size <= maxGSOBytes {
				g.n++
				g.bytes += size
				g.open = size == g.seg // a smaller packet must be the last
				b.grp[i] = e.g
				continue
			}
		}
		// The destination's first packet, or one that cannot join its
		// open group: it starts the destination's new open group.
		e.gen, e.g = b.gen, ng
		// An empty datagram is never grouped: as the first, its segment
		// size of 0 would mean no GSO and the group would leave as one
		// datagram; as the last, it would add no byte, so no segment.
		b.groups[ng] = group{first: int32(i), seg: size, n: 1, bytes: size, open: size > 0 && int(size) <= segMax}
		b.grp[i] = ng
		ng++
	}
	b.layout(int(ng))
}

// layout places each group's packets in consecutive iovecs, in queue
// order, and points the entries at them.
func (b *batch) layout(ng int) {
	end := int32(0)
	for g := range b.groups[:ng] {
		end += b.groups[g].n
		b.groups[g].end = end - b.groups[g].n // the next free iovec while placing
	}
	for i := range b.n {
		g := &b.groups[b.grp[i]]
		b.iovs[g.end] = unix.Iovec{Base: &b.bufs[i*b.slot]}
		b.iovs[g.end].SetLen(int(b.lens[i]))
		b.iovSlot[g.end] = int32(i)
		g.end++
	}
	for m := range b.groups[:ng] {
		g := &b.groups[m]
		h := &b.msgs[m].hdr
		h.Name = &b.names[g.first][0]
		h.Namelen = b.namelen
		h.Iov = &b.iovs[g.end-g.n]
		h.SetIovlen(int(g.n))
		if g.n > 1 {
			off := m * cmsgSpace
			binary.NativeEndian.PutUint16(b.ctrl[off+unix.CmsgLen(0):], uint16(g.seg))
			h.Control = &b.ctrl[off]
			h.SetControllen(cmsgSpace)
		} else {
			h.Control = nil
			h.SetControllen(0)
		}
	}
	b.nmsg = ng
}

// split makes every packet from iovs[iov] on an entry of its own,
// starting at entry m, in iovec order (which keeps each destination's
// order); it is how a plan drops GSO for its unsent rest. It reads only
// iovs and iovSlot, so it may overwrite entries it has yet to pass.
func (b *batch) split(m, iov int) {
	for j := iov; j < b.n; j, m = j+1, m+1 {
		h := &b.msgs[m].hdr
		h.Name = &b.names[b.iovSlot[j]][0]
		h.Namelen = b.namelen
		h.Iov = &b.iovs[j]
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
		b.groups[m] = group{first: b.iovSlot[j], seg: b.lens[b.iovSlot[j]], n: 1, bytes: b.lens[b.iovSlot[j]], end: int32(j + 1)}
	}
	b.nmsg = m
}
