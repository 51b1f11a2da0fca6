// Package codec is the one table of codecs, payload types and header
// extensions that gosfu's PeerConnections (the engine's and the Go
// client's) register. Fixed payload types make every PeerConnection
// number codecs the same way, so a forwarded packet keeps its type.
// It is shared by the root package and the client; it holds only tables.
package codec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Spec is one codec with its payload type and, for video, its RTX.
type Spec struct {
	Name    string // as Sora names it: "OPUS", "VP8", "VP9", "AV1", "H264"
	Mime    string
	PT, RTX webrtc.PayloadType
	Fmtp    string
}

// Opus is the audio codec.
var Opus = Spec{Name: "OPUS", Mime: webrtc.MimeTypeOpus, PT: 111, Fmtp: "minptime=10;useinbandfec=1"}

// Video lists the video codecs, by preference.
var Video = []Spec{
	{Name: "VP9", Mime: webrtc.MimeTypeVP9, PT: 98, RTX: 99, Fmtp: "profile-id=0"},
	{Name: "VP8", Mime: webrtc.MimeTypeVP8, PT: 96, RTX: 97},
	{Name: "AV1", Mime: webrtc.MimeTypeAV1, PT: 45, RTX: 46},
	{Name: "H264", Mime: webrtc.MimeTypeH264, PT: 102, RTX: 103,
		Fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
}

// VideoNames returns the names of every video codec.
func VideoNames() []string {
	out := make([]string, len(Video))
	for i, s := range Video {
		out[i] = s.Name
	}
	return out
}

// VideoFeedback is the RTCP feedback offered for video: REMB (the
// engine tells publishers their bit rate; subscribers may tell the engine
// theirs), transport-cc (subscribers report each packet's arrival, where
// the transport-cc header extension is negotiated), NACK, PLI and FIR.
var VideoFeedback = []webrtc.RTCPFeedback{
	{Type: "goog-remb"}, {Type: "transport-cc"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
}

// AudioFeedback is the RTCP feedback offered for audio: transport-cc, so
// that audio counts in a subscriber's downlink estimate too.
var AudioFeedback = []webrtc.RTCPFeedback{{Type: "transport-cc"}}

// VideoByName finds a video codec by its Sora name.
func VideoByName(name string) (Spec, bool) {
	for _, s := range Video {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// ForMime finds the codec of a MIME type ("video/VP8").
func ForMime(mime string) (Spec, bool) {
	if strings.EqualFold(mime, Opus.Mime) {
		return Opus, true
	}
	for _, s := range Video {
		if strings.EqualFold(mime, s.Mime) {
			return s, true
		}
	}
	return Spec{}, false
}

// Params returns the codec's parameters for kind.
func (s Spec) Params(kind webrtc.RTPCodecType) webrtc.RTPCodecParameters {
	p := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: s.Mime, ClockRate: 90000, SDPFmtpLine: s.Fmtp},
		PayloadType:        s.PT,
	}
	if kind == webrtc.RTPCodecTypeAudio {
		p.ClockRate, p.Channels = 48000, 2
		p.RTCPFeedback = AudioFeedback
	} else {
		p.RTCPFeedback = VideoFeedback
	}
	return p
}

// RTXParams returns the parameters of the codec's RTX.
func (s Spec) RTXParams() webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", s.PT),
		},
		PayloadType: s.RTX,
	}
}

// Preferences is what RTPTransceiver.SetCodecPreferences takes to offer
// just this codec: the codec and its RTX (pion drops an RTX whose apt is
// not in the list).
func (s Spec) Preferences(kind webrtc.RTPCodecType) []webrtc.RTPCodecParameters {
	if kind == webrtc.RTPCodecTypeAudio || s.RTX == 0 {
		return []webrtc.RTPCodecParameters{s.Params(kind)}
	}
	return []webrtc.RTPCodecParameters{s.Params(kind), s.RTXParams()}
}

// Register registers Opus, the named video codecs (nil means all) with
// their RTX, and the header extensions gosfu uses: ssrc-audio-level and
// sdes:mid for audio; sdes:mid, rtp-stream-id and repaired-rtp-stream-id
// for video (simulcast).
func Register(m *webrtc.MediaEngine, videoNames []string) error {
	if err := m.RegisterCodec(Opus.Params(webrtc.RTPCodecTypeAudio), webrtc.RTPCodecTypeAudio); err != nil {
		return err
	}
	for _, s := range Video {
		if videoNames != nil && !slices.Contains(videoNames, s.Name) {
			continue
		}
		if err := m.RegisterCodec(s.Params(webrtc.RTPCodecTypeVideo), webrtc.RTPCodecTypeVideo); err != nil {
			return err
		}
		if err := m.RegisterCodec(s.RTXParams(), webrtc.RTPCodecTypeVideo); err != nil {
			return err
		}
	}
	exts := []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.AudioLevelURI, webrtc.RTPCodecTypeAudio},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRepairRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
	}
	for _, e := range exts {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return err
		}
	}
	// Transport-wide sequence numbers only where the engine sends: it
	// estimates subscribers' downlinks from their feedback, and sends no
	// feedback to publishers (which would otherwise hold their send-side
	// estimate at its start value).
	return RegisterTransportCC(m, webrtc.RTPTransceiverDirectionSendonly)
}

// RegisterTransportCC registers the transport-cc header extension for
// audio and video on transceivers of the given direction: sendonly for
// the engine (it numbers what it sends to subscribers), recvonly for a
// subscribing client.
func RegisterTransportCC(m *webrtc.MediaEngine, dir webrtc.RTPTransceiverDirection) error {
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind, dir); err != nil {
			return err
		}
	}
	return nil
}
