package sfu

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/id"
)

// Connect admits a client to a channel and returns the engine's offer.
// The adapter sends the offer, then feeds the client's answer and
// candidates to the connection and drains its events.
func (e *Engine) Connect(ctx context.Context, req ConnectRequest) (*Connection, Offer, error) {
	if err := e.validate(&req); err != nil {
		return nil, Offer{}, err
	}
	var authMetadata []byte
	if e.opts.Authenticate != nil {
		d, err := e.opts.Authenticate(ctx, &req)
		e.stats.AuthResult(d.Allow, err)
		if err != nil {
			return nil, Offer{}, &RejectedError{Reason: "AUTH-ERROR", Err: err}
		}
		if !d.Allow {
			reason := d.Reason
			if reason == "" {
				reason = "AUTH-REJECTED"
			}
			return nil, Offer{}, &RejectedError{Reason: reason}
		}
		authMetadata = d.Metadata
	}
	c, err := e.newConnection(req)
	if err != nil {
		return nil, Offer{}, err
	}
	if c.room, err = e.join(c); err != nil {
		c.pc.Close()
		return nil, Offer{}, err
	}
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
	offer.Metadata = authMetadata
	e.goTracked(c.run)
	c.log.Info("connection accepted")
	return c, offer, nil
}

func (e *Engine) newConnection(req ConnectRequest) (*Connection, error) {
	connID := id.New()
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
		answers:   make(chan answerRequest),
		subs:      map[*forward.Source]*subscription{},
	}
	if c.clientID == "" {
		c.clientID = connID
	}
	if c.bundleID == "" {
		c.bundleID = connID
	}
	c.videoCodec, _ = videoSpec(req.Video.CodecType)
	c.log = e.log.With("channel_id", c.channelID, "connection_id", connID)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.lastPong.Store(time.Now().UnixNano())

	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfu: new peer connection: %w", err)
	}
	c.pc = pc
	if err := c.addOwnTransceivers(); err != nil {
		pc.Close()
		return nil, fmt.Errorf("sfu: add transceivers: %w", err)
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
		if err = c.ownVideo.SetCodecPreferences(c.videoCodec.preferences(webrtc.RTPCodecTypeVideo)); err != nil {
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
		if h := c.engine.opts.OnConnectionCreated; h != nil && c.isConnected() {
			h(c.Info())
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
	src := forward.NewSource(forward.SourceConfig{
		ID: t.ID(), StreamID: c.id, Codec: t.Codec(), Kind: t.Kind(),
		RequestKeyFrame: func() {
			_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		},
	})
	c.log.Info("track published", "kind", t.Kind().String(), "codec", t.Codec().MimeType, "ssrc", ssrc)
	c.engine.goTracked(func() { readReceiverRTCP(recv, src) })
	ended := make(chan struct{})
	c.engine.goTracked(func() { c.sendReceiverReports(src, ended) })
	c.engine.goTracked(func() {
		defer close(ended)
		c.engine.stats.AddReceived(src)
		c.room.publish(c, src)
		if err := src.Run(t); err != nil {
			c.log.Debug("track ended", "err", err)
		}
		c.room.unpublish(src)
		c.engine.stats.RemoveReceived(src)
	})
}

// readReceiverRTCP reads a receiver's RTCP until it stops, so pion's
// buffers never fill, and records the publisher's sender reports for the
// LSR/DLSR fields of our receiver reports.
func readReceiverRTCP(r *webrtc.RTPReceiver, src *forward.Source) {
	for {
		pkts, _, err := r.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				src.OnSenderReport(sr)
			}
		}
	}
}

// sendReceiverReports sends the publisher a receiver report (loss,
// jitter) for src every rtcpReportInterval until the track ends.
func (c *Connection) sendReceiverReports(src *forward.Source, ended <-chan struct{}) {
	t := time.NewTicker(rtcpReportInterval)
	defer t.Stop()
	for {
		select {
		case <-ended:
			return
		case <-c.ctx.Done():
			return
		case <-t.C:
			if rr, ok := src.ReceptionReport(); ok {
				_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{rr}}})
			}
		}
	}
}
