package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzSignalingMessage feeds the WebSocket reader's parsers arbitrary
// bytes: the pong fast path, the envelope, and connect. None may panic;
// the fast path must agree with the general one on what it accepts, and
// connect must either fail with a reason the handler sends or return a
// request whose strings stay within their bounds.
func FuzzSignalingMessage(f *testing.F) {
	for _, seed := range []string{
		`{"type":"connect","role":"sendrecv","channel_id":"sora","sora_client":"Sora JavaScript SDK 2026.1.0","environment":"Mozilla/5.0","audio":true,"video":{"codec_type":"VP9","bit_rate":1500},"simulcast":true,"simulcast_rid":"r1","spotlight":true,"spotlight_number":2,"spotlight_focus_rid":"r1","spotlight_unfocus_rid":"none","metadata":{"access_token":"x"},"signaling_notify_metadata":{"n":1},"data_channel_signaling":true,"ignore_disconnect_websocket":false,"data_channels":[{"label":"#chat","direction":"sendrecv","compress":true,"header":[{"type":"sender_connection_id"}]}]}`,
		`{"type":"connect","role":"recvonly","channel_id":"x","audio":false,"video":false}`,
		`{"type":"connect","role":"sendonly","channel_id":"x","video":{"codec_type":1}}`,
		`{"type":"pong","stats":[{"id":"RTCPeerConnection","type":"peer-connection","timestamp":1586417622080.464}]}`,
		`{"type":"pong","stats":["]"]}`,
		`{"type":"answer","sdp":"v=0\r\n"}`,
		`{"type":"candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}`,
		`{"type":"disconnect","reason":"NO-ERROR"}`,
		`{"type":`, "\xff", `[]`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if stats, fast := pongStats(data); fast {
			env, err := readEnvelope(data)
			if err != nil || env.Type != "pong" || !bytes.Equal(stats, env.Stats) || !json.Valid(stats) {
				t.Fatalf("fast path took %q as stats %s; general path: %+v, %v", data, stats, env, err)
			}
		}
		env, err := readEnvelope(data)
		if err != nil {
			var pe *protocolError
			if !errors.As(err, &pe) || pe.reason == "" {
				t.Fatalf("envelope error %v is not a protocol error with a reason", err)
			}
			return
		}
		if env.Type != "connect" {
			return
		}
		req, err := parseConnect(data)
		if err != nil {
			if errorReason(err) == "" {
				t.Fatalf("connect error %v has no close reason", err)
			}
			return
		}
		if len(req.SoraClient) > maxClientInfo || len(req.Environment) > maxClientInfo {
			t.Fatalf("client info not bounded: %d, %d bytes", len(req.SoraClient), len(req.Environment))
		}
		if req.Metadata != nil && !json.Valid(req.Metadata) {
			t.Fatalf("metadata %q is not JSON", req.Metadata)
		}
	})
}
