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
	if n := dt.Probe(1000); n != 0 {
		t.Fatalf("Probe before anything was forwarded sent %d bytes", n)
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
	if len(probes) != 3 || n != 3*102 {
		t.Fatalf("Probe(250) sent %d packets, %d bytes; want 3 packets of 102 bytes", len(probes), n)
	}
	for i, p := range probes {
		orig := media[4-i]
		if sn := uint16(i); p.hdr.SSRC != 778 || p.hdr.PayloadType != 121 || p.hdr.SequenceNumber != sn || p.hdr.Padding {
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
		if p.hdr.SequenceNumber != uint16(3+i) || p.hdr.Padding != (i >= 5) || i >= 5+pads {
			t.Errorf("probe %d of the last call: sn %d padding %v", i, p.hdr.SequenceNumber, p.hdr.Padding)
		}
	}

	// Paused: nothing to copy, padding only, at most maxProbePackets.
	p := &Policy{}
	p.SetPaused(webrtc.RTPCodecTypeVideo, true)
	dt.SetPolicy(p)
	src.WritePacket(vp8Packet(105, 12000, false, 5))
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("paused down-track forwarded %d packets", len(got))
	}
	if n := dt.Probe(1 << 20); n != maxProbePackets*maxPadding {
		t.Fatalf("paused: Probe(1 MiB) sent %d bytes, want %d paddings", n, maxProbePackets)
	}
	for i, p := range rec.take() {
		if p.hdr.SSRC != 778 || p.hdr.PayloadType != 121 || !p.hdr.Padding ||
			len(p.payload) != maxPadding || p.payload[maxPadding-1] != maxPadding {
			t.Fatalf("paused probe %d: %+v, %d bytes; want RTX padding only", i, p.hdr, len(p.payload))
		}
	}
}

// TestProbeWithoutRTX: a subscriber without RTX gets no probe at all:
// copies on the media stream would fail its SRTP replay check.
func TestProbeWithoutRTX(t *testing.T) {
	f := newFixture(t)
	f.src.WritePacket(vp8Packet(10, 1000, true, 1))
	f.rec.take()
	if n := f.dt.Probe(1000); n != 0 {
		t.Fatalf("Probe without RTX sent %d bytes", n)
	}
	if got := f.rec.take(); len(got) != 0 {
		t.Fatalf("Probe without RTX wrote %d packets", len(got))
	}
}
