package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/codec"
	"github.com/gosfu/sfu/internal/id"
	"github.com/gosfu/sfu/internal/srtpkeys"
	"github.com/gosfu/sfu/simulcast"
)

// Connect admits a client to a channel and returns the engine's offer.
// The adapter sends the offer, then feeds the client's answer and
// candidates to the connection and drains its events.
func (e *Engine) Connect(ctx context.Context, req ConnectRequest) (*Connection, Offer, error) {
	c, offer, err := e.connect(ctx, req)
	if err != nil {
		e.observe(LifecycleEvent{Kind: ConnectRefused, ChannelID: req.ChannelID, Err: err,
			Connection: ConnectionInfo{ChannelID: req.ChannelID, ClientID: req.ClientID, BundleID: req.BundleID, Role: req.Role}})
	}
	return c, offer, err
}

func (e *Engine) connect(ctx context.Context, req ConnectRequest) (*Connection, Offer, error) {
	if e.Draining() {
		return nil, Offer{}, errDrainingRejected
	}
	if err := e.validate(&req); err != nil {
		return nil, Offer{}, err
	}
	req.ConnectionID = id.New()
	var d Decision
	if e.opts.Authenticate != nil {
		var err error
		d, err = e.authenticate(ctx, &req)
		if err != nil {
			return nil, Offer{}, err
		}
	}
	c, err := e.newConnection(req)
	if err != nil {
		return nil, Offer{}, err
	}
	c.authzMetadata, c.eventMetadata = d.Metadata, d.EventMetadata
	if c.room, err = e.join(c); err != nil {
		c.pc.Close()
		return nil, Offer{}, err
	}
	if c.egress != nil {
		e.stats.AddSealed(c.egress) // teardown removes it
	}
	c.room.spotJoin(c)
	// Only a connection in a channel reacts to its PeerConnection.
	c.pc.OnConnectionStateChange(c.onConnectionState)
	c.pc.OnTrack(c.onTrack)
	// Validated above, so seeding cannot fail on size or syntax.
	if err := c.room.meta.Seed(c.id, req.SignalingNotifyMetadata); err != nil {
		c.log.Warn("seed metadata", "err", err)
	}
	offer, err := c.initialOffer(ctx)
	if err != nil {
		c.Close(ReasonNegotiationFailed)
		close(c.runDone)
		<-c.done
		return nil, Offer{}, fmt.Errorf("sfu: create offer: %w", err)
	}
	offer.Metadata = d.Metadata
	e.goTracked(c.run)
	c.log.Info("connection accepted")
	return c, offer, nil
}

// authenticate asks the Authenticate hook. A hook error refuses the
// connect with AUTH-ERROR, or with the reason of a *RejectedError the
// hook returned (the auth webhook names its failures that way).
func (e *Engine) authenticate(ctx context.Context, req *ConnectRequest) (Decision, error) {
	d, err := e.callAuthenticate(ctx, req)
	if err == nil && d.Allow {
		err = e.checkDecisionMetadata(d)
	}
	e.stats.AuthResult(d.Allow, err)
	if err != nil {
		if rej, ok := errors.AsType[*RejectedError](err); ok {
			return Decision{}, rej
		}
		return Decision{}, &RejectedError{Reason: "AUTH-ERROR", Err: err}
	}
	if !d.Allow {
		reason := d.Reason
		if reason == "" {
			reason = "AUTH-REJECTED"
		}
		return Decision{}, &RejectedError{Reason: reason}
	}
	return d, nil
}

// checkDecisionMetadata holds the hook's metadata to the bounds of the
// client's own: it goes into every notify of the channel.
func (e *Engine) checkDecisionMetadata(d Decision) error {
	for _, md := range []json.RawMessage{d.Metadata, d.EventMetadata} {
		if len(md) > e.opts.MaxMetadataSize || len(md) > 0 && !json.Valid(md) {
			return fmt.Errorf("sfu: Authenticate returned metadata that is not JSON of at most %d bytes", e.opts.MaxMetadataSize)
		}
	}
	return nil
}

func (e *Engine) newConnection(req ConnectRequest) (*Connection, error) {
	connID := req.ConnectionID
	c := &Connection{
		engine: e, id: connID, clientID: req.ClientID, bundleID: req.BundleID,
		channelID: req.ChannelID, role: req.Role,
		audio: !req.Audio.Disabled, video: !req.Video.Disabled,
		simulcast: req.Simulcast, spotlight: req.Spotlight,
		metadata:  req.Metadata,
		createdAt: time.Now(),
		events:    make(chan Event, e.opts.EventQueueSize),
		runDone:   make(chan struct{}),
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		relayer:   make(chan struct{}, 1),
		policies:  map[string]*forward.Policy{},
		answers:   make(chan answerRequest),
		subs:      map[*publication]*subscription{},
	}
	if c.clientID == "" {
		c.clientID = connID
	}
	if c.bundleID == "" {
		c.bundleID = connID
	}
	if c.spotlight {
		// Spotlight forwards senders at two layers: they send simulcast
		// whether or not they asked for it.
		c.simulcast = c.simulcast || c.role.Sends() && c.video
		c.spot.number = req.SpotlightNumber
		c.spot.rids = spotRIDs{focus: req.SpotlightFocusRID, unfocus: req.SpotlightUnfocusRID}
	}
	c.videoCodec, _ = codec.VideoByName(req.Video.CodecType)
	c.videoBitRate = req.Video.BitRate
	c.connectRID, _ = simulcast.ParseRID(req.SimulcastRID) // validated
	c.log = e.log.With("channel_id", c.channelID, "connection_id", connID)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.lastPong.Store(time.Now().UnixNano())

	var keys *srtpkeys.Catcher
	if e.pion.out != nil {
		keys = &srtpkeys.Catcher{}
		c.egress = forward.NewEgress(e.pion.out)
	}
	if e.pion.in != nil {
		// A publisher's RTP, and a subscriber's transport-cc feedback,
		// are opened in the socket reader.
		c.ingress = e.pion.in.NewIngress()
		if c.role.Receives() && c.egress != nil {
			c.ingress.SetFeedbackHandler(feedbackTap{c})
		}
	}
	c.api = e.pion.api(keys)
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfu: new peer connection: %w", err)
	}
	c.pc = pc
	if keys != nil {
		forward.Attach(pc, keySource(keys), c.egress, c.ingress, c.log)
	}
	if err := c.addOwnTransceivers(); err != nil {
		pc.Close()
		return nil, fmt.Errorf("sfu: add transceivers: %w", err)
	}
	if e.dataChannelSignaling(&req) {
		if err := c.openDataChannels(e.ignoreDisconnectWebSocket(&req), req.DataChannels); err != nil {
			pc.Close()
			return nil, err
		}
	}
	return c, nil
}

// addOwnTransceivers adds the m-lines the client publishes on. They come
// first in the offer so that the browser's addTrack picks them.
func (c *Connection) addOwnTransceivers() error {
	if !c.role.Sends() {
		return nil
	}
	recvonly := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
	var err error
	if c.audio {
		if c.ownAudio, err = c.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, recvonly); err != nil {
			return err
		}
	}
	if c.video {
		if c.ownVideo, err = c.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, recvonly); err != nil {
			return err
		}
		if err = c.ownVideo.SetCodecPreferences(c.videoCodec.Preferences(webrtc.RTPCodecTypeVideo)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Connection) onConnectionState(s webrtc.PeerConnectionState) {
	c.log.Debug("peer connection state", "state", s.String())
	switch s {
	case webrtc.PeerConnectionStateConnected:
		c.room.markConnected(c)
		c.room.spotGreet(c)
		if h := c.engine.opts.OnConnectionCreated; h != nil && c.isConnected() {
			c.connectionCreated(h)
		}
	case webrtc.PeerConnectionStateFailed:
		c.Close(ReasonPeerConnectionFailed)
	case webrtc.PeerConnectionStateClosed:
		c.Close(ReasonTransportClosed)
	}
}

// onTrack publishes a track the client sends and forwards it until it
// ends.
func (c *Connection) onTrack(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	own := (c.ownAudio != nil && c.ownAudio.Receiver() == recv) ||
		(c.ownVideo != nil && c.ownVideo.Receiver() == recv)
	if !own {
		c.log.Warn("ignoring track", "err", errNotOwnTrack, "track_id", t.ID())
		return
	}
	ssrc := uint32(t.SSRC())
	cfg := forward.SourceConfig{
		ID: t.ID(), StreamID: c.id, RID: t.RID(), Codec: t.Codec(), Kind: t.Kind(),
		RequestKeyFrame: func() {
			c.engine.stats.KeyFrameRequested()
			_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		},
		Batch: c.engine.pion.batch,
	}
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		cfg.RequestRetransmit = func(pairs []rtcp.NackPair) {
			c.engine.stats.NACKSent()
			_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: pairs}})
		}
	}
	if c.room.spot != nil && t.Kind() == webrtc.RTPCodecTypeAudio {
		if id := audioLevelID(recv); id != 0 {
			cfg.AudioLevel, cfg.AudioLevelID = &c.spot.meter, id
		}
	}
	src := forward.NewSource(cfg)
	if c.ingress != nil {
		// From the next packet on, the socket reader forwards this
		// stream; Run forwards what pion already holds.
		c.ingress.Add(ssrc, src)
	}
	rtx := &repairStream{track: t, ssrc: ssrc, src: src, in: c.ingress}
	rtx.learn()
	c.log.Info("track published", "kind", t.Kind().String(), "codec", t.Codec().MimeType, "ssrc", ssrc, "rid", t.RID())
	c.engine.goTracked(func() { readReceiverRTCP(recv, t.RID(), src, rtx) })
	ended := make(chan struct{})
	c.engine.goTracked(func() { c.sendReceiverReports(src, ssrc, ended) })
	c.engine.goTracked(func() {
		defer close(ended)
		c.engine.stats.AddReceived(src)
		c.room.publish(c, src)
		if err := src.Run(t); err != nil {
			c.log.Debug("track ended", "err", err)
		}
		if c.ingress != nil {
			c.ingress.Remove(ssrc, src)
			rtx.remove()
		}
		c.room.unpublish(src)
		c.engine.stats.RemoveReceived(src)
	})
}

// readReceiverRTCP reads a receiver's RTCP until it stops, so pion's
// buffers never fill, and records the publisher's sender reports for the
// LSR/DLSR fields of our receiver reports.
func readReceiverRTCP(r *webrtc.RTPReceiver, rid string, src *forward.Source, rtx *repairStream) {
	read := r.ReadRTCP
	if rid != "" {
		// A simulcast layer's RTCP has its own stream.
		read = func() ([]rtcp.Packet, interceptor.Attributes, error) { return r.ReadSimulcastRTCP(rid) }
	}
	for {
		pkts, _, err := read()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				src.OnSenderReport(sr)
			}
		}
		rtx.learn()
	}
}

// sendReceiverReports sends the publisher a receiver report (loss,
// jitter) for src every rtcpReportInterval until the track ends.
//
// For video it also sends a REMB with the bit rate the publisher may use.
// Without bandwidth feedback a browser stays near its start bit rate
// (about 300 kbps), which is too little for more than the lowest simulcast
// layer; a REMB in its first two seconds lets it start at the limit.
func (c *Connection) sendReceiverReports(src *forward.Source, ssrc uint32, ended <-chan struct{}) {
	t := time.NewTimer(untilAligned(time.Now(), rtcpReportInterval))
	defer t.Stop()
	send := func() {
		var pkts []rtcp.Packet
		if rr, ok := src.ReceptionReport(); ok {
			pkts = append(pkts, &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{rr}})
		}
		if src.Kind() == webrtc.RTPCodecTypeVideo {
			pkts = append(pkts, &rtcp.ReceiverEstimatedMaximumBitrate{
				Bitrate: float32(c.upstreamBitrate()), SSRCs: []uint32{ssrc},
			})
		}
		if len(pkts) > 0 {
			_ = c.pc.WriteRTCP(pkts)
		}
	}
	send()
	for {
		select {
		case <-ended:
			return
		case <-c.ctx.Done():
			return
		case <-t.C:
			t.Reset(untilAligned(time.Now(), rtcpReportInterval))
			send()
		}
	}
}

// upstreamBitrate is the video bit rate, in bits per second, the
// publisher is allowed: the cap of ChangeUpstreamVideoBitRate, else what
// it asked for at connect (video.bit_rate, or the simulcast layers' sum),
// else the engine's limit.
func (c *Connection) upstreamBitrate() int {
	if kbps := c.bitRateCap.Load(); kbps > 0 {
		return int(kbps) * 1000
	}
	if c.videoBitRate > 0 {
		return c.videoBitRate * 1000
	}
	if c.simulcast {
		sum := 0
		for _, e := range c.sendEncodings() {
			if e.Active {
				sum += e.MaxBitrate
			}
		}
		if sum > 0 {
			return sum
		}
	}
	return c.engine.opts.MaxUpstreamBitrate
}

// audioLevelID returns the id the RFC 6464 audio-level extension was
// negotiated under on recv's m-line, 0 if it was not.
func audioLevelID(recv *webrtc.RTPReceiver) uint8 {
	for _, e := range recv.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			return uint8(e.ID)
		}
	}
	return 0
}
