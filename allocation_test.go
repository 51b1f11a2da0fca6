package sfu_test

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

// sendREMB sends c's REMB of *bps for every track it receives, every
// 100 ms, until the test ends.
func sendREMB(t *testing.T, c *client.Client, bps *atomic.Uint32) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ssrcs []uint32
			for _, r := range c.PeerConnection().GetReceivers() {
				if tr := r.Track(); tr != nil {
					ssrcs = append(ssrcs, uint32(tr.SSRC()))
				}
			}
			if len(ssrcs) > 0 {
				_ = c.PeerConnection().WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(bps.Load()), SSRCs: ssrcs}})
			}
		}
	}()
}

// switched is a simulcast.switched notify as a receiver gets it.
type switched struct {
	Sender   string `json:"sender_connection_id"`
	Trigger  string `json:"trigger"`
	Request  string `json:"request_rid"`
	Current  string `json:"current_rid"`
	Previous string `json:"previous_rid"`
}

// waitSwitched waits for c's simulcast.switched notify to current.
func waitSwitched(t *testing.T, ctx context.Context, c *client.Client, current string) switched {
	t.Helper()
	var n switched
	_, err := c.WaitNotify(ctx, func(eventType string, raw json.RawMessage) bool {
		return eventType == "simulcast.switched" && json.Unmarshal(raw, &n) == nil && n.Current == current
	})
	if err != nil {
		t.Fatalf("no simulcast.switched to %q: %v (notifies: %v)", current, err, c.Notifies())
	}
	return n
}

// TestBandwidthAllocationPausesAndResumes: with Options.BandwidthAllocation
// a receiver that asked for r2 but whose REMB says its downlink carries
// audio and less than the lowest video layer has the video paused, is
// told so (simulcast.switched to "none") and keeps its audio; when its
// REMB rises it gets r0 back after a probe, and is told again. A receiver
// without a downlink estimate keeps r2 throughout.
func TestBandwidthAllocationPausesAndResumes(t *testing.T) {
	ts := newTestServer(t, sfu.Options{BandwidthAllocation: true})
	ctx := testContext(t, 30*time.Second)
	pubClient, _ := dialSimPublisher(t, ctx, ts, "sim")

	_, free := dialSimReceiver(t, ctx, ts, "sim", "r2")
	limitedConn, limited := dialSimReceiver(t, ctx, ts, "sim", "r2")
	limited.waitLayer(t, ctx, "limited receiver before its REMB", 2)
	var remb atomic.Uint32
	remb.Store(150_000) // audio alone is 115 kbit/s on the wire, a layer 147
	sendREMB(t, limitedConn, &remb)

	// The allocation first steps down to r0, and pauses once the
	// shortage has lasted PauseAfter.
	n := waitSwitched(t, ctx, limitedConn, "none")
	want := switched{Sender: pubClient.ConnectionID(), Trigger: "receiver", Request: "r2", Current: "none", Previous: "r0"}
	if n != want {
		t.Errorf("pause notify %+v, want %+v", n, want)
	}
	_, audio := limited.snapshot()
	limited.wait(t, ctx, "audio while video is paused", func(_ []vpkt, a int) bool { return a >= audio+50 })
	video, _ := limited.snapshot()
	limited.wait(t, ctx, "more audio", func(_ []vpkt, a int) bool { return a >= audio+100 })
	if now, _ := limited.snapshot(); len(now) != len(video) {
		t.Errorf("limited receiver got %d video packets while paused", len(now)-len(video))
	}

	d, err := ts.engine.Channel("sim").ConnectionDownlink(ctx, limitedConn.ConnectionID())
	if err != nil || d.Source != "remb" || d.Bitrate != 150_000 {
		t.Errorf("limited receiver's downlink %+v, %v; want 150000 from remb", d, err)
	}

	remb.Store(400_000) // audio and r0, not r1
	n = waitSwitched(t, ctx, limitedConn, "r0")
	if want := (switched{Sender: pubClient.ConnectionID(), Trigger: "receiver", Request: "r2", Current: "r0", Previous: "none"}); n != want {
		t.Errorf("resume notify %+v, want %+v", n, want)
	}
	limited.waitLayer(t, ctx, "limited receiver resumed", 0)
	free.waitLayer(t, ctx, "receiver without an estimate", 2)
	// The probe before the resume was padding on the RTX stream (the
	// paused video had nothing to copy).
	if st := ts.engine.Stats(); st.BandwidthPauses != 1 || st.ProbeBytes == 0 {
		t.Errorf("stats: %d bandwidth pauses, %d probe bytes; want 1 and some", st.BandwidthPauses, st.ProbeBytes)
	}
	limited.check(t, "limited receiver")
	free.check(t, "free receiver")
}

// twccAPI returns a client API whose PeerConnections send transport-cc
// feedback every 50 ms, as a browser does; over conn (a
// sfutest.ShapedConn) unless it is nil.
func twccAPI(t *testing.T, conn net.PacketConn) *webrtc.API {
	t.Helper()
	reg := &interceptor.Registry{}
	gen, err := twcc.NewSenderInterceptor(twcc.SendInterval(50 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	reg.Add(gen)
	if conn != nil {
		return sfutest.ConnAPI(t, conn, client.APIOptions{Interceptors: reg})
	}
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, Interceptors: reg})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// dialTWCCReceiver connects a recvonly simulcast receiver that asked for
// rid and sends transport-cc feedback, from behind conn (nil: straight).
func dialTWCCReceiver(t *testing.T, ctx context.Context, ts *testServer, channel, rid string, conn net.PacketConn) (*client.Client, *simReceiver) {
	t.Helper()
	r := &simReceiver{}
	api := twccAPI(t, conn)
	c := dial(t, ctx, client.Config{URL: ts.url, ChannelID: channel, Role: client.RoleRecvonly, SimulcastRID: rid, API: api, OnTrack: r.onTrack})
	return c, r
}

// window summarises the video packets a receiver got from index from on:
// the share of each layer, and the loss (sequence numbers never seen, of
// the range seen; duplicates, such as probe copies, count once).
func window(video []vpkt, from int) (layers [3]int, loss float64) {
	seen := map[uint16]bool{}
	var lo, hi uint16
	for i, v := range video[min(from, len(video)):] {
		layers[v.layer]++
		seen[v.sn] = true
		if i == 0 || int16(v.sn-lo) < 0 {
			lo = v.sn
		}
		if i == 0 || int16(v.sn-hi) > 0 {
			hi = v.sn
		}
	}
	if len(seen) == 0 {
		return layers, 1
	}
	span := int(hi-lo) + 1
	return layers, float64(span-len(seen)) / float64(span)
}

// TestBandwidthAllocationShapedDownlink: two receivers that asked for r2,
// both sending transport-cc feedback, both first on unlimited links. The
// engine estimates each downlink and, probing before each step up, gives
// both r2. Then one link drops to 500 kbit/s (a FIFO that drops past
// 200 ms of queue): its receiver settles on r0 (r1 and audio need about
// 730 kbit/s on the wire) with under 1 % loss, while the other keeps r2.
// The time from the drop to the switch is logged: docs/performance.md
// reports it.
func TestBandwidthAllocationShapedDownlink(t *testing.T) {
	ts := newTestServer(t, sfu.Options{BandwidthAllocation: true})
	ctx := testContext(t, 90*time.Second)
	// Every 10 ms r0 sends a packet of 200 bytes, r1 one of 700 and r2
	// two of 900: 211, 611 and 1,542 kbit/s on the wire (with
	// forward.WireOverhead); audio 115.
	p := newSimPublisher(t)
	p.perTick, p.size = [3]int{1, 1, 2}, [3]int{200, 700, 900}
	dialThisSimPublisher(t, ctx, ts, "shaped", p)

	freeConn := sfutest.ListenShaped(t, 0, 0)
	freeClient, free := dialTWCCReceiver(t, ctx, ts, "shaped", "r2", freeConn)
	link := sfutest.ListenShaped(t, 0, 200*time.Millisecond)
	limitedClient, limited := dialTWCCReceiver(t, ctx, ts, "shaped", "r2", link)

	// Both get r2 from the allocation: from the initial estimate (1
	// Mbit/s) on r1, then after a probe, unless the estimate has grown
	// with what they receive before their layers were measured.
	start := time.Now()
	for _, r := range []struct {
		name string
		c    *client.Client
		sr   *simReceiver
	}{{"unlimited receiver", freeClient, free}, {"receiver before its link drops", limitedClient, limited}} {
		if err := r.sr.events.until(ctx, func() bool {
			d, err := ts.engine.Channel("shaped").ConnectionDownlink(ctx, r.c.ConnectionID())
			return err == nil && d.TransportCCs > 0
		}); err != nil {
			t.Fatalf("%s: no transport-cc feedback", r.name)
		}
		// A second of allocation (ten updates), then its last 200
		// packets all r2.
		fed := time.Now()
		r.sr.wait(t, ctx, r.name+", allocated r2", func(video []vpkt, _ int) bool {
			return time.Since(fed) > time.Second && len(video) >= 200 && countLayer(video, len(video)-200, 2) == 200
		})
	}
	t.Logf("both receivers on r2 after %v", time.Since(start).Round(time.Millisecond))

	link.SetRate(500_000)
	drop := time.Now()
	mark, _ := limited.snapshot()
	limited.wait(t, ctx, "receiver after its link dropped", func(video []vpkt, _ int) bool {
		return countLayer(video, len(mark), 0) > 0
	})
	settle := time.Since(drop)
	limited.waitLayer(t, ctx, "settled receiver", 0)

	// Measure over 10 s once settled: the allocator's next probe (Hold
	// after the step down) falls within it.
	lmark, _ := limited.snapshot()
	fmark, _ := free.snapshot()
	d, _ := ts.engine.Channel("shaped").ConnectionDownlink(ctx, limitedClient.ConnectionID())
	t.Logf("drop to 500 kbit/s: first r0 packet after %v; estimate then %d bit/s (%s)", settle.Round(time.Millisecond), d.Bitrate, d.Source)
	deadline := time.Now().Add(10 * time.Second)
	limited.wait(t, ctx, "10 s of the settled receiver", func([]vpkt, int) bool { return !time.Now().Before(deadline) })

	lv, _ := limited.snapshot()
	layers, loss := window(lv, len(lmark))
	t.Logf("limited receiver, 10 s settled: %v packets per layer, loss %.2f%%, dropped by the link %d", layers, 100*loss, link.Dropped())
	if layers[1] != 0 || layers[2] != 0 || layers[0] < 500 {
		t.Errorf("limited receiver got %v packets of r0/r1/r2 in 10 s settled; want r0 only (about 1,000)", layers)
	}
	if loss >= 0.01 {
		t.Errorf("limited receiver lost %.2f%% of its video once settled; want under 1%%", 100*loss)
	}
	fv, _ := free.snapshot()
	if fl, floss := window(fv, len(fmark)); fl[0] != 0 || fl[1] != 0 || fl[2] < 1000 || floss > 0 {
		t.Errorf("unlimited receiver got %v packets of r0/r1/r2, loss %.2f%%, in the same 10 s; want r2 only, no loss", fl, 100*floss)
	}
	for _, n := range limitedClient.Notifies() {
		if n.EventType == "simulcast.switched" {
			t.Logf("limited receiver: %s", n.Raw)
		}
	}
	limited.check(t, "limited receiver")
	free.check(t, "unlimited receiver")
}

// TestBandwidthAllocationKeepsFlowingVideo: a single-layer video of about
// 1.6 Mbit/s on the wire, above the estimate's 1 Mbit/s starting guess,
// keeps flowing to a subscriber on an unlimited link once its feedback
// starts the allocation: the estimate catches up with what is delivered
// before a pause would be due, so the receiver is never told of one.
func TestBandwidthAllocationKeepsFlowingVideo(t *testing.T) {
	ts := newTestServer(t, sfu.Options{BandwidthAllocation: true})
	ctx := testContext(t, 30*time.Second)
	pub := newPublisher(t, "big")
	pub.perFrame = 3 // 300 packets of 600 bytes a second
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "big", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 10*time.Millisecond)

	var video atomic.Int64
	var events notifier
	sub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "big", Role: "recvonly", API: twccAPI(t, nil), OnTrack: func(tr *client.RemoteTrack) {
		for {
			if _, _, err := tr.Track.ReadRTP(); err != nil {
				return
			}
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				video.Add(1)
				events.bump()
			}
		}
	}})
	// Until the first feedback the allocation has not started; from
	// then on, 5 s: past PauseAfter twice over.
	if err := events.until(ctx, func() bool {
		d, err := ts.engine.Channel("big").ConnectionDownlink(ctx, sub.ConnectionID())
		return err == nil && d.TransportCCs > 0
	}); err != nil {
		t.Fatal("no transport-cc feedback from the subscriber")
	}
	start, from := time.Now(), video.Load()
	if err := events.until(ctx, func() bool { return time.Since(start) >= 5*time.Second }); err != nil {
		t.Fatal(err)
	}
	if n := video.Load() - from; n < 1200 {
		t.Errorf("%d video packets in 5 s of allocation, want about 1,500", n)
	}
	for _, n := range sub.Notifies() {
		if n.EventType == "simulcast.switched" {
			t.Errorf("the subscriber was told %s", n.Raw)
		}
	}
	if st := ts.engine.Stats(); st.BandwidthPauses != 0 {
		t.Errorf("%d bandwidth pauses", st.BandwidthPauses)
	}
	if d, _ := ts.engine.Channel("big").ConnectionDownlink(ctx, sub.ConnectionID()); d.Bitrate < 1_600_000 {
		t.Errorf("estimate %d bit/s after 5 s of 1.6 Mbit/s delivered", d.Bitrate)
	}
}

// TestBandwidthAllocationAuto: a receiver's layer request caps the
// allocation however much its downlink carries; RequestSimulcastRid
// "auto" lifts the cap, and the allocation then steps it up (after a
// probe) to what the downlink carries.
func TestBandwidthAllocationAuto(t *testing.T) {
	ts := newTestServer(t, sfu.Options{BandwidthAllocation: true})
	ctx := testContext(t, 30*time.Second)
	pubClient, _ := dialSimPublisher(t, ctx, ts, "auto")
	recvClient, recv := dialSimReceiver(t, ctx, ts, "auto", "r0")
	recv.waitLayer(t, ctx, "receiver that asked for r0", 0)
	var remb atomic.Uint32
	remb.Store(5_000_000) // every layer fits
	sendREMB(t, recvClient, &remb)
	ch := ts.engine.Channel("auto")
	sfutest.Eventually(t, ctx, "an estimate from the REMB", func() bool {
		d, err := ch.ConnectionDownlink(ctx, recvClient.ConnectionID())
		return err == nil && d.Bitrate == 5_000_000
	})
	// A second of allocation: still r0, the layer asked for.
	mark, _ := recv.snapshot()
	fed := time.Now()
	recv.wait(t, ctx, "a second of allocation", func([]vpkt, int) bool { return time.Since(fed) > time.Second })
	if video, _ := recv.snapshot(); countLayer(video, len(mark), 0) != len(video)-len(mark) {
		t.Fatalf("receiver capped at r0 got other layers: %q", layerRuns(video[len(mark):]))
	}
	if err := ch.RequestSimulcastRid(ctx, recvClient.ConnectionID(), pubClient.ConnectionID(), "auto"); err != nil {
		t.Fatal(err)
	}
	recv.waitLayer(t, ctx, "receiver after rid auto", 1)
	if d, _ := ch.ConnectionDownlink(ctx, recvClient.ConnectionID()); d.ProbeBytes == 0 {
		t.Error("stepped up without a probe")
	}
	recv.check(t, "receiver")
}
