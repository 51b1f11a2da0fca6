package sfu

import (
	"fmt"
	"net"
	"slices"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// codecSpec is one codec the engine offers, with fixed payload types so
// that every PeerConnection of the engine numbers codecs the same way.
type codecSpec struct {
	name    string
	mime    string
	pt, rtx webrtc.PayloadType
	fmtp    string
}

var videoFeedback = []webrtc.RTCPFeedback{
	{Type: "goog-remb"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
}

var opusSpec = codecSpec{name: "OPUS", mime: webrtc.MimeTypeOpus, pt: 111, fmtp: "minptime=10;useinbandfec=1"}

var videoSpecs = []codecSpec{
	{name: "VP8", mime: webrtc.MimeTypeVP8, pt: 96, rtx: 97},
	{name: "VP9", mime: webrtc.MimeTypeVP9, pt: 98, rtx: 99, fmtp: "profile-id=0"},
	{name: "AV1", mime: webrtc.MimeTypeAV1, pt: 45, rtx: 46},
	{name: "H264", mime: webrtc.MimeTypeH264, pt: 102, rtx: 103,
		fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
}

func videoSpec(name string) (codecSpec, bool) {
	for _, s := range videoSpecs {
		if s.name == name {
			return s, true
		}
	}
	return codecSpec{}, false
}

func (s codecSpec) params(kind webrtc.RTPCodecType) webrtc.RTPCodecParameters {
	p := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: s.mime, ClockRate: 90000, SDPFmtpLine: s.fmtp},
		PayloadType:        s.pt,
	}
	if kind == webrtc.RTPCodecTypeAudio {
		p.ClockRate, p.Channels = 48000, 2
	} else {
		p.RTCPFeedback = videoFeedback
	}
	return p
}

func (s codecSpec) rtxParams() webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", s.pt),
		},
		PayloadType: s.rtx,
	}
}

// preferences is what SetCodecPreferences takes for one codec: the codec
// and its RTX (pion drops an RTX whose apt is not in the list).
func (s codecSpec) preferences(kind webrtc.RTPCodecType) []webrtc.RTPCodecParameters {
	if kind == webrtc.RTPCodecTypeAudio || s.rtx == 0 {
		return []webrtc.RTPCodecParameters{s.params(kind)}
	}
	return []webrtc.RTPCodecParameters{s.params(kind), s.rtxParams()}
}

// specForCodec finds the spec of a negotiated codec.
func specForCodec(c webrtc.RTPCodecParameters) (codecSpec, bool) {
	if c.MimeType == webrtc.MimeTypeOpus || equalFoldMime(c.MimeType, webrtc.MimeTypeOpus) {
		return opusSpec, true
	}
	for _, s := range videoSpecs {
		if equalFoldMime(c.MimeType, s.mime) {
			return s, true
		}
	}
	return codecSpec{}, false
}

func equalFoldMime(a, b string) bool {
	return len(a) == len(b) && normalizeCodec(a) == normalizeCodec(b)
}

func newMediaEngine(videoCodecs []string) (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(opusSpec.params(webrtc.RTPCodecTypeAudio), webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	for _, s := range videoSpecs {
		if !slices.Contains(videoCodecs, s.name) {
			continue
		}
		if err := m.RegisterCodec(s.params(webrtc.RTPCodecTypeVideo), webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
		if err := m.RegisterCodec(s.rtxParams(), webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
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
			return nil, err
		}
	}
	return m, nil
}

// newAPI builds the pion API every PeerConnection of the engine shares:
// our own media engine, no interceptors (pion's defaults copy and allocate
// per packet), one UDP socket for all peers, AES-128-GCM preferred.
func newAPI(o Options) (*webrtc.API, ice.UDPMux, error) {
	m, err := newMediaEngine(o.VideoCodecs)
	if err != nil {
		return nil, nil, fmt.Errorf("media engine: %w", err)
	}
	conn, err := net.ListenPacket("udp4", o.UDPAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", o.UDPAddr, err)
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})

	var se webrtc.SettingEngine
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(o.IncludeLoopback)
	se.SetPrflxAcceptanceMinWait(0)
	if o.InterfaceFilter != nil {
		se.SetInterfaceFilter(o.InterfaceFilter)
	}
	if len(o.PublicIPs) > 0 {
		se.SetNAT1To1IPs(o.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	se.SetSRTPProtectionProfiles(
		dtls.SRTP_AEAD_AES_128_GCM,
		dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	)
	api := webrtc.NewAPI(
		webrtc.WithMediaEngine(m),
		webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
	)
	return api, mux, nil
}
