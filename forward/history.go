package forward

// DefaultHistorySize is the number of recent packets a video source keeps
// for NACK answers: about a second of a 2 Mbit/s stream, longer than the
// round trip in which a retransmission is still useful.
const DefaultHistorySize = 256

// history is a ring of the most recent packets of a source, indexed by
// sequence number. All memory is allocated once; put copies the payload
// into a fixed slot, so recording a packet never allocates. It is not
// safe for concurrent use: the Source guards it with its stateMu.
type history struct {
	buf  []byte // len(meta) slots of MaxPacketSize bytes
	meta []histMeta
	mask uint16
}

type histMeta struct {
	sn     uint16
	n      uint16 // payload length
	ts     uint32
	marker bool
	valid  bool
}

// newHistory returns a ring of size slots (rounded up to a power of two,
// at most 32768 so that a slot is never confused with one a full
// sequence-number cycle away).
func newHistory(size int) *history {
	n := 1
	for n < size && n < 1<<15 {
		n <<= 1
	}
	return &history{buf: make([]byte, n*MaxPacketSize), meta: make([]histMeta, n), mask: uint16(n - 1)}
}

func (h *history) put(sn uint16, ts uint32, marker bool, payload []byte) {
	if len(payload) > MaxPacketSize {
		return
	}
	i := int(sn & h.mask)
	copy(h.buf[i*MaxPacketSize:], payload)
	h.meta[i] = histMeta{sn: sn, n: uint16(len(payload)), ts: ts, marker: marker, valid: true}
}

// get copies packet sn's payload into dst (at least MaxPacketSize long).
func (h *history) get(sn uint16, dst []byte) (n int, ts uint32, marker, ok bool) {
	i := int(sn & h.mask)
	m := h.meta[i]
	if !m.valid || m.sn != sn {
		return 0, 0, false, false
	}
	n = copy(dst, h.buf[i*MaxPacketSize:i*MaxPacketSize+int(m.n)])
	return n, m.ts, m.marker, true
}
