package httpapi

import (
	"context"

	sfu "github.com/gosfu/sfu"
)

// Spotlight operations (Sora_20200807, the seed's; Sora_20211215's
// per-receiver layers beyond it). Every answer echoes the request's keys.
// A channel that is not a spotlight channel answers 400 FEATURE-DISABLED.
func init() {
	register(map[target]opFunc{
		op("20200807", "FocusSpotlight"):        spotSender((*sfu.Channel).FocusSpotlight),
		op("20200807", "FocusSpotlightFixed"):   spotSender((*sfu.Channel).FocusSpotlightFixed),
		op("20200807", "UnfocusSpotlight"):      spotSender((*sfu.Channel).UnfocusSpotlight),
		op("20200807", "ChangeSpotlightNumber"): changeSpotlightNumber,
		op("20211215", "RequestSpotlightRid"):   requestSpotlightRid,
		op("20211215", "ResetSpotlightRid"):     resetSpotlightRid,
	})
}

// spotSender is an operation on one sending connection of a spotlight
// channel: {channel_id, connection_id}, echoed.
func spotSender(f func(*sfu.Channel, context.Context, string) error) opFunc {
	return func(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
		ch, conn := p.str("channel_id"), p.str("connection_id")
		if p.err != nil {
			return nil, p.err
		}
		if err := f(e.Channel(ch), ctx, conn); err != nil {
			return nil, err
		}
		return map[string]string{"channel_id": ch, "connection_id": conn}, nil
	}
}

func changeSpotlightNumber(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, n := p.str("channel_id"), p.integer("spotlight_number", 1, 8)
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).ChangeSpotlightNumber(ctx, int(n)); err != nil {
		return nil, err
	}
	return map[string]any{"channel_id": ch, "spotlight_number": n}, nil
}

// spotRID reads an optional spotlight layer key: none, r0, r1 or r2.
func spotRID(p *params, key string) string {
	v := p.optStr(key)
	if p.err == nil && v != "" && v != "none" && v != "r0" && v != "r1" && v != "r2" {
		p.fail(key, "must be none, r0, r1 or r2")
	}
	return v
}

func requestSpotlightRid(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, recv, send := p.str("channel_id"), p.str("recv_connection_id"), p.optStr("send_connection_id")
	focus, unfocus := spotRID(p, "spotlight_focus_rid"), spotRID(p, "spotlight_unfocus_rid")
	if p.err == nil && focus == "" && unfocus == "" {
		p.fail("spotlight_focus_rid", "spotlight_focus_rid or spotlight_unfocus_rid is required")
	}
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).RequestSpotlightRid(ctx, recv, send, focus, unfocus); err != nil {
		return nil, err
	}
	m := streamEcho(ch, recv, send)
	if focus != "" {
		m["spotlight_focus_rid"] = focus
	}
	if unfocus != "" {
		m["spotlight_unfocus_rid"] = unfocus
	}
	return m, nil
}

func resetSpotlightRid(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, recv, send := p.str("channel_id"), p.str("recv_connection_id"), p.optStr("send_connection_id")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).ResetSpotlightRid(ctx, recv, send); err != nil {
		return nil, err
	}
	return streamEcho(ch, recv, send), nil
}
