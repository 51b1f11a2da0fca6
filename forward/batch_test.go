package forward

import (
	"testing"

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
		idle   = int64(0)       // the previous fan-out ended long ago
		queued = int64(1) << 62 // ... ended "after" this packet arrived
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
