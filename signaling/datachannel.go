package signaling

import (
	"encoding/json"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/datachannel"
)

// dataChannel is one entry of connect's and the offer's data_channels.
type dataChannel struct {
	Label             string                    `json:"label"`
	Direction         string                    `json:"direction,omitempty"`
	Ordered           *bool                     `json:"ordered,omitempty"`
	MaxPacketLifeTime *uint16                   `json:"max_packet_life_time,omitempty"`
	MaxRetransmits    *uint16                   `json:"max_retransmits,omitempty"`
	Protocol          string                    `json:"protocol,omitempty"`
	Compress          bool                      `json:"compress"`
	Header            []datachannel.HeaderField `json:"header,omitempty"`
}

func specsOf(in []dataChannel) []datachannel.Spec {
	if len(in) == 0 {
		return nil
	}
	out := make([]datachannel.Spec, len(in))
	for i, d := range in {
		out[i] = datachannel.Spec{
			Label: d.Label, Direction: datachannel.Direction(d.Direction), Ordered: d.Ordered,
			MaxPacketLifeTime: d.MaxPacketLifeTime, MaxRetransmits: d.MaxRetransmits,
			Protocol: d.Protocol, Compress: d.Compress, Header: d.Header,
		}
	}
	return out
}

func dataChannelOf(s datachannel.Spec) dataChannel {
	return dataChannel{
		Label: s.Label, Direction: string(s.Direction), Ordered: s.Ordered,
		MaxPacketLifeTime: s.MaxPacketLifeTime, MaxRetransmits: s.MaxRetransmits,
		Protocol: s.Protocol, Compress: s.Compress, Header: s.Header,
	}
}

// transport carries the server's messages to the client: the WebSocket,
// or once the connection switched, its DataChannels. label names the
// DataChannel of the message; the WebSocket carries every kind.
type transport interface {
	send(label string, msg []byte) error
}

type wsTransport struct{ s *session }

func (t wsTransport) send(_ string, msg []byte) error { return t.s.writeWS(msg) }

type dcTransport struct{ conn *sfu.Connection }

func (t dcTransport) send(label string, msg []byte) error { return t.conn.SendDataChannel(label, msg) }

// reqStats asks a switched client whose WebSocket is gone for its stats
// on the stats DataChannel, in place of a ping.
var reqStats = []byte(`{"type":"req-stats"}`)

// statsMessage is a client's answer to req-stats.
type statsMessage struct {
	Type    string          `json:"type"`
	Reports json.RawMessage `json:"reports"`
}

// handleDataChannel processes one message from the client's signaling or
// stats DataChannel. It reports whether the session goes on.
func (s *session) handleDataChannel(m sfu.DataChannelMessage) bool {
	switch m.Label {
	case datachannel.LabelSignaling:
		return s.handle(m.Data)
	case datachannel.LabelStats:
		var st statsMessage
		if err := json.Unmarshal(m.Data, &st); err != nil || st.Type != "stats" {
			s.h.log.Debug("ignoring stats DataChannel message", "connection_id", s.conn.ID())
			return true
		}
		s.conn.Pong(st.Reports)
	}
	return true
}
