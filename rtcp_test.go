package sfu_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// rtcpLog collects the RTCP a publishing client receives.
type rtcpLog struct {
	mu    sync.Mutex
	remb  []float32
	plis  int
	rrs   int
	ready chan struct{}
	once  sync.Once
	done  func(*rtcpLog) bool
}

func (l *rtcpLog) add(_ webrtc.TrackLocal, pkts []rtcp.Packet) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			l.remb = append(l.remb, p.Bitrate)
		case *rtcp.PictureLossIndication:
			l.plis++
		case *rtcp.ReceiverReport:
			l.rrs++
		}
	}
	if l.done(l) {
		l.once.Do(func() { close(l.ready) })
	}
}

func (l *rtcpLog) wait(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case <-l.ready:
	case <-time.After(d):
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Fatalf("publisher never saw %s: REMBs %v, PLIs %d, RRs %d", what, l.remb, l.plis, l.rrs)
	}
}

// Publishers are told their allowed bit rate by REMB (the connect's
// video.bit_rate, else Options.MaxUpstreamBitrate) and get receiver
// reports; a subscriber's PLI reaches the publisher.
func TestPublisherFeedback(t *testing.T) {
	ts := newTestServer(t, sfu.Options{MaxUpstreamBitrate: 3_000_000})
	ctx := testContext(t, 20*time.Second)
	for _, tt := range []struct {
		name    string
		bitRate int
		want    float32
	}{{"default", 0, 3_000_000}, {"video.bit_rate", 800, 800_000}} {
		t.Run(tt.name, func(t *testing.T) {
			log := &rtcpLog{ready: make(chan struct{}), done: func(l *rtcpLog) bool { return len(l.remb) > 0 && l.rrs > 0 }}
			pub := newPublisher(t, "p")
			dial(t, ctx, client.Config{URL: ts.url, ChannelID: tt.name, Role: "sendonly", VideoCodecType: "VP8",
				VideoBitRate: tt.bitRate, Tracks: pub.tracks(), OnSenderRTCP: log.add})
			pub.start(t, 5*time.Millisecond)
			log.wait(t, 10*time.Second, "a REMB and a receiver report")
			log.mu.Lock()
			defer log.mu.Unlock()
			if log.remb[0] != tt.want {
				t.Errorf("REMB %v bps, want %v", log.remb[0], tt.want)
			}
		})
	}
}

func TestSubscriberPLIReachesPublisher(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 20*time.Second)
	log := &rtcpLog{ready: make(chan struct{}), done: func(l *rtcpLog) bool { return l.plis > 0 }}
	pub := newPublisher(t, "p")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "pli", Role: "sendonly", VideoCodecType: "VP8",
		Tracks: pub.tracks(), OnSenderRTCP: log.add})
	pub.start(t, 5*time.Millisecond)
	rt := newRouter()
	sub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "pli", Role: "recvonly", OnTrack: rt.onTrack})
	rt.from(p.ConnectionID()).wait(t, ctx, "subscriber")

	// Wait out the 500 ms key-frame throttle (a clock, not an event), so
	// that only the subscriber's PLI can reach the publisher after the
	// count is reset; then ask as a decoder would.
	for _, tr := range sub.RemoteTracks() {
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			time.Sleep(600 * time.Millisecond)
			log.mu.Lock()
			log.plis = 0
			log.mu.Unlock()
			pli := &rtcp.PictureLossIndication{MediaSSRC: uint32(tr.Track.SSRC())}
			if err := sub.PeerConnection().WriteRTCP([]rtcp.Packet{pli}); err != nil {
				t.Fatal(err)
			}
		}
	}
	log.wait(t, 5*time.Second, "the subscriber's PLI")
}
