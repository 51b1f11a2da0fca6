package signaling

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gosfu/sfu/datachannel"
)

// FuzzDataChannelMessage feeds the reader of the signaling and stats
// DataChannels arbitrary bytes: it must never panic, must reject only
// with a 4490 reason it documents, and what it accepts must be what the
// message said.
func FuzzDataChannelMessage(f *testing.F) {
	for _, seed := range []struct {
		label string
		data  string
	}{
		{datachannel.LabelSignaling, `{"type":"re-answer","sdp":"v=0\r\n"}`},
		{datachannel.LabelSignaling, `{"type":"answer","sdp":""}`},
		{datachannel.LabelSignaling, `{"type":"candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"u"}`},
		{datachannel.LabelSignaling, `{"type":"candidate","sdpMLineIndex":70000}`},
		{datachannel.LabelSignaling, `{"type":"disconnect","reason":"NO-ERROR"}`},
		{datachannel.LabelStats, `{"type":"stats","reports":[{"id":"x","type":"codec"}]}`},
		{datachannel.LabelStats, `{"type":"re-answer","sdp":"x"}`},
		{"#chat", `{"type":"disconnect"}`},
		{datachannel.LabelSignaling, `{"type":`},
		{datachannel.LabelSignaling, "\xff\xfe"},
	} {
		f.Add(seed.label, []byte(seed.data))
	}
	const maxSize = 4096
	f.Fuzz(func(t *testing.T, label string, data []byte) {
		m, err := readDataChannelMessage(label, data, maxSize)
		if err != nil {
			var pe *protocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a protocol error", err)
			}
			switch pe.reason {
			case ReasonMessageTooLarge, ReasonInvalidJSON, "INVALID-SDP":
			default:
				t.Fatalf("undocumented reason %q", pe.reason)
			}
			if m.typ != "" || m.sdp != "" || m.reports != nil {
				t.Fatalf("rejected message decoded as %+v", m)
			}
			return
		}
		if len(data) > maxSize {
			t.Fatalf("accepted %d bytes over the %d limit", len(data), maxSize)
		}
		if m.typ == "" {
			return
		}
		var raw struct {
			Type string `json:"type"`
			SDP  string `json:"sdp"`
		}
		if err := json.Unmarshal(data, &raw); err != nil || raw.Type != m.typ {
			t.Fatalf("accepted type %q from %q (%v)", m.typ, data, err)
		}
		switch m.typ {
		case "answer", "re-answer":
			if label != datachannel.LabelSignaling || m.sdp == "" || m.sdp != raw.SDP {
				t.Fatalf("answer on %q with sdp %q from %q", label, m.sdp, data)
			}
		case "stats":
			if label != datachannel.LabelStats {
				t.Fatalf("stats accepted on %q", label)
			}
		case "candidate", "disconnect":
			if label != datachannel.LabelSignaling {
				t.Fatalf("%s accepted on %q", m.typ, label)
			}
		default:
			t.Fatalf("unknown type %q accepted", m.typ)
		}
	})
}
