package httpapi

import (
	"context"

	sfu "github.com/gosfu/sfu"
)

// Channel and connection operations: listings, disconnects, pushes, key
// frames.
func init() {
	register(map[target]opFunc{
		op("20201013", "ListChannels"):           listChannels,
		op("20201013", "ListChannelConnections"): listChannelConnections,
		op("20201013", "ListConnections"):        listConnections,
		op("20151104", "DisconnectChannel"):      disconnectChannel,
		op("20151104", "DisconnectConnection"):   disconnectConnection,
		op("20151104", "DisconnectClient"):       disconnectClient,
		op("20160711", "PushChannel"):            pushChannel,
		op("20160711", "PushConnection"):         pushConnection,
		op("20241218", "RequestKeyFrame"):        requestKeyFrame,
	})
}

type channelJSON struct {
	ChannelID   string `json:"channel_id"`
	Multistream bool   `json:"multistream"`
	Spotlight   bool   `json:"spotlight"`
}

func listChannels(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	chans := e.ListChannels()
	out := make([]channelJSON, len(chans))
	for i, c := range chans {
		out[i] = channelJSON{ChannelID: c.ChannelID, Multistream: true, Spotlight: c.Spotlight}
	}
	return out, nil
}

// connectionJSON is one entry of ListChannelConnections, as Sora shapes
// it: audio and video are false or {"codec_type": ...}; created_time is
// in microseconds since the Unix epoch.
type connectionJSON struct {
	ChannelID    string   `json:"channel_id"`
	ConnectionID string   `json:"connection_id"`
	ClientID     string   `json:"client_id"`
	BundleID     string   `json:"bundle_id"`
	Role         sfu.Role `json:"role"`
	Multistream  bool     `json:"multistream"`
	Simulcast    bool     `json:"simulcast"`
	Spotlight    bool     `json:"spotlight"`
	CreatedTime  int64    `json:"created_time"`
	Audio        any      `json:"audio"`
	Video        any      `json:"video"`
}

type codecJSON struct {
	CodecType string `json:"codec_type"`
}

func connectionsJSON(list []sfu.ConnectionSummary) []connectionJSON {
	out := make([]connectionJSON, len(list))
	for i, c := range list {
		j := connectionJSON{
			ChannelID: c.ChannelID, ConnectionID: c.ConnectionID, ClientID: c.ClientID, BundleID: c.BundleID,
			Role: c.Role, Multistream: true, Simulcast: c.Simulcast, Spotlight: c.Spotlight,
			CreatedTime: c.CreatedAt.UnixMicro(), Audio: false, Video: false,
		}
		if c.Audio {
			j.Audio = codecJSON{c.AudioCodec}
		}
		if c.Video {
			j.Video = codecJSON{c.VideoCodec}
		}
		out[i] = j
	}
	return out
}

func listChannelConnections(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch := p.str("channel_id")
	if p.err != nil {
		return nil, p.err
	}
	return connectionsJSON(e.Channel(ch).ListConnections()), nil
}

func listConnections(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	return connectionsJSON(e.ListConnections()), nil
}

func disconnectChannel(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch := p.str("channel_id")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).Disconnect(ctx); err != nil {
		return nil, err
	}
	return map[string]string{"channel_id": ch}, nil
}

func disconnectConnection(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn := p.str("channel_id"), p.str("connection_id")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).DisconnectConnection(ctx, conn); err != nil {
		return nil, err
	}
	return map[string]string{"channel_id": ch, "connection_id": conn}, nil
}

func disconnectClient(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, client := p.str("channel_id"), p.str("client_id")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).DisconnectClient(ctx, client); err != nil {
		return nil, err
	}
	return map[string]string{"channel_id": ch, "client_id": client}, nil
}

func pushChannel(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, data := p.str("channel_id"), p.object("data")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).Push(ctx, data); err != nil {
		return nil, err
	}
	return map[string]any{"channel_id": ch, "data": data}, nil
}

func pushConnection(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn, data := p.str("channel_id"), p.str("connection_id"), p.object("data")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).PushConnection(ctx, conn, data); err != nil {
		return nil, err
	}
	return map[string]any{"channel_id": ch, "connection_id": conn, "data": data}, nil
}

func requestKeyFrame(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn := p.str("channel_id"), p.str("connection_id")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).RequestKeyFrame(ctx, conn); err != nil {
		return nil, err
	}
	return map[string]string{"channel_id": ch, "connection_id": conn}, nil
}
