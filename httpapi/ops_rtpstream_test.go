package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

// simPublisher sends three simulcast VP8 layers (every packet a key frame
// whose third byte names the layer: '0', '1', '2') and Opus, writing the
// mid and rid header extensions pion leaves to the application.
type simPublisher struct {
	audio  *webrtc.TrackLocalStaticRTP
	layers [3]*webrtc.TrackLocalStaticRTP
	sfutest.Pacer
}

var simRIDs = [3]string{"r0", "r1", "r2"}

func (e *env) dialSimPublisher(t *testing.T, ctx context.Context, channel string) *client.Client {
	return e.dialSimPublisherWith(t, ctx, client.Config{ChannelID: channel})
}

// dialSimPublisherWith is dialSimPublisher with more connect keys in cfg.
func (e *env) dialSimPublisherWith(t *testing.T, ctx context.Context, cfg client.Config) *client.Client {
	t.Helper()
	p := &simPublisher{}
	var err error
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "sim"); err != nil {
		t.Fatal(err)
	}
	tracks := []webrtc.TrackLocal{p.audio}
	for l, rid := range simRIDs {
		if p.layers[l], err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "sim", webrtc.WithRTPStreamID(rid)); err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, p.layers[l])
	}
	cfg.Role, cfg.VideoCodecType, cfg.Simulcast, cfg.Tracks = client.RoleSendonly, "VP8", true, tracks
	c := e.dialReady(t, ctx, cfg)
	mid := c.Offer().Mid.Video
	midID, ridID := extmapIDs(t, c.LocalSDP(), mid)
	p.Run(t, 10*time.Millisecond, func(n uint32) {
		for l, tr := range p.layers {
			h := rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 900, Marker: true}
			_ = h.SetExtension(midID, []byte(mid))
			_ = h.SetExtension(ridID, []byte(simRIDs[l]))
			_ = tr.WriteRTP(&rtp.Packet{Header: h, Payload: []byte{0x10, 0x00, '0' + byte(l), 0x9d, 0x01, 0x2a, 0, 0}})
		}
		_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 480}, Payload: make([]byte, 40)})
	})
	return c
}

// extmapIDs returns the negotiated ids of the mid and rid header
// extensions on the m-line mid.
func extmapIDs(t *testing.T, raw, mid string) (midID, ridID uint8) {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatal(err)
	}
	for _, m := range sd.MediaDescriptions {
		if v, _ := m.Attribute("mid"); v != mid {
			continue
		}
		for _, a := range m.Attributes {
			var x sdp.ExtMap
			if a.Key != "extmap" || x.Unmarshal("extmap:"+a.Value) != nil {
				continue
			}
			switch x.URI.String() {
			case sdp.SDESMidURI:
				midID = uint8(x.Value)
			case sdp.SDESRTPStreamIDURI:
				ridID = uint8(x.Value)
			}
		}
	}
	if midID == 0 || ridID == 0 {
		t.Fatalf("no mid/rid extmap for mid %q", mid)
	}
	return midID, ridID
}

// layerWatcher records the layer of each video packet a receiver gets.
type layerWatcher struct {
	mu      sync.Mutex
	changed chan struct{}
	counts  [3]int // simulcast video packets per layer
	video   int    // every video packet, the plain publisher's too
	audio   int
}

func newLayerWatcher() *layerWatcher { return &layerWatcher{changed: make(chan struct{})} }

func (w *layerWatcher) onTrack(t *client.RemoteTrack) {
	for {
		pkt, _, err := t.Track.ReadRTP()
		if err != nil {
			return
		}
		w.mu.Lock()
		if t.Kind() == webrtc.RTPCodecTypeAudio {
			w.audio++
		} else if len(pkt.Payload) >= 3 {
			w.video++
			if l := int(pkt.Payload[2] - '0'); l >= 0 && l < 3 {
				w.counts[l]++
			}
		}
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// waitLayer waits until n more packets of layer rid arrived than when it
// was called.
func (w *layerWatcher) waitLayer(t *testing.T, ctx context.Context, rid string, n int) {
	t.Helper()
	l := int(rid[1] - '0')
	w.wait(t, ctx, rid, func() int { return w.counts[l] }, n)
}

// waitAudio waits until n more audio packets arrived.
func (w *layerWatcher) waitAudio(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	w.wait(t, ctx, "audio", func() int { return w.audio }, n)
}

// videoPackets is the number of video packets received.
func (w *layerWatcher) videoPackets() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.video
}

// wait waits until count (read under w.mu) grew by n.
func (w *layerWatcher) wait(t *testing.T, ctx context.Context, what string, count func() int, n int) {
	t.Helper()
	w.mu.Lock()
	target := count() + n
	w.mu.Unlock()
	for {
		w.mu.Lock()
		got, ch := count(), w.changed
		w.mu.Unlock()
		if got >= target {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("receiver got too few %s packets (video per layer %v, audio %d)", what, w.counts, w.audio)
		}
	}
}

// rtpStreamEnv is a channel "sora" with a simulcast publisher, a plain
// publisher, and a recvonly receiver that asked for r0 at connect.
type rtpStreamEnv struct {
	*env
	sim, plain, recv *client.Client
	watch            *layerWatcher
}

func newRtpStreamEnv(t *testing.T, ctx context.Context) *rtpStreamEnv {
	e := &rtpStreamEnv{env: newEnv(t, sfu.Options{}), watch: newLayerWatcher()}
	e.sim = e.dialSimPublisher(t, ctx, "sora")
	pub := newPublisher(t)
	e.plain = e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t)
	e.recv = e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly, SimulcastRID: "r0", OnTrack: e.watch.onTrack})
	return e
}

// The five operations with the seed's request shapes: answers echo the
// request, and the receiver's layer and pause state follow.
func TestRtpStreamOperations(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newRtpStreamEnv(t, ctx)
	recv, send := e.recv.ConnectionID(), e.sim.ConnectionID()
	e.watch.waitLayer(t, ctx, "r0", 20)

	body := fmt.Sprintf(`{
    "channel_id": "sora",
    "recv_connection_id": %q,
    "rid": "r1",
    "send_connection_id": %q
}`, recv, send)
	e.echo(t, "Sora_20201005.RequestRtpStream", body)
	e.watch.waitLayer(t, ctx, "r1", 20)

	body = fmt.Sprintf(`{
    "channel_id": "sora",
    "recv_connection_id": %q,
    "send_connection_id": %q
}`, recv, send)
	e.echo(t, "Sora_20201005.ResetRtpStream", body)
	e.watch.waitLayer(t, ctx, "r0", 20)

	// send_connection_id is optional: every simulcast sender; the echo
	// leaves it out too.
	body = fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "rid": "r2"}`, recv)
	e.echo(t, "Sora_20201005.RequestRtpStream", body)
	e.watch.waitLayer(t, ctx, "r2", 20)
	body = fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q}`, recv)
	e.echo(t, "Sora_20201005.ResetRtpStream", body)
	e.watch.waitLayer(t, ctx, "r0", 20)

	body = fmt.Sprintf(`{
    "channel_id": "sora",
    "recv_connection_id": %q,
    "send_connection_id": %q
}`, recv, send)
	e.echo(t, "Sora_20200401.PauseRtpStream", body)
	want := []sfu.PausedStream{{ChannelID: "sora", RecvConnectionID: recv, Role: sfu.RoleRecvOnly, SendConnectionID: send}}
	if got := e.engine.Channel("sora").ListPauseRtpStreams(ctx); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paused streams %+v, want %+v", got, want)
	}
	r := e.call(t, "Sora_20200401.ListPauseRtpStreams", `{"channel_id": "sora"}`)
	r.ok(t, nil)
	jsonEqual(t, r.body, fmt.Sprintf(`[
    {
        "channel_id": "sora",
        "recv_connection_id": %q,
        "role": "recvonly",
        "send_connection_id": %q
    }
]`, recv, send))

	e.echo(t, "Sora_20200401.ResumeRtpStream", body)
	r = e.call(t, "Sora_20200401.ListPauseRtpStreams", `{"channel_id": "sora"}`)
	r.ok(t, nil)
	jsonEqual(t, r.body, `[]`)
	e.watch.waitLayer(t, ctx, "r0", 20) // video flows again
}

// While paused the receiver gets no video from that sender; the plain
// publisher's pause works the same way.
func TestPauseRtpStreamStopsVideo(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newRtpStreamEnv(t, ctx)
	recv := e.recv.ConnectionID()
	e.watch.waitLayer(t, ctx, "r0", 20)
	for _, send := range []string{e.sim.ConnectionID(), e.plain.ConnectionID()} {
		e.call(t, "Sora_20200401.PauseRtpStream", fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": %q}`, recv, send)).ok(t, nil)
	}
	if got := len(e.engine.Channel("sora").ListPauseRtpStreams(ctx)); got != 2 {
		t.Fatalf("%d paused streams, want 2", got)
	}
	// Packets in flight when the pause took effect may still arrive;
	// then no video while audio (a packet every 10 ms from each
	// publisher) goes on.
	e.watch.waitAudio(t, ctx, 20)
	before := e.watch.videoPackets()
	e.watch.waitAudio(t, ctx, 60)
	if got := e.watch.videoPackets(); got != before {
		t.Errorf("receiver got %d video packets while both senders were paused", got-before)
	}
	e.call(t, "Sora_20200401.ResumeRtpStream", fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": %q}`, recv, e.sim.ConnectionID())).ok(t, nil)
	e.watch.waitLayer(t, ctx, "r0", 20)
}

func TestRtpStreamErrors(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newRtpStreamEnv(t, ctx)
	recv, send, plain := e.recv.ConnectionID(), e.sim.ConnectionID(), e.plain.ConnectionID()
	rows := []struct {
		name, target, body string
		status             int
		errorType          string
	}{
		{"missing rid", "Sora_20201005.RequestRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": %q}`, recv, send),
			http.StatusBadRequest, "INVALID-PARAMETER"},
		{"rid r3", "Sora_20201005.RequestRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": %q, "rid": "r3"}`, recv, send),
			http.StatusBadRequest, "INVALID-PARAMETER"},
		{"missing recv_connection_id", "Sora_20201005.RequestRtpStream",
			`{"channel_id": "sora", "rid": "r1"}`, http.StatusBadRequest, "INVALID-PARAMETER"},
		{"unknown recv connection", "Sora_20201005.RequestRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": "NOPE", "send_connection_id": %q, "rid": "r1"}`, send),
			http.StatusNotFound, "CONNECTION-NOT-FOUND"},
		{"unknown send connection", "Sora_20201005.ResetRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": "NOPE"}`, recv),
			http.StatusNotFound, "CONNECTION-NOT-FOUND"},
		{"unknown channel", "Sora_20201005.RequestRtpStream",
			fmt.Sprintf(`{"channel_id": "nope", "recv_connection_id": %q, "rid": "r1"}`, recv),
			http.StatusNotFound, "CHANNEL-NOT-FOUND"},
		{"non-simulcast sender", "Sora_20201005.RequestRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": %q, "rid": "r1"}`, recv, plain),
			http.StatusBadRequest, "FEATURE-DISABLED"},
		{"reset, non-simulcast sender", "Sora_20201005.ResetRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": %q}`, recv, plain),
			http.StatusBadRequest, "FEATURE-DISABLED"},
		{"sendonly receiver", "Sora_20201005.RequestRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": %q, "rid": "r1"}`, plain, send),
			http.StatusBadRequest, "FEATURE-DISABLED"},
		{"pause, missing send_connection_id", "Sora_20200401.PauseRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q}`, recv),
			http.StatusBadRequest, "INVALID-PARAMETER"},
		{"pause, unknown connection", "Sora_20200401.PauseRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": "NOPE", "send_connection_id": %q}`, send),
			http.StatusNotFound, "CONNECTION-NOT-FOUND"},
		{"resume, unknown connection", "Sora_20200401.ResumeRtpStream",
			fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": "NOPE"}`, recv),
			http.StatusNotFound, "CONNECTION-NOT-FOUND"},
		{"list, missing channel_id", "Sora_20200401.ListPauseRtpStreams", `{}`, http.StatusBadRequest, "INVALID-PARAMETER"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			e.call(t, row.target, row.body).fails(t, row.status, row.errorType)
		})
	}
	r := e.call(t, "Sora_20200401.ListPauseRtpStreams", `{"channel_id": "no-such-channel"}`)
	r.ok(t, nil)
	jsonEqual(t, r.body, `[]`)
	// Nothing above changed anything.
	if got := e.engine.Channel("sora").ListPauseRtpStreams(ctx); len(got) != 0 {
		t.Errorf("paused streams %+v after failed calls", got)
	}
}

// RequestSimulcastRid (both versions Sora's documents give) switches the
// layer like RequestRtpStream, "none" stops the sender's video while
// audio goes on, and a layer brings it back. "auto" needs bandwidth
// allocation; an unknown rid is refused.
func TestRequestSimulcastRid(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newRtpStreamEnv(t, ctx)
	recv, send := e.recv.ConnectionID(), e.sim.ConnectionID()
	e.watch.waitLayer(t, ctx, "r0", 20)

	body := fmt.Sprintf(`{"channel_id": "sora", "receiver_connection_id": %q, "sender_connection_id": %q, "rid": "r1"}`, recv, send)
	e.echo(t, "Sora_20251210.RequestSimulcastRid", body)
	e.watch.waitLayer(t, ctx, "r1", 20)

	// Every simulcast sender, the sender key left out of the echo too.
	body = fmt.Sprintf(`{"channel_id": "sora", "receiver_connection_id": %q, "rid": "none"}`, recv)
	e.echo(t, "Sora_20251217.RequestSimulcastRid", body)
	e.watch.waitAudio(t, ctx, 20) // what was in flight has arrived
	before := e.watch.videoPackets()
	e.watch.waitAudio(t, ctx, 60)
	if got := e.watch.videoPackets() - before; got != 0 {
		t.Errorf("receiver got %d video packets from the simulcast sender after rid none", got)
	}
	body = fmt.Sprintf(`{"channel_id": "sora", "receiver_connection_id": %q, "sender_connection_id": %q, "rid": "r2"}`, recv, send)
	e.echo(t, "Sora_20251210.RequestSimulcastRid", body)
	e.watch.waitLayer(t, ctx, "r2", 20)

	for _, row := range []struct {
		rid, errorType string
	}{{"auto", "FEATURE-DISABLED"}, {"r3", "INVALID-PARAMETER"}, {"", "INVALID-PARAMETER"}} {
		e.call(t, "Sora_20251210.RequestSimulcastRid",
			fmt.Sprintf(`{"channel_id": "sora", "receiver_connection_id": %q, "rid": %q}`, recv, row.rid)).
			fails(t, http.StatusBadRequest, row.errorType)
	}
}
