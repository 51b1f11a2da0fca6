package forward

import (
	"errors"
	"log/slog"
	"net/netip"

	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// SessionKeys are the SRTP master keys and salts of a PeerConnection's
// DTLS handshake: the local ones seal what the engine sends, the remote
// ones open what the peer sends.
type SessionKeys struct {
	Profile               srtp.ProtectionProfile
	LocalKey, LocalSalt   []byte
	RemoteKey, RemoteSalt []byte
}

// KeySource returns a PeerConnection's SessionKeys, or an error when they
// are not known (pion does not expose them; see internal/srtpkeys).
type KeySource func() (SessionKeys, error)

// Attach ties a connection's egress and ingress (either may be nil) to
// pc: it starts them with keys when pc's DTLS handshake completes,
// follows the candidate pair ICE selects, and stops them when DTLS closes
// or fails. If the keys or the pair are not usable, the egress leaves
// sealing to pion (UsePion) and the ingress stays off; log (nil for none)
// says why at debug level. Call it before pc negotiates.
func Attach(pc *webrtc.PeerConnection, keys KeySource, e *Egress, in *Ingress, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := srtpPaths{e, in}
	dtls := pc.SCTP().Transport()
	ice := dtls.ICETransport()
	// pion calls this with the DTLS transport locked, and reports
	// Connected before it starts its own SRTP session: starting here
	// means pion never seals a packet of the down-tracks.
	dtls.OnStateChange(func(s webrtc.DTLSTransportState) {
		switch s {
		case webrtc.DTLSTransportStateConnected:
			p.start(ice, keys, log)
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			p.stop()
		}
	})
	ice.OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		if addr, ok := pairRemote(pair); ok {
			p.setRemote(addr)
		}
	})
}

// srtpPaths are a connection's egress and ingress, either of them nil.
type srtpPaths struct {
	e  *Egress
	in *Ingress
}

func (p srtpPaths) start(ice *webrtc.ICETransport, keys KeySource, log *slog.Logger) {
	k, err := keys()
	var addr netip.AddrPort
	if err == nil {
		addr, err = selectedRemote(ice)
	}
	if err != nil {
		if p.e != nil {
			log.Debug("srtp egress off: pion seals", "err", err)
			p.e.UsePion()
		}
		if p.in != nil {
			log.Debug("srtp ingress off: pion opens", "err", err)
		}
		return
	}
	if p.e != nil {
		if err := p.e.Start(k.Profile, k.LocalKey, k.LocalSalt, addr); err != nil {
			log.Warn("srtp egress off", "err", err)
			p.e.UsePion()
		} else {
			log.Debug("srtp egress on", "profile", k.Profile.String(), "remote", addr.String())
		}
	}
	if p.in != nil {
		if err := p.in.Start(k.Profile, k.RemoteKey, k.RemoteSalt, addr); err != nil {
			log.Warn("srtp ingress off", "err", err)
		} else {
			log.Debug("srtp ingress on", "profile", k.Profile.String(), "remote", addr.String())
		}
	}
	// The pair may have changed before Start: SetRemote does nothing
	// until then.
	if addr, err := selectedRemote(ice); err == nil {
		p.setRemote(addr)
	}
}

// errNoPair means ICE has not selected a pair the egress can send on.
var errNoPair = errors.New("forward: no usable candidate pair")

// selectedRemote is pairRemote of the pair ICE selected.
func selectedRemote(ice *webrtc.ICETransport) (netip.AddrPort, error) {
	pair, err := ice.GetSelectedCandidatePair()
	if err != nil {
		return netip.AddrPort{}, err
	}
	addr, ok := pairRemote(pair)
	if !ok {
		return netip.AddrPort{}, errNoPair
	}
	return addr, nil
}

func (p srtpPaths) setRemote(addr netip.AddrPort) {
	if p.e != nil {
		p.e.SetRemote(addr)
	}
	if p.in != nil {
		p.in.SetRemote(addr)
	}
}

func (p srtpPaths) stop() {
	if p.e != nil {
		p.e.Stop()
	}
	if p.in != nil {
		p.in.Stop()
	}
}

// pairRemote returns where the egress sends for pair, and where the
// ingress expects packets from: its remote address, if its local side is
// a UDP host candidate (the engine's one socket, through the ICE UDP mux).
func pairRemote(pair *webrtc.ICECandidatePair) (netip.AddrPort, bool) {
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
