package forward

// maxPad bounds the padding equalize adds to a packet. Packetizers that
// split a frame about equally (libwebrtc) make sizes differ by one byte.
const maxPad = 2

// equalize pads p, a non-final video packet of a frame, with RTP padding
// up to the size of its frame's other packets, so that the frame's
// packets to each subscriber can leave as one UDP GSO message: GSO needs
// equal segments (only the last may be smaller), and libwebrtc's
// packetizer makes the first packets of a frame one byte smaller than
// the rest. The target is the largest payload seen in the frame so far,
// and one byte more than the first packet's, betting that it is one of
// the smaller ones. If the bet is wrong, nothing is lost: the frame
// takes the two GSO messages it would have taken anyway. The packet
// grows in place, in pkt's spare capacity; p.padding says by how much.
//
// It pads only when pad is set: when p's writes are held in the batch,
// or join writes that were. A packet sent on its own gains nothing.
// The target follows every packet either way.
func (s *Source) equalize(p *packet, pkt []byte, end int, pad bool) {
	n := len(p.payload)
	if p.ts != s.padTS {
		s.padTS, s.padTo = p.ts, n+1
	} else if n > s.padTo {
		s.padTo = n
	}
	k := s.padTo - n
	if !pad || p.marker || k <= 0 || k > maxPad || end+k > cap(pkt) {
		return
	}
	tail := pkt[end : end+k]
	clear(tail)
	tail[k-1] = byte(k) // RFC 3550 5.1: the last octet counts the padding
	p.payload = pkt[end-n : end+k]
	p.padding = k
}
