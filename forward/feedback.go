package forward

import (
	"github.com/pion/rtcp"
)

// FeedbackHandler takes the transport-cc feedback a subscriber sends.
type FeedbackHandler interface {
	TransportCC(fb *rtcp.TransportLayerCC)
}

// SetFeedbackHandler makes the ingress open the SRTCP its connection
// sends (from Start on) and hand every transport-cc feedback in it to h,
// in the socket reader. A packet of nothing but transport-cc feedback
// (what browsers send, reduced-size) is taken: pion never sees it, which
// saves its SRTCP session and a reader goroutine per subscription their
// work on the most frequent RTCP there is. Any other packet goes on to
// pion as before, after h got its feedback, if any.
//
// The feedback must be taken here, not from pion's RTCP readers, for
// another reason: a browser addresses it to the SSRC of the last packet
// it received, which after a probe (DownTrack.Probe) is an RTX stream,
// and pion drops RTCP addressed to a stream it does not read.
func (in *Ingress) SetFeedbackHandler(h FeedbackHandler) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.feedback = h
}

// isRTCP reports whether p looks like an RTCP packet: version 2 and an
// RTCP packet type (RFC 5761 section 4).
func isRTCP(p []byte) bool {
	return len(p) >= 8 && p[0]>>6 == 2 && p[1] >= 192 && p[1] <= 223
}

// openRTCP decrypts a copy of SRTCP packet p and hands its transport-cc
// feedback to the handler. It reports whether p held nothing else (then
// the ingress takes it). Called by the socket's reader only.
func (in *Ingress) openRTCP(p []byte) bool {
	in.mu.Lock()
	h, ctx := in.feedback, in.ctx
	if h == nil || ctx == nil || in.stopped {
		in.mu.Unlock()
		return false
	}
	if in.rtcpBuf == nil {
		in.rtcpBuf = make([]byte, MaxPacketSize)
	}
	plain, err := ctx.DecryptRTCP(in.rtcpBuf[:0], p, &in.rtcpHdr)
	in.mu.Unlock()
	if err != nil {
		return false // pion's to judge
	}
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		return false
	}
	only := true
	for _, pkt := range pkts {
		if fb, ok := pkt.(*rtcp.TransportLayerCC); ok {
			h.TransportCC(fb)
		} else {
			only = false
		}
	}
	return only
}

// Active reports whether the ingress has started (and not stopped): it
// opens its streams and, with a FeedbackHandler, takes the feedback.
func (in *Ingress) Active() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ctx != nil && !in.stopped
}
