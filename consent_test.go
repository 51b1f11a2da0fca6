package sfu_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// lockedBuffer collects the engine's logs from its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// nominatedPair returns the stats of the client's nominated candidate
// pair.
func nominatedPair(t *testing.T, c *client.Client) webrtc.ICECandidatePairStats {
	t.Helper()
	for _, s := range c.PeerConnection().GetStats() {
		if p, ok := s.(webrtc.ICECandidatePairStats); ok && p.Nominated {
			return p
		}
	}
	t.Fatal("the client has no nominated candidate pair")
	return webrtc.ICECandidatePairStats{}
}

// TestConsentFromClientChecks: once connected, the server sends no ICE
// checks of its own; it answers the client's, and they keep both the
// publisher's and the subscriber's connection up past ICE's disconnected
// timeout (5 s) while media flows.
func TestConsentFromClientChecks(t *testing.T) {
	logs := &lockedBuffer{}
	ts := newTestServer(t, sfu.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := testContext(t, 30*time.Second)
	pub := newPublisher(t, "pub")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 5*time.Millisecond)
	rt := newRouter()
	rt.want = 20
	sub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly", OnTrack: rt.onTrack})
	recv := rt.from(p.ConnectionID())
	recv.wait(t, ctx, "subscriber")
	videoPackets := func() int {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		return recv.got[webrtc.RTPCodecTypeVideo]
	}

	clients := map[string]*client.Client{"publisher": p, "subscriber": sub}
	before := map[string]webrtc.ICECandidatePairStats{}
	for name, c := range clients {
		before[name] = nominatedPair(t, c)
	}
	packets := videoPackets()
	// What is tested is that nothing happens for a while: pion's agent
	// would send a check every 2 s, and call the pair disconnected after
	// 5 s without hearing from the client.
	time.Sleep(6 * time.Second)
	for name, c := range clients {
		b, a := before[name], nominatedPair(t, c)
		if a.RequestsReceived != b.RequestsReceived {
			t.Errorf("%s: the server sent %d ICE checks while connected, want none", name, a.RequestsReceived-b.RequestsReceived)
		}
		if a.ResponsesReceived <= b.ResponsesReceived {
			t.Errorf("%s: the server answered none of the client's checks (%d answers, then %d)", name, b.ResponsesReceived, a.ResponsesReceived)
		}
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "peer connection state") && !strings.Contains(line, "state=connect") && !strings.Contains(line, "state=new") {
			t.Errorf("server log: %s", line)
		}
	}
	// Media kept flowing all along (a video packet every 5 ms).
	if n := videoPackets() - packets; n < 500 {
		t.Errorf("the subscriber got %d video packets in 6 s, want over 500", n)
	}
}
