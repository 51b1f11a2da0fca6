package main

import (
	"math/bits"
	"sync"
)

// Latency histogram: log-linear buckets over nanoseconds, 8 sub-buckets
// per power of two (at most 12.5 % relative error), values clamped to
// 2^40 ns (about 18 minutes).
const (
	histSubBits = 3
	histSub     = 1 << histSubBits
	histMaxExp  = 40
	histBuckets = (histMaxExp-histSubBits+1)*histSub + histSub
)

// histogram counts latencies in fixed buckets.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64
	max    uint64
}

func histIndex(v uint64) int {
	if v >= 1<<histMaxExp {
		v = 1<<histMaxExp - 1
	}
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 1
	m := (v >> (e - histSubBits)) & (histSub - 1)
	return (e-histSubBits+1)*histSub + int(m)
}

// histMid returns the middle of bucket i.
func histMid(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub + histSubBits - 1
	m := uint64(i % histSub)
	w := uint64(1) << (e - histSubBits)
	return (histSub+m)<<(e-histSubBits) + w/2
}

func (h *histogram) add(v uint64) {
	h.counts[histIndex(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

// merge adds o to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// sub removes the earlier snapshot o from h (h's max is kept).
func (h *histogram) sub(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] -= c
	}
	h.n -= o.n
	h.sum -= o.sum
}

// quantile returns the q-quantile (0 < q <= 1) in nanoseconds, 0 when
// empty.
func (h *histogram) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histMid(i), h.max)
		}
	}
	return h.max
}

// dupWindow is how many counters behind the highest one a stream
// remembers, to tell duplicates from late packets.
const (
	dupWindowWords = 64
	dupWindow      = dupWindowWords * 64
)

// stream is what one subscriber received from one publisher's track of
// one kind. The reader goroutine is the only writer; snapshots lock mu.
type stream struct {
	mu       sync.Mutex
	started  bool
	first    uint64 // first counter seen
	next     uint64 // highest counter seen + 1
	received uint64 // all packets with a probe, duplicates included
	unique   uint64
	dups     uint64
	reorder  uint64 // arrived after a higher counter
	late     uint64 // older than dupWindow: counted as lost
	keys     uint64 // key-frame starts (video)
	lat      histogram
	frameLat histogram              // packets that end a frame (marker): frame completion
	seen     [dupWindowWords]uint64 // ring bitmap of counters
	lastAt   int64                  // arrival of the previous packet
	gapMax   int64                  // longest time between two arrivals (a freeze)
}

// record accounts one packet with probe counter c received at now; last
// marks the packet that ends its frame.
func (s *stream) record(c uint64, sent, now int64, key, last bool) {
	s.mu.Lock()
	s.received++
	if s.lastAt != 0 {
		s.gapMax = max(s.gapMax, now-s.lastAt)
	}
	s.lastAt = now
	if key {
		s.keys++
	}
	switch {
	case !s.started:
		s.started = true
		s.first, s.next = c, c+1
		s.mark(c)
		s.unique++
	case c >= s.next:
		for i, k := s.next, uint64(0); i < c && k < dupWindow; i, k = i+1, k+1 {
			s.clear(i)
		}
		s.mark(c)
		s.next = c + 1
		s.unique++
	case c < s.first || s.next-c > dupWindow:
		s.late++
	case s.isMarked(c):
		s.dups++
	default:
		s.mark(c)
		s.unique++
		s.reorder++
	}
	if d := now - sent; d >= 0 {
		s.lat.add(uint64(d))
		if last {
			s.frameLat.add(uint64(d))
		}
	}
	s.mu.Unlock()
}

func (s *stream) mark(c uint64)          { s.seen[(c/64)%dupWindowWords] |= 1 << (c % 64) }
func (s *stream) clear(c uint64)         { s.seen[(c/64)%dupWindowWords] &^= 1 << (c % 64) }
func (s *stream) isMarked(c uint64) bool { return s.seen[(c/64)%dupWindowWords]&(1<<(c%64)) != 0 }

// streamSnap is a consistent copy of a stream's counters.
type streamSnap struct {
	expected, received, unique, dups, reorder, late, keys uint64
	lat, frameLat                                         histogram
	gapMax                                                int64
}

// snapshot copies the counters into out; resetMax then restarts the
// latency and gap maxima, so that the next snapshot's maximum covers only the
// time since.
func (s *stream) snapshot(out *streamSnap, resetMax bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		out.expected = s.next - s.first
	}
	out.received, out.unique, out.dups = s.received, s.unique, s.dups
	out.reorder, out.late, out.keys = s.reorder, s.late, s.keys
	out.lat, out.frameLat, out.gapMax = s.lat, s.frameLat, s.gapMax
	if s.lastAt != 0 {
		out.gapMax = max(out.gapMax, monoNow()-s.lastAt) // a stream that went silent
	}
	if resetMax {
		s.lat.max, s.frameLat.max, s.gapMax = 0, 0, 0
	}
}

// lost is expected minus unique, never negative.
func (x *streamSnap) lost() uint64 {
	if x.unique >= x.expected {
		return 0
	}
	return x.expected - x.unique
}

// delta returns end - start (the latency maximum is end's).
func delta(end, start *streamSnap) streamSnap {
	d := *end
	d.expected -= start.expected
	d.received -= start.received
	d.unique -= start.unique
	d.dups -= start.dups
	d.reorder -= start.reorder
	d.late -= start.late
	d.keys -= start.keys
	d.lat.sub(&start.lat)
	d.frameLat.sub(&start.frameLat)
	return d
}

// add accumulates o into x.
func (x *streamSnap) add(o *streamSnap) {
	x.expected += o.expected
	x.received += o.received
	x.unique += o.unique
	x.dups += o.dups
	x.reorder += o.reorder
	x.late += o.late
	x.keys += o.keys
	x.lat.merge(&o.lat)
	x.frameLat.merge(&o.frameLat)
	x.gapMax = max(x.gapMax, o.gapMax)
}
