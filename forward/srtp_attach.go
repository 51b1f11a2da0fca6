package forward

import (
	"log/slog"
	"net/netip"

	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// KeySource returns the SRTP profile and the local master key and salt
// that a PeerConnection's DTLS handshake agreed on, or an error when they
// are not known (pion does not expose them; see internal/srtpkeys).
type KeySource func() (profile srtp.ProtectionProfile, key, salt []byte, err error)

// Attach ties e to pc: it starts e with keys when pc's DTLS handshake
// completes, follows the candidate pair ICE selects, and stops e when
// DTLS closes or fails. A connection whose keys or pair are not usable
// is left to pion (UsePion); log (nil for none) says why at debug level.
// Call it before pc negotiates.
func (e *Egress) Attach(pc *webrtc.PeerConnection, keys KeySource, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dtls := pc.SCTP().Transport()
	ice := dtls.ICETransport()
	// pion calls this with the DTLS transport locked, and reports
	// Connected before it starts its own SRTP session: starting here
	// means pion never seals a packet of the down-tracks.
	dtls.OnStateChange(func(s webrtc.DTLSTransportState) {
		switch s {
		case webrtc.DTLSTransportStateConnected:
			e.startFor(ice, keys, log)
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			e.Stop()
		}
	})
	ice.OnSelectedCandidatePairChange(func(p *webrtc.ICECandidatePair) {
		if addr, ok := egressRemote(p); ok {
			e.SetRemote(addr)
		}
	})
}

func (e *Egress) startFor(ice *webrtc.ICETransport, keys KeySource, log *slog.Logger) {
	profile, key, salt, err := keys()
	if err != nil {
		log.Debug("srtp egress off: pion seals", "err", err)
		e.UsePion()
		return
	}
	pair, err := ice.GetSelectedCandidatePair()
	addr, ok := egressRemote(pair)
	if err != nil || !ok {
		log.Debug("srtp egress off: no usable candidate pair", "err", err)
		e.UsePion()
		return
	}
	if err := e.Start(profile, key, salt, addr); err != nil {
		log.Warn("srtp egress off", "err", err)
		e.UsePion()
		return
	}
	log.Debug("srtp egress on", "profile", profile.String(), "remote", addr.String())
	// The pair may have changed before Start: SetRemote does nothing
	// until then.
	if pair, err := ice.GetSelectedCandidatePair(); err == nil {
		if addr, ok := egressRemote(pair); ok {
			e.SetRemote(addr)
		}
	}
}

// egressRemote returns where the egress sends for pair: its remote
// address, if its local side is a UDP host candidate (the engine's one
// socket, through the ICE UDP mux).
func egressRemote(pair *webrtc.ICECandidatePair) (netip.AddrPort, bool) {
	if pair == nil || pair.Local == nil || pair.Remote == nil ||
		pair.Local.Protocol != webrtc.ICEProtocolUDP || pair.Local.Typ != webrtc.ICECandidateTypeHost {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), pair.Remote.Port), true
}
