package signaling

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestPongStats: pongStats takes exactly the SDK's form of a pong with
// stats, and hands the stats over unchanged; anything else is left to
// readEnvelope, which reads the same stats where the message has any.
func TestPongStats(t *testing.T) {
	const stats = `[{"id":"RTCPeerConnection","type":"peer-connection","timestamp":1586417622080.464}]`
	for _, tt := range []struct {
		name, msg string
		fast      bool
	}{
		{"the SDK's form", `{"type":"pong","stats":` + stats + `}`, true},
		{"empty stats", `{"type":"pong","stats":[]}`, true},
		{"spaces", `{"type": "pong", "stats": ` + stats + `}`, false},
		{"stats first", `{"stats":` + stats + `,"type":"pong"}`, false},
		{"a key after stats", `{"type":"pong","stats":` + stats + `,"x":1}`, false},
		{"stats not an array", `{"type":"pong","stats":{"a":1}}`, false},
		{"invalid stats", `{"type":"pong","stats":[{"a":}]}`, false},
		{"bracket inside a string", `{"type":"pong","stats":["]"]}`, true},
		{"unbalanced", `{"type":"pong","stats":[1]]}`, false},
		{"no stats", `{"type":"pong"}`, false},
		{"truncated", `{"type":"pong","stats":`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, fast := pongStats([]byte(tt.msg))
			if fast != tt.fast {
				t.Fatalf("fast path %v, want %v", fast, tt.fast)
			}
			env, err := readEnvelope([]byte(tt.msg))
			if fast && (err != nil || !bytes.Equal(got, env.Stats)) {
				t.Errorf("fast path stats %s; readEnvelope's %s (err %v)", got, env.Stats, err)
			}
			if fast && !json.Valid(got) {
				t.Errorf("fast path returned invalid JSON %s", got)
			}
		})
	}
}

// BenchmarkReadPong reads a pong carrying 40 stats objects (about 8 KB,
// what a client with a few tracks reports) by the general path and by
// the fast path.
func BenchmarkReadPong(b *testing.B) {
	var stats bytes.Buffer
	stats.WriteByte('[')
	for i := range 40 {
		if i > 0 {
			stats.WriteByte(',')
		}
		stats.WriteString(`{"id":"RTCInboundRTPVideoStream_2952849126","type":"inbound-rtp","timestamp":1586417622080.464,` +
			`"ssrc":2952849126,"kind":"video","packetsReceived":14523,"bytesReceived":16205412,"jitter":0.0021,"mimeType":"video/VP8"}`)
	}
	stats.WriteByte(']')
	msg := []byte(`{"type":"pong","stats":` + stats.String() + `}`)
	b.Run("readEnvelope", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for range b.N {
			if _, err := readEnvelope(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pongStats", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for range b.N {
			if _, ok := pongStats(msg); !ok {
				b.Fatal("not read")
			}
		}
	})
}
