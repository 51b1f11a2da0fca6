package forward

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// payloadSink keeps the last packet a source handed it.
type payloadSink struct {
	got     bool
	payload []byte
}

func (s *payloadSink) WriteRTP(p *SinkPacket) {
	s.got, s.payload = true, append(s.payload[:0], p.Payload...)
}

// FuzzSourcePacket feeds a video source (with a down-track, a sink and an
// audio-level reader) arbitrary bytes as publisher RTP: header
// extensions, CSRCs, padding. It must never panic, and whatever it
// forwards must be the packet's payload without its padding, as pion's
// parser reads it.
func FuzzSourcePacket(f *testing.F) {
	for _, seed := range [][]byte{
		vp8Packet(1, 3000, true, 1),
		vp8Packet(2, 6000, false, 2),
		withLevel(),
		{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},
		{0xb0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		levels := &levelCount{}
		src := NewSource(SourceConfig{ID: "v", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo, AudioLevel: levels, AudioLevelID: 1})
		rec := &recorder{}
		dt := NewDownTrack(src)
		if _, err := dt.Bind(&bindCtx{ssrc: 1, writer: rec}); err != nil {
			t.Fatal(err)
		}
		src.AddDownTrack(dt)
		sink := &payloadSink{}
		src.AddSink(sink)
		in := bytes.Clone(pkt)
		src.WritePacket(in)
		if !sink.got {
			return
		}
		var want rtp.Packet
		if err := want.Unmarshal(bytes.Clone(pkt)); err != nil {
			t.Fatalf("forwarded a packet pion cannot parse: %v", err)
		}
		if !bytes.Equal(sink.payload, want.Payload) {
			t.Fatalf("forwarded payload %x, want %x", sink.payload, want.Payload)
		}
		for _, s := range rec.take() {
			if !bytes.Equal(s.payload, want.Payload) {
				t.Fatalf("down-track wrote %x, want %x", s.payload, want.Payload)
			}
		}
	})
}

type levelCount struct{ n int }

func (l *levelCount) AddLevel(uint8) { l.n++ }

// withLevel is a VP8 packet with an audio-level extension, two CSRCs and
// three bytes of padding.
func withLevel() []byte {
	p := &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, CSRC: []uint32{1, 2}, SequenceNumber: 3},
		Payload: []byte{0x10, 0, 1, 2}, PaddingSize: 3}
	if err := p.SetExtension(1, []byte{0x90}); err != nil {
		panic(err)
	}
	b, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzKeyFrame runs every codec's key-frame detection on arbitrary
// payloads: none may panic or read past the payload, and an empty
// payload is never a key frame.
func FuzzKeyFrame(f *testing.F) {
	for _, seed := range [][]byte{
		{0x10, 0x00, 0x9d, 0x01, 0x2a}, // VP8 key frame
		{0x88, 0x00},                   // VP9 start of a frame
		{0x18, 0x0a, 0x0b},             // AV1 with a sequence header
		{0x65, 0x88},                   // H264 IDR
		{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, // H264 STAP-A with SPS, PPS
		{0x7c, 0x85}, // H264 FU-A start of an IDR
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, k := range []codecKind{codecKindOf(webrtc.MimeTypeVP8), codecKindOf(webrtc.MimeTypeVP9),
			codecKindOf(webrtc.MimeTypeAV1), codecKindOf(webrtc.MimeTypeH264), codecKindOf(webrtc.MimeTypeOpus)} {
			// A cap equal to the length makes any read past it panic.
			key := isKeyFrame(k, p[:len(p):len(p)])
			if len(p) == 0 && key {
				t.Fatalf("empty payload is a key frame for codec %v", k)
			}
		}
	})
}

// FuzzRTX unwraps arbitrary RTX packets (RFC 4588) as the ingress does
// after opening them: no panic, and what comes out is an RTP packet of
// the media stream whose sequence number is the RTX payload's first two
// bytes and whose payload is the rest, without the padding.
func FuzzRTX(f *testing.F) {
	f.Add(rtxSeed(false))
	f.Add(rtxSeed(true))
	f.Add([]byte{0xa0, 0x61, 0, 1, 0, 0, 0, 0, 0, 0, 0x0b, 0xee, 0, 0, 0, 4}) // padding only
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var h rtp.Header
		if _, err := h.Unmarshal(pkt); err != nil {
			return // the ingress only unwraps what SRTP opened and parsed
		}
		var in rtp.Packet
		inErr := in.Unmarshal(bytes.Clone(pkt))
		out := unwrapRTX(bytes.Clone(pkt), 0xabc, 96)
		if out == nil {
			return
		}
		var got rtp.Packet
		if err := got.Unmarshal(out); err != nil {
			t.Fatalf("unwrapped packet does not parse: %v", err)
		}
		if inErr != nil || len(in.Payload) < 2 {
			t.Fatalf("unwrapped a packet pion rejects (%v) or without an original sequence number", inErr)
		}
		if got.SSRC != 0xabc || got.PayloadType != 96 || got.SequenceNumber != uint16(in.Payload[0])<<8|uint16(in.Payload[1]) {
			t.Fatalf("unwrapped header %+v", got.Header)
		}
		if !bytes.Equal(got.Payload, in.Payload[2:]) {
			t.Fatalf("unwrapped payload %x, want %x", got.Payload, in.Payload[2:])
		}
	})
}

func rtxSeed(padding bool) []byte {
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 97, SequenceNumber: 9, SSRC: 0xbee},
		Payload: []byte{0, 42, 0x10, 1, 2, 3}}
	if padding {
		p.Padding, p.PaddingSize = true, 4
	}
	if err := p.SetExtension(3, []byte{7}); err != nil {
		panic(err)
	}
	b, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}
