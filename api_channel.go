package sfu

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/codec"
)

// ChannelSummary describes one channel in Engine.ListChannels.
type ChannelSummary struct {
	ChannelID string
	// Spotlight is true when the channel's connections joined with
	// spotlight.
	Spotlight bool
}

// ListChannels returns the channels that have connections (including
// connections still setting up), sorted by id.
func (e *Engine) ListChannels() []ChannelSummary {
	chans := e.Channels()
	out := make([]ChannelSummary, 0, len(chans))
	for _, ch := range chans {
		s := ChannelSummary{ChannelID: ch.id}
		for _, c := range ch.Connections() {
			s.Spotlight = s.Spotlight || c.spotlight
		}
		out = append(out, s)
	}
	return out
}

// ConnectionSummary describes a connection in the connection listings.
type ConnectionSummary struct {
	ConnectionInfo
	// AudioCodec and VideoCodec are the negotiated codecs ("OPUS",
	// "VP9"), empty when that kind is disabled.
	AudioCodec, VideoCodec string
}

// Summary returns a snapshot of the connection with its codecs.
func (c *Connection) Summary() ConnectionSummary {
	s := ConnectionSummary{ConnectionInfo: c.Info()}
	if c.audio {
		s.AudioCodec = codec.Opus.Name
	}
	if c.video {
		s.VideoCodec = c.videoCodec.Name
	}
	return s
}

// ListConnections returns the channel's connections, those still setting
// up included, in join order. It is empty (not an error) for a channel
// that does not exist.
func (ch *Channel) ListConnections() []ConnectionSummary {
	conns := ch.Connections()
	out := make([]ConnectionSummary, len(conns))
	for i, c := range conns {
		out[i] = c.Summary()
	}
	return out
}

// ListConnections returns the connections of every channel,
// channels sorted by id, connections in join order.
func (e *Engine) ListConnections() []ConnectionSummary {
	out := []ConnectionSummary{}
	for _, ch := range e.Channels() {
		out = append(out, ch.ListConnections()...)
	}
	return out
}

// DisconnectClient closes every connection of the channel whose client id
// is clientID (close 1000, DISCONNECTED-API). It returns
// ErrConnectionNotFound when there is none.
func (ch *Channel) DisconnectClient(ctx context.Context, clientID string) error {
	r := ch.engine.room(ch.id)
	if r == nil {
		return fmt.Errorf("%w: %q", ErrChannelNotFound, ch.id)
	}
	n := 0
	for _, c := range r.all() {
		if c.clientID == clientID {
			c.Close(ReasonDisconnectedAPI)
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: no connection with client_id %q in channel %q", ErrConnectionNotFound, clientID, ch.id)
	}
	return nil
}

// PushConnection sends data to one connection of the channel as a
// {"type":"push","data":...} message.
func (ch *Channel) PushConnection(ctx context.Context, connID string, data json.RawMessage) error {
	c, err := ch.Connection(connID)
	if err != nil {
		return err
	}
	c.Push(data)
	return nil
}

// RequestKeyFrame asks the connection for a key frame of every video
// stream it publishes: a PLI goes to that sender. Requests closer together
// than the engine's key-frame interval (500 ms) are coalesced. It returns
// ErrFeatureDisabled when the connection publishes no video.
func (ch *Channel) RequestKeyFrame(ctx context.Context, connID string) error {
	c, err := ch.Connection(connID)
	if err != nil {
		return err
	}
	var video []*forward.Source
	for _, p := range c.room.publicationsOf(c) {
		if p.kind == webrtc.RTPCodecTypeVideo {
			video = append(video, p.sources()...)
		}
	}
	for _, src := range video { // outside the room lock: it writes RTCP
		src.RequestKeyFrame()
	}
	if len(video) == 0 {
		return fmt.Errorf("%w: connection %q publishes no video", ErrFeatureDisabled, connID)
	}
	return nil
}

// License describes this build for Sora's GetLicense.
type License struct {
	ProductName string
	// Type is "open-source".
	Type string
	// SerialCode is empty: an open-source build has none.
	SerialCode string
	// ExpiredAt is "YYYY-MM"; "9999-12" because the license never
	// expires.
	ExpiredAt string
	// MaxConnections is the most connections the engine's limits admit
	// (MaxChannels × MaxConnectionsPerChannel).
	MaxConnections int
}

// License returns the description of this build that Sora's GetLicense
// answers with: monitoring tools treat a server without one as down.
func (e *Engine) License() License {
	return License{
		ProductName:    "gosfu " + Version(),
		Type:           "open-source",
		ExpiredAt:      "9999-12",
		MaxConnections: e.opts.MaxChannels * e.opts.MaxConnectionsPerChannel,
	}
}
