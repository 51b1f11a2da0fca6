package httpapi

import (
	"context"
	"net/netip"

	sfu "github.com/gosfu/sfu"
)

// Publisher controls: a publisher's RTP forwarded to an external tool
// (Sora_20170814) and its upstream video bitrate capped (Sora_20190327).
func init() {
	register(map[target]opFunc{
		op("20170814", "StartForwardingRtp"):         startForwardingRtp,
		op("20170814", "StopForwardingRtp"):          stopForwardingRtp,
		op("20190327", "ChangeUpstreamVideoBitRate"): changeUpstreamVideoBitRate,
	})
}

// startForwardingRtp answers {"sdp": ...}. ip_address must be an IP
// literal: a host name would make the engine resolve names on behalf of
// API callers. rid (beyond Sora) picks a simulcast publisher's layer.
func startForwardingRtp(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn, ip := p.str("channel_id"), p.optStr("connection_id"), p.str("ip_address")
	audio, video := p.integer("audio_port", 1, 65535), p.integer("video_port", 1, 65535)
	rid := p.optStr("rid")
	var addr netip.Addr
	if p.err == nil {
		var err error
		if addr, err = netip.ParseAddr(ip); err != nil {
			p.fail("ip_address", "must be an IPv4 or IPv6 address")
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	f, err := e.Channel(ch).StartForwardingRtp(ctx, sfu.RtpForwardRequest{ConnectionID: conn, Address: addr,
		AudioPort: int(audio), VideoPort: int(video), RID: rid})
	if err != nil {
		return nil, err
	}
	return map[string]string{"sdp": f.SDP}, nil
}

// stopForwardingRtp echoes channel_id and, when given, connection_id.
func stopForwardingRtp(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn := p.str("channel_id"), p.optStr("connection_id")
	if p.err != nil {
		return nil, p.err
	}
	if _, err := e.Channel(ch).StopForwardingRtp(ctx, conn); err != nil {
		return nil, err
	}
	m := map[string]string{"channel_id": ch}
	if conn != "" {
		m["connection_id"] = conn
	}
	return m, nil
}

// changeUpstreamVideoBitRate echoes the request.
func changeUpstreamVideoBitRate(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn, kbps := p.str("channel_id"), p.str("connection_id"), p.integer("bit_rate", 1, sfu.MaxUpstreamVideoBitRate)
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).ChangeUpstreamVideoBitRate(ctx, conn, int(kbps)); err != nil {
		return nil, err
	}
	return map[string]any{"channel_id": ch, "connection_id": conn, "bit_rate": kbps}, nil
}
