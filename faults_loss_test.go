package sfu_test

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/sfutest"
)

// counterLog records which video counters (the payload's bytes 2..6) a
// subscriber received.
type counterLog struct {
	mu   sync.Mutex
	seen map[uint32]bool
	last uint32
}

func (l *counterLog) add(n uint32) (gap bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	gap = len(l.seen) > 0 && n > l.last+1
	l.seen[n] = true
	l.last = max(l.last, n)
	return gap
}

// missing counts the counters in [from, to] not received.
func (l *counterLog) missing(from, to uint32) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for i := from; i <= to; i++ {
		if !l.seen[i] {
			n++
		}
	}
	return n
}

// high returns the highest counter received.
func (l *counterLog) high() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// TestPublisherLossRecoveredByNACK: 5 % of the publisher's packets are
// lost on their way to the server. The server asks for them again (NACK),
// so subscribers miss less than 0.5 % of them, while their PLIs (one at
// every gap they see, as a naive decoder would send) reach the publisher
// at most once per key-frame interval.
func TestPublisherLossRecoveredByNACK(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 60*time.Second)

	udp := sfutest.ListenFaulty(t)
	var plis struct {
		sync.Mutex
		n int
	}
	pub := newPublisher(t, "lossy")
	video := &resender{track: pub.video}
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "l", Role: "sendonly", VideoCodecType: "VP8",
		Tracks: pub.tracks(), API: sfutest.ConnAPI(t, udp, client.APIOptions{}),
		OnSenderRTCP: func(_ webrtc.TrackLocal, pkts []rtcp.Packet) {
			for _, pk := range pkts {
				if nk, ok := pk.(*rtcp.TransportLayerNack); ok {
					for _, pr := range nk.Nacks {
						for _, sn := range pr.PacketList() {
							video.resend(sn)
						}
					}
				}
				if _, ok := pk.(*rtcp.PictureLossIndication); ok {
					plis.Lock()
					plis.n++
					plis.Unlock()
				}
			}
		}})

	const subs = 2
	logs := make([]*counterLog, subs)
	ready := make(chan struct{}, subs)
	for i := range logs {
		l := &counterLog{seen: map[uint32]bool{}}
		logs[i] = l
		var sub *client.Client
		var once sync.Once
		sub = dial(t, ctx, client.Config{URL: ts.url, ChannelID: "l", Role: "recvonly", OnTrack: func(tr *client.RemoteTrack) {
			if tr.Kind() != webrtc.RTPCodecTypeVideo {
				for {
					if _, _, err := tr.Track.ReadRTP(); err != nil {
						return
					}
				}
			}
			pli := []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.Track.SSRC())}}
			for {
				pkt, _, err := tr.Track.ReadRTP()
				if err != nil {
					return
				}
				if len(pkt.Payload) < 6 {
					continue
				}
				once.Do(func() { ready <- struct{}{} })
				if l.add(binary.BigEndian.Uint32(pkt.Payload[2:6])) {
					_ = sub.PeerConnection().WriteRTCP(pli)
				}
			}
		}})
	}
	// Loss starts once both subscribers receive, so that every lost
	// packet is one they wait for.
	video.start(t, &pub.Pacer, 10*time.Millisecond, 3)
	for range subs {
		select {
		case <-ready:
		case <-ctx.Done():
			t.Fatal("subscribers receive no video")
		}
	}
	first := lastCounter(logs) + 1
	plis.Lock()
	plis.n = 0
	plis.Unlock()
	start := time.Now()
	udp.SetLoss(0.05)
	sfutest.Eventually(t, ctx, "3,000 video packets sent under loss", func() bool { return lastCounter(logs) >= first+3000 })
	udp.SetLoss(0)
	elapsed := time.Since(start)
	last := lastCounter(logs)
	// Everything up to last was sent before the loss stopped; give
	// retransmissions in flight their round trips.
	sfutest.Eventually(t, ctx, "the stream going on after the loss", func() bool { return lastCounter(logs) >= last+100 })
	pub.Halt()

	dropped := udp.Dropped()
	nacks := ts.engine.Stats().NACKsSent
	if nacks == 0 {
		t.Error("the server sent the publisher no NACK")
	}
	want := int(last - first + 1)
	for i, l := range logs {
		miss := l.missing(first, last)
		t.Logf("subscriber %d: %d of %d video packets missing (%.2f %%)", i, miss, want, 100*float64(miss)/float64(want))
		if float64(miss) >= 0.005*float64(want) {
			t.Errorf("subscriber %d missed %d of %d packets (>= 0.5 %%)", i, miss, want)
		}
	}
	plis.Lock()
	n := plis.n
	plis.Unlock()
	allowed := int(elapsed/forward.DefaultKeyFrameInterval) + 2
	t.Logf("publisher: %d packets dropped; %d NACKs from the server; %d PLIs in %v",
		dropped, nacks, n, elapsed.Round(time.Millisecond))
	if dropped < uint64(want)/40 {
		t.Errorf("only %d packets were dropped: the loss did not happen", dropped)
	}
	if n > allowed {
		t.Errorf("publisher got %d PLIs in %v, want at most %d (one per %v)", n, elapsed, allowed, forward.DefaultKeyFrameInterval)
	}
}

// resender writes perFrame video packets every interval and, as a
// publisher does, resends the recent ones a NACK asks for, on the same
// stream (as libwebrtc does without RTX).
type resender struct {
	track *webrtc.TrackLocalStaticRTP
	mu    sync.Mutex
	sent  [1024]*rtp.Packet
}

func (r *resender) start(t *testing.T, p *sfutest.Pacer, interval time.Duration, perFrame int) {
	vn := uint32(0)
	p.Run(t, interval, func(n uint32) {
		for i := range perFrame {
			pkt := &rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: uint16(vn), Timestamp: n * 3000, Marker: i == perFrame-1},
				Payload: payload(vn, 'v', 600),
			}
			r.mu.Lock()
			r.sent[vn%uint32(len(r.sent))] = pkt
			r.mu.Unlock()
			_ = r.track.WriteRTP(pkt.Clone())
			vn++
		}
	})
}

func (r *resender) resend(sn uint16) {
	r.mu.Lock()
	pkt := r.sent[int(sn)%len(r.sent)]
	r.mu.Unlock()
	if pkt != nil && pkt.SequenceNumber == sn {
		_ = r.track.WriteRTP(pkt.Clone())
	}
}

func lastCounter(logs []*counterLog) uint32 {
	m := ^uint32(0)
	for _, l := range logs {
		m = min(m, l.high())
	}
	return m
}
