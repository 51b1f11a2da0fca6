package sfu

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/simulcast"
)

// RtpForwardRequest asks for a publisher's audio and video as plain RTP
// (StartForwardingRtp), for ffmpeg, GStreamer or a recorder.
type RtpForwardRequest struct {
	// ConnectionID is the publisher; empty when the channel has exactly
	// one sending connection.
	ConnectionID string
	// Address receives the RTP: an IPv4 or IPv6 address.
	Address netip.Addr
	// AudioPort and VideoPort (1-65535, different) receive each kind.
	// A kind the publisher does not send is not forwarded.
	AudioPort, VideoPort int
	// RID picks the layer of a simulcast publisher ("r0", "r1", "r2");
	// empty for the highest layer arriving (with the fallback of
	// RequestRtpStream when it stops). Not for other publishers.
	RID string
}

// RtpForward is a running forward: what was asked and the SDP that
// describes the RTP sent.
type RtpForward struct {
	ChannelID    string
	ConnectionID string
	Address      netip.Addr
	// AudioPort and VideoPort are 0 for a kind not forwarded.
	AudioPort, VideoPort int
	RID                  string // the layer forwarded; "" without simulcast
	SDP                  string
}

// rtpForward is a running forward and its sinks.
type rtpForward struct {
	info     RtpForward
	attached []attachedSink
}

type attachedSink struct {
	src  *forward.Source
	sink *forward.UDPSink
}

func (f *rtpForward) stop() {
	for _, a := range f.attached {
		a.src.RemoveSink(a.sink)
		a.sink.Close()
	}
}

// StartForwardingRtp sends a publisher's audio and video as plain RTP
// (no SRTP) to req.Address, each kind to its port, from sockets of the
// engine's own, and returns the SDP that describes it (the payload types,
// rtpmap and fmtp negotiated with the publisher). A key frame is
// requested so that a decoder starts at once. A forward already running
// for the publisher is replaced. Forwarding ends with StopForwardingRtp
// or when the publisher leaves.
func (ch *Channel) StartForwardingRtp(ctx context.Context, req RtpForwardRequest) (RtpForward, error) {
	if err := req.validate(); err != nil {
		return RtpForward{}, err
	}
	r, pub, err := ch.publisher(req.ConnectionID)
	if err != nil {
		return RtpForward{}, err
	}
	f := &rtpForward{info: RtpForward{ChannelID: ch.id, ConnectionID: pub.id, Address: req.Address}}
	var media []forwardedMedia
	for _, p := range r.publicationsOf(pub) {
		port := req.AudioPort
		if p.kind == webrtc.RTPCodecTypeVideo {
			port = req.VideoPort
		}
		src, rid, err := forwardSource(p, req.RID)
		if err != nil {
			f.stop()
			return RtpForward{}, err
		}
		if src == nil {
			continue
		}
		sink, err := forward.NewUDPSink(netip.AddrPortFrom(req.Address, uint16(port)), rand.Uint32())
		if err != nil {
			f.stop()
			return RtpForward{}, err
		}
		f.attached = append(f.attached, attachedSink{src: src, sink: sink})
		media = append(media, forwardedMedia{kind: p.kind, port: port, codec: src.Codec()})
		if p.kind == webrtc.RTPCodecTypeVideo {
			f.info.VideoPort, f.info.RID = port, rid
		} else {
			f.info.AudioPort = port
		}
	}
	// A kind the publisher said it sends but whose track has not arrived
	// yet would be missing from the SDP: refuse until it is there.
	if (pub.audio && f.info.AudioPort == 0) || (pub.video && f.info.VideoPort == 0) || len(media) == 0 {
		f.stop()
		return RtpForward{}, fmt.Errorf("%w: connection %q sends no media yet", ErrFeatureDisabled, pub.id)
	}
	f.info.SDP = forwardSDP(req.Address, media)
	r.mu.Lock()
	if !slices.Contains(r.conns, pub) { // it left meanwhile
		r.mu.Unlock()
		f.stop()
		return RtpForward{}, fmt.Errorf("%w: %q in channel %q", ErrConnectionNotFound, pub.id, ch.id)
	}
	if r.forwards == nil {
		r.forwards = map[string]*rtpForward{}
	}
	old := r.forwards[pub.id]
	r.forwards[pub.id] = f
	r.mu.Unlock()
	if old != nil {
		old.stop()
	}
	for _, a := range f.attached {
		a.src.AddSink(a.sink)
		a.src.RequestKeyFrame()
	}
	return f.info, nil
}

// StopForwardingRtp stops the forward of a publisher (connID may be
// empty when the channel has exactly one sending connection) and returns
// the publisher's id. ErrForwardNotFound when none is running.
func (ch *Channel) StopForwardingRtp(ctx context.Context, connID string) (string, error) {
	r, pub, err := ch.publisher(connID)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	f := r.forwards[pub.id]
	delete(r.forwards, pub.id)
	r.mu.Unlock()
	if f == nil {
		return "", fmt.Errorf("%w: connection %q", ErrForwardNotFound, pub.id)
	}
	f.stop()
	return pub.id, nil
}

// RtpForwards lists the channel's running forwards.
func (ch *Channel) RtpForwards(ctx context.Context) []RtpForward {
	r := ch.engine.room(ch.id)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RtpForward, 0, len(r.forwards))
	for _, f := range r.forwards {
		out = append(out, f.info)
	}
	return out
}

// AddSink attaches an in-process sink (a recorder, a transcriber) to a
// publisher's audio or video: for simulcast video, to layer rid (the
// highest arriving when empty). The sink gets the stream's packets until
// remove is called or the publisher's stream ends. See forward.Sink for
// what a sink may do on the forwarding path.
func (ch *Channel) AddSink(ctx context.Context, connID string, kind webrtc.RTPCodecType, rid string, k forward.Sink) (remove func(), err error) {
	r, pub, err := ch.publisher(connID)
	if err != nil {
		return nil, err
	}
	for _, p := range r.publicationsOf(pub) {
		if p.kind != kind {
			continue
		}
		src, _, err := forwardSource(p, rid)
		if err != nil {
			return nil, err
		}
		if src != nil {
			src.AddSink(k)
			src.RequestKeyFrame()
			return func() { src.RemoveSink(k) }, nil
		}
	}
	return nil, fmt.Errorf("%w: connection %q sends no %s", ErrFeatureDisabled, pub.id, kind)
}

// stopForwardLocked ends c's forward, if any, as c leaves. Under r.mu.
func (r *room) stopForwardLocked(c *Connection) {
	if f := r.forwards[c.id]; f != nil {
		delete(r.forwards, c.id)
		f.stop()
	}
}

func (req RtpForwardRequest) validate() error {
	if !req.Address.IsValid() || req.Address.IsUnspecified() {
		return invalid("ip_address", "an IPv4 or IPv6 address is required")
	}
	for _, p := range []struct {
		key  string
		port int
	}{{"audio_port", req.AudioPort}, {"video_port", req.VideoPort}} {
		if p.port < 1 || p.port > 65535 {
			return invalid(p.key, "%d is not 1 to 65535", p.port)
		}
	}
	if req.AudioPort == req.VideoPort {
		return invalid("video_port", "must differ from audio_port")
	}
	if req.RID != "" {
		if _, err := simulcast.ParseRID(req.RID); err != nil {
			return invalid("rid", "%q is not r0, r1 or r2", req.RID)
		}
	}
	return nil
}

// publisher finds the sending connection connID, or the channel's only
// sending connection when connID is empty.
func (ch *Channel) publisher(connID string) (*room, *Connection, error) {
	r := ch.engine.room(ch.id)
	if r == nil {
		return nil, nil, fmt.Errorf("%w: %q", ErrChannelNotFound, ch.id)
	}
	if connID != "" {
		c := r.find(connID)
		if c == nil {
			return nil, nil, fmt.Errorf("%w: %q in channel %q", ErrConnectionNotFound, connID, ch.id)
		}
		if !c.role.Sends() {
			return nil, nil, fmt.Errorf("%w: connection %q does not send (role %s)", ErrFeatureDisabled, connID, c.role)
		}
		return r, c, nil
	}
	var senders []*Connection
	for _, c := range r.all() {
		if c.role.Sends() {
			senders = append(senders, c)
		}
	}
	if len(senders) != 1 {
		return nil, nil, invalid("connection_id", "required: the channel has %d sending connections", len(senders))
	}
	return r, senders[0], nil
}

// forwardSource picks the source of p to forward: its only one, or for
// simulcast video the layer rid (the highest arriving when empty). It
// returns nil when that source has not arrived yet.
func forwardSource(p *publication, rid string) (*forward.Source, string, error) {
	if !p.isSimulcast() {
		if rid != "" && p.kind == webrtc.RTPCodecTypeVideo {
			return nil, "", invalid("rid", "the connection does not send simulcast")
		}
		return p.any(), "", nil
	}
	var src *forward.Source
	if rid == "" {
		src = p.choose(simulcast.R2) // the highest arriving
	} else {
		// Exactly the layer asked for: until it has arrived there is
		// nothing to forward yet (a fallback chosen now would stay).
		l, _ := simulcast.ParseRID(rid)
		src = p.layer(l)
	}
	if src == nil {
		return nil, "", nil
	}
	return src, src.RID(), nil
}

// forwardedMedia is one m-line of a forward's SDP.
type forwardedMedia struct {
	kind  webrtc.RTPCodecType
	port  int
	codec webrtc.RTPCodecParameters
}

// forwardSDP describes the RTP a forward sends, in the shape Sora
// answers StartForwardingRtp with.
func forwardSDP(addr netip.Addr, media []forwardedMedia) string {
	ipv := "IP4"
	if addr.Is6() && !addr.Is4In6() {
		ipv = "IP6"
	}
	var b strings.Builder
	b.WriteString("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
	for _, m := range media {
		pt := strconv.Itoa(int(m.codec.PayloadType))
		fmt.Fprintf(&b, "m=%s %d RTP/SAVPF %s\r\nc=IN %s %s\r\n", m.kind, m.port, pt, ipv, addr.Unmap().WithZone(""))
		name := m.codec.MimeType[strings.IndexByte(m.codec.MimeType, '/')+1:]
		fmt.Fprintf(&b, "a=rtpmap:%s %s/%d", pt, name, m.codec.ClockRate)
		if m.codec.Channels > 0 {
			fmt.Fprintf(&b, "/%d", m.codec.Channels)
		}
		b.WriteString("\r\n")
		if m.codec.SDPFmtpLine != "" {
			fmt.Fprintf(&b, "a=fmtp:%s %s\r\n", pt, m.codec.SDPFmtpLine)
		}
	}
	return b.String()
}
