package client

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/internal/codec"
)

// Roles a client can connect with.
const (
	RoleSendrecv = "sendrecv"
	RoleSendonly = "sendonly"
	RoleRecvonly = "recvonly"
)

// SoraClient is the value of the "sora_client" key of the connect message.
const SoraClient = "gosfu client"

// Config describes one connection. URL, ChannelID and Role are needed by a
// real server; the client itself sends whatever it is given (an empty
// ChannelID or Role is left out of the connect message), so that tests can
// provoke the server's errors.
type Config struct {
	// URL of the signaling endpoint, e.g. "ws://127.0.0.1:5000/signaling".
	URL string
	// ChannelID is sent as "channel_id" (omitted when empty).
	ChannelID string
	// Redirect sends "redirect": true, as a client does on the connect it
	// re-sends after a redirect. Dial sets it itself when it follows one.
	Redirect bool
	// MaxRedirects bounds the redirects Dial follows (default 3; -1
	// follows none and returns the *RedirectError).
	MaxRedirects int
	// Role is "sendrecv", "sendonly" or "recvonly" (omitted when empty).
	Role string
	// ClientID and BundleID are sent as "client_id" and "bundle_id" when
	// not empty.
	ClientID, BundleID string
	// Metadata is sent as "metadata" when not nil.
	Metadata any
	// SignalingNotifyMetadata is sent as "signaling_notify_metadata" when
	// not nil.
	SignalingNotifyMetadata any
	// Audio and Video enable the kinds: nil means true, a pointer to false
	// sends "audio": false or "video": false.
	Audio, Video *bool
	// AudioCodecType, when set, sends "audio": {"codec_type": ...}.
	AudioCodecType string
	// VideoCodecType ("VP8", "VP9", "AV1", "H264"), when set, is sent as
	// video.codec_type; empty lets the server choose.
	VideoCodecType string
	// VideoBitRate in kbps, when positive, is sent as video.bit_rate.
	VideoBitRate int
	// Simulcast sends "simulcast": true.
	Simulcast bool
	// SimulcastRID ("r0", "r1", "r2") is sent as "simulcast_rid" when set.
	SimulcastRID string
	// Extra keys are merged into the connect message last, overriding the
	// keys built from the fields above (tests use it for odd input).
	Extra map[string]any

	// Tracks to publish (ignored for role recvonly). The first audio track
	// goes on the offer's mid.audio, the first video track on mid.video.
	// Further video tracks with the same track ID and a non-empty RID are
	// added as simulcast encodings of the first one (which then needs a RID
	// too); the application writes the rid header extension itself.
	Tracks []webrtc.TrackLocal
	// API builds the PeerConnection; nil means NewAPI(APIOptions{LoopbackOnly: true}).
	API *webrtc.API
	// UseOfferICEServers applies the offer's config.iceServers to the
	// PeerConnection. Off by default, so that no STUN or TURN server is
	// contacted.
	UseOfferICEServers bool
	// Cryptex accepts RTP header extension encryption (RFC 9335) when the
	// server offers it, as pion does by default. Off by default, so that the
	// client answers like Chromium (which does not answer a=cryptex).
	Cryptex bool
	// HTTPClient is used for the WebSocket handshake. Nil means a client
	// that never uses a proxy.
	HTTPClient *http.Client

	// OnTrack is called in its own goroutine for every remote track. When
	// nil the client reads and discards the packets itself.
	OnTrack func(*RemoteTrack)
	// OnNotify is called for every "notify" message with its event_type
	// and the whole message.
	OnNotify func(eventType string, raw json.RawMessage)
	// OnPush is called for every "push" message with its "data".
	OnPush func(data json.RawMessage)
	// OnSenderRTCP is called with the RTCP the server sends about a
	// published track (PLI, FIR, NACK, receiver reports, REMB), in the
	// goroutine that reads it for that track (for simulcast, one per
	// encoding). Keep it short.
	OnSenderRTCP func(track webrtc.TrackLocal, pkts []rtcp.Packet)
	// OnReOffer is called with the re-offer's SDP after the re-answer was
	// sent.
	OnReOffer func(sdp string)
	// OnMessage is called for every message the server sends on the
	// WebSocket, before the type-specific callback, with the message type
	// and the whole message.
	OnMessage func(msgType string, raw json.RawMessage)

	// DataChannelSignaling and IgnoreDisconnectWebSocket are sent as
	// data_channel_signaling and ignore_disconnect_websocket when true.
	// With both, the client closes its WebSocket on "switched" and goes on
	// over the DataChannels, as sora-js-sdk does.
	DataChannelSignaling      bool
	IgnoreDisconnectWebSocket bool
	// DataChannels are the messaging labels asked for (data_channels).
	DataChannels []DataChannel
	// OnDataChannelMessage, when set, is called for every message on a
	// "#" label (decompressed), in order, on the client's dispatch
	// goroutine; the client then does not keep them for Messages.
	OnDataChannelMessage func(label string, data []byte)

	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// ConnectMessage returns the "connect" message Dial sends for cfg.
func (cfg Config) ConnectMessage() map[string]any {
	m := map[string]any{
		"type":        "connect",
		"sora_client": SoraClient,
	}
	if cfg.Role != "" {
		m["role"] = cfg.Role
	}
	if cfg.ChannelID != "" {
		m["channel_id"] = cfg.ChannelID
	}
	if cfg.Redirect {
		m["redirect"] = true
	}
	if cfg.ClientID != "" {
		m["client_id"] = cfg.ClientID
	}
	if cfg.BundleID != "" {
		m["bundle_id"] = cfg.BundleID
	}
	if cfg.Metadata != nil {
		m["metadata"] = cfg.Metadata
	}
	if cfg.SignalingNotifyMetadata != nil {
		m["signaling_notify_metadata"] = cfg.SignalingNotifyMetadata
	}
	switch {
	case cfg.Audio != nil && !*cfg.Audio:
		m["audio"] = false
	case cfg.AudioCodecType != "":
		m["audio"] = map[string]any{"codec_type": cfg.AudioCodecType}
	default:
		m["audio"] = true
	}
	switch {
	case cfg.Video != nil && !*cfg.Video:
		m["video"] = false
	case cfg.VideoCodecType != "" || cfg.VideoBitRate > 0:
		v := map[string]any{}
		if cfg.VideoCodecType != "" {
			v["codec_type"] = cfg.VideoCodecType
		}
		if cfg.VideoBitRate > 0 {
			v["bit_rate"] = cfg.VideoBitRate
		}
		m["video"] = v
	default:
		m["video"] = true
	}
	if cfg.Simulcast {
		m["simulcast"] = true
	}
	if cfg.SimulcastRID != "" {
		m["simulcast_rid"] = cfg.SimulcastRID
	}
	if cfg.DataChannelSignaling {
		m["data_channel_signaling"] = true
	}
	if cfg.IgnoreDisconnectWebSocket {
		m["ignore_disconnect_websocket"] = true
	}
	if len(cfg.DataChannels) > 0 {
		m["data_channels"] = cfg.DataChannels
	}
	for k, v := range cfg.Extra {
		m[k] = v
	}
	return m
}

// Bool returns a pointer to b, for Config.Audio and Config.Video.
func Bool(b bool) *bool { return &b }

// APIOptions configure NewAPI.
type APIOptions struct {
	// LoopbackOnly gathers a single UDP4 host candidate on the loopback
	// interface: loopback candidates included, only interface "lo" and
	// loopback addresses, no mDNS.
	LoopbackOnly bool
	// Interceptors, when not nil, is used instead of the empty registry
	// (e.g. one filled by webrtc.RegisterDefaultInterceptors).
	Interceptors *interceptor.Registry
	// SettingEngine, when not nil, is called last to adjust the settings.
	SettingEngine func(*webrtc.SettingEngine)
}

// Payload types registered by NewAPI: the engine's (they must agree, so
// that forwarded packets keep their type).
const (
	PayloadTypeOpus    = 111
	PayloadTypeVP8     = 96
	PayloadTypeVP8RTX  = 97
	PayloadTypeVP9     = 98
	PayloadTypeVP9RTX  = 99
	PayloadTypeAV1     = 45
	PayloadTypeAV1RTX  = 46
	PayloadTypeH264    = 102
	PayloadTypeH264RTX = 103
)

// NewAPI builds a webrtc.API with a MediaEngine registered by hand (Opus
// 111; VP8 96, VP9 98, AV1 45 and H264 102, each with RTX on the next
// payload type; the header extensions sdes:mid, rtp-stream-id,
// repaired-rtp-stream-id and ssrc-audio-level, and transport-cc on what it
// receives) and, unless opts says
// otherwise, no interceptors at all.
func NewAPI(opts APIOptions) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := codec.Register(m, nil); err != nil {
		return nil, err
	}
	// As a browser does: accept transport-wide sequence numbers on what
	// this client receives.
	if err := codec.RegisterTransportCC(m, webrtc.RTPTransceiverDirectionRecvonly); err != nil {
		return nil, err
	}
	reg := opts.Interceptors
	if reg == nil {
		// An explicit empty registry: without WithInterceptorRegistry,
		// webrtc.NewAPI silently registers the default interceptors.
		reg = &interceptor.Registry{}
	}
	s := webrtc.SettingEngine{}
	s.SetPrflxAcceptanceMinWait(0)
	if opts.LoopbackOnly {
		s.SetIncludeLoopbackCandidate(true)
		s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
		s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if opts.SettingEngine != nil {
		opts.SettingEngine(&s)
	}
	return webrtc.NewAPI(
		webrtc.WithMediaEngine(m),
		webrtc.WithSettingEngine(s),
		webrtc.WithInterceptorRegistry(reg),
	), nil
}
