package sfu

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/codec"
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

// newAPI builds the pion API every PeerConnection of the engine shares:
// our own media engine, no interceptors (pion's defaults copy and allocate
// per packet), one UDP socket for all peers, AES-128-GCM preferred.
// With o.BatchSends the socket queues writes and batch, not nil then,
// sends them together (Linux only; elsewhere batch is nil).
func newAPI(o Options) (api *webrtc.API, mux ice.UDPMux, batch forward.Batch, err error) {
	m := &webrtc.MediaEngine{}
	if err := codec.Register(m, o.VideoCodecs); err != nil {
		return nil, nil, nil, fmt.Errorf("media engine: %w", err)
	}
	conn, err := net.ListenPacket("udp4", o.UDPAddr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listen %s: %w", o.UDPAddr, err)
	}
	udp, isUDP := conn.(*net.UDPConn)
	if isUDP {
		sizeBuffers(udp, socketBufferSize, o.Logger)
	}
	if isUDP && o.BatchSends {
		conn = udpbatch.NewConn(udp, udpbatch.Config{})
		if b, ok := conn.(forward.Batch); ok {
			batch = b
		}
	}
	mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})

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
	api = webrtc.NewAPI(
		webrtc.WithMediaEngine(m),
		webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
	)
	return api, mux, batch, nil
}
