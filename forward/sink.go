package forward

import "sync/atomic"

// Sink receives a published stream's packets from the fan-out, as a
// down-track does, for consumers other than subscribers: the UDP RTP
// forwarder ([UDPSink]), or an embedder's recorder or transcriber.
//
// WriteRTP is called on the forwarding path, once per packet, in the
// stream's order, never concurrently for one source. It must not block,
// allocate or keep p or its payload after it returns: a sink that has
// slow work copies what it needs into a queue of its own and drops when
// that is full.
type Sink interface {
	WriteRTP(p *SinkPacket)
}

// SinkPacket is one RTP packet as the publisher sent it, without its
// header extensions and padding. Sequence numbers are continuous: the
// padding-only packets a publisher sends to probe bandwidth are not
// forwarded, and later numbers close their gaps.
type SinkPacket struct {
	PayloadType    uint8
	SequenceNumber uint16
	Timestamp      uint32
	SSRC           uint32
	Marker         bool
	// KeyFrame reports whether the packet starts a key frame (video).
	KeyFrame bool
	Payload  []byte
}

// sinks is a source's copy-on-write list of sinks.
type sinks struct {
	list atomic.Pointer[[]Sink]
}

// AddSink attaches k; it receives packets from the next one on.
// Attaching an attached sink does nothing.
func (s *Source) AddSink(k Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.sinkList()
	for _, x := range old {
		if x == k {
			return
		}
	}
	next := make([]Sink, len(old), len(old)+1)
	copy(next, old)
	next = append(next, k)
	s.sinks.list.Store(&next)
}

// RemoveSink detaches k. It reports whether k was attached. When it
// returns, k gets no further packet from this source's next packet on.
func (s *Source) RemoveSink(k Sink) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.sinkList()
	for i, x := range old {
		if x == k {
			next := make([]Sink, 0, len(old)-1)
			next = append(next, old[:i]...)
			next = append(next, old[i+1:]...)
			s.sinks.list.Store(&next)
			return true
		}
	}
	return false
}

func (s *Source) sinkList() []Sink {
	if l := s.sinks.list.Load(); l != nil {
		return *l
	}
	return nil
}

// toSinks hands p to every sink. Under s.inMu.
func (s *Source) toSinks(p *packet) {
	list := s.sinkList()
	if len(list) == 0 {
		return
	}
	sp := &s.sinkPkt
	*sp = SinkPacket{PayloadType: s.hdr.PayloadType, SequenceNumber: p.sn, Timestamp: p.ts,
		SSRC: s.hdr.SSRC, Marker: p.marker, KeyFrame: p.keyFrame, Payload: p.payload}
	for _, k := range list {
		k.WriteRTP(sp)
	}
}
