package sfu_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

// Simulcast tests: a publisher sends three layers, each packet marked with
// its layer, and receivers check which layer they get, that every layer
// change starts at a key frame, and that sequence numbers never jump.

var rids = [3]string{"r0", "r1", "r2"}

const (
	simPacketInterval = 10 * time.Millisecond // per layer, and for audio
	simKeyEvery       = 100                   // periodic key frame: one per second
	simPayloadSize    = 120
)

// notifier wakes waiters whenever something they may wait for changed.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) bump() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// until waits for cond, re-checking it on every bump, until ctx ends.
func (n *notifier) until(ctx context.Context, cond func() bool) error {
	for {
		ch := n.changed()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// simPayload is a VP8 packet of layer l: payload descriptor 0x10 (start of
// partition 0), the VP8 payload header whose P bit is 0 for a key frame,
// then the layer's marker, the layer's packet counter and a filler derived
// from both.
func simPayload(l int, n uint32, key bool, size int) []byte {
	b := make([]byte, size)
	b[0] = 0x10
	if !key {
		b[1] = 0x01 // P: inter frame
	}
	b[2] = layerMarker(l)
	binary.BigEndian.PutUint32(b[3:], n)
	for i := 7; i < len(b); i++ {
		b[i] = byte(n*13 + uint32(i)*5 + uint32(l))
	}
	return b
}

func layerMarker(l int) byte { return 'A' + byte(l) }

// simPublisher publishes audio and three simulcast VP8 layers. Each layer
// sends a key frame every second and right after a PLI for it.
type simPublisher struct {
	sfutest.Pacer
	audio   *webrtc.TrackLocalStaticRTP
	layers  [3]*webrtc.TrackLocalStaticRTP
	enabled [3]atomic.Bool
	keyReq  [3]atomic.Bool
	plis    [3]atomic.Int64
	reports [3]atomic.Int64 // receiver reports about the layer
	sent    [3]atomic.Int64
	events  notifier

	// perTick is how many packets each layer sends per tick (0: one),
	// size their payload size (0: simPayloadSize).
	perTick, size [3]int

	mid          string
	midID, ridID uint8
	// levelID, when not 0, is the negotiated id of the audio-level
	// extension: every audio packet then carries level.
	levelID uint8
	level   atomic.Uint32
}

func newSimPublisher(t *testing.T) *simPublisher {
	t.Helper()
	p := &simPublisher{}
	var err error
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(opusCap, "sim-audio", "sim"); err != nil {
		t.Fatal(err)
	}
	for l, rid := range rids {
		if p.layers[l], err = webrtc.NewTrackLocalStaticRTP(vp8Cap, "sim-video", "sim", webrtc.WithRTPStreamID(rid)); err != nil {
			t.Fatal(err)
		}
		p.enabled[l].Store(true)
	}
	return p
}

func (p *simPublisher) tracks() []webrtc.TrackLocal {
	return []webrtc.TrackLocal{p.audio, p.layers[0], p.layers[1], p.layers[2]}
}

// onRTCP is the publishing client's OnSenderRTCP.
func (p *simPublisher) onRTCP(track webrtc.TrackLocal, pkts []rtcp.Packet) {
	l := -1
	for i, rid := range rids {
		if track.Kind() == webrtc.RTPCodecTypeVideo && track.RID() == rid {
			l = i
		}
	}
	if l < 0 {
		return
	}
	for _, pkt := range pkts {
		switch pkt := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			p.keyReq[l].Store(true)
			p.plis[l].Add(1)
		case *rtcp.ReceiverReport:
			if len(pkt.Reports) > 0 {
				p.reports[l].Add(1)
			}
		}
	}
	p.events.bump()
}

// dialSimPublisher connects a simulcast publisher, starts its media and
// returns once the engine has published all three layers.
func dialSimPublisher(t *testing.T, ctx context.Context, ts *testServer, channel string) (*client.Client, *simPublisher) {
	t.Helper()
	return dialThisSimPublisher(t, ctx, ts, channel, newSimPublisher(t))
}

// dialThisSimPublisher is dialSimPublisher for a publisher the test made.
func dialThisSimPublisher(t *testing.T, ctx context.Context, ts *testServer, channel string, p *simPublisher) (*client.Client, *simPublisher) {
	t.Helper()
	c := dial(t, ctx, client.Config{URL: ts.url, ChannelID: channel, Role: client.RoleSendonly,
		VideoCodecType: "VP8", Simulcast: true, Tracks: p.tracks(), OnSenderRTCP: p.onRTCP})
	p.mid = c.Offer().Mid.Video
	p.midID, p.ridID = extmapIDs(t, c.LocalSDP(), p.mid)
	p.start(t)
	// The engine sends a receiver report about a layer every second once
	// its forwarding has started: then every layer is published.
	if err := p.events.until(ctx, func() bool {
		return p.reports[0].Load() > 0 && p.reports[1].Load() > 0 && p.reports[2].Load() > 0
	}); err != nil {
		t.Fatalf("layers not all published: receiver reports %d %d %d", p.reports[0].Load(), p.reports[1].Load(), p.reports[2].Load())
	}
	return c, p
}

// extmapIDs returns the negotiated ids of the mid and rid header
// extensions on the m-line mid. pion does not write them for an
// application's track: the engine needs them to demultiplex the layers.
func extmapIDs(t *testing.T, raw, mid string) (midID, ridID uint8) {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatalf("parse answer: %v", err)
	}
	for _, m := range sd.MediaDescriptions {
		if v, _ := m.Attribute("mid"); v != mid {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key != "extmap" {
				continue
			}
			var e sdp.ExtMap
			if err := e.Unmarshal("extmap:" + a.Value); err != nil {
				t.Fatalf("extmap %q: %v", a.Value, err)
			}
			switch e.URI.String() {
			case sdp.SDESMidURI:
				midID = uint8(e.Value)
			case sdp.SDESRTPStreamIDURI:
				ridID = uint8(e.Value)
			}
		}
	}
	if midID == 0 || ridID == 0 {
		t.Fatalf("no mid/rid extmap on m-line %q:\n%s", mid, raw)
	}
	return midID, ridID
}

func (p *simPublisher) start(t *testing.T) {
	var counters [3]uint32
	p.Run(t, simPacketInterval, func(n uint32) {
		for l := range p.layers {
			if !p.enabled[l].Load() {
				continue
			}
			for range max(p.perTick[l], 1) {
				c := counters[l]
				counters[l]++
				key := c%simKeyEvery == 0
				if p.keyReq[l].Swap(false) {
					key = true
				}
				h := rtp.Header{Version: 2, SequenceNumber: uint16(c + uint32(l)*10000), Timestamp: c * 900, Marker: true}
				_ = h.SetExtension(p.midID, []byte(p.mid))
				_ = h.SetExtension(p.ridID, []byte(rids[l]))
				_ = p.layers[l].WriteRTP(&rtp.Packet{Header: h, Payload: simPayload(l, c, key, cmp.Or(p.size[l], simPayloadSize))})
				p.sent[l].Add(1)
			}
		}
		ah := rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 480}
		if p.levelID != 0 {
			_ = ah.SetExtension(p.levelID, []byte{byte(p.level.Load())})
		}
		_ = p.audio.WriteRTP(&rtp.Packet{Header: ah, Payload: payload(n, 'a', 80)})
	})
}

// vpkt is one video packet as a receiver got it.
type vpkt struct {
	sn    uint16
	ts    uint32
	layer int
	key   bool
	n     uint32 // the layer's packet counter
}

func (v vpkt) String() string {
	k := ""
	if v.key {
		k = " key"
	}
	return fmt.Sprintf("sn %d r%d #%d%s", v.sn, v.layer, v.n, k)
}

// simReceiver records what a receiving client gets from the simulcast
// publisher.
type simReceiver struct {
	events notifier
	mu     sync.Mutex
	video  []vpkt // from the first key frame on
	early  int    // video packets before it
	audio  int
	errs   []error
}

func (r *simReceiver) onTrack(t *client.RemoteTrack) {
	for {
		pkt, _, err := t.Track.ReadRTP()
		if err != nil {
			return
		}
		r.mu.Lock()
		if t.Kind() == webrtc.RTPCodecTypeAudio {
			r.audio++
		} else {
			r.addVideo(pkt)
		}
		r.mu.Unlock()
		r.events.bump()
	}
}

// addVideo decodes a video packet; r.mu is held.
func (r *simReceiver) addVideo(pkt *rtp.Packet) {
	b := pkt.Payload
	if len(b) < 7 || b[2] < layerMarker(0) || b[2] > layerMarker(2) {
		r.errs = append(r.errs, fmt.Errorf("video packet sn %d: unexpected payload % x", pkt.SequenceNumber, b[:min(len(b), 8)]))
		return
	}
	v := vpkt{sn: pkt.SequenceNumber, ts: pkt.Timestamp, layer: int(b[2] - layerMarker(0)),
		key: b[1]&0x01 == 0, n: binary.BigEndian.Uint32(b[3:])}
	if want := simPayload(v.layer, v.n, v.key, len(b)); string(want) != string(b) {
		r.errs = append(r.errs, fmt.Errorf("video packet %v: payload corrupted", v))
		return
	}
	if len(r.video) == 0 && !v.key {
		// The engine starts a receiver at a key frame, but packets it
		// sends before the receiver's DTLS is up are lost (this client
		// sends no PLI to recover): start at the first key frame seen.
		r.early++
		return
	}
	r.video = append(r.video, v)
}

// snapshot returns a copy of the video packets and the audio count.
func (r *simReceiver) snapshot() ([]vpkt, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]vpkt(nil), r.video...), r.audio
}

// wait waits until cond holds for what was received, failing the test
// when ctx ends first.
func (r *simReceiver) wait(t *testing.T, ctx context.Context, what string, cond func(video []vpkt, audio int) bool) {
	t.Helper()
	if err := r.events.until(ctx, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return cond(r.video, r.audio)
	}); err != nil {
		video, audio := r.snapshot()
		t.Fatalf("%s: %v (video %d packets, last %v; audio %d)", what, err, len(video), last(video), audio)
	}
}

// check fails the test for any packet that could not be decoded.
func (r *simReceiver) check(t *testing.T, name string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		t.Errorf("%s: %v", name, err)
	}
}

func last(v []vpkt) string {
	if len(v) == 0 {
		return "none"
	}
	return v[len(v)-1].String()
}

// countLayer counts the packets of layer l from index from on.
// waitLayer waits until 30 packets of layer l arrived after the call.
func (r *simReceiver) waitLayer(t *testing.T, ctx context.Context, what string, l int) {
	t.Helper()
	mark, _ := r.snapshot()
	r.wait(t, ctx, what, func(video []vpkt, _ int) bool { return countLayer(video, len(mark), l) >= 30 })
}

// wantRuns checks every packet received and that the layers came in the
// order runs names ("r0 r2 r0").
func (r *simReceiver) wantRuns(t *testing.T, name, runs string) {
	t.Helper()
	r.check(t, name)
	video, _ := r.snapshot()
	checkStream(t, name, video)
	if got := layerRuns(video); got != runs {
		t.Errorf("%s got layers %q, want %q", name, got, runs)
	}
}

func countLayer(video []vpkt, from, l int) int {
	n := 0
	for _, v := range video[min(from, len(video)):] {
		if v.layer == l {
			n++
		}
	}
	return n
}

// checkStream checks that video is one continuous stream: sequence
// numbers go up by one, timestamps never go back, and every change of
// layer starts with a key frame (the simReceiver keeps packets from the
// first key frame on).
func checkStream(t *testing.T, name string, video []vpkt) {
	t.Helper()
	for i, v := range video {
		if i == 0 {
			continue
		}
		prev := video[i-1]
		if v.sn != prev.sn+1 {
			t.Errorf("%s: sequence number gap: %v after %v", name, v, prev)
		}
		if int32(v.ts-prev.ts) < 0 {
			t.Errorf("%s: timestamp goes back: %v (ts %d) after %v (ts %d)", name, v, v.ts, prev, prev.ts)
		}
		if v.layer != prev.layer && !v.key {
			t.Errorf("%s: switched to r%d at %v, not at a key frame (after %v)", name, v.layer, v, prev)
		}
	}
}

// layerRuns summarises video as its sequence of layers ("r0 r2 r0").
func layerRuns(video []vpkt) string {
	var runs []string
	for i, v := range video {
		if i == 0 || v.layer != video[i-1].layer {
			runs = append(runs, rids[v.layer])
		}
	}
	return strings.Join(runs, " ")
}

func dialSimReceiver(t *testing.T, ctx context.Context, ts *testServer, channel, rid string) (*client.Client, *simReceiver) {
	t.Helper()
	r := &simReceiver{}
	c := dial(t, ctx, client.Config{URL: ts.url, ChannelID: channel, Role: client.RoleRecvonly, SimulcastRID: rid, OnTrack: r.onTrack})
	return c, r
}

// Three receivers asking r0, r1 and r2 at connect each get only their
// layer.
func TestSimulcastReceiversGetTheirLayer(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	dialSimPublisher(t, ctx, ts, "sim")

	var recvs [3]*simReceiver
	for l, rid := range rids {
		_, recvs[l] = dialSimReceiver(t, ctx, ts, "sim", rid)
	}
	for l, r := range recvs {
		r.wait(t, ctx, rids[l]+" receiver", func(video []vpkt, audio int) bool { return len(video) >= 100 && audio >= 50 })
	}
	for l, r := range recvs {
		name := rids[l] + " receiver"
		r.wantRuns(t, name, rids[l])
	}
}

// RequestRtpStream moves a receiver to another layer at that layer's next
// key frame, with sequence numbers continuing by one; ResetRtpStream
// brings it back to its connect-time choice.
func TestRequestRtpStreamSwitchesLayer(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	p, pub := dialSimPublisher(t, ctx, ts, "sim")
	c, r := dialSimReceiver(t, ctx, ts, "sim", "r0")
	ch := ts.engine.Channel("sim")

	r.wait(t, ctx, "r0 before the request", func(video []vpkt, _ int) bool { return len(video) >= 30 })
	plis := pub.plis[2].Load()
	if err := ch.RequestRtpStream(ctx, c.ConnectionID(), p.ConnectionID(), "r2"); err != nil {
		t.Fatalf("RequestRtpStream: %v", err)
	}
	// The switch asks the publisher for an r2 key frame.
	if err := pub.events.until(ctx, func() bool { return pub.plis[2].Load() > plis }); err != nil {
		t.Fatalf("no PLI for r2 after RequestRtpStream: %v", err)
	}
	r.waitLayer(t, ctx, "r2 after the request", 2)

	// Reset to the connect-time r0, for every sender.
	if err := ch.ResetRtpStream(ctx, c.ConnectionID(), ""); err != nil {
		t.Fatalf("ResetRtpStream: %v", err)
	}
	r.waitLayer(t, ctx, "r0 after the reset", 0)

	r.wantRuns(t, "receiver", "r0 r2 r0")
}

// PauseRtpStream stops one sender's video to one receiver; its audio and
// the other receivers go on. ResumeRtpStream restarts it at a key frame
// with sequence numbers continuing by one.
func TestPauseResumeRtpStream(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	p, pub := dialSimPublisher(t, ctx, ts, "sim")
	a, ra := dialSimReceiver(t, ctx, ts, "sim", "r1")
	_, rb := dialSimReceiver(t, ctx, ts, "sim", "r1")
	ch := ts.engine.Channel("sim")

	ra.wait(t, ctx, "a before pause", func(video []vpkt, _ int) bool { return len(video) >= 30 })
	rb.wait(t, ctx, "b before pause", func(video []vpkt, _ int) bool { return len(video) >= 30 })
	if err := ch.PauseRtpStream(ctx, a.ConnectionID(), p.ConnectionID()); err != nil {
		t.Fatalf("PauseRtpStream: %v", err)
	}
	want := []sfu.PausedStream{{ChannelID: "sim", RecvConnectionID: a.ConnectionID(), Role: sfu.RoleRecvOnly, SendConnectionID: p.ConnectionID()}}
	if got := ch.ListPauseRtpStreams(ctx); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListPauseRtpStreams = %+v, want %+v", got, want)
	}

	// Packets already on their way when the pause took effect may still
	// arrive: let b get 30 more (300 ms), then a's video must stand still
	// while b gets 50 more and a's audio goes on.
	bv, _ := rb.snapshot()
	rb.wait(t, ctx, "b after pause", func(video []vpkt, _ int) bool { return len(video) >= len(bv)+30 })
	paused, pausedAudio := ra.snapshot()
	bv, _ = rb.snapshot()
	rb.wait(t, ctx, "b while a is paused", func(video []vpkt, _ int) bool { return len(video) >= len(bv)+50 })
	ra.wait(t, ctx, "a's audio while paused", func(_ []vpkt, audio int) bool { return audio >= pausedAudio+50 })
	if got, _ := ra.snapshot(); len(got) != len(paused) {
		t.Fatalf("a got %d video packets while paused", len(got)-len(paused))
	}

	plis := pub.plis[1].Load()
	if err := ch.ResumeRtpStream(ctx, a.ConnectionID(), p.ConnectionID()); err != nil {
		t.Fatalf("ResumeRtpStream: %v", err)
	}
	if got := ch.ListPauseRtpStreams(ctx); len(got) != 0 {
		t.Errorf("ListPauseRtpStreams after resume = %+v, want []", got)
	}
	ra.wait(t, ctx, "a after resume", func(video []vpkt, _ int) bool { return len(video) >= len(paused)+30 })

	ra.check(t, "a")
	rb.check(t, "b")
	video, _ := ra.snapshot()
	checkStream(t, "a", video) // continuous sequence numbers across the pause
	first := video[len(paused)]
	if !first.key {
		t.Errorf("a's first packet after resume %v is not a key frame", first)
	}
	// Unless a periodic key frame came first, resuming asked the
	// publisher for one.
	if first.n%simKeyEvery != 0 && pub.plis[1].Load() == plis {
		t.Errorf("no PLI for r1 after ResumeRtpStream (resumed at %v)", first)
	}
	if runs := layerRuns(video); runs != "r1" {
		t.Errorf("a got layers %q, want r1", runs)
	}
	bVideo, _ := rb.snapshot()
	checkStream(t, "b", bVideo)
}

// A receiver of r2 falls back to r1 while the publisher stops sending r2
// and returns to r2 when it comes back.
func TestSimulcastLayerStopsAndReturns(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	_, pub := dialSimPublisher(t, ctx, ts, "sim")
	_, r := dialSimReceiver(t, ctx, ts, "sim", "r2")

	r.wait(t, ctx, "r2 at first", func(video []vpkt, _ int) bool { return len(video) >= 30 })
	pub.enabled[2].Store(false)
	// The engine drops a layer silent for a second, checking every
	// second: the switch comes within about two seconds.
	r.waitLayer(t, ctx, "r1 while r2 is stopped", 1)
	pub.enabled[2].Store(true)
	r.waitLayer(t, ctx, "r2 once it is back", 2)

	r.wantRuns(t, "receiver", "r2 r1 r2")
}

func TestRtpStreamErrors(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	sim, _ := dialSimPublisher(t, ctx, ts, "sim")
	recv, _ := dialSimReceiver(t, ctx, ts, "sim", "")
	plain := newPublisher(t, "plain")
	flat := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "sim", Role: client.RoleSendonly, VideoCodecType: "VP8", Tracks: plain.tracks()})
	ch := ts.engine.Channel("sim")
	r, s, f := recv.ConnectionID(), sim.ConnectionID(), flat.ConnectionID()

	type call struct {
		name string
		do   func() error
		want error
	}
	calls := []call{
		{"unknown channel", func() error { return ts.engine.Channel("nope").RequestRtpStream(ctx, r, s, "r1") }, sfu.ErrChannelNotFound},
		{"unknown recv", func() error { return ch.RequestRtpStream(ctx, "NOPE", s, "r1") }, sfu.ErrConnectionNotFound},
		{"unknown send", func() error { return ch.RequestRtpStream(ctx, r, "NOPE", "r1") }, sfu.ErrConnectionNotFound},
		{"non-simulcast sender", func() error { return ch.RequestRtpStream(ctx, r, f, "r1") }, sfu.ErrFeatureDisabled},
		{"reset, non-simulcast sender", func() error { return ch.ResetRtpStream(ctx, r, f) }, sfu.ErrFeatureDisabled},
		{"bad rid", func() error { return ch.RequestRtpStream(ctx, r, s, "r3") }, sfu.ErrInvalidArgument},
		{"empty rid", func() error { return ch.RequestRtpStream(ctx, r, s, "") }, sfu.ErrInvalidArgument},
		{"sendonly receiver", func() error { return ch.RequestRtpStream(ctx, f, s, "r1") }, sfu.ErrFeatureDisabled},
		{"reset, unknown recv", func() error { return ch.ResetRtpStream(ctx, "NOPE", s) }, sfu.ErrConnectionNotFound},
		{"pause, unknown channel", func() error { return ts.engine.Channel("nope").PauseRtpStream(ctx, r, s) }, sfu.ErrChannelNotFound},
		{"pause, unknown send", func() error { return ch.PauseRtpStream(ctx, r, "NOPE") }, sfu.ErrConnectionNotFound},
		{"pause, no send", func() error { return ch.PauseRtpStream(ctx, r, "") }, sfu.ErrInvalidArgument},
		{"pause, sendonly receiver", func() error { return ch.PauseRtpStream(ctx, f, s) }, sfu.ErrFeatureDisabled},
		{"resume, unknown recv", func() error { return ch.ResumeRtpStream(ctx, "NOPE", s) }, sfu.ErrConnectionNotFound},
		{"pause, recvonly sender", func() error { return ch.PauseRtpStream(ctx, r, r) }, sfu.ErrFeatureDisabled},
	}
	for _, c := range calls {
		if err := c.do(); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	// Without a send id the request applies to every simulcast sender:
	// an error only when there is none.
	if err := ch.RequestRtpStream(ctx, r, "", "r1"); err != nil {
		t.Errorf("RequestRtpStream for all senders: %v", err)
	}
	if err := ch.ResetRtpStream(ctx, r, ""); err != nil {
		t.Errorf("ResetRtpStream for all senders: %v", err)
	}
	plain2 := newPublisher(t, "plain2")
	solo := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "flat", Role: client.RoleSendonly, VideoCodecType: "VP8", Tracks: plain2.tracks()})
	viewer := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "flat", Role: client.RoleRecvonly})
	if err := ts.engine.Channel("flat").RequestRtpStream(ctx, viewer.ConnectionID(), "", "r1"); !errors.Is(err, sfu.ErrFeatureDisabled) {
		t.Errorf("RequestRtpStream without simulcast sender: error %v, want %v", err, sfu.ErrFeatureDisabled)
	}

	// Pausing works for any sender, simulcast or not; the list has one
	// entry per paused pair, with the receiver's role.
	if got := ch.ListPauseRtpStreams(ctx); got == nil || len(got) != 0 {
		t.Errorf("ListPauseRtpStreams before any pause = %#v, want empty", got)
	}
	for _, send := range []string{s, f} {
		if err := ch.PauseRtpStream(ctx, r, send); err != nil {
			t.Fatalf("pause: %v", err)
		}
	}
	if err := ts.engine.Channel("flat").PauseRtpStream(ctx, viewer.ConnectionID(), solo.ConnectionID()); err != nil {
		t.Fatalf("pause in flat: %v", err)
	}
	got := map[sfu.PausedStream]bool{}
	for _, ps := range ch.ListPauseRtpStreams(ctx) {
		got[ps] = true
	}
	want := map[sfu.PausedStream]bool{
		{ChannelID: "sim", RecvConnectionID: r, Role: sfu.RoleRecvOnly, SendConnectionID: s}: true,
		{ChannelID: "sim", RecvConnectionID: r, Role: sfu.RoleRecvOnly, SendConnectionID: f}: true,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListPauseRtpStreams = %v, want %v", got, want)
	}
	if err := ch.ResumeRtpStream(ctx, r, f); err != nil {
		t.Fatal(err)
	}
	if got := ch.ListPauseRtpStreams(ctx); len(got) != 1 || got[0].SendConnectionID != s {
		t.Errorf("ListPauseRtpStreams after one resume = %+v", got)
	}
	if got := ts.engine.Channel("nope").ListPauseRtpStreams(ctx); got == nil || len(got) != 0 {
		t.Errorf("ListPauseRtpStreams of an unknown channel = %#v, want empty", got)
	}
	// A sender that leaves drops out of the list.
	if err := sim.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := recv.Wait(ctx, func() bool { return len(ch.ListPauseRtpStreams(ctx)) == 0 }); err != nil {
		t.Errorf("paused pair of a sender that left still listed: %+v", ch.ListPauseRtpStreams(ctx))
	}
}

func TestSimulcastInvalidRIDClosesConnect(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 10*time.Second)
	c, err := client.Dial(ctx, client.Config{URL: ts.url, ChannelID: "sim", Role: client.RoleRecvonly, SimulcastRID: "r9"})
	if err == nil {
		c.Close()
		t.Fatal("connect with simulcast_rid r9 succeeded")
	}
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != "INVALID-SIMULCAST-RID" {
		t.Fatalf("error %v, want close 4490 INVALID-SIMULCAST-RID", err)
	}
}

// The simulcast publisher's offer lists the encodings and declares the
// rids it receives on the video m-line.
func TestSimulcastOffer(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	p := newSimPublisher(t)
	c := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "sim", Role: client.RoleSendonly,
		VideoCodecType: "VP8", Simulcast: true, Tracks: p.tracks()})
	o := c.Offer()
	if !o.Simulcast {
		t.Error("offer.simulcast false")
	}
	var got []string
	for _, e := range o.Encodings {
		got = append(got, e.RID+"/"+e.ScalabilityMode)
	}
	if want := "r0/L1T1 r1/L1T1 r2/L1T1"; strings.Join(got, " ") != want {
		t.Errorf("offer.encodings %v, want %s", got, want)
	}

	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(o.SDP); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range sd.MediaDescriptions {
		if mid, _ := m.Attribute("mid"); mid != o.Mid.Video {
			if _, ok := m.Attribute("simulcast"); ok {
				t.Errorf("m-line %q (not video) has a=simulcast", mid)
			}
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "rid" || a.Key == "simulcast" {
				lines = append(lines, a.Key+":"+a.Value)
			}
		}
	}
	want := []string{"rid:r0 recv", "rid:r1 recv", "rid:r2 recv", "simulcast:recv r0;r1;r2"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("video m-line %q has %q, want %q", o.Mid.Video, lines, want)
	}
}
