package forward

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

type levelLog []uint8

func (l *levelLog) AddLevel(level uint8) { *l = append(*l, level) }

// A source hands every packet's audio-level extension (under the
// negotiated id) to its sink; packets without it add nothing.
func TestSourceAudioLevels(t *testing.T) {
	var levels levelLog
	src := NewSource(SourceConfig{Codec: vp8, Kind: webrtc.RTPCodecTypeAudio, AudioLevel: &levels, AudioLevelID: 3})
	for i, ext := range []struct {
		id    uint8
		level byte
	}{{3, 0x80 | 30}, {5, 10}, {3, 90}, {0, 0}} {
		h := rtp.Header{Version: 2, SequenceNumber: uint16(i), SSRC: 1}
		if ext.id != 0 {
			if err := h.SetExtension(ext.id, []byte{ext.level}); err != nil {
				t.Fatal(err)
			}
		}
		b, err := (&rtp.Packet{Header: h, Payload: []byte{1, 2, 3}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		src.WritePacket(b)
	}
	if want := []uint8{0x80 | 30, 90}; string(levels) != string(want) {
		t.Errorf("levels %v, want %v", levels, want)
	}
}

// Withholding (spotlight) stops a kind like a pause, independently of
// the user's pause, and the stream resumes at a key frame with sequence
// numbers continuing.
func TestDownTrackWithheld(t *testing.T) {
	f := newFixture(t)
	pol := &Policy{}
	f.dt.SetPolicy(pol)
	f.src.WritePacket(vp8Packet(1, 0, true, 1))
	pol.SetWithheld(webrtc.RTPCodecTypeVideo, true)
	f.src.WritePacket(vp8Packet(2, 3000, true, 2))
	pol.SetPaused(webrtc.RTPCodecTypeVideo, true)
	pol.SetWithheld(webrtc.RTPCodecTypeVideo, false)
	f.src.WritePacket(vp8Packet(3, 6000, true, 3)) // still paused
	pol.SetPaused(webrtc.RTPCodecTypeVideo, false)
	f.src.WritePacket(vp8Packet(4, 9000, false, 4)) // waits for a key frame
	f.src.WritePacket(vp8Packet(5, 12000, true, 5))
	got := f.rec.take()
	var counters []uint32
	for _, p := range got {
		counters = append(counters, counter(p))
	}
	if want := []uint32{1, 5}; !equal(counters, want) {
		t.Fatalf("forwarded %v, want %v", counters, want)
	}
	checkContinuous(t, got)
	if pol.Paused(webrtc.RTPCodecTypeVideo) || pol.Withheld(webrtc.RTPCodecTypeAudio) {
		t.Error("state leaked between pause and withhold, or between kinds")
	}
}
