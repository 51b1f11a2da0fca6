package sfu_test

import (
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

// TestTransportCCNegotiatedWithSubscribers: a subscriber negotiates the
// transport-cc header extension (and feedback) and every packet the engine
// sends it, audio and video, carries one transport-wide sequence; the
// publisher's session does not (the engine sends publishers no
// transport-cc feedback).
func TestTransportCCNegotiatedWithSubscribers(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)

	pub := newPublisher(t, "pub")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 5*time.Millisecond)
	if strings.Contains(p.LocalSDP(), sdp.TransportCCURI) {
		t.Errorf("the publisher's session negotiated transport-cc:\n%s", p.LocalSDP())
	}

	const want = 50
	var mu sync.Mutex
	got := map[string][]rtp.Header{} // by mid
	done := make(chan struct{})
	var once sync.Once
	onTrack := func(tr *client.RemoteTrack) {
		for {
			pkt, _, err := tr.Track.ReadRTP()
			if err != nil {
				return
			}
			mu.Lock()
			got[tr.Mid] = append(got[tr.Mid], pkt.Header.Clone())
			if len(got) == 2 && len(got[tr.Mid]) >= want && minLen(got) >= want {
				once.Do(func() { close(done) })
			}
			mu.Unlock()
		}
	}
	// A first subscriber receiving both tracks shows they are published,
	// so that the second one's first offer carries them: the transport-cc
	// extension is negotiated on a kind only if its first m-line is one
	// the engine sends on (pion fixes a kind's extensions then).
	first := newReceiver(1)
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly", OnTrack: first.onTrack})
	first.wait(t, ctx, "first subscriber")
	s := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly", OnTrack: onTrack})
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the subscriber did not get audio and video")
	}
	if !strings.Contains(s.LocalSDP(), "a=rtcp-fb:96 transport-cc") {
		t.Errorf("the subscriber's answer has no transport-cc feedback for VP8:\n%s", s.LocalSDP())
	}

	mu.Lock()
	defer mu.Unlock()
	seen := map[uint16]string{}
	for mid, hs := range got {
		id := extmapID(t, s.LocalSDP(), mid, sdp.TransportCCURI)
		var last uint16
		for i, h := range hs[:want] {
			ext := h.GetExtension(id)
			if len(ext) != 2 {
				t.Fatalf("mid %s packet %d: transport-cc extension %x", mid, i, ext)
			}
			seq := binary.BigEndian.Uint16(ext)
			if i > 0 && int16(seq-last) <= 0 {
				t.Errorf("mid %s: transport-wide sequence %d after %d", mid, seq, last)
			}
			if other, dup := seen[seq]; dup {
				t.Errorf("transport-wide sequence %d on mid %s and %s: not one sequence for the connection", seq, other, mid)
			}
			seen[seq], last = mid, seq
		}
	}
}

func minLen(m map[string][]rtp.Header) int {
	n := -1
	for _, v := range m {
		if n < 0 || len(v) < n {
			n = len(v)
		}
	}
	return n
}

// TestDownlinkFromTransportCC: a subscriber sending transport-cc feedback
// (pion's generator, as a browser sends it) gets a downlink estimate the
// embedder can read, from that feedback; one sending none has none.
func TestDownlinkFromTransportCC(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)

	pub := newPublisher(t, "pub")
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 5*time.Millisecond)
	silent := newReceiver(1)
	quiet := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly", OnTrack: silent.onTrack})
	silent.wait(t, ctx, "subscriber without feedback")

	r := newReceiver(1)
	s := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly", API: twccAPI(t, nil), OnTrack: r.onTrack})
	r.wait(t, ctx, "subscriber with feedback")

	ch := ts.engine.Channel("room")
	var d sfu.Downlink
	var err error
	sfutest.Eventually(t, ctx, "an estimate from transport-cc feedback", func() bool {
		d, err = ch.ConnectionDownlink(ctx, s.ConnectionID())
		return err == nil && d.TransportCCs >= 5
	})
	t.Logf("downlink: %+v", d)
	if d.Source != "transport-cc" || d.Bitrate <= 0 || d.ConnectionID != s.ConnectionID() || d.Loss != 0 {
		t.Errorf("downlink %+v: want a transport-cc estimate without loss", d)
	}
	if st := ts.engine.Stats(); st.TransportCCsReceived < d.TransportCCs {
		t.Errorf("engine counted %d transport-cc feedbacks, the connection %d", st.TransportCCsReceived, d.TransportCCs)
	}
	if q, err := ch.ConnectionDownlink(ctx, quiet.ConnectionID()); err != nil || q.Source != "" || q.Bitrate != 0 {
		t.Errorf("subscriber sending no feedback: %+v, %v; want no estimate", q, err)
	}
}
