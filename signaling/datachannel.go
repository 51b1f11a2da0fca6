package signaling

import (
	"encoding/json"
	"errors"

	"github.com/coder/websocket"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/datachannel"
)

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

// dcMessage is a client's message on the signaling or stats
// DataChannel, decoded.
type dcMessage struct {
	typ       string // answer, re-answer, candidate, disconnect, stats; "" ignored
	sdp       string
	candidate sfu.ICECandidate
	reports   json.RawMessage // stats: the client's RTCStats array
}

// dcEnvelope is every field a DataChannel signaling message may have.
type dcEnvelope struct {
	Type             string          `json:"type"`
	SDP              string          `json:"sdp"`
	Candidate        string          `json:"candidate"`
	SDPMid           *string         `json:"sdpMid"`
	SDPMLineIndex    *uint16         `json:"sdpMLineIndex"`
	UsernameFragment *string         `json:"usernameFragment"`
	Reports          json.RawMessage `json:"reports"`
}

// readDataChannelMessage decodes a message of the signaling or stats
// DataChannel of at most maxSize bytes. A malformed one returns a
// *protocolError (MESSAGE-TOO-LARGE, INVALID-JSON, INVALID-SDP); a type
// that label does not carry is ignored, as Sora ignores unknown types.
func readDataChannelMessage(label string, data []byte, maxSize int64) (dcMessage, error) {
	if int64(len(data)) > maxSize {
		return dcMessage{}, &protocolError{ReasonMessageTooLarge}
	}
	var e dcEnvelope
	if err := json.Unmarshal(data, &e); err != nil {
		return dcMessage{}, &protocolError{ReasonInvalidJSON}
	}
	switch {
	case label == datachannel.LabelStats && e.Type == "stats":
		return dcMessage{typ: e.Type, reports: e.Reports}, nil
	case label != datachannel.LabelSignaling:
		return dcMessage{}, nil
	}
	switch e.Type {
	case "answer", "re-answer":
		if e.SDP == "" {
			return dcMessage{}, &protocolError{"INVALID-SDP"}
		}
		return dcMessage{typ: e.Type, sdp: e.SDP}, nil
	case "candidate":
		return dcMessage{typ: e.Type, candidate: sfu.ICECandidate{
			Candidate: e.Candidate, SDPMid: e.SDPMid, SDPMLineIndex: e.SDPMLineIndex, UsernameFragment: e.UsernameFragment,
		}}, nil
	case "disconnect":
		return dcMessage{typ: e.Type}, nil
	}
	return dcMessage{}, nil
}

// handleDataChannel processes one message from the client's signaling or
// stats DataChannel. It reports whether the session goes on.
func (s *session) handleDataChannel(in sfu.DataChannelMessage) bool {
	m, err := readDataChannelMessage(in.Label, in.Data, s.h.maxMessageSize)
	if err != nil {
		var pe *protocolError
		errors.As(err, &pe)
		return s.fail(pe.reason)
	}
	switch m.typ {
	case "answer", "re-answer":
		return s.answer(m.sdp)
	case "candidate":
		s.candidate(m.candidate)
	case "disconnect":
		s.conn.Close(sfu.ReasonDisconnect)
		s.closeWith(websocket.StatusNormalClosure, "")
		return false
	case "stats":
		s.conn.Pong(m.reports)
	}
	return true
}
