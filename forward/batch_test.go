package forward

import (
	"bytes"
	"slices"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// runLog records the runs a Source opens on its Batch.
type runLog struct {
	open  int
	ends  []bool // the flush argument of each End
	inRun []int  // packets the down-track's writer saw when each End came
	rec   *recorder
}

func (b *runLog) Begin() { b.open++ }

func (b *runLog) End(flush bool) {
	b.open--
	b.ends = append(b.ends, flush)
	b.inRun = append(b.inRun, len(b.rec.pkts))
}

// TestSourceHoldsQueuedBurstUntilFrameEnd checks when a Source lets the
// batch keep its writes: only for a video packet that is not the end of
// its frame and whose successors are most likely queued: it was queued
// itself, or it starts a frame and the previous frame came in one burst.
// A frame's last packet, the packets of a paced publisher and audio leave
// at once.
func TestSourceHoldsQueuedBurstUntilFrameEnd(t *testing.T) {
	f := newFixture(t)
	log := &runLog{rec: f.rec}
	f.src.cfg.Batch = log

	const (
		idle   = -int64(1) << 62 // the previous fan-out ended long ago (0 would be right after the package's clock started)
		queued = int64(1) << 62  // ... ended "after" this packet arrived
	)
	steps := []struct {
		ts       uint32
		lastDone int64
		marker   bool
		flush    bool
	}{
		{3000, idle, false, true},    // first frame, reader idle: nothing known yet
		{3000, queued, false, false}, // the rest of the frame was waiting
		{3000, queued, false, false},
		{3000, queued, true, true},  // end of frame
		{6000, idle, false, false},  // the previous frame was a burst: so is this one
		{6000, queued, true, true},  // end of frame
		{9000, idle, false, false},  // still bursty...
		{9000, idle, false, true},   // ...but this frame's packets come one by one
		{9000, idle, true, true},    // end of frame
		{12000, idle, false, true},  // a paced frame: sent at once
		{12000, queued, true, true}, // end of frame
	}
	for i, s := range steps {
		p := vp8Packet(uint16(100+i), s.ts, i == 0, uint32(i))
		if s.marker {
			p[1] |= 0x80
		}
		f.src.lastDone = s.lastDone
		f.src.WritePacket(p)
		if got := log.ends[i]; got != s.flush {
			t.Errorf("packet %d: End(%v), want End(%v)", i, got, s.flush)
		}
		if log.inRun[i] != i+1 {
			t.Errorf("packet %d: End came after %d writes, want %d (each End after its fan-out)", i, log.inRun[i], i+1)
		}
	}
	if log.open != 0 {
		t.Errorf("%d runs left open", log.open)
	}

	// Audio frames are single packets: never held.
	audio := NewSource(SourceConfig{Codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000}},
		Kind: webrtc.RTPCodecTypeAudio})
	alog := &runLog{rec: &recorder{}}
	audio.cfg.Batch = alog
	audio.lastDone = queued
	audio.WritePacket(vp8Packet(1, 960, false, 1))
	if len(alog.ends) != 1 || !alog.ends[0] {
		t.Errorf("audio packet: ends %v, want one End(true)", alog.ends)
	}
}

// sizedVP8 is a marshalled VP8 inter-frame packet with a payload of size
// bytes, in a buffer with room to spare (as Source.Run reads them).
func sizedVP8(sn uint16, ts uint32, marker bool, size int) []byte {
	b := make([]byte, 12+size, MaxPacketSize)
	b[0], b[1] = 0x80, 100
	if marker {
		b[1] |= 0x80
	}
	b[2], b[3] = byte(sn>>8), byte(sn)
	b[4], b[5], b[6], b[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	b[12], b[13] = 0x10, 0x01 // S=1; P=1: inter frame
	for i := 14; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

// TestSourceEqualizesFramePackets: with a batch, a frame's packets that
// are one byte short of the others get one byte of RTP padding, so that
// they can share a GSO message; the last packet is never padded, and
// NACK answers go out unpadded.
func TestSourceEqualizesFramePackets(t *testing.T) {
	f := newFixture(t)
	f.src.cfg.Batch = &runLog{rec: f.rec}
	f.src.writePacket(sizedVP8(9, 0, true, 120)) // a key frame first: the down-track waits for one
	f.src.writePacket(func() []byte { b := sizedVP8(10, 0, true, 120); b[13] = 0; return b }())
	f.rec.take()

	const (
		queued = int64(1) << 62  // the previous fan-out ended "after" this packet arrived
		idle   = -int64(1) << 62 // ... long before
	)
	frames := []struct {
		paced bool  // each packet finds the reader idle
		sizes []int // the last one carries the marker
		want  []int // payload sizes sent, padding included
	}{
		// libwebrtc's split, smaller packets first: the first such frame
		// only shows the pattern; from the next one on, the first
		// packets are padded up from the start.
		{false, []int{100, 100, 101, 101, 101}, []int{100, 100, 101, 101, 101}},
		{false, []int{100, 100, 101, 101, 101}, []int{101, 101, 101, 101, 101}},
		{false, []int{100, 100, 100}, []int{101, 101, 100}}, // the bet, all equal: the last may be smaller
		{false, []int{120, 120, 80}, []int{121, 121, 80}},   // the bet is still on (harmless); a short last packet turns it off
		{false, []int{120, 120, 80}, []int{120, 120, 80}},   // full packets then a short one (pion): nothing to do
		{false, []int{101, 100, 100}, []int{101, 101, 100}}, // larger first: the next is padded up to it
		{false, []int{100, 90, 100}, []int{100, 90, 100}},   // too short to pad: left alone
		{false, []int{100, 101, 101}, []int{100, 101, 101}},
		// A publisher that paces its packets: the first paced frame's
		// first packet is still held (the previous frame came in a
		// burst), and the next joins it; after that nothing is held and
		// nothing padded, bet or not.
		{true, []int{100, 100, 101}, []int{101, 101, 101}},
		{true, []int{100, 100, 101}, []int{100, 100, 101}},
	}
	sn, ts := uint16(11), uint32(3000)
	var padded *sent // the first padded packet
	for i, fr := range frames {
		var sent []int
		for j, n := range fr.sizes {
			pkt := sizedVP8(sn, ts, j == len(fr.sizes)-1, n)
			orig := append([]byte(nil), pkt[12:]...)
			f.src.lastDone = queued
			if fr.paced {
				f.src.lastDone = idle
			}
			f.src.writePacket(pkt)
			got := f.rec.take()
			if len(got) != 1 {
				t.Fatalf("frame %d packet %d: %d packets sent", i, j, len(got))
			}
			p := got[0]
			sent = append(sent, len(p.payload))
			pad := len(p.payload) - n
			if pad > 0 && padded == nil {
				padded = &p
			}
			if p.hdr.Padding != (pad > 0) || !bytes.Equal(p.payload[:n], orig) ||
				pad > 0 && int(p.payload[len(p.payload)-1]) != pad {
				t.Errorf("frame %d packet %d: P bit %v, %d bytes of padding, content intact %v",
					i, j, p.hdr.Padding, pad, bytes.Equal(p.payload[:n], orig))
			}
			sn++
		}
		if !slices.Equal(sent, fr.want) {
			t.Errorf("frame %d: sizes %v sent as %v, want %v", i, fr.sizes, sent, fr.want)
		}
		ts += 3000
	}

	// A NACK for a padded packet: resent as received, without padding.
	f.dt.HandleNACK(&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: padded.hdr.SequenceNumber}}})
	want := padded.payload[:len(padded.payload)-int(padded.payload[len(padded.payload)-1])]
	if got := f.rec.take(); len(got) != 1 || got[0].hdr.Padding || !bytes.Equal(got[0].payload, want) {
		t.Errorf("NACK answer: %d packets, want one with the unpadded payload and no P bit", len(got))
	}

	// Without a batch (no GSO) nothing is padded.
	f.src.cfg.Batch = nil
	f.src.writePacket(sizedVP8(sn, ts, false, 100))
	f.src.writePacket(sizedVP8(sn+1, ts, true, 101))
	if got := f.rec.take(); len(got) != 2 || got[0].hdr.Padding || len(got[0].payload) != 100 {
		t.Errorf("without a batch: %d packets, first padded %v", len(got), len(got) > 0 && got[0].hdr.Padding)
	}
}
