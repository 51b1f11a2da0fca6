package client

import (
	"encoding/json"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// CloseError is the close code and reason the server closed the signaling
// WebSocket with (1000 after a disconnect, 4490 for bad input).
type CloseError struct {
	Code   int
	Reason string
}

// Error implements error.
func (e *CloseError) Error() string {
	return fmt.Sprintf("client: signaling closed by server: %d %s", e.Code, e.Reason)
}

// RedirectError is the server's redirect: the channel is served at
// Location, where the connect is to be sent again.
type RedirectError struct {
	Location string
}

// Error implements error.
func (e *RedirectError) Error() string { return "client: redirected to " + e.Location }

// OfferMessage is the server's initial "offer".
type OfferMessage struct {
	Type         string `json:"type"`
	SDP          string `json:"sdp"`
	ConnectionID string `json:"connection_id"`
	ClientID     string `json:"client_id"`
	BundleID     string `json:"bundle_id"`
	ChannelID    string `json:"channel_id"`
	SessionID    string `json:"session_id,omitempty"`
	Simulcast    bool   `json:"simulcast"`
	Spotlight    bool   `json:"spotlight"`
	// Mid names the client's own send m-lines; a kind the client does not
	// send is absent (empty here).
	Mid OfferMid `json:"mid"`
	// Encodings are the simulcast encodings the server wants, in order.
	Encodings []Encoding `json:"encodings,omitempty"`
	// Config is the offer's "config" object as sent (RTCConfiguration).
	Config json.RawMessage `json:"config,omitempty"`
	// Metadata is the auth hook's metadata, as sent.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// DataChannels describes every DataChannel the server opens.
	DataChannels []DataChannel `json:"data_channels,omitempty"`
	// Raw is the whole message as received.
	Raw json.RawMessage `json:"-"`
}

// OfferMid is the "mid" object of an offer.
type OfferMid struct {
	Audio string `json:"audio,omitempty"`
	Video string `json:"video,omitempty"`
}

// Encoding is one entry of the offer's "encodings" (RTCRtpEncodingParameters).
type Encoding struct {
	RID                   string  `json:"rid"`
	Active                *bool   `json:"active,omitempty"`
	ScaleResolutionDownBy float64 `json:"scaleResolutionDownBy,omitempty"`
	MaxBitrate            int     `json:"maxBitrate,omitempty"`
	MaxFramerate          float64 `json:"maxFramerate,omitempty"`
	ScalabilityMode       string  `json:"scalabilityMode,omitempty"`
}

// ICEServers decodes config.iceServers of the offer ("urls" may be a string
// or an array). It returns nil when there are none.
func (o OfferMessage) ICEServers() ([]webrtc.ICEServer, error) {
	if len(o.Config) == 0 || string(o.Config) == "null" {
		return nil, nil
	}
	var cfg struct {
		ICEServers []struct {
			URLs       json.RawMessage `json:"urls"`
			Username   string          `json:"username"`
			Credential string          `json:"credential"`
		} `json:"iceServers"`
	}
	if err := json.Unmarshal(o.Config, &cfg); err != nil {
		return nil, fmt.Errorf("client: offer config: %w", err)
	}
	var out []webrtc.ICEServer
	for _, s := range cfg.ICEServers {
		var urls []string
		if err := json.Unmarshal(s.URLs, &urls); err != nil {
			var one string
			if err := json.Unmarshal(s.URLs, &one); err != nil {
				return nil, fmt.Errorf("client: offer config: bad urls %s", s.URLs)
			}
			urls = []string{one}
		}
		is := webrtc.ICEServer{URLs: urls, Username: s.Username}
		if s.Credential != "" {
			is.Credential = s.Credential
		}
		out = append(out, is)
	}
	return out, nil
}

// Notify is one "notify" message the server sent.
type Notify struct {
	EventType string
	Raw       json.RawMessage
}

// envelope holds the keys the client dispatches on.
type envelope struct {
	Type      string          `json:"type"`
	SDP       string          `json:"sdp"`
	Stats     json.RawMessage `json:"stats"`
	EventType string          `json:"event_type"`
	Data      json.RawMessage `json:"data"`
	Location  string          `json:"location"`

	IgnoreDisconnectWebSocket bool `json:"ignore_disconnect_websocket"`
}

type answerMessage struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

type candidateMessage struct {
	Type             string `json:"type"`
	Candidate        string `json:"candidate"`
	SDPMid           string `json:"sdpMid"`
	SDPMLineIndex    uint16 `json:"sdpMLineIndex"`
	UsernameFragment string `json:"usernameFragment,omitempty"`
}

// statsJSON marshals pion's statistics as an array of RTCStats-like
// objects ("id", "type", "timestamp" and the rest as pion names them).
// Entries that cannot be marshalled (NaN values) are left out.
func statsJSON(report webrtc.StatsReport) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(report))
	for _, s := range report {
		b, err := json.Marshal(s)
		if err != nil {
			continue
		}
		out = append(out, b)
	}
	return out
}
