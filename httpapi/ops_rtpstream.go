package httpapi

import (
	"context"

	sfu "github.com/gosfu/sfu"
)

// Per-receiver forwarding control: which simulcast layer a receiver gets
// from a sender (Sora_20201005), and pausing a sender's video to one
// receiver (Sora_20200401). Answers echo the identifying keys.
func init() {
	register(map[target]opFunc{
		op("20201005", "RequestRtpStream"): requestRtpStream,
		op("20201005", "ResetRtpStream"):   resetRtpStream,
		// Sora's documents name this version both ways.
		op("20251210", "RequestSimulcastRid"): requestSimulcastRid,
		op("20251217", "RequestSimulcastRid"): requestSimulcastRid,
		op("20200401", "PauseRtpStream"):      pauseRtpStream,
		op("20200401", "ResumeRtpStream"):     resumeRtpStream,
		op("20200401", "ListPauseRtpStreams"): listPauseRtpStreams,
	})
}

// streamEcho is the echo of a stream operation; send_connection_id only
// when it was given.
func streamEcho(ch, recv, send string) map[string]string {
	m := map[string]string{"channel_id": ch, "recv_connection_id": recv}
	if send != "" {
		m["send_connection_id"] = send
	}
	return m
}

func requestRtpStream(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, recv, send, rid := p.str("channel_id"), p.str("recv_connection_id"), p.optStr("send_connection_id"), p.str("rid")
	if p.err == nil && rid != "r0" && rid != "r1" && rid != "r2" {
		p.fail("rid", "must be r0, r1 or r2")
	}
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).RequestRtpStream(ctx, recv, send, rid); err != nil {
		return nil, err
	}
	m := streamEcho(ch, recv, send)
	m["rid"] = rid
	return m, nil
}

// requestSimulcastRid is RequestRtpStream's successor: its keys name the
// receiver and sender connections in full, and rid may also be none or
// auto.
func requestSimulcastRid(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, recv, send, rid := p.str("channel_id"), p.str("receiver_connection_id"), p.optStr("sender_connection_id"), p.str("rid")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).RequestSimulcastRid(ctx, recv, send, rid); err != nil {
		return nil, err
	}
	m := map[string]string{"channel_id": ch, "receiver_connection_id": recv, "rid": rid}
	if send != "" {
		m["sender_connection_id"] = send
	}
	return m, nil
}

func resetRtpStream(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, recv, send := p.str("channel_id"), p.str("recv_connection_id"), p.optStr("send_connection_id")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).ResetRtpStream(ctx, recv, send); err != nil {
		return nil, err
	}
	return streamEcho(ch, recv, send), nil
}

func pauseRtpStream(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, recv, send := p.str("channel_id"), p.str("recv_connection_id"), p.str("send_connection_id")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).PauseRtpStream(ctx, recv, send); err != nil {
		return nil, err
	}
	return streamEcho(ch, recv, send), nil
}

func resumeRtpStream(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, recv, send := p.str("channel_id"), p.str("recv_connection_id"), p.str("send_connection_id")
	if p.err != nil {
		return nil, p.err
	}
	if err := e.Channel(ch).ResumeRtpStream(ctx, recv, send); err != nil {
		return nil, err
	}
	return streamEcho(ch, recv, send), nil
}

func listPauseRtpStreams(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch := p.str("channel_id")
	if p.err != nil {
		return nil, p.err
	}
	return e.Channel(ch).ListPauseRtpStreams(ctx), nil
}
