package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/datachannel"
)

// Close reasons sent with code 4490 (besides MISSING-<KEY> and
// INVALID-<KEY> for connect fields).
const (
	ReasonInvalidJSON      = "INVALID-JSON"
	ReasonBinaryMessage    = "BINARY-MESSAGE"
	ReasonMessageTooLarge  = "MESSAGE-TOO-LARGE"
	ReasonConnectExpected  = "CONNECT-EXPECTED"
	ReasonConnectTimeout   = "CONNECT-TIMEOUT"
	ReasonUnexpectedAnswer = "UNEXPECTED-ANSWER"
	ReasonAuthRejected     = "AUTH-REJECTED"
	ReasonLimitExceeded    = "LIMIT-EXCEEDED"
	ReasonInternalError    = "INTERNAL-ERROR"
)

// CloseCodeError is the close code for signaling errors.
const CloseCodeError = 4490

// envelope reads the type of a message, and a pong's stats in the same
// pass: clients send their RTCStats with every pong, so every connection
// pays for parsing them every ping interval.
type envelope struct {
	Type  string          `json:"type"`
	Stats json.RawMessage `json:"stats"`
}

// pongPrefix starts a pong with stats as clients write it (the Sora
// SDKs, with JSON.stringify): type first, stats second, no spaces.
var pongPrefix = []byte(`{"type":"pong","stats":`)

// pongStats returns the stats of a pong written as pongPrefix, a JSON
// array and "}", validated. That is most of the signaling bytes after
// connect: every client sends its RTCStats every ping interval, and this
// scans them once, where readEnvelope scans them twice (json.Unmarshal
// validates, then decodes) and copies them: half the time and no
// allocation (BenchmarkReadPong, 24 against 48 µs for an 8.7 KB pong;
// docs/performance.md). Any other form (another key
// order, spaces, more keys, an invalid value) returns false and is read
// by readEnvelope.
func pongStats(data []byte) (json.RawMessage, bool) {
	if len(data) < len(pongPrefix)+3 || !bytes.HasPrefix(data, pongPrefix) || data[len(data)-1] != '}' {
		return nil, false
	}
	stats := data[len(pongPrefix) : len(data)-1]
	if stats[0] != '[' || stats[len(stats)-1] != ']' || !json.Valid(stats) {
		return nil, false
	}
	return stats, true
}

// mediaField is connect's audio or video: a bool or an object.
type mediaField struct {
	set   bool
	value bool
	obj   struct {
		CodecType string `json:"codec_type"`
		BitRate   int    `json:"bit_rate"`
	}
}

func (m *mediaField) UnmarshalJSON(b []byte) error {
	m.set = true
	switch {
	case bytes.Equal(b, []byte("true")):
		m.value = true
	case bytes.Equal(b, []byte("false")), bytes.Equal(b, []byte("null")):
		m.value = false
	default:
		m.value = true
		return json.Unmarshal(b, &m.obj)
	}
	return nil
}

func (m mediaField) request() sfu.MediaRequest {
	if !m.set {
		return sfu.MediaRequest{}
	}
	return sfu.MediaRequest{Disabled: !m.value, CodecType: m.obj.CodecType, BitRate: m.obj.BitRate}
}

type connectMessage struct {
	Type                    string             `json:"type"`
	Role                    string             `json:"role"`
	ChannelID               string             `json:"channel_id"`
	Redirect                bool               `json:"redirect"`
	ClientID                string             `json:"client_id"`
	BundleID                string             `json:"bundle_id"`
	Metadata                json.RawMessage    `json:"metadata"`
	SignalingNotifyMetadata json.RawMessage    `json:"signaling_notify_metadata"`
	Audio                   mediaField         `json:"audio"`
	Video                   mediaField         `json:"video"`
	Simulcast               bool               `json:"simulcast"`
	SimulcastRID            string             `json:"simulcast_rid"`
	Spotlight               bool               `json:"spotlight"`
	SoraClient              string             `json:"sora_client"`
	Environment             string             `json:"environment"`
	DataChannelSignaling    *bool              `json:"data_channel_signaling"`
	IgnoreDisconnectWS      *bool              `json:"ignore_disconnect_websocket"`
	DataChannels            []datachannel.Spec `json:"data_channels"`
	SpotlightNumber         *int               `json:"spotlight_number"`
	SpotlightFocusRID       string             `json:"spotlight_focus_rid"`
	SpotlightUnfocusRID     string             `json:"spotlight_unfocus_rid"`
}

// parseConnect decodes a connect message; a wrong JSON type names the key.
func parseConnect(b []byte) (sfu.ConnectRequest, error) {
	var m connectMessage
	if err := json.Unmarshal(b, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return sfu.ConnectRequest{}, &sfu.InvalidArgumentError{Key: te.Field, Message: "wrong JSON type"}
		}
		return sfu.ConnectRequest{}, err
	}
	number := 0
	if m.SpotlightNumber != nil {
		if number = *m.SpotlightNumber; number == 0 {
			return sfu.ConnectRequest{}, &sfu.InvalidArgumentError{Key: "spotlight_number", Message: "0 is not 1 to 8"}
		}
	}
	return sfu.ConnectRequest{
		ChannelID: m.ChannelID, Role: sfu.Role(m.Role), ClientID: m.ClientID, BundleID: m.BundleID,
		Metadata: nullToNil(m.Metadata), SignalingNotifyMetadata: nullToNil(m.SignalingNotifyMetadata),
		Audio: m.Audio.request(), Video: m.Video.request(),
		Simulcast: m.Simulcast, SimulcastRID: m.SimulcastRID, Spotlight: m.Spotlight,
		SoraClient: truncate(m.SoraClient, maxClientInfo), Environment: truncate(m.Environment, maxClientInfo),
		DataChannelSignaling: m.DataChannelSignaling, IgnoreDisconnectWebSocket: m.IgnoreDisconnectWS,
		DataChannels:    m.DataChannels,
		SpotlightNumber: number, SpotlightFocusRID: m.SpotlightFocusRID, SpotlightUnfocusRID: m.SpotlightUnfocusRID,
		Redirected: m.Redirect,
	}, nil
}

// maxClientInfo bounds sora_client and environment: they are only shown
// to hooks and logs.
const maxClientInfo = 512

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func nullToNil(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	return b
}

// errorReason turns a Connect error into a 4490 reason.
func errorReason(err error) string {
	var ia *sfu.InvalidArgumentError
	var rej *sfu.RejectedError
	switch {
	case errors.As(err, &rej):
		return rej.Reason
	case errors.As(err, &ia):
		key := strings.ToUpper(strings.NewReplacer("_", "-", ".", "-").Replace(ia.Key))
		if ia.Missing {
			return "MISSING-" + key
		}
		return "INVALID-" + key
	case errors.Is(err, sfu.ErrRejected):
		return ReasonAuthRejected
	case errors.Is(err, sfu.ErrLimitExceeded):
		return ReasonLimitExceeded
	}
	return ReasonInternalError
}

type offerMessage struct {
	Type         string            `json:"type"`
	SDP          string            `json:"sdp"`
	ConnectionID string            `json:"connection_id"`
	ClientID     string            `json:"client_id"`
	BundleID     string            `json:"bundle_id"`
	ChannelID    string            `json:"channel_id"`
	Simulcast    bool              `json:"simulcast"`
	Spotlight    bool              `json:"spotlight"`
	Mid          map[string]string `json:"mid"`
	Config       *offerConfig      `json:"config,omitempty"`
	Encodings    []sfu.Encoding    `json:"encodings,omitempty"`
	Metadata     json.RawMessage   `json:"metadata,omitempty"`

	DataChannelSignaling      *bool              `json:"data_channel_signaling,omitempty"`
	IgnoreDisconnectWebSocket *bool              `json:"ignore_disconnect_websocket,omitempty"`
	DataChannels              []datachannel.Spec `json:"data_channels,omitempty"`
}

type offerConfig struct {
	ICEServers []sfu.ICEServer `json:"iceServers"`
}

func newOfferMessage(o sfu.Offer) offerMessage {
	m := offerMessage{
		Type: "offer", SDP: o.SDP, ConnectionID: o.ConnectionID, ClientID: o.ClientID,
		BundleID: o.BundleID, ChannelID: o.ChannelID, Simulcast: o.Simulcast, Spotlight: o.Spotlight,
		Mid: map[string]string{}, Metadata: o.Metadata, Encodings: o.Encodings,
	}
	if o.AudioMid != "" {
		m.Mid["audio"] = o.AudioMid
	}
	if o.VideoMid != "" {
		m.Mid["video"] = o.VideoMid
	}
	if len(o.ICEServers) > 0 {
		m.Config = &offerConfig{ICEServers: o.ICEServers}
	}
	if o.DataChannelSignaling {
		m.DataChannelSignaling, m.IgnoreDisconnectWebSocket = &o.DataChannelSignaling, &o.IgnoreDisconnectWebSocket
		m.DataChannels = o.DataChannels
	}
	return m
}

type sdpMessage struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

type candidateMessage struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex"`
	UsernameFragment *string `json:"usernameFragment"`
}

type pingMessage struct {
	Type  string `json:"type"`
	Stats bool   `json:"stats"`
}

type notifyMessage struct {
	Type string `json:"type"`
	*sfu.Notify
}

type spotlightNotifyMessage struct {
	Type string `json:"type"`
	*sfu.SpotlightNotify
}

type switchedNotifyMessage struct {
	Type string `json:"type"`
	*sfu.SwitchedNotify
}

type pushMessage struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type switchedMessage struct {
	Type                      string `json:"type"`
	IgnoreDisconnectWebSocket bool   `json:"ignore_disconnect_websocket"`
}

// eventMessage turns an engine event into the message sent to the
// client, and names the DataChannel that carries it after the switch.
func eventMessage(ev sfu.Event) (msg any, label string) {
	switch ev.Kind {
	case sfu.EventReOffer:
		return sdpMessage{Type: "re-offer", SDP: ev.SDP}, datachannel.LabelSignaling
	case sfu.EventNotify:
		if ev.Spotlight != nil {
			return spotlightNotifyMessage{Type: "notify", SpotlightNotify: ev.Spotlight}, datachannel.LabelNotify
		}
		if ev.Switched != nil {
			return switchedNotifyMessage{Type: "notify", SwitchedNotify: ev.Switched}, datachannel.LabelNotify
		}
		return notifyMessage{Type: "notify", Notify: ev.Notify}, datachannel.LabelNotify
	case sfu.EventPush:
		return pushMessage{Type: "push", Data: ev.Push}, datachannel.LabelPush
	case sfu.EventPing:
		return pingMessage{Type: "ping", Stats: ev.PingStats}, ""
	case sfu.EventSwitched:
		return switchedMessage{Type: "switched", IgnoreDisconnectWebSocket: ev.IgnoreDisconnectWebSocket}, ""
	}
	return nil, ""
}
