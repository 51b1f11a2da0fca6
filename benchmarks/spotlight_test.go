package benchmarks

import (
	"encoding/binary"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/spotlight"
)

// levelStream produces a publisher's audio packets carrying the RFC 6464
// audio-level extension (one-byte header, id 1), in one reused buffer.
type levelStream struct {
	buf []byte
	sn  uint16
}

func newLevelStream(level byte) *levelStream {
	h := rtp.Header{Version: 2, PayloadType: 111, SSRC: 7}
	if err := h.SetExtension(1, []byte{0x80 | level}); err != nil {
		panic(err)
	}
	b, err := (&rtp.Packet{Header: h, Payload: make([]byte, 80)}).Marshal()
	if err != nil {
		panic(err)
	}
	return &levelStream{buf: b}
}

func (s *levelStream) next() []byte {
	s.sn++
	binary.BigEndian.PutUint16(s.buf[2:], s.sn)
	binary.BigEndian.PutUint32(s.buf[4:], uint32(s.sn)*960)
	return s.buf
}

// countingMeter is the engine's spotlight meter, counting its calls.
type countingMeter struct {
	spotlight.Meter
	n int
}

func (m *countingMeter) AddLevel(level uint8) {
	m.n++
	m.Meter.AddLevel(level)
}

// audioFanout is an audio source whose levels feed sink, with n bound
// down-tracks; the first withheld of them do not forward audio, as for
// the unfocused senders of a spotlight channel. (The codec parameters
// only have to match the binding; the level path does not look at them.)
func audioFanout(tb testing.TB, n, withheld int, sink forward.AudioLevelSink) (*forward.Source, []*forward.DownTrack) {
	cfg := forward.SourceConfig{ID: "a", StreamID: "pub", Codec: vp8, Kind: webrtc.RTPCodecTypeAudio}
	if sink != nil {
		cfg.AudioLevel, cfg.AudioLevelID = sink, 1
	}
	src := forward.NewSource(cfg)
	dts := make([]*forward.DownTrack, n)
	for i := range dts {
		dts[i] = bindDownTrack(tb, src, newCtx(i, true))
		if i < withheld {
			p := &forward.Policy{}
			p.SetWithheld(webrtc.RTPCodecTypeAudio, true)
			dts[i].SetPolicy(p)
		}
	}
	return src, dts
}

// TestForwardZeroAllocsSpotlight: with spotlight on, an audio packet's
// level goes to the sender's meter and the packet to its focused
// receivers (and not to the others) without a heap allocation.
func TestForwardZeroAllocsSpotlight(t *testing.T) {
	m := &countingMeter{}
	src, dts := audioFanout(t, 10, 5, m)
	s := newLevelStream(30)
	src.WritePacket(s.next())
	allocs := testing.AllocsPerRun(1000, func() { src.WritePacket(s.next()) })
	if allocs != 0 {
		t.Errorf("%v allocations per forwarded packet, want 0", allocs)
	}
	if m.n != 1002 {
		t.Errorf("meter got %d levels, want 1002", m.n)
	}
	for i, d := range dts {
		want := uint64(1002)
		if i < 5 {
			want = 0
		}
		if d.Packets() != want {
			t.Errorf("down-track %d (withheld %v): %d packets, want %d", i, i < 5, d.Packets(), want)
		}
	}
}

// BenchmarkAudioLevelRead is the forwarding path's cost of reading an
// audio packet's level into a spotlight meter: one source without
// down-tracks, with and without the meter.
func BenchmarkAudioLevelRead(b *testing.B) {
	for _, bc := range []struct {
		name string
		sink forward.AudioLevelSink
	}{{"baseline", nil}, {"meter", &spotlight.Meter{}}} {
		b.Run(bc.name, func(b *testing.B) {
			src, _ := audioFanout(b, 0, 0, bc.sink)
			s := newLevelStream(30)
			b.ReportAllocs()
			for b.Loop() {
				src.WritePacket(s.next())
			}
		})
	}
}
