package sfu_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
	"github.com/gosfu/sfu/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer is an engine behind the signaling handler on 127.0.0.1.
type testServer struct {
	engine *sfu.Engine
	url    string
}

func newTestServer(t *testing.T, o sfu.Options, hopts ...signaling.Option) *testServer {
	t.Helper()
	engine, url := sfutest.NewSignalingServer(t, o, hopts...)
	return &testServer{engine: engine, url: url}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a client and closes it at the end of the test.
func dial(t *testing.T, ctx context.Context, cfg client.Config) *client.Client {
	t.Helper()
	return sfutest.Dial(t, ctx, cfg)
}

var (
	vp8Cap  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	opusCap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
)

// publisher writes synthetic VP8 and Opus packets whose payloads are a
// function of a counter, so receivers can check every byte.
type publisher struct {
	sfutest.Pacer
	video, audio *webrtc.TrackLocalStaticRTP
	perFrame     int // video packets per frame, written back-to-back (default 1)
}

func newPublisher(t *testing.T, name string) *publisher {
	t.Helper()
	v, err := webrtc.NewTrackLocalStaticRTP(vp8Cap, name+"-video", name)
	if err != nil {
		t.Fatal(err)
	}
	a, err := webrtc.NewTrackLocalStaticRTP(opusCap, name+"-audio", name)
	if err != nil {
		t.Fatal(err)
	}
	return &publisher{video: v, audio: a}
}

func (p *publisher) tracks() []webrtc.TrackLocal { return []webrtc.TrackLocal{p.audio, p.video} }

// start sends a video frame (perFrame packets) and an audio packet every
// interval until halted.
func (p *publisher) start(t *testing.T, interval time.Duration) {
	perFrame := max(p.perFrame, 1)
	vn := uint32(0)
	p.Run(t, interval, func(n uint32) {
		for i := range perFrame {
			_ = p.video.WriteRTP(&rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: uint16(vn), Timestamp: n * 3000, Marker: i == perFrame-1},
				Payload: payload(vn, 'v', 600),
			})
			vn++
		}
		_ = p.audio.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 960},
			Payload: payload(n, 'a', 80),
		})
	})
}

// payload is packet n's payload: a VP8-like first byte, the counter, then
// a pattern derived from both.
func payload(n uint32, kind byte, size int) []byte {
	b := make([]byte, size)
	b[0] = 0x10
	b[1] = kind
	binary.BigEndian.PutUint32(b[2:], n)
	for i := 6; i < size; i++ {
		b[i] = byte(n*31 + uint32(i)*7)
	}
	return b
}
