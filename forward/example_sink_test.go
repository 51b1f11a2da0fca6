package forward_test

import (
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
)

// frameCounter is an in-process sink: it counts the frames and key
// frames of a stream, as a recorder would cut files at key frames.
type frameCounter struct{ frames, keyFrames int }

func (c *frameCounter) WriteRTP(p *forward.SinkPacket) {
	// Runs on the forwarding path: count, never block or keep p.
	if p.Marker {
		c.frames++
	}
	if p.KeyFrame {
		c.keyFrames++
	}
}

// A Sink sees every packet a Source forwards, as a subscriber's
// down-track does (the engine's Channel.AddSink attaches one to a
// publisher's stream).
func ExampleSink() {
	src := forward.NewSource(forward.SourceConfig{ID: "video", Kind: webrtc.RTPCodecTypeVideo,
		Codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}})
	counter := &frameCounter{}
	src.AddSink(counter)

	for i := range 3 {
		key := byte(0x01) // VP8 inter frame
		if i == 0 {
			key = 0x00 // VP8 key frame
		}
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: uint32(i) * 3000, Marker: true},
			Payload: []byte{0x10, key, 0x9d, 0x01, 0x2a, 0, 0, 0, 0, 0}}
		b, _ := pkt.Marshal()
		src.WritePacket(b)
	}
	fmt.Printf("%d frames, %d key frame\n", counter.frames, counter.keyFrames)
	// Output: 3 frames, 1 key frame
}
