package sfu_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

// Fault tests: a client that vanishes, a lossy publisher, a subscriber
// that stops reading its socket or its WebSocket. Each runs real pion
// peers on loopback; internal/sfutest's FaultyConn and FaultyTCP inject
// the fault into one client's sockets.

// endings records the engine's ConnectionDestroyed events.
type endings struct {
	mu     sync.Mutex
	by     map[string]sfu.CloseReason
	notify chan struct{}
}

func watchEndings(e *sfu.Engine) *endings {
	l := &endings{by: map[string]sfu.CloseReason{}, notify: make(chan struct{}, 1)}
	e.AddObserver(l)
	return l
}

func (l *endings) Observe(ev sfu.LifecycleEvent) {
	if ev.Kind != sfu.ConnectionDestroyed {
		return
	}
	l.mu.Lock()
	l.by[ev.Connection.ConnectionID] = ev.Reason
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// wait returns connID's close reason once it ended.
func (l *endings) wait(t *testing.T, ctx context.Context, connID string) sfu.CloseReason {
	t.Helper()
	for {
		l.mu.Lock()
		r, ok := l.by[connID]
		l.mu.Unlock()
		if ok {
			return r
		}
		select {
		case <-l.notify:
		case <-ctx.Done():
			t.Fatalf("connection %s did not end: %v", connID, ctx.Err())
		}
	}
}

// waitDestroyedNotify waits for c's connection.destroyed notify of connID.
func waitDestroyedNotify(t *testing.T, ctx context.Context, c *client.Client, connID string) {
	t.Helper()
	_, err := c.WaitNotify(ctx, func(typ string, raw json.RawMessage) bool {
		return typ == "connection.destroyed" && decode(t, raw)["connection_id"] == connID
	})
	if err != nil {
		t.Fatalf("no connection.destroyed notify for %s: %v", connID, err)
	}
}

// TestVanishedClientIsReaped: a publisher that drops off the network (no
// close, no ICE, no RTCP, no media) is closed within the consent timeout,
// and the others get its connection.destroyed notify. With its WebSocket
// still up, ICE consent ends it; with the WebSocket silent too, whichever
// of consent and the pings notices first.
func TestVanishedClientIsReaped(t *testing.T) {
	const consent = 6 * time.Second
	for _, tc := range []struct {
		name      string
		cutSignal bool
		reasons   []sfu.CloseReason
	}{
		{"media path", false, []sfu.CloseReason{sfu.ReasonPeerConnectionFailed}},
		{"media and signaling", true, []sfu.CloseReason{sfu.ReasonPeerConnectionFailed, sfu.ReasonPongTimeout}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, sfu.Options{ConsentTimeout: consent, PingInterval: time.Second})
			ends := watchEndings(ts.engine)
			ctx := testContext(t, 30*time.Second)

			udp, tcp := sfutest.ListenFaulty(t), &sfutest.FaultyTCP{}
			pub := newPublisher(t, "gone")
			p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "v", Role: "sendonly", VideoCodecType: "VP8",
				Tracks: pub.tracks(), API: sfutest.ConnAPI(t, udp, client.APIOptions{}), HTTPClient: tcp.HTTPClient()})
			pub.start(t, 10*time.Millisecond)
			rt := newRouter()
			watcher := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "v", Role: "recvonly", OnTrack: rt.onTrack})
			rt.from(p.ConnectionID()).wait(t, ctx, "watcher")

			udp.Cut()
			if tc.cutSignal {
				tcp.Cut()
			}
			cut := time.Now()
			reaped, cancel := context.WithTimeout(ctx, consent+3*time.Second) // ICE checks its timers every second or two
			defer cancel()
			reason := ends.wait(t, reaped, p.ConnectionID())
			waitDestroyedNotify(t, reaped, watcher, p.ConnectionID())
			t.Logf("reaped after %v with %v", time.Since(cut).Round(100*time.Millisecond), reason)
			if !slices.Contains(tc.reasons, reason) {
				t.Errorf("closed with %v, want one of %v", reason, tc.reasons)
			}
			if n := len(ts.engine.Channel("v").Connections()); n != 1 {
				t.Errorf("channel has %d connections, want the watcher only", n)
			}
		})
	}
}

// probe carries a send time: the publisher records when it wrote each
// video counter, so a subscriber can tell how late a packet came.
type probe struct {
	mu   sync.Mutex
	sent map[uint32]time.Time
}

func (p *probe) latency(n uint32) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.sent[n]
	return time.Since(at), ok
}

// startProbed sends a video packet every interval, recording its send
// time, until the test ends.
func startProbed(t *testing.T, pub *publisher, interval time.Duration) *probe {
	pr := &probe{sent: map[uint32]time.Time{}}
	pub.Run(t, interval, func(n uint32) {
		pr.mu.Lock()
		pr.sent[n] = time.Now()
		pr.mu.Unlock()
		_ = pub.video.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 3000, Marker: true},
			Payload: payload(n, 'v', 1000),
		})
	})
	return pr
}

// latencies collects a subscriber's per-packet delays.
type latencies struct {
	mu   sync.Mutex
	d    []time.Duration
	logs counterLog
}

func (l *latencies) read(pr *probe) func(*client.RemoteTrack) {
	l.logs.seen = map[uint32]bool{}
	return func(tr *client.RemoteTrack) {
		for {
			pkt, _, err := tr.Track.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() != webrtc.RTPCodecTypeVideo || len(pkt.Payload) < 6 {
				continue
			}
			n := binary.BigEndian.Uint32(pkt.Payload[2:6])
			l.logs.add(n)
			if d, ok := pr.latency(n); ok {
				l.mu.Lock()
				l.d = append(l.d, d)
				l.mu.Unlock()
			}
		}
	}
}

// since returns the delays recorded after the first skip of them, sorted.
func (l *latencies) since(skip int) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := slices.Clone(l.d[min(skip, len(l.d)):])
	slices.Sort(d)
	return d
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}

// TestStalledSubscriberDoesNotDelayOthers: one subscriber stops reading
// its socket. The kernel drops what it cannot queue for it; the server's
// sends never wait, so a healthy subscriber of the same stream gets every
// packet as soon as before, and the stalled one, whose ICE fails, is
// closed once consent runs out.
func TestStalledSubscriberDoesNotDelayOthers(t *testing.T) {
	const consent = 4 * time.Second
	ts := newTestServer(t, sfu.Options{ConsentTimeout: consent})
	ends := watchEndings(ts.engine)
	ctx := testContext(t, 40*time.Second)

	pub := newPublisher(t, "p")
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "s", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pr := startProbed(t, pub, 2*time.Millisecond)

	healthy := &latencies{}
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "s", Role: "recvonly", OnTrack: healthy.read(pr)})
	udp := sfutest.ListenFaulty(t)
	stalledLog := &latencies{}
	stalled := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "s", Role: "recvonly", OnTrack: stalledLog.read(pr),
		API: sfutest.ConnAPI(t, udp, client.APIOptions{SettingEngine: func(s *webrtc.SettingEngine) {
			s.SetICETimeouts(time.Second, 2*time.Second, 500*time.Millisecond)
		}})})
	sfutest.Eventually(t, ctx, "both subscribers receiving", func() bool { return healthy.count() > 250 && stalledLog.count() > 250 })

	before := healthy.since(0)
	from := healthy.logs.high() + 1
	udp.Stall()
	stalledAt := time.Now()
	reason := ends.wait(t, ctx, stalled.ConnectionID())
	t.Logf("stalled subscriber closed after %v with %v", time.Since(stalledAt).Round(100*time.Millisecond), reason)
	to := healthy.logs.high()
	during := healthy.since(len(before))
	pub.Halt()
	udp.Resume()

	if reason != sfu.ReasonPeerConnectionFailed && reason != sfu.ReasonTransportClosed {
		t.Errorf("stalled subscriber closed with %v", reason)
	}
	if miss := healthy.logs.missing(from, to); miss > 0 {
		t.Errorf("the healthy subscriber missed %d of %d packets while the other was stalled", miss, to-from+1)
	}
	p50b, p99b := quantile(before, .5), quantile(before, .99)
	p50, p99 := quantile(during, .5), quantile(during, .99)
	t.Logf("healthy subscriber's latency: before p50 %v p99 %v (%d packets); during the stall p50 %v p99 %v (%d packets)",
		p50b, p99b, len(before), p50, p99, len(during))
	// A send that waited for the stalled socket would hold every packet
	// for the consent timeout; 250 ms is far above loopback's scheduling noise.
	if p99 > 250*time.Millisecond {
		t.Errorf("healthy subscriber's p99 latency during the stall is %v", p99)
	}
}
