package bwe

import (
	"time"

	"github.com/pion/rtcp"
)

// maxFeedbackPackets bounds the packets one feedback may report on: the
// status count is the sender's (the subscriber's) claim.
const maxFeedbackPackets = 4096

// SentLookup returns when the packet with a transport-wide sequence
// number was sent and its size, false for one the engine no longer (or
// never) recorded.
type SentLookup func(seq uint16) (sentAt time.Duration, size int, ok bool)

// FromTransportCC appends to dst the packets a transport-cc feedback
// reports on whose sending was recorded, in sequence order, and returns
// it. Statuses past the feedback's deltas, and packets not found by sent,
// are skipped.
func FromTransportCC(dst []Packet, fb *rtcp.TransportLayerCC, sent SentLookup) []Packet {
	count := min(int(fb.PacketStatusCount), maxFeedbackPackets)
	arrival := time.Duration(fb.ReferenceTime) * 64 * time.Millisecond
	seq, deltas := fb.BaseSequenceNumber, fb.RecvDeltas
	status := func(symbol uint16) bool { // false: stop
		if count == 0 {
			return false
		}
		count--
		p := Packet{}
		if symbol == rtcp.TypeTCCPacketReceivedSmallDelta || symbol == rtcp.TypeTCCPacketReceivedLargeDelta {
			if len(deltas) == 0 {
				return false
			}
			arrival += time.Duration(deltas[0].Delta) * time.Microsecond
			deltas = deltas[1:]
			p.Received, p.ArrivedAt = true, arrival
		}
		if at, size, ok := sent(seq); ok {
			p.SentAt, p.Size = at, size
			dst = append(dst, p)
		}
		seq++
		return true
	}
	for _, c := range fb.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for range c.RunLength {
				if !status(c.PacketStatusSymbol) {
					return dst
				}
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if c.SymbolSize == rtcp.TypeTCCSymbolSizeOneBit && s != 0 {
					s = rtcp.TypeTCCPacketReceivedSmallDelta
				}
				if !status(s) {
					return dst
				}
			}
		}
	}
	return dst
}
