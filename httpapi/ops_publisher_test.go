package httpapi_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
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

// countingPublisher sends VP8 and Opus packets whose payloads end in a
// 4-byte counter, so that a receiver can check it got each one intact.
type countingPublisher struct {
	video, audio *webrtc.TrackLocalStaticRTP
	sfutest.Pacer

	mu   sync.Mutex
	sent uint32        // packets of each kind sent
	more chan struct{} // closed and replaced at each send
}

func newCountingPublisher(t *testing.T) *countingPublisher {
	t.Helper()
	p := &countingPublisher{more: make(chan struct{})}
	var err error
	if p.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "s"); err != nil {
		t.Fatal(err)
	}
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "s"); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *countingPublisher) start(t *testing.T) {
	p.Run(t, 5*time.Millisecond, func(n uint32) {
		v := append([]byte{0x10, 0x00, 0x9d, 0x01, 0x2a}, make([]byte, 100)...)
		binary.BigEndian.PutUint32(v[len(v)-4:], n)
		_ = p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 3000, Marker: true}, Payload: v})
		a := make([]byte, 40)
		binary.BigEndian.PutUint32(a[36:], n)
		_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 960}, Payload: a})
		p.mu.Lock()
		p.sent++
		close(p.more)
		p.more = make(chan struct{})
		p.mu.Unlock()
	})
}

// waitSent waits until the publisher has sent n more packets of each kind.
func (p *countingPublisher) waitSent(t *testing.T, ctx context.Context, n uint32) {
	t.Helper()
	p.mu.Lock()
	target := p.sent + n
	p.mu.Unlock()
	for {
		p.mu.Lock()
		sent, more := p.sent, p.more
		p.mu.Unlock()
		if sent >= target {
			return
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatal("the publisher stopped sending")
		}
	}
}

// rtpListener is a UDP socket on 127.0.0.1 that collects RTP packets.
type rtpListener struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []rtp.Packet
	more chan struct{}
}

func newRTPListener(t *testing.T) *rtpListener {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := &rtpListener{conn: c, more: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2000)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(append([]byte(nil), buf[:n]...)) != nil {
				continue
			}
			l.mu.Lock()
			l.got = append(l.got, p)
			close(l.more)
			l.more = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return l
}

func (l *rtpListener) port() int { return l.conn.LocalAddr().(*net.UDPAddr).Port }

func (l *rtpListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

// wait waits until at least n packets arrived and returns them.
func (l *rtpListener) wait(t *testing.T, ctx context.Context, n int) []rtp.Packet {
	t.Helper()
	for {
		l.mu.Lock()
		got, more := l.got, l.more
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("port %d got %d RTP packets, want %d", l.port(), len(got), n)
		}
	}
}

// checkForwarded checks that pkts carry payload type pt, continuous
// sequence numbers, and the publisher's payloads intact and in order.
func checkForwarded(t *testing.T, what string, pkts []rtp.Packet, pt uint8, size int) {
	t.Helper()
	for i, p := range pkts {
		if p.PayloadType != pt || len(p.Payload) != size {
			t.Fatalf("%s packet %d: payload type %d, %d bytes; want %d, %d bytes", what, i, p.PayloadType, len(p.Payload), pt, size)
		}
		if i == 0 {
			continue
		}
		prev := pkts[i-1]
		if p.SequenceNumber != prev.SequenceNumber+1 || p.SSRC != prev.SSRC {
			t.Fatalf("%s packet %d: sequence %d after %d (SSRC %x, %x)", what, i, p.SequenceNumber, prev.SequenceNumber, p.SSRC, prev.SSRC)
		}
		if c, pc := binary.BigEndian.Uint32(p.Payload[size-4:]), binary.BigEndian.Uint32(prev.Payload[size-4:]); c != pc+1 {
			t.Fatalf("%s packet %d: payload counter %d after %d", what, i, c, pc)
		}
	}
}

// sdpPayloadType returns the payload type of the m-line of kind in a
// forward's SDP, after checking the line's shape.
func sdpPayloadType(t *testing.T, sdp, kind string, port int) uint8 {
	t.Helper()
	prefix := fmt.Sprintf("m=%s %d RTP/SAVPF ", kind, port)
	for _, line := range strings.Split(sdp, "\r\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			var pt uint8
			if _, err := fmt.Sscan(rest, &pt); err != nil {
				t.Fatalf("m-line %q: %v", line, err)
			}
			return pt
		}
	}
	t.Fatalf("no %q line in SDP:\n%s", prefix, sdp)
	return 0
}

// startForwarding calls StartForwardingRtp and returns the SDP. Until
// the engine has the publisher's tracks it answers FEATURE-DISABLED ("no
// media yet"): then it waits for a packet of p, or 10 ms when p is nil,
// and tries again.
func (e *env) startForwarding(t *testing.T, ctx context.Context, p *countingPublisher, body string) string {
	t.Helper()
	for {
		a := e.call(t, "Sora_20170814.StartForwardingRtp", body)
		if a.status == 400 && strings.Contains(string(a.body), "no media yet") {
			if p != nil {
				p.waitSent(t, ctx, 1)
				continue
			}
			select {
			case <-ctx.Done():
				t.Fatalf("StartForwardingRtp: still %s", a.body)
			case <-time.After(10 * time.Millisecond): // no event tells when pion reports the track
			}
			continue
		}
		var ans struct {
			SDP string `json:"sdp"`
		}
		a.ok(t, &ans)
		return ans.SDP
	}
}

// StartForwardingRtp with the seed's request (no connection_id: the
// channel has one publisher): the SDP describes what arrives, payloads
// arrive intact with continuous sequence numbers; a second Start moves
// the target; Stop stops it; a second Stop is 404.
func TestForwardingRtp(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newEnv(t, sfu.Options{})
	pub := newCountingPublisher(t)
	plis := make(chan struct{}, 16)
	c := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: "VP8",
		Tracks: []webrtc.TrackLocal{pub.audio, pub.video},
		OnSenderRTCP: func(_ webrtc.TrackLocal, pkts []rtcp.Packet) {
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					select {
					case plis <- struct{}{}:
					default:
					}
				}
			}
		}})
	pub.start(t)
	audio, video := newRTPListener(t), newRTPListener(t)
	// Past the key-frame request throttle (500 ms) of anything before
	// Start; then the next PLI the publisher gets is Start's.
	pub.waitSent(t, ctx, 120)
	for len(plis) > 0 {
		<-plis
	}

	sdp := e.startForwarding(t, ctx, pub, fmt.Sprintf(`{
    "audio_port": %d,
    "channel_id": "sora",
    "ip_address": "127.0.0.1",
    "video_port": %d
}`, audio.port(), video.port()))
	for _, want := range []string{"v=0\r\n", "c=IN IP4 127.0.0.1\r\n", "opus/48000/2\r\n", "VP8/90000\r\n"} {
		if !strings.Contains(sdp, want) {
			t.Errorf("SDP lacks %q:\n%s", want, sdp)
		}
	}
	select {
	case <-plis:
	case <-ctx.Done():
		t.Fatal("StartForwardingRtp asked the publisher for no key frame")
	}
	checkForwarded(t, "video", video.wait(t, ctx, 50), sdpPayloadType(t, sdp, "video", video.port()), 105)
	checkForwarded(t, "audio", audio.wait(t, ctx, 50), sdpPayloadType(t, sdp, "audio", audio.port()), 40)
	if fs := e.engine.Channel("sora").RtpForwards(ctx); len(fs) != 1 || fs[0].ConnectionID != c.ConnectionID() || fs[0].SDP != sdp {
		t.Errorf("RtpForwards = %+v", fs)
	}

	// A second Start for the same publisher replaces the target.
	audio2, video2 := newRTPListener(t), newRTPListener(t)
	e.startForwarding(t, ctx, pub, fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "ip_address": "127.0.0.1", "audio_port": %d, "video_port": %d}`,
		c.ConnectionID(), audio2.port(), video2.port()))
	video2.wait(t, ctx, 20)
	audio2.wait(t, ctx, 20)
	// Once what was in flight has landed, the old target gets nothing.
	pub.waitSent(t, ctx, 20)
	old := video.count()
	pub.waitSent(t, ctx, 40)
	if n := video.count(); n != old {
		t.Errorf("the old target got %d more packets after the second Start", n-old)
	}

	e.echo(t, "Sora_20170814.StopForwardingRtp", `{
    "channel_id": "sora"
}`)
	pub.waitSent(t, ctx, 20)
	stopped := video2.count()
	pub.waitSent(t, ctx, 40) // the publisher goes on sending
	if n := video2.count(); n != stopped {
		t.Errorf("%d packets arrived after StopForwardingRtp", n-stopped)
	}
	e.call(t, "Sora_20170814.StopForwardingRtp", fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, c.ConnectionID())).
		fails(t, 404, "FORWARDING-NOT-FOUND")
	if fs := e.engine.Channel("sora").RtpForwards(ctx); len(fs) != 0 {
		t.Errorf("RtpForwards after Stop = %+v", fs)
	}
}

// A simulcast publisher's layer is chosen with rid; a publisher that
// sends no audio gets an SDP with video only; the forward ends when the
// publisher leaves.
func TestForwardingRtpLayerAndLeave(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newEnv(t, sfu.Options{})
	sim := e.dialSimPublisherWith(t, ctx, client.Config{ChannelID: "sora", Audio: client.Bool(false)})
	audio, video := newRTPListener(t), newRTPListener(t)
	body := fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "ip_address": "127.0.0.1", "audio_port": %d, "video_port": %d, "rid": "r1"}`,
		sim.ConnectionID(), audio.port(), video.port())
	sdp := e.startForwarding(t, ctx, nil, body)
	if strings.Contains(sdp, "m=audio") {
		t.Errorf("SDP for a publisher without audio has an audio m-line:\n%s", sdp)
	}
	for _, p := range video.wait(t, ctx, 30) {
		if p.Payload[2] != '1' {
			t.Fatalf("forwarded layer %q, want r1", p.Payload[2])
		}
	}
	if fs := e.engine.Channel("sora").RtpForwards(ctx); len(fs) != 1 || fs[0].RID != "r1" || fs[0].AudioPort != 0 {
		t.Errorf("RtpForwards = %+v, want one at r1 without audio", fs)
	}
	sim.Close()
	<-sim.Done()
	sfutest.Eventually(t, ctx, "the forward ends with its publisher", func() bool {
		return len(e.engine.Channel("sora").RtpForwards(ctx)) == 0
	})
	if audio.count() != 0 {
		t.Errorf("%d packets reached the audio port", audio.count())
	}
}

// Every bad request, with its status and error type.
func TestForwardingRtpErrors(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newEnv(t, sfu.Options{})
	p1, p2 := newCountingPublisher(t), newPublisher(t)
	a := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: "VP8",
		Tracks: []webrtc.TrackLocal{p1.audio, p1.video}})
	p1.start(t)
	e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: "VP8", Tracks: p2.tracks()})
	recv := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	start := func(fields string) string {
		return `{"channel_id": "sora", "connection_id": "` + a.ConnectionID() + `", ` + fields + `}`
	}
	// Once the publisher's media is there (so that its own checks come
	// into play), and stopped again.
	l := newRTPListener(t)
	e.startForwarding(t, ctx, p1, start(fmt.Sprintf(`"ip_address": "127.0.0.1", "audio_port": %d, "video_port": %d`, l.port(), l.port()+1)))
	e.echo(t, "Sora_20170814.StopForwardingRtp", `{"channel_id": "sora", "connection_id": "`+a.ConnectionID()+`"}`)
	cases := []struct {
		target, body string
		status       int
		errorType    string
	}{
		{"StartForwardingRtp", start(`"ip_address": "localhost", "audio_port": 5004, "video_port": 5006`), 400, "INVALID-PARAMETER"},
		{"StartForwardingRtp", start(`"ip_address": "0.0.0.0", "audio_port": 5004, "video_port": 5006`), 400, "INVALID-PARAMETER"},
		{"StartForwardingRtp", start(`"ip_address": "127.0.0.1", "audio_port": 0, "video_port": 5006`), 400, "INVALID-PARAMETER"},
		{"StartForwardingRtp", start(`"ip_address": "127.0.0.1", "audio_port": 5004, "video_port": 65536`), 400, "INVALID-PARAMETER"},
		{"StartForwardingRtp", start(`"ip_address": "127.0.0.1", "audio_port": 5004, "video_port": 5004`), 400, "INVALID-PARAMETER"},
		{"StartForwardingRtp", start(`"ip_address": "127.0.0.1", "audio_port": 5004, "video_port": 5006, "rid": "r1"`), 400, "INVALID-PARAMETER"},
		{"StartForwardingRtp", `{"channel_id": "sora", "ip_address": "127.0.0.1", "audio_port": 5004, "video_port": 5006}`, 400, "INVALID-PARAMETER"},
		{"StartForwardingRtp", `{"channel_id": "none", "ip_address": "127.0.0.1", "audio_port": 5004, "video_port": 5006}`, 404, "CHANNEL-NOT-FOUND"},
		{"StartForwardingRtp", `{"channel_id": "sora", "connection_id": "NOSUCH", "ip_address": "127.0.0.1", "audio_port": 5004, "video_port": 5006}`, 404, "CONNECTION-NOT-FOUND"},
		{"StartForwardingRtp", `{"channel_id": "sora", "connection_id": "` + recv.ConnectionID() + `", "ip_address": "127.0.0.1", "audio_port": 5004, "video_port": 5006}`, 400, "FEATURE-DISABLED"},
		{"StopForwardingRtp", `{"channel_id": "sora", "connection_id": "` + a.ConnectionID() + `"}`, 404, "FORWARDING-NOT-FOUND"},
		{"StopForwardingRtp", `{"channel_id": "none"}`, 404, "CHANNEL-NOT-FOUND"},
	}
	for _, c := range cases {
		e.call(t, "Sora_20170814."+c.target, c.body).fails(t, c.status, c.errorType)
	}
}

// rembWatcher records the REMB bit rates a publisher is sent.
type rembWatcher struct {
	mu    sync.Mutex
	rates []float32
	more  chan struct{}
}

func (w *rembWatcher) onRTCP(_ webrtc.TrackLocal, pkts []rtcp.Packet) {
	for _, p := range pkts {
		if r, ok := p.(*rtcp.ReceiverEstimatedMaximumBitrate); ok {
			w.mu.Lock()
			w.rates = append(w.rates, r.Bitrate)
			close(w.more)
			w.more = make(chan struct{})
			w.mu.Unlock()
		}
	}
}

// waitRate waits for n REMBs of exactly bps after the ones seen so far.
func (w *rembWatcher) waitRate(t *testing.T, ctx context.Context, bps float32, n int) {
	t.Helper()
	w.mu.Lock()
	from := len(w.rates)
	w.mu.Unlock()
	seen := 0
	for {
		w.mu.Lock()
		rates, more := w.rates, w.more
		w.mu.Unlock()
		for ; from < len(rates); from++ {
			if rates[from] == bps {
				seen++
				if seen == n {
					return
				}
			}
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("%d REMBs of %v bps, want %d (rates %v)", seen, bps, n, rates)
		}
	}
}

// ChangeUpstreamVideoBitRate: the publisher is sent REMB with exactly the
// new rate at once and again about a second later, and the newer rate
// after a change; the errors of the operation.
func TestChangeUpstreamVideoBitRate(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newEnv(t, sfu.Options{})
	w := &rembWatcher{more: make(chan struct{})}
	pub := newPublisher(t)
	c := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: "VP8",
		Tracks: pub.tracks(), OnSenderRTCP: w.onRTCP})
	pub.start(t)
	noVideo := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, Video: client.Bool(false),
		Tracks: []webrtc.TrackLocal{newPublisher(t).audio}})
	w.waitRate(t, ctx, 5_000_000, 1) // the engine's own limit until then

	e.echo(t, "Sora_20190327.ChangeUpstreamVideoBitRate", fmt.Sprintf(`{
    "bit_rate": 150,
    "channel_id": "sora",
    "connection_id": %q
}`, c.ConnectionID()))
	// At once, then with the receiver reports (once a second): three
	// show that it is repeated.
	w.waitRate(t, ctx, 150_000, 3)
	e.echo(t, "Sora_20190327.ChangeUpstreamVideoBitRate", fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "bit_rate": 800}`, c.ConnectionID()))
	w.waitRate(t, ctx, 800_000, 2)

	for _, bad := range []struct {
		body      string
		status    int
		errorType string
	}{
		{fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "bit_rate": 0}`, c.ConnectionID()), 400, "INVALID-PARAMETER"},
		{fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "bit_rate": 30001}`, c.ConnectionID()), 400, "INVALID-PARAMETER"},
		{fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "bit_rate": 500}`, noVideo.ConnectionID()), 400, "FEATURE-DISABLED"},
		{`{"channel_id": "sora", "connection_id": "NOSUCH", "bit_rate": 500}`, 404, "CONNECTION-NOT-FOUND"},
		{`{"channel_id": "none", "connection_id": "NOSUCH", "bit_rate": 500}`, 404, "CHANNEL-NOT-FOUND"},
	} {
		e.call(t, "Sora_20190327.ChangeUpstreamVideoBitRate", bad.body).fails(t, bad.status, bad.errorType)
	}
}

// packetCounter is an in-process sink that counts packets.
type packetCounter struct {
	mu   sync.Mutex
	n    int
	more chan struct{}
}

func (c *packetCounter) WriteRTP(*forward.SinkPacket) {
	c.mu.Lock()
	c.n++
	close(c.more)
	c.more = make(chan struct{})
	c.mu.Unlock()
}

func (c *packetCounter) wait(ctx context.Context, n int) bool {
	for {
		c.mu.Lock()
		got, more := c.n, c.more
		c.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-more:
		case <-ctx.Done():
			return false
		}
	}
}

// Channel.AddSink hands an embedder's sink a publisher's video until it
// is removed.
func TestAddSink(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newEnv(t, sfu.Options{})
	pub := newCountingPublisher(t)
	c := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: "VP8",
		Tracks: []webrtc.TrackLocal{pub.audio, pub.video}})
	pub.start(t)
	k := &packetCounter{more: make(chan struct{})}
	var remove func()
	for remove == nil {
		var err error
		if remove, err = e.engine.Channel("sora").AddSink(ctx, c.ConnectionID(), webrtc.RTPCodecTypeVideo, "", k); err != nil {
			pub.waitSent(t, ctx, 1) // until the engine has the track
		}
	}
	if !k.wait(ctx, 20) {
		t.Fatal("the sink got fewer than 20 packets")
	}
	remove()
	k.mu.Lock()
	n := k.n
	k.mu.Unlock()
	pub.waitSent(t, ctx, 20)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n > n+1 { // one may have been in its fan-out
		t.Errorf("the sink got %d packets after remove", k.n-n)
	}
}
