package forward

import (
	"errors"
	"net/netip"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// ErrEgressStopped is returned by writes through an [Egress] after
// [Egress.Stop].
var ErrEgressStopped = errors.New("forward: egress stopped")

var errPacketTooLarge = errors.New("forward: packet too large to seal")

// PacketWriter is the UDP socket a subscriber's packets leave by: the one
// under the engine's ICE UDP mux, so that the peer sees them come from the
// address ICE selected.
type PacketWriter interface {
	WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// Egress seals one subscriber connection's RTP with SRTP itself and
// writes it straight to the shared UDP socket. pion's per-packet write
// path (SRTP session lock and stream lookup, its internal mux, the ICE
// conn, the UDP mux: several locks, map lookups and clock reads) costs
// more than the sealing; the egress replaces it with a header marshal,
// one seal into the down-track's buffer and the socket write.
//
// Until [Egress.Start] the down-tracks write through pion, and they keep
// doing so if the keys cannot be had (pion exposes them only on the DTLS
// server side). Start must be called before pion's own SRTP session is
// ready (from the DTLS transport's Connected state change, which pion
// fires before starting SRTP), so that no stream is ever sealed by both:
// each would keep its own rollover counter.
type Egress struct {
	out     PacketWriter
	state   atomic.Pointer[egressState]
	stopped atomic.Bool
	packets atomic.Uint64
	bytes   atomic.Uint64
}

// egressKeys are what a down-track's SRTP context is made from. They are
// fixed for the connection's life (pion never renegotiates DTLS).
type egressKeys struct {
	profile   srtp.ProtectionProfile
	key, salt []byte
}

type egressState struct {
	keys *egressKeys
	addr netip.AddrPort
}

// NewEgress returns an egress writing to out; it seals nothing until
// Start.
func NewEgress(out PacketWriter) *Egress { return &Egress{out: out} }

// Start makes every down-track bound with this egress seal its packets
// with key and salt (the local SRTP master key and salt of profile) and
// send them to remote. It fails, and the egress stays on pion's path, if
// srtp rejects the keys.
func (e *Egress) Start(profile srtp.ProtectionProfile, key, salt []byte, remote netip.AddrPort) error {
	if _, err := srtp.CreateContext(key, salt, profile); err != nil {
		return err
	}
	k := &egressKeys{profile: profile, key: append([]byte(nil), key...), salt: append([]byte(nil), salt...)}
	e.state.Store(&egressState{keys: k, addr: remote})
	return nil
}

// SetRemote changes where packets go (ICE selected another candidate
// pair). It does nothing before Start.
func (e *Egress) SetRemote(addr netip.AddrPort) {
	for {
		old := e.state.Load()
		if old == nil || old.addr == addr {
			return
		}
		if e.state.CompareAndSwap(old, &egressState{keys: old.keys, addr: addr}) {
			return
		}
	}
}

// Stop ends the direct path for good: writes fail with ErrEgressStopped
// instead of going to an address that no longer answers.
func (e *Egress) Stop() { e.stopped.Store(true) }

// Active reports whether the egress seals packets itself.
func (e *Egress) Active() bool { return e.state.Load() != nil && !e.stopped.Load() }

// Packets returns how many packets the egress has sealed and sent.
func (e *Egress) Packets() uint64 { return e.packets.Load() }

// Bytes returns the payload bytes of those packets.
func (e *Egress) Bytes() uint64 { return e.bytes.Load() }

// writer wraps pion's writer for one down-track binding.
func (e *Egress) writer(pion webrtc.TrackLocalWriter) *egressWriter {
	return &egressWriter{egress: e, pion: pion}
}

// egressWriter is one down-track binding's writer. The DownTrack calls it
// under its own lock, so its buffer and SRTP context need no other.
type egressWriter struct {
	egress *Egress
	pion   webrtc.TrackLocalWriter
	keys   *egressKeys // what ctx was made from
	ctx    *srtp.Context
	buf    []byte // the packet, sealed in place
}

// sealSpace is what sealing adds to a packet at most: the 16-byte GCM
// tag (HMAC-SHA1-80 adds 10).
const sealSpace = 16

// egressBufSize fits a payload of MaxPacketSize behind the down-track's
// header (12 bytes: no CSRC, no extension) and the seal.
const egressBufSize = MaxPacketSize + 64

// WriteRTP implements webrtc.TrackLocalWriter.
func (w *egressWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	st := w.egress.state.Load()
	if st == nil {
		return w.pion.WriteRTP(h, payload)
	}
	if w.egress.stopped.Load() {
		return 0, ErrEgressStopped
	}
	if w.keys != st.keys {
		ctx, err := srtp.CreateContext(st.keys.key, st.keys.salt, st.keys.profile)
		if err != nil {
			return 0, err
		}
		w.keys, w.ctx = st.keys, ctx
		w.buf = make([]byte, 0, egressBufSize)
	}
	n := h.MarshalSize()
	if n+len(payload)+sealSpace > cap(w.buf) {
		return 0, errPacketTooLarge
	}
	plain := w.buf[:n+len(payload)]
	if _, err := h.MarshalTo(plain); err != nil {
		return 0, err
	}
	copy(plain[n:], payload)
	sealed, err := w.ctx.EncryptRTP(plain[:0], plain, h)
	if err != nil {
		return 0, err
	}
	if _, err := w.egress.out.WriteToAddrPort(sealed, st.addr); err != nil {
		return 0, err
	}
	w.egress.packets.Add(1)
	w.egress.bytes.Add(uint64(len(payload)))
	return len(sealed), nil
}

// Write implements webrtc.TrackLocalWriter for a marshalled packet.
func (w *egressWriter) Write(b []byte) (int, error) {
	if w.egress.state.Load() == nil {
		return w.pion.Write(b)
	}
	var h rtp.Header
	n, err := h.Unmarshal(b)
	if err != nil {
		return 0, err
	}
	return w.WriteRTP(&h, b[n:])
}
