package forward

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pion/webrtc/v4"
)

// rtxCtx is a bindCtx whose subscriber negotiated RTX (payload type 121,
// apt 120) with SSRC 778.
type rtxCtx struct{ bindCtx }

func (c *rtxCtx) CodecParameters() []webrtc.RTPCodecParameters {
	rtx := webrtc.RTPCodecParameters{PayloadType: 121, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=120"}}
	return append(c.bindCtx.CodecParameters(), rtx)
}
func (c *rtxCtx) SSRCRetransmission() webrtc.SSRC { return 778 }

// TestProbeSendsRecentPacketsOnRTX: probing resends the newest packets
// the subscriber got, wrapped for its RTX stream: RTX SSRC and payload
// type, the RTX stream's own consecutive sequence numbers, and the
// original sequence number ahead of the original payload.
func TestProbeSendsRecentPacketsOnRTX(t *testing.T) {
	rec := &recorder{}
	src := NewSource(SourceConfig{ID: "v", StreamID: "pub", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo,
		RequestKeyFrame: func() {}})
	dt := NewDownTrack(src)
	if _, err := dt.Bind(&rtxCtx{bindCtx{ssrc: 777, pt: 120, writer: rec}}); err != nil {
		t.Fatal(err)
	}
	src.AddDownTrack(dt)
	// Nothing forwarded yet: padding-only RTX packets.
	if n := dt.Probe(1 << 20); n != maxProbePackets*maxPadding {
		t.Fatalf("Probe(1 MiB) sent %d bytes, want maxProbePackets (%d) of padding", n, maxProbePackets)
	}
	rec.take()
	if n := dt.Probe(1000); n != 4*maxPadding {
		t.Fatalf("probe before anything was forwarded sent %d bytes, want 4 packets of padding", n)
	}
	for i, p := range rec.take() {
		sn := uint16(maxProbePackets + i)
		if p.hdr.SSRC != 778 || p.hdr.PayloadType != 121 || p.hdr.SequenceNumber != sn || !p.hdr.Padding ||
			len(p.payload) != maxPadding || p.payload[maxPadding-1] != maxPadding {
			t.Errorf("padding probe %d: %+v, %d bytes; want RTX sn %d, padding only", i, p.hdr, len(p.payload), sn)
		}
	}
	for i := range uint16(5) {
		src.WritePacket(vp8Packet(100+i, 9000, i == 0, uint32(i)))
	}
	media := rec.take()
	if len(media) != 5 {
		t.Fatalf("forwarded %d packets, want 5", len(media))
	}
	n := dt.Probe(250) // the packets carry 100 bytes: three are needed
	probes := rec.take()
	if len(probes) != 3 || n != 3*102 || dt.ProbeBytes() != uint64(n+(maxProbePackets+4)*maxPadding) {
		t.Fatalf("Probe(250) sent %d packets, %d bytes (counted %d in all); want 3 packets of 102 bytes", len(probes), n, dt.ProbeBytes())
	}
	for i, p := range probes {
		orig := media[4-i]
		if sn := uint16(maxProbePackets + 4 + i); p.hdr.SSRC != 778 || p.hdr.PayloadType != 121 || p.hdr.SequenceNumber != sn || p.hdr.Padding {
			t.Errorf("probe %d: ssrc %d pt %d sn %d; want 778, 121, %d", i, p.hdr.SSRC, p.hdr.PayloadType, p.hdr.SequenceNumber, sn)
		}
		if osn := binary.BigEndian.Uint16(p.payload); osn != orig.hdr.SequenceNumber || !bytes.Equal(p.payload[2:], orig.payload) {
			t.Errorf("probe %d carries sn %d and %d bytes; want a copy of sn %d", i, osn, len(p.payload)-2, orig.hdr.SequenceNumber)
		}
		if p.hdr.Timestamp != orig.hdr.Timestamp {
			t.Errorf("probe %d: timestamp %d, the original's is %d", i, p.hdr.Timestamp, orig.hdr.Timestamp)
		}
	}
	// More asked than the history holds: the 5 copies, then padding
	// until the bytes asked for went out.
	pads := (5000 - 5*102 + maxPadding - 1) / maxPadding
	if n := dt.Probe(5000); n != 5*102+pads*maxPadding {
		t.Errorf("Probe(5000) sent %d bytes, want 5 copies and %d paddings", n, pads)
	}
	got := rec.take()
	for i, p := range got {
		if p.hdr.SequenceNumber != uint16(maxProbePackets+7+i) || p.hdr.Padding != (i >= 5) || i >= 5+pads {
			t.Errorf("probe %d of the last call: sn %d padding %v", i, p.hdr.SequenceNumber, p.hdr.Padding)
		}
	}
}

// TestProbeWithoutRTXDuplicates: a subscriber without RTX gets the
// probes as duplicates of media packets, same stream and numbers, which
// its jitter buffer drops.
func TestProbeWithoutRTXDuplicates(t *testing.T) {
	f := newFixture(t)
	f.src.WritePacket(vp8Packet(10, 1000, true, 1))
	f.src.WritePacket(vp8Packet(11, 1000, false, 2))
	media := f.rec.take()
	if n := f.dt.Probe(1); n != 100 {
		t.Fatalf("Probe(1) sent %d bytes, want one packet of 100", n)
	}
	got := f.rec.take()
	if len(got) != 1 || got[0].hdr.SSRC != 777 || got[0].hdr.SequenceNumber != media[1].hdr.SequenceNumber || !bytes.Equal(got[0].payload, media[1].payload) {
		t.Fatalf("probe %+v; want a duplicate of %+v", got, media[1])
	}
}
