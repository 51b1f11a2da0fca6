package sfu_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/stats"
)

// receiver checks that a track's packets are consecutive copies of what
// the publisher sent.
type receiver struct {
	mu   sync.Mutex
	got  map[webrtc.RTPCodecType]int
	errs []error
	want int
	full chan struct{}
	once sync.Once
}

func newReceiver(want int) *receiver {
	return &receiver{got: map[webrtc.RTPCodecType]int{}, want: want, full: make(chan struct{})}
}

func (r *receiver) onTrack(t *client.RemoteTrack) {
	kind := t.Kind()
	size, tag := 600, byte('v')
	if kind == webrtc.RTPCodecTypeAudio {
		size, tag = 80, 'a'
	}
	var lastN uint32
	var lastSeq uint16
	first := true
	for {
		pkt, _, err := t.Track.ReadRTP()
		if err != nil {
			return
		}
		n := binary.BigEndian.Uint32(pkt.Payload[2:6])
		var err2 error
		switch {
		case !bytes.Equal(pkt.Payload, payload(n, tag, size)):
			err2 = fmt.Errorf("%s packet %d: payload differs", kind, n)
		case !first && n != lastN+1:
			err2 = fmt.Errorf("%s: packet %d after %d", kind, n, lastN)
		case !first && pkt.SequenceNumber != lastSeq+1:
			err2 = fmt.Errorf("%s: sequence number %d after %d", kind, pkt.SequenceNumber, lastSeq)
		}
		first, lastN, lastSeq = false, n, pkt.SequenceNumber
		r.mu.Lock()
		if err2 != nil {
			r.errs = append(r.errs, err2)
		}
		r.got[kind]++
		if r.got[webrtc.RTPCodecTypeAudio] >= r.want && r.got[webrtc.RTPCodecTypeVideo] >= r.want {
			r.once.Do(func() { close(r.full) })
		}
		r.mu.Unlock()
	}
}

func (r *receiver) wait(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	select {
	case <-r.full:
	case <-ctx.Done():
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("%s: got %v packets, want %d of each kind", name, r.got, r.want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		t.Errorf("%s: %v", name, err)
	}
}

func TestForwardOnePublisherThreeSubscribers(t *testing.T) {
	forwardOneToThree(t, sfu.Options{}, 1)
}

// TestForwardBatchSends is the same with the UDP writes batched (on
// Linux: sendmmsg, and UDP GSO for the packets of a frame to one
// subscriber), the publisher sending frames of six packets back-to-back.
func TestForwardBatchSends(t *testing.T) {
	forwardOneToThree(t, sfu.Options{BatchSends: true}, 6)
}

// TestForwardPionSRTP is the same with pion sealing and sending the
// subscribers' packets (Options.PionSRTP) instead of the engine's egress.
func TestForwardPionSRTP(t *testing.T) {
	forwardOneToThree(t, sfu.Options{PionSRTP: true}, 1)
}

// TestEgressSubscriberAsDTLSServer: a subscriber that answers
// a=setup:passive takes the DTLS server role, and then the engine does not
// see the handshake's server random; it leaves that connection's packets
// to pion, and they arrive all the same.
func TestEgressSubscriberAsDTLSServer(t *testing.T) {
	st := forwardWithDTLSServer(t, false)
	if st.SentPackets == 0 || st.SealedPackets != 0 {
		t.Errorf("%d packets sent, %d sealed by the engine; want all through pion", st.SentPackets, st.SealedPackets)
	}
}

// TestIngressPublisherAsDTLSServer: the same for a publisher; pion opens
// its packets, and they are forwarded all the same.
func TestIngressPublisherAsDTLSServer(t *testing.T) {
	st := forwardWithDTLSServer(t, true)
	if st.ReceivedPackets == 0 || st.OpenedPackets != 0 {
		t.Errorf("%d packets received, %d opened by the engine; want all through pion", st.ReceivedPackets, st.OpenedPackets)
	}
}

// forwardWithDTLSServer forwards a publisher to a subscriber, one of
// which (the publisher if pubServer) takes the DTLS server role, and
// returns the engine's counters once the subscriber received.
func forwardWithDTLSServer(t *testing.T, pubServer bool) stats.Snapshot {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	server, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, SettingEngine: func(s *webrtc.SettingEngine) {
		if err := s.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
			t.Error(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	pubAPI, subAPI := server, (*webrtc.API)(nil) // nil: the client's default
	if !pubServer {
		pubAPI, subAPI = nil, server
	}
	pub := newPublisher(t, "pub")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks(), API: pubAPI})
	pub.start(t, 5*time.Millisecond)
	rt := newRouter()
	rt.want = 100
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly", OnTrack: rt.onTrack, API: subAPI})
	rt.from(p.ConnectionID()).wait(t, ctx, "subscriber")
	return ts.engine.Stats()
}

func forwardOneToThree(t *testing.T, opts sfu.Options, perFrame int) {
	ts := newTestServer(t, opts)
	ctx := testContext(t, 30*time.Second)

	pub := newPublisher(t, "pub")
	pub.perFrame = perFrame
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 5*time.Millisecond)

	// The subscribers join while the publisher is already sending.
	var routers []*router
	for range 3 {
		rt := newRouter()
		rt.want = 100
		dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly", OnTrack: rt.onTrack})
		routers = append(routers, rt)
	}
	for i, rt := range routers {
		// Tracks are routed by msid stream id: receiving at all proves
		// it is the publisher's connection id.
		rt.from(p.ConnectionID()).wait(t, ctx, fmt.Sprintf("subscriber %d", i))
	}
	st := ts.engine.Stats()
	t.Logf("sent %d packets, %d sealed by the engine; send calls %d, GSO messages %d carrying %d packets, drops %d",
		st.SentPackets, st.SealedPackets, st.SendCalls, st.GSOMessages, st.GSOPackets, st.SendDrops)
	// The engine seals every packet itself unless told not to: its egress
	// starts before pion's SRTP session, so pion never sends one. Sealed
	// is read after sent, and also counts retransmissions.
	if opts.PionSRTP && st.SealedPackets != 0 || !opts.PionSRTP && (st.SentPackets == 0 || st.SealedPackets < st.SentPackets) {
		t.Errorf("PionSRTP %v: %d packets sent, %d sealed by the engine", opts.PionSRTP, st.SentPackets, st.SealedPackets)
	}
	// The ingress takes each published stream over after pion read its
	// first packets: all but those few are opened by the engine.
	t.Logf("received %d packets, %d opened by the engine, %d rejected", st.ReceivedPackets, st.OpenedPackets, st.OpenRejects)
	if opts.PionSRTP && st.OpenedPackets != 0 || !opts.PionSRTP && st.OpenedPackets+20 < st.ReceivedPackets || st.OpenRejects != 0 {
		t.Errorf("PionSRTP %v: %d packets received, %d opened by the engine, %d rejected", opts.PionSRTP, st.ReceivedPackets, st.OpenedPackets, st.OpenRejects)
	}
	wantBatched := opts.BatchSends && runtime.GOOS == "linux" // batching is Linux only
	if batched := st.SendCalls > 0; batched != wantBatched || st.SendDrops != 0 {
		t.Errorf("BatchSends %v: %d batched send calls, %d drops", opts.BatchSends, st.SendCalls, st.SendDrops)
	}
	// Frames of several packets written back-to-back reach the reader
	// queued: their packets to each subscriber leave as GSO messages.
	if wantBatched && perFrame > 1 && st.GSOMessages == 0 {
		t.Errorf("%d-packet frames with batched sends: no GSO message sent", perFrame)
	}
}

func TestVideoCodecs(t *testing.T) {
	caps := map[string]webrtc.RTPCodecCapability{
		"VP8": vp8Cap,
		"VP9": {MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"},
		"AV1": {MimeType: webrtc.MimeTypeAV1, ClockRate: 90000},
		"H264": {MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
	}
	ts := newTestServer(t, sfu.Options{})
	for name, cp := range caps {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t, 20*time.Second)
			pub := newPublisher(t, "pub")
			video, err := webrtc.NewTrackLocalStaticRTP(cp, "pub-video", "pub")
			if err != nil {
				t.Fatal(err)
			}
			pub.video = video
			p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: name, Role: "sendonly", VideoCodecType: name, Tracks: pub.tracks()})
			pub.start(t, 5*time.Millisecond)
			rt := newRouter()
			sub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: name, Role: "recvonly", OnTrack: rt.onTrack})
			rt.from(p.ConnectionID()).wait(t, ctx, "subscriber")
			for _, tr := range sub.RemoteTracks() {
				if tr.Kind() == webrtc.RTPCodecTypeVideo && tr.MimeType() != cp.MimeType {
					t.Errorf("subscriber got %s, want %s", tr.MimeType(), cp.MimeType)
				}
			}
		})
	}
}
