package forward

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// TransportCCURI is the RTP header extension carrying transport-wide
// sequence numbers (draft-holmer-rmcat-transport-wide-cc-extensions-01).
// When a subscriber's session negotiated it, the egress numbers every
// packet it sends on the connection, across all its down-tracks, so the
// subscriber's transport-cc feedback reports each packet's arrival.
const TransportCCURI = sdp.TransportCCURI

// transportCCID returns the id negotiated for TransportCCURI, or 0.
func transportCCID(exts []webrtc.RTPHeaderExtensionParameter) uint8 {
	for _, e := range exts {
		if e.URI == TransportCCURI && e.ID > 0 && e.ID < 15 {
			return uint8(e.ID)
		}
	}
	return 0
}

// transportSeq numbers one connection's packets for transport-cc and
// remembers when each of the last sentRing was sent, for the feedback.
// The writers of all its down-tracks share it: the number is
// transport-wide.
type transportSeq struct {
	next atomic.Uint32
	// sent packs, per number modulo sentRing, the number (16 bits), the
	// size (16) and the send time in microseconds of monoNow (32, which
	// wraps every 71 minutes: only differences within seconds are used).
	// 8 KiB a connection; at 2 Mbit/s of 1200-byte packets it covers the
	// last 5 s, longer than any feedback takes.
	sent [sentRing]atomic.Uint64
}

const sentRing = 1024

// take returns the next transport-wide sequence number and records the
// packet's size and send time (monoNow nanoseconds; 0: now) under it.
func (s *transportSeq) take(size int, at int64) uint16 {
	n := uint16(s.next.Add(1) - 1)
	if at == 0 {
		at = monoNow()
	}
	us := uint32(at / 1000)
	s.sent[n%sentRing].Store(uint64(n)<<48 | uint64(min(size, 0xffff))<<32 | uint64(us))
	return n
}

// Sent returns when the packet numbered seq was sent (on the engine's
// monotonic clock, modulo 2^32 microseconds) and its size, false if it is
// no longer, or was never, recorded.
func (s *transportSeq) lookup(seq uint16) (time.Duration, int, bool) {
	v := s.sent[seq%sentRing].Load()
	if v == 0 || uint16(v>>48) != seq {
		return 0, 0, false
	}
	return time.Duration(uint32(v)) * time.Microsecond, int(uint16(v >> 32)), true
}

// Sent returns how many packets were numbered: the next number, modulo
// 2^16, is uint16(Sent()).
func (s *transportSeq) Sent() uint32 { return s.next.Load() }

// stamper puts the transport-wide sequence number on a down-track's
// packets. It writes into a header of its own, whose extension slice is
// made once, so that a packet costs a counter increment and a copy of
// the header's fixed fields, and no allocation.
type stamper struct {
	id  uint8
	seq *transportSeq
	buf [2]byte
	hdr rtp.Header
}

func newStamper(id uint8, seq *transportSeq) *stamper {
	s := &stamper{id: id, seq: seq}
	_ = s.hdr.SetExtension(id, s.buf[:]) // id < 15, 2 bytes: cannot fail
	return s
}

// stamp returns h with the next transport-wide sequence number. A header
// with CSRCs or extensions of its own (not the down-tracks') is numbered
// in place.
func (s *stamper) stamp(h *rtp.Header, size int, at int64) *rtp.Header {
	binary.BigEndian.PutUint16(s.buf[:], s.seq.take(size, at))
	if len(h.CSRC) != 0 || h.Extension {
		_ = h.SetExtension(s.id, s.buf[:])
		return h
	}
	x := &s.hdr
	x.Version, x.Padding, x.Marker = h.Version, h.Padding, h.Marker
	x.PayloadType, x.SequenceNumber = h.PayloadType, h.SequenceNumber
	x.Timestamp, x.SSRC = h.Timestamp, h.SSRC
	return x
}
