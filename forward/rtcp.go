package forward

import (
	"time"

	"github.com/pion/rtcp"
)

// recvStats are the RFC 3550 (A.1, A.3, A.8) reception statistics of a
// source, updated per packet by the reader under Source.stateMu.
type recvStats struct {
	ssrc        uint32
	started     bool
	maxSeq      uint16
	cycles      uint32 // sequence-number wraps, shifted left by 16
	baseSeq     uint32
	received    uint32
	lastTransit int64
	jitter      float64 // in clock units

	expectedPrior, receivedPrior uint32

	lastSR   uint32 // middle 32 bits of the publisher's last SR NTP time
	lastSRAt int64  // monoNow when it arrived
	srRTP    uint32 // RTP time of that SR
}

// senderClockMaxAge bounds how old a publisher's sender report may be for
// its RTP clock to time the down-tracks' reports (publishers send one
// every few seconds; older means the publisher stopped sending them).
const senderClockMaxAge = 15 * time.Second

func (r *recvStats) update(ssrc uint32, seq uint16, ts uint32, at int64, clockRate uint32) {
	if !r.started || ssrc != r.ssrc {
		*r = recvStats{ssrc: ssrc, started: true, maxSeq: seq, baseSeq: uint32(seq)}
	} else if d := seq - r.maxSeq; d < 1<<15 {
		if seq < r.maxSeq {
			r.cycles += 1 << 16
		}
		r.maxSeq = seq
	}
	r.received++
	// Arrival in clock units; microseconds first so that the product
	// stays far from overflow.
	arrival := at / 1000 * int64(clockRate) / 1e6
	transit := arrival - int64(ts)
	if r.received > 1 {
		d := transit - r.lastTransit
		if d < 0 {
			d = -d
		}
		r.jitter += (float64(d) - r.jitter) / 16
	}
	r.lastTransit = transit
}

// rolloverFor guesses the SRTP rollover counter (RFC 3711 section 3.3.1)
// of the packet with sequence number seq from the packets read so far, as
// a receiver guesses the index of a packet: the one nearest to the
// highest read. A stream starts at 0.
func (s *Source) rolloverFor(seq uint16) uint32 {
	s.stateMu.Lock()
	r := s.stats
	s.stateMu.Unlock()
	if !r.started {
		return 0
	}
	roc := r.cycles >> 16
	ahead := seq-r.maxSeq < 1<<15
	switch {
	case ahead && seq < r.maxSeq:
		roc++ // past a wrap
	case !ahead && seq > r.maxSeq && roc > 0:
		roc-- // from before the last wrap
	}
	return roc
}

// ReceptionReport returns the reception report block for this source's
// publisher, and false before any packet arrived. It advances the
// "interval" counters used for the fraction lost, so call it once per
// report.
func (s *Source) ReceptionReport() (rtcp.ReceptionReport, bool) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	r := &s.stats
	if !r.started {
		return rtcp.ReceptionReport{}, false
	}
	extMax := r.cycles + uint32(r.maxSeq)
	expected := extMax - r.baseSeq + 1
	lost := int64(expected) - int64(r.received)
	lost = max(min(lost, 0x7fffff), 0)
	expInt := expected - r.expectedPrior
	recvInt := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	var fraction uint8
	if lostInt := int64(expInt) - int64(recvInt); expInt > 0 && lostInt > 0 {
		fraction = uint8(lostInt << 8 / int64(expInt))
	}
	rr := rtcp.ReceptionReport{
		SSRC: r.ssrc, FractionLost: fraction, TotalLost: uint32(lost),
		LastSequenceNumber: extMax, Jitter: uint32(r.jitter),
	}
	if r.lastSRAt != 0 {
		rr.LastSenderReport = r.lastSR
		// Delay since that SR in units of 1/65536 s.
		rr.Delay = uint32((monoNow() - r.lastSRAt) * 65536 / int64(time.Second))
	}
	return rr, true
}

// OnSenderReport records the publisher's sender report for the LSR/DLSR
// fields of later reception reports and as the RTP clock of the
// down-tracks' sender reports.
func (s *Source) OnSenderReport(sr *rtcp.SenderReport) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if sr.SSRC != s.stats.ssrc {
		return
	}
	s.stats.lastSR = uint32(sr.NTPTime >> 16)
	s.stats.lastSRAt = monoNow()
	s.stats.srRTP = sr.RTPTime
}

// senderClock returns the RTP time of the publisher's last sender report
// and when it arrived (monoNow), if one arrived within senderClockMaxAge
// of now.
func (s *Source) senderClock(now int64) (rtpTime uint32, at int64, ok bool) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	r := &s.stats
	if r.lastSRAt == 0 || now-r.lastSRAt > int64(senderClockMaxAge) {
		return 0, 0, false
	}
	return r.srRTP, r.lastSRAt, true
}

// SenderReport returns a sender report for this down-track as the
// subscriber sees it (rewritten SSRC, packet and payload octet counts),
// and false before anything was sent. Its RTP time is the publisher's
// clock: extrapolated from the publisher's last sender report, rewritten
// like the packets, so that the subscriber syncs audio and video as the
// publisher captured them (every stream is off by the same network delay
// only); without a recent report, from the last forwarded packet's
// timestamp and arrival, which is late by the encoding and pacing delay.
func (d *DownTrack) SenderReport(now time.Time) (*rtcp.SenderReport, bool) {
	b := d.bound.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	if b == nil || d.packets == 0 {
		return nil, false
	}
	mono := monoNow()
	rtpTime := d.lastTS + d.ticks(mono-d.lastAt)
	if src := d.cur.Load(); src != nil {
		if srRTP, at, ok := src.senderClock(mono); ok {
			rtpTime = srRTP + d.tsOff + d.ticks(mono-at)
		}
	}
	return &rtcp.SenderReport{
		SSRC: b.ssrc, NTPTime: ntpTime(now), RTPTime: rtpTime,
		PacketCount: uint32(d.packets), OctetCount: uint32(d.octets),
	}, true
}

// ticks converts a duration in nanoseconds (negative counts as 0) to
// RTP clock units.
func (d *DownTrack) ticks(ns int64) uint32 {
	return uint32(max(ns, 0) / 1000 * int64(d.clockRate) / 1e6)
}

// ntpTime converts t to the 64-bit NTP format (seconds since 1900, 32.32).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	ns := t.UnixNano()
	sec := uint64(ns/1e9) + ntpEpochOffset
	frac := uint64(ns%1e9) << 32 / 1e9
	return sec<<32 | frac
}

// HandleNACK answers a subscriber's NACK: every requested packet still in
// the source history is sent again with its original down-track sequence
// number, in the same stream (same SSRC and payload type; no RTX). A
// packet is resent at most maxResends times, and not again within
// resendGap: a receiver behind a full queue NACKs faster than its answers
// arrive, and answering each NACK would keep the queue full of
// retransmissions. It returns the number of packets resent.
func (d *DownTrack) HandleNACK(n *rtcp.TransportLayerNack) int {
	sent := 0
	for i := range n.Nacks {
		n.Nacks[i].Range(func(sn uint16) bool {
			if d.retransmit(sn) {
				sent++
			}
			return true
		})
	}
	return sent
}

// retransmit resends down-track sequence number sn from the history of
// the source it was forwarded from.
func (d *DownTrack) retransmit(sn uint16) bool {
	b := d.bound.Load()
	if b == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.packets == 0 || int16(sn-d.lastSN) > 0 || b != d.bnd {
		return false
	}
	seg, ok := d.segmentOf(sn)
	if !ok {
		return false
	}
	if d.nackBuf == nil {
		d.nackBuf = make([]byte, nackBufSize)
	}
	if d.resends == nil {
		d.resends = new(resendRing)
	}
	now := monoNow()
	r := &d.resends[sn%resendSlots]
	if r.sn != sn || r.count == 0 {
		*r = resend{sn: sn}
	} else if r.count >= maxResends || now-r.at < int64(resendGap) {
		return false
	}
	n, ts, marker, ok := seg.src.fromHistory(sn-seg.snOff, d.nackBuf)
	if !ok {
		return false
	}
	d.rtxHdr = d.hdr
	d.rtxHdr.SequenceNumber = sn
	d.rtxHdr.Timestamp = ts + seg.tsOff
	d.rtxHdr.Marker = marker
	d.rtxHdr.Padding = false // the history keeps payloads unpadded
	if _, err := b.writer.WriteRTP(&d.rtxHdr, d.nackBuf[:n]); err != nil {
		return false
	}
	r.count++
	r.at = now
	d.retransmits++
	return true
}

// How often one packet is resent: at most maxResends times, resendGap
// apart (about a round trip on a queued path).
const (
	maxResends = 3
	resendGap  = 100 * time.Millisecond
)

// resendRing remembers, per down-track sequence number modulo
// resendSlots, when that packet was last resent and how often.
type resendRing [resendSlots]resend

const resendSlots = 512

type resend struct {
	at    int64 // monoNow of the last resend
	sn    uint16
	count uint8
}
