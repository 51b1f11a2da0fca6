package forward

// maxPad bounds the padding equalize adds to a packet. Packetizers that
// split a frame about equally (libwebrtc) make sizes differ by one byte.
const maxPad = 2

// equalize pads p, a non-final video packet of a frame, with RTP padding
// up to the size of its frame's other packets, so that the frame's
// packets to each subscriber can leave as one UDP GSO message: GSO needs
// equal segments (only the last may be smaller), and libwebrtc's
// packetizer makes the first packets of a frame one byte smaller than
// the rest. The target is the largest payload seen in the frame so far.
// For the first packet it is one byte more than its own size once the
// publisher has sent a frame whose later packets were larger than its
// first: a bet that this one is one of the smaller ones too. The bet
// stays on through frames of equal packets, and goes off at a frame of
// full packets and a shorter last one (pion's packetizer), which would
// only gain a useless byte per packet. If a bet is wrong, nothing is
// lost: the frame takes the two GSO messages it would have anyway. The packet grows in
// place, in pkt's spare capacity; p.padding says by how much.
//
// It pads only when pad is set: when p's writes are held in the batch,
// or join writes that were. A packet sent on its own gains nothing.
// The frame's sizes are followed either way.
func (s *Source) equalize(p *packet, pkt []byte, end int, pad bool) {
	n := len(p.payload)
	f := &s.frameSizes
	if p.ts != f.ts || f.count == 0 {
		switch {
		case f.count < 2:
		case f.grew:
			f.bet = true
		case f.last < f.first:
			f.bet = false // full packets, then a short one
		}
		*f = frameSizes{ts: p.ts, first: n, target: n, bet: f.bet}
		if f.bet {
			f.target++
		}
	}
	f.count++
	f.last = n
	f.grew = f.grew || n > f.first
	f.target = max(f.target, n)
	k := f.target - n
	if !pad || p.marker || k <= 0 || k > maxPad || end+k > cap(pkt) {
		return
	}
	tail := pkt[end : end+k]
	clear(tail)
	tail[k-1] = byte(k) // RFC 3550 5.1: the last octet counts the padding
	p.payload = pkt[end-n : end+k]
	p.padding = k
}

// frameSizes is what equalize follows of the current frame.
type frameSizes struct {
	ts     uint32
	count  int  // packets seen
	first  int  // the first one's payload size
	last   int  // the latest one's
	target int  // the size to pad to
	grew   bool // a packet after the first was larger than it
	bet    bool // pad the first packet of this frame (see equalize)
}
