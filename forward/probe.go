package forward

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"
)

// nackBufSize fits a packet from the history behind RTX's two bytes of
// original sequence number.
const nackBufSize = MaxPacketSize + 2

// maxProbePackets bounds the packets one Probe call sends: the recent
// history it copies is short, and a caller pacing probes calls often.
const maxProbePackets = 64

// rtxBinding is the RTX stream (RFC 4588) a video down-track's subscriber
// negotiated: its SSRC, payload type and writer (a writer of its own,
// because an SRTP sealer follows one stream's packet index).
type rtxBinding struct {
	ssrc        uint32
	payloadType uint8
	writer      webrtc.TrackLocalWriter
	sn          uint16 // the RTX stream's own sequence numbers
}

// rtxPayloadType returns the payload type of the RTX codec whose apt is
// pt among codecs, or 0.
func rtxPayloadType(codecs []webrtc.RTPCodecParameters, pt uint8) uint8 {
	for _, c := range codecs {
		if !strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			continue
		}
		for _, kv := range strings.Split(c.SDPFmtpLine, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "apt="); ok {
				if n, err := strconv.Atoi(v); err == nil && n == int(pt) {
					return uint8(c.PayloadType)
				}
			}
		}
	}
	return 0
}

// Probe sends about n bytes of probing traffic to the subscriber on its
// RTX stream: copies of the packets the down-track sent last, newest
// first, or padding-only packets when there is nothing to copy (the
// down-track is paused, or its history moved on). A receiver drops the
// copies as already received, so they cost nothing but bandwidth, while
// its transport-cc feedback reports their arrival like any packet's:
// what a bandwidth estimate needs to see whether the downlink carries
// more than the media sent now. A subscriber without RTX gets no probe:
// copies on the media stream would fail its SRTP replay check and be
// reported lost, and padding there would take sequence numbers from the
// media. It returns the bytes sent: 0 for an audio down-track, one
// without RTX, or one that has not forwarded anything yet.
func (d *DownTrack) Probe(n int) int {
	b := d.bound.Load()
	if b == nil || b.rtx == nil || n <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nackBuf == nil {
		d.nackBuf = make([]byte, nackBufSize)
	}
	if d.packets == 0 {
		return 0
	}
	sent, k := 0, uint16(0)
	if b == d.bnd && !d.paused && !d.needKey {
		for ; sent < n && k < maxProbePackets; k++ {
			size, ok := d.probeOne(b, d.lastSN-k)
			if !ok {
				break
			}
			sent += size
		}
	}
	for ; sent < n && k < maxProbePackets; k++ {
		size, ok := d.padOne(b)
		if !ok {
			break
		}
		sent += size
	}
	return sent
}

// maxPadding is the most padding one packet carries: its last octet
// counts the padding (RFC 3550 5.1).
const maxPadding = 255

// padOne sends one padding-only packet on b's RTX stream. Called with
// d.mu held.
func (d *DownTrack) padOne(b *binding) (int, bool) {
	h := &d.rtxHdr
	*h = d.hdr
	h.SSRC, h.PayloadType, h.SequenceNumber = b.rtx.ssrc, b.rtx.payloadType, b.rtx.sn
	h.Timestamp, h.Marker, h.Padding = d.lastTS, false, true
	pad := d.nackBuf[:maxPadding]
	clear(pad)
	pad[maxPadding-1] = maxPadding
	if _, err := b.rtx.writer.WriteRTP(h, pad); err != nil {
		return 0, false
	}
	b.rtx.sn++
	return maxPadding, true
}

// probeOne sends down-track packet sn again from the history, wrapped
// for b's RTX stream. Called with d.mu held.
func (d *DownTrack) probeOne(b *binding, sn uint16) (int, bool) {
	seg, ok := d.segmentOf(sn)
	if !ok {
		return 0, false
	}
	// RTX carries the original sequence number in the payload's first
	// two bytes.
	buf := d.nackBuf[:nackBufSize]
	n, ts, marker, ok := seg.src.fromHistory(sn-seg.snOff, buf[2:])
	if !ok {
		return 0, false
	}
	binary.BigEndian.PutUint16(buf, sn)
	h := &d.rtxHdr
	*h = d.hdr
	h.SSRC, h.PayloadType, h.SequenceNumber = b.rtx.ssrc, b.rtx.payloadType, b.rtx.sn
	h.Timestamp, h.Marker, h.Padding = ts+seg.tsOff, marker, false
	if _, err := b.rtx.writer.WriteRTP(h, buf[:2+n]); err != nil {
		return 0, false
	}
	b.rtx.sn++
	return 2 + n, true
}

// bindRTX gives b the RTX stream of a video binding, if the subscriber
// negotiated RTX for its codec and pion gave the sender an RTX SSRC.
func (d *DownTrack) bindRTX(ctx webrtc.TrackLocalContext, b *binding) {
	ssrc := uint32(ctx.SSRCRetransmission())
	pt := rtxPayloadType(ctx.CodecParameters(), b.payloadType)
	if d.kind != webrtc.RTPCodecTypeVideo || ssrc == 0 || pt == 0 {
		return
	}
	r := &rtxBinding{ssrc: ssrc, payloadType: pt, writer: ctx.WriteStream()}
	if d.egress != nil {
		r.writer = d.egress.writer(r.writer, transportCCID(ctx.HeaderExtensions()))
	}
	b.rtx = r
}
