package sfu

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/gosfu/sfu/internal/codec"
)

// Defaults used where Options leaves a field at its zero value.
const (
	DefaultUDPAddr                 = ":0"
	DefaultPingInterval            = 5 * time.Second
	DefaultSetupTimeout            = 30 * time.Second
	DefaultAnswerTimeout           = 10 * time.Second
	DefaultConsentTimeout          = 30 * time.Second
	DefaultEventQueueSize          = 256
	DefaultVideoCodec              = "VP9"
	DefaultMaxConnectionsPerChan   = 1000
	DefaultMaxChannels             = 10000
	DefaultMaxMetadataSize         = 64 << 10
	DefaultMaxIDLength             = 255
	pongMissesBeforeClose          = 3
	defaultKeyFrameRequestInterval = 500 * time.Millisecond
)

// Options configure an Engine. The zero value works: one UDP port chosen by
// the system for all peers, VP9 by default, a ping every 5 s.
type Options struct {
	// Logger receives the engine's logs. Nil discards them.
	Logger *slog.Logger

	// UDPAddr is the one UDP address all peers share ("host:port").
	// Default ":0": every interface, a port chosen by the system.
	UDPAddr string
	// PublicIPs, when set, replace the host candidates' addresses (1:1
	// NAT, for a server behind a NAT with a fixed public address).
	PublicIPs []string
	// IncludeLoopback gathers loopback candidates too, so that a browser
	// on the same machine (or in a namespace with only loopback) connects.
	IncludeLoopback bool
	// BatchSends queues the packets written to the UDP socket and sends
	// them with sendmmsg(2), each subscriber's queued packets of equal
	// size as one UDP GSO message where the kernel supports it, instead
	// of one sendto(2) per packet per subscriber. A forwarded packet's
	// fan-out is flushed when it ends, or, for a video frame whose
	// packets arrive queued behind each other, when the frame's last
	// packet was fanned out (at most 2 ms later); other writes leave
	// within half a millisecond. Send errors then show only as dropped
	// packets. Linux only; ignored elsewhere.
	BatchSends bool
	// PionSRTP leaves SRTP to pion in both directions: pion's SRTP
	// session and ICE conn seal and send subscribers' RTP, and pion's
	// receive chain opens publishers' RTP. By default the engine seals
	// each down-track's packets itself (with the keys of the connection's
	// DTLS handshake) and writes them straight to the UDP socket, and it
	// opens each published stream's packets in the socket reader and
	// forwards them there, which skips pion's per-packet paths (several
	// goroutine hand-offs on the way in). A connection whose keys cannot
	// be had (the client took the DTLS server role) uses pion's paths
	// anyway.
	PionSRTP bool
	// BandwidthAllocation makes each subscriber connection's video
	// follow its downlink estimate (see Channel.ConnectionDownlink) once
	// it has one: audio first, then video by priority (explicitly
	// requested and spotlight-focused streams first), each simulcast
	// stream at most at the layer its receiver allows (RequestRtpStream,
	// or any for RequestSimulcastRid "auto"). It steps down at once when
	// the estimate falls; it steps up one layer at a time, at most once
	// every 5 s, and only after probing (copies of recent packets on the
	// subscriber's RTX stream, paced) showed the downlink carries it. A
	// video whose lowest layer does not fit for 2 s is paused, and the
	// receiver told with a simulcast.switched notify. Off by default:
	// without it every receiver gets the layer it asked for.
	BandwidthAllocation bool
	// InterfaceFilter, when set, keeps only the network interfaces for
	// which it returns true.
	InterfaceFilter func(name string) bool
	// ICEServers are handed to clients in the offer's config.
	ICEServers []ICEServer

	// PingInterval is how often clients are pinged (default 5 s). A client
	// that misses three pongs in a row is disconnected.
	PingInterval time.Duration
	// SetupTimeout bounds connect → PeerConnection connected (default 30 s).
	SetupTimeout time.Duration
	// AnswerTimeout bounds re-offer → re-answer (default 10 s).
	AnswerTimeout time.Duration
	// ConsentTimeout is how long a connected client's media path may
	// stay silent (no ICE check, no packet) before its connection is
	// closed (default 30 s, as consent expires in RFC 7675). ICE reports
	// it disconnected after a sixth of it, at most 5 s.
	ConsentTimeout time.Duration

	// VideoCodecs lists the video codecs clients may choose, in order of
	// preference (default VP9, VP8, AV1, H264).
	VideoCodecs []string
	// DefaultVideoCodec is used when a client names none (default VP9).
	DefaultVideoCodec string
	// SimulcastEncodings are the layers a simulcast publisher is told to
	// send, lowest first (default DefaultSimulcastEncodings).
	SimulcastEncodings []Encoding
	// MaxUpstreamBitrate is the video bit rate, in bits per second, a
	// publisher is told it may use (by REMB) when it asked for none
	// (default 5 Mbps).
	MaxUpstreamBitrate int
	// DefaultSimulcastRID is the layer a receiver gets when it names none
	// (default "r2").
	DefaultSimulcastRID string

	// Spotlight tunes spotlight channels (speaker detection, layers).
	Spotlight SpotlightOptions

	// MaxChannels bounds the number of channels (default 10000).
	MaxChannels int
	// MaxConnectionsPerChannel bounds a channel's connections (default 1000).
	MaxConnectionsPerChannel int
	// EventQueueSize bounds each connection's outgoing event queue
	// (default 256). A client that lets it fill up is disconnected.
	EventQueueSize int
	// MaxMetadataSize bounds each connection's metadata, serialized
	// (default 64 KiB).
	MaxMetadataSize int

	// Authenticate, when set, decides whether a connect request is
	// accepted. A nil error with Allow false rejects it.
	Authenticate func(ctx context.Context, req *ConnectRequest) (Decision, error)
	// OnConnectionCreated is called when a connection's media connected.
	OnConnectionCreated func(ConnectionInfo)
	// OnConnectionDestroyed is called when a connection ended.
	OnConnectionDestroyed func(ConnectionInfo, CloseReason)

	// DataChannels configures DataChannel signaling and messaging.
	DataChannels DataChannelOptions
}

// ICEServer is a STUN or TURN server handed to clients.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Decision is the Authenticate hook's answer.
type Decision struct {
	Allow bool
	// Reason is sent to a rejected client (default "AUTH-REJECTED").
	Reason string
	// Metadata is returned to the client in the offer and shown to the
	// channel in notifies as authz_metadata.
	Metadata json.RawMessage
	// EventMetadata is attached to the connection's lifecycle events
	// (LifecycleEvent.Connection), for event webhooks.
	EventMetadata json.RawMessage
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.UDPAddr == "" {
		o.UDPAddr = DefaultUDPAddr
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.SetupTimeout <= 0 {
		o.SetupTimeout = DefaultSetupTimeout
	}
	if o.AnswerTimeout <= 0 {
		o.AnswerTimeout = DefaultAnswerTimeout
	}
	if o.ConsentTimeout <= 0 {
		o.ConsentTimeout = DefaultConsentTimeout
	}
	if len(o.VideoCodecs) == 0 {
		o.VideoCodecs = codec.VideoNames()
	}
	if o.DefaultVideoCodec == "" {
		o.DefaultVideoCodec = DefaultVideoCodec
	}
	if len(o.SimulcastEncodings) == 0 {
		o.SimulcastEncodings = DefaultSimulcastEncodings
	}
	if o.MaxUpstreamBitrate <= 0 {
		o.MaxUpstreamBitrate = 5_000_000
	}
	if o.DefaultSimulcastRID == "" {
		o.DefaultSimulcastRID = "r2"
	}
	o.Spotlight = o.Spotlight.withDefaults()
	if o.MaxChannels <= 0 {
		o.MaxChannels = DefaultMaxChannels
	}
	if o.MaxConnectionsPerChannel <= 0 {
		o.MaxConnectionsPerChannel = DefaultMaxConnectionsPerChan
	}
	if o.EventQueueSize <= 0 {
		o.EventQueueSize = DefaultEventQueueSize
	}
	if o.MaxMetadataSize <= 0 {
		o.MaxMetadataSize = DefaultMaxMetadataSize
	}
	o.DataChannels = o.DataChannels.withDefaults()
	return o
}
