package sfu

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gosfu/sfu/datachannel"
)

// Role is what a connection does with media.
type Role string

// Roles.
const (
	RoleSendRecv Role = "sendrecv"
	RoleSendOnly Role = "sendonly"
	RoleRecvOnly Role = "recvonly"
)

// Sends reports whether the role publishes media.
func (r Role) Sends() bool { return r == RoleSendRecv || r == RoleSendOnly }

// Receives reports whether the role receives media.
func (r Role) Receives() bool { return r == RoleSendRecv || r == RoleRecvOnly }

func (r Role) valid() bool { return r == RoleSendRecv || r == RoleSendOnly || r == RoleRecvOnly }

// MediaRequest is a client's choice for one kind of media.
type MediaRequest struct {
	// Disabled is true when the client sent false for this kind.
	Disabled bool
	// CodecType is the codec the client asks for ("VP8", "OPUS"); empty
	// means the engine's default.
	CodecType string
	// BitRate is the requested bit rate in kbps (0 = unset).
	BitRate int
}

// ConnectRequest is a client's request to join a channel.
type ConnectRequest struct {
	ChannelID string
	Role      Role
	// ClientID defaults to the connection id.
	ClientID string
	// BundleID defaults to the connection id. Connections that share a
	// bundle id do not receive each other's media.
	BundleID string
	// Metadata is the client's authentication metadata.
	Metadata json.RawMessage
	// SignalingNotifyMetadata is shown to the others in notifies.
	SignalingNotifyMetadata json.RawMessage
	Audio                   MediaRequest
	Video                   MediaRequest
	Simulcast               bool
	SimulcastRID            string
	Spotlight               bool
	// DataChannelSignaling and IgnoreDisconnectWebSocket are the
	// client's data_channel_signaling and ignore_disconnect_websocket;
	// nil takes Options.DataChannels' default.
	DataChannelSignaling      *bool
	IgnoreDisconnectWebSocket *bool
	// DataChannels are the messaging ("#") labels the client asks for
	// (data_channels); they need DataChannel signaling.
	DataChannels []datachannel.Spec
	// SpotlightNumber is spotlight_number (1-8); 0 when not given.
	SpotlightNumber int
	// SpotlightFocusRID and SpotlightUnfocusRID are the layers the
	// connection receives from focused and unfocused senders ("none",
	// "r0", "r1", "r2"); empty for the engine's defaults.
	SpotlightFocusRID, SpotlightUnfocusRID string
	// Redirected is Sora's "redirect": true: another node of a cluster
	// sent the client here.
	Redirected bool
	// RemoteAddr and UserAgent describe the client, for hooks and logs.
	RemoteAddr string
	UserAgent  string
	// SoraClient and Environment are what a Sora SDK says about itself
	// ("Sora JavaScript SDK 2026.1.0", the browser's user agent), for
	// hooks and logs.
	SoraClient  string
	Environment string
	// ConnectionID is set by the engine before it calls Authenticate: the
	// id the connection will have if accepted. A caller's value is
	// replaced.
	ConnectionID string
}

// Offer is the engine's initial offer to a client.
type Offer struct {
	SDP          string
	ConnectionID string
	ClientID     string
	BundleID     string
	ChannelID    string
	Simulcast    bool
	Spotlight    bool
	// AudioMid and VideoMid name the client's own send m-lines (empty
	// when it does not send that kind).
	AudioMid   string
	VideoMid   string
	ICEServers []ICEServer
	// Encodings lists the simulcast layers the client must send, in the
	// order of the SDP's rids (simulcast publishers only).
	Encodings []Encoding
	// Metadata comes from the Authenticate hook.
	Metadata json.RawMessage
	// DataChannelSignaling tells whether the connection's signaling
	// moves to DataChannels; DataChannels then describes every
	// DataChannel the server opens (its own labels first), for the
	// offer's data_channels.
	DataChannelSignaling      bool
	IgnoreDisconnectWebSocket bool
	DataChannels              []datachannel.Spec
}

// EventKind tells what an Event carries.
type EventKind int

// Event kinds.
const (
	// EventReOffer carries a new offer in SDP; answer it with
	// Connection.Answer.
	EventReOffer EventKind = iota + 1
	// EventNotify carries a Notify, or for spotlight.* notifies a
	// SpotlightNotify (Notify is then nil).
	EventNotify
	// EventPush carries application data in Push.
	EventPush
	// EventPing asks the client for a pong; PingStats asks for its stats.
	EventPing
	// EventSwitched says every DataChannel is open: the adapter sends
	// "switched" on the WebSocket and, from then on, the connection's
	// signaling over its DataChannels (Connection.SendDataChannel).
	// IgnoreDisconnectWebSocket says whether the WebSocket may close.
	EventSwitched
)

// Event is something the adapter must send to the client. Its Notify and
// Push may be shared by every recipient of the same event: read only.
type Event struct {
	Kind      EventKind
	SDP       string
	Notify    *Notify
	Spotlight *SpotlightNotify
	Switched  *SwitchedNotify
	Push      json.RawMessage
	PingStats bool
	// IgnoreDisconnectWebSocket is set on EventSwitched.
	IgnoreDisconnectWebSocket bool
}

// Notify is a channel event, shaped as Sora's notify message (without its
// "type" key).
type Notify struct {
	EventType         string          `json:"event_type"`
	Timestamp         string          `json:"timestamp"`
	Role              Role            `json:"role"`
	ChannelID         string          `json:"channel_id"`
	ClientID          string          `json:"client_id"`
	BundleID          string          `json:"bundle_id"`
	ConnectionID      string          `json:"connection_id"`
	Audio             bool            `json:"audio"`
	Video             bool            `json:"video"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	AuthzMetadata     json.RawMessage `json:"authz_metadata,omitempty"` // from Authenticate
	Minutes           int             `json:"minutes"`
	Connections       int             `json:"channel_connections"`
	SendRecv          int             `json:"channel_sendrecv_connections"`
	SendOnly          int             `json:"channel_sendonly_connections"`
	RecvOnly          int             `json:"channel_recvonly_connections"`
	TURNTransportType string          `json:"turn_transport_type"`
	// Data lists the connections already present; only in a
	// connection's own connection.created.
	Data []NotifyEntry `json:"data,omitzero"`
}

// NotifyEntry describes one connection in Notify.Data.
type NotifyEntry struct {
	ConnectionID  string          `json:"connection_id"`
	ClientID      string          `json:"client_id"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	AuthzMetadata json.RawMessage `json:"authz_metadata,omitempty"`
}

// ConnectionInfo is a snapshot of a connection for hooks and listings.
type ConnectionInfo struct {
	ChannelID    string
	ConnectionID string
	ClientID     string
	BundleID     string
	Role         Role
	Audio        bool
	Video        bool
	Simulcast    bool
	Spotlight    bool
	CreatedAt    time.Time
	// AuthzMetadata and EventMetadata come from the Authenticate hook's
	// Decision (Metadata and EventMetadata).
	AuthzMetadata json.RawMessage
	EventMetadata json.RawMessage
}

// timestamp formats t as Sora does: RFC 3339, milliseconds, UTC.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// normalizeCodec upper-cases a codec name.
func normalizeCodec(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
