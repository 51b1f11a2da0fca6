package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/codec"
	"github.com/gosfu/sfu/internal/srtpkeys"
	"github.com/gosfu/sfu/internal/udpbatch"
)

// socketBufferSize is the receive and send buffer asked for the UDP
// socket every peer shares: its queue must absorb the bursts of all
// publishers while the readers are busy (a GC pause, a key frame to fan
// out), and the kernel default (about 200 KiB) holds under 200 packets.
// Linux caps the request at net.core.rmem_max and wmem_max.
const socketBufferSize = 4 << 20

// sizeBuffers asks for size bytes of receive and send buffer on c; a
// refusal only costs headroom, so it is logged, not returned.
func sizeBuffers(c *net.UDPConn, size int, log *slog.Logger) {
	if err := c.SetReadBuffer(size); err != nil {
		log.Warn("udp receive buffer", "err", err)
	}
	if err := c.SetWriteBuffer(size); err != nil {
		log.Warn("udp send buffer", "err", err)
	}
}

// pionSetup is what every PeerConnection of the engine shares: our own
// media engine, no interceptors (pion's defaults copy and allocate per
// packet), one UDP socket for all peers, AES-128-GCM preferred.
type pionSetup struct {
	media    *webrtc.MediaEngine
	settings webrtc.SettingEngine
	mux      ice.UDPMux
	// batch is the socket queueing UDP writes with Options.BatchSends
	// (Linux only); nil otherwise.
	batch forward.Batch
	// out is the mux's socket for the engine's own SRTP egress, in is
	// the same socket as the mux reads it, with the engine's SRTP
	// ingress in front; both nil with Options.PionSRTP.
	out forward.PacketWriter
	in  *forward.IngressConn
}

func newPionSetup(o Options) (*pionSetup, error) {
	m := &webrtc.MediaEngine{}
	if err := codec.Register(m, o.VideoCodecs); err != nil {
		return nil, fmt.Errorf("media engine: %w", err)
	}
	conn, err := net.ListenPacket("udp4", o.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", o.UDPAddr, err)
	}
	p := &pionSetup{media: m}
	udp, isUDP := conn.(*net.UDPConn)
	if isUDP {
		sizeBuffers(udp, socketBufferSize, o.Logger)
	}
	if isUDP && o.BatchSends {
		conn = udpbatch.NewConn(udp, udpbatch.Config{})
		if b, ok := conn.(forward.Batch); ok {
			p.batch = b
		}
	}
	if !o.PionSRTP {
		switch c := conn.(type) {
		case forward.PacketWriter:
			p.out = c
		case *net.UDPConn:
			p.out = forward.UDPConnWriter(c)
		}
		if in, err := forward.NewIngressConn(conn); err != nil {
			o.Logger.Warn("srtp ingress off: pion opens", "err", err)
		} else {
			p.in, conn = in, in
		}
	}
	p.mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})

	se := &p.settings
	se.SetICEUDPMux(p.mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(o.IncludeLoopback)
	se.SetPrflxAcceptanceMinWait(0)
	// No ICE checks of our own once connected (pion's keepalive, every
	// 2 s, which pion/ice v4.4.9 cannot lengthen: its agent loop wakes
	// every 2 s at most, so the choice is 2 s or none). Consent comes from
	// the client's checks, which every full agent sends (browsers and pion
	// every 2 to 2.5 s) and pion answers, as on an ICE-lite server
	// (mediasoup): they and the client's RTCP keep the pair alive, and a
	// client silent for the disconnected and failed timeouts (5 s + 25 s
	// by default: Options.ConsentTimeout) fails its PeerConnection, which
	// closes the connection, as consent expires after 30 s (RFC 7675). Our checks and
	// their answers were half the STUN traffic, each handed through
	// several of pion's goroutines: a sixth of the server's context
	// switches under load (TestConsentFromClientChecks).
	disconnected := min(iceDisconnectedTimeout, o.ConsentTimeout/6)
	se.SetICETimeouts(disconnected, o.ConsentTimeout-disconnected, 0)
	if o.InterfaceFilter != nil {
		se.SetInterfaceFilter(o.InterfaceFilter)
	}
	if len(o.PublicIPs) > 0 {
		se.SetNAT1To1IPs(o.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	se.SetSCTPMaxMessageSize(o.DataChannels.maxSCTPMessageSize())
	se.SetSRTPProtectionProfiles(
		dtls.SRTP_AEAD_AES_128_GCM,
		dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	)
	return p, nil
}

// iceDisconnectedTimeout is pion's default, the most ConsentTimeout
// leaves before ICE reports a silent client disconnected.
const iceDisconnectedTimeout = 5 * time.Second

// api returns the pion API for one PeerConnection. With keys, its DTLS
// handshake reports the SRTP keys there, for the connection's egress:
// pion's hooks are per API, and only one handshake may feed a Catcher.
func (p *pionSetup) api(keys *srtpkeys.Catcher) *webrtc.API {
	se := p.settings
	if keys != nil {
		se.SetDTLSKeyLogWriter(keys)
		se.SetDTLSServerHelloMessageHook(keys.ServerHello)
	}
	return webrtc.NewAPI(
		webrtc.WithMediaEngine(p.media),
		webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
	)
}

// keySource adapts keys to what forward.Attach takes.
func keySource(keys *srtpkeys.Catcher) forward.KeySource {
	return func() (forward.SessionKeys, error) {
		k, err := keys.Keys()
		return forward.SessionKeys{
			Profile: k.Profile, LocalKey: k.Key, LocalSalt: k.Salt,
			RemoteKey: k.RemoteKey, RemoteSalt: k.RemoteSalt,
		}, err
	}
}
