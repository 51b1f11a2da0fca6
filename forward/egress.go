package forward

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

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

// slotWriter is a PacketWriter that lets a packet be written straight
// into its send buffer (internal/udpbatch's batching conn): the egress
// seals into it, one copy of the packet less per subscriber than sealing
// into its own buffer and then writing that.
type slotWriter interface {
	WriteToAddrPortFunc(addr netip.AddrPort, fill func(slot []byte) (int, error)) (int, error)
}

// UDPConnWriter is c as a PacketWriter.
func UDPConnWriter(c *net.UDPConn) PacketWriter { return udpAddrPortConn{c} }

// Egress seals one subscriber connection's RTP with SRTP itself and
// writes it straight to the shared UDP socket. pion's per-packet write
// path (SRTP session lock and stream lookup, its internal mux, the ICE
// conn, the UDP mux: several locks, map lookups and clock reads) costs
// more than the sealing; the egress replaces it with a header marshal
// and one seal, straight into the batching socket's send slot where the
// socket takes that (else into the down-track's buffer, then written).
//
// Who seals is decided once, when the subscriber's DTLS handshake is
// done: [Egress.Start] with the keys, or [Egress.UsePion] when they cannot
// be had (pion exposes them only on the DTLS server side). The decision
// must come before pion's own SRTP session is ready (the DTLS transport's
// Connected state change, which pion fires before starting SRTP), and
// until then writes are dropped, as pion drops them before its SRTP is
// ready. So no stream is ever sealed by both, which would break it for
// good: each keeps its own rollover counter. (Writing through pion until
// the decision would not do: a write in flight when pion's SRTP starts
// gets through.)
//
// The egress pushes its state (keys, address, stopped) into each
// down-track's writer, so that a write reads only its writer's memory:
// the fan-out touches a hundred writers per packet, and a perf profile of
// the server under scripts/load.sh showed the egress and its state object
// as two cache misses per write.
type Egress struct {
	out PacketWriter

	// seq numbers the connection's packets for transport-cc.
	seq transportSeq

	mu      sync.Mutex
	state   *egressState // nil before Start
	writers map[*egressWriter]struct{}
	retired struct{ packets, bytes uint64 } // of released writers
}

// egressKeys are what a down-track's SRTP context is made from. They are
// fixed for the connection's life (pion never renegotiates DTLS).
type egressKeys struct {
	profile   srtp.ProtectionProfile
	key, salt []byte
}

// egressState is immutable; a change publishes a new one.
type egressState struct {
	keys    *egressKeys
	addr    netip.AddrPort
	pion    bool // UsePion: pion seals
	stopped bool
}

// errDecided is returned by Start after UsePion or Stop.
var errDecided = errors.New("forward: egress already decided to leave sealing to pion, or stopped")

// NewEgress returns an egress writing to out. Until Start or UsePion its
// down-tracks' writes are dropped.
func NewEgress(out PacketWriter) *Egress {
	return &Egress{out: out, writers: map[*egressWriter]struct{}{}}
}

// Start makes every down-track bound with this egress seal its packets
// with key and salt (the local SRTP master key and salt of profile) and
// send them to remote. It fails, and the egress stays on pion's path, if
// srtp rejects the keys or the egress was stopped.
func (e *Egress) Start(profile srtp.ProtectionProfile, key, salt []byte, remote netip.AddrPort) error {
	if _, err := newSealer(profile, key, salt); err != nil {
		return err
	}
	k := &egressKeys{profile: profile, key: bytes.Clone(key), salt: bytes.Clone(salt)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != nil && (e.state.stopped || e.state.pion) {
		return errDecided
	}
	e.publishLocked(&egressState{keys: k, addr: remote})
	return nil
}

// UsePion makes the down-tracks write through pion's writer from now on,
// unless Start or Stop came first.
func (e *Egress) UsePion() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == nil {
		e.publishLocked(&egressState{pion: true})
	}
}

// SetRemote changes where packets go (ICE selected another candidate
// pair). It does nothing before Start or after Stop.
func (e *Egress) SetRemote(addr netip.AddrPort) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.state; st != nil && st.keys != nil && !st.stopped && st.addr != addr {
		e.publishLocked(&egressState{keys: st.keys, addr: addr})
	}
}

// Stop ends the direct path for good: writes fail with ErrEgressStopped
// instead of going to an address that no longer answers.
func (e *Egress) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publishLocked(&egressState{stopped: true})
}

func (e *Egress) publishLocked(st *egressState) {
	e.state = st
	for w := range e.writers {
		w.state.Store(st)
	}
}

// Active reports whether the egress seals packets itself.
func (e *Egress) Active() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state != nil && e.state.keys != nil && !e.state.stopped
}

// TransportSeqSent returns how many packets the egress numbered for
// transport-cc; the next number is its low 16 bits.
func (e *Egress) TransportSeqSent() uint32 { return e.seq.Sent() }

// TransportSent returns when the packet with transport-wide sequence
// number seq was sent (monotonic, modulo 2^32 microseconds: compare only
// differences) and its size on the wire, false if it is not among the
// last 1024 numbered. It is what a transport-cc feedback is matched with.
func (e *Egress) TransportSent(seq uint16) (time.Duration, int, bool) { return e.seq.lookup(seq) }

// WireOverhead is what a forwarded packet adds to its payload on the
// wire: the header with the transport-cc extension (20 bytes), the SRTP
// tag (16) and the UDP/IPv4 headers (28). Downlink estimates count it,
// so the bitrates they are compared with must too.
const WireOverhead = 64

// Packets returns how many packets the egress has sealed and sent.
func (e *Egress) Packets() uint64 {
	p, _ := e.totals()
	return p
}

// Bytes returns the payload bytes of those packets, RTP padding included.
func (e *Egress) Bytes() uint64 {
	_, b := e.totals()
	return b
}

func (e *Egress) totals() (packets, bytes uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	packets, bytes = e.retired.packets, e.retired.bytes
	for w := range e.writers {
		packets += w.packets.Load()
		bytes += w.bytes.Load()
	}
	return packets, bytes
}

// writer wraps pion's writer for one down-track binding; a transportCC
// id other than 0 makes it number the packets for transport-cc.
func (e *Egress) writer(pion webrtc.TrackLocalWriter, transportCC uint8) *egressWriter {
	w := &egressWriter{egress: e, out: e.out, pion: pion}
	if transportCC != 0 {
		w.stamp = newStamper(transportCC, &e.seq)
	}
	if sw, ok := e.out.(slotWriter); ok {
		w.slots, w.fill = sw, w.sealInto
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	w.state.Store(e.state)
	e.writers[w] = struct{}{}
	return w
}

// release forgets w (its binding ended), keeping its counts.
func (w *egressWriter) release() {
	e := w.egress
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.writers[w]; ok {
		delete(e.writers, w)
		e.retired.packets += w.packets.Load()
		e.retired.bytes += w.bytes.Load()
	}
}

// egressWriter is one down-track binding's writer. The DownTrack calls it
// under its own lock, so everything but the pushed state and the
// counters (read by Egress) is its own.
type egressWriter struct {
	state          atomic.Pointer[egressState] // pushed by the egress
	seen           *egressState                // the state sealer and addr are up to date with
	addr           netip.AddrPort
	sealer         sealer      // nil before the first adopt
	keys           *egressKeys // what sealer was made from
	buf            []byte      // the packet, sealed in place, unless it goes to slots
	packets, bytes atomic.Uint64
	out            PacketWriter              // the egress's, copied here: one cache miss less per write
	slots          slotWriter                // out, if it is one
	fill           func([]byte) (int, error) // sealInto, bound once: no allocation per write
	h              *rtp.Header               // the packet fill seals, during a write to slots
	payload        []byte
	egress         *Egress
	pion           webrtc.TrackLocalWriter
	stamp          *stamper // nil: transport-cc not negotiated
	// at is the arrival (monoNow) of the packet being written, set by
	// the down-track around its write under its lock; 0: read the clock.
	at int64
}

// egressBufSize fits a payload of MaxPacketSize behind the down-track's
// header (12 bytes: no CSRC, no extension) and the seal.
const egressBufSize = MaxPacketSize + 64

// WriteRTP implements webrtc.TrackLocalWriter.
func (w *egressWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	// Only a new state is read: the state object is one more cache miss
	// per write, with a hundred writers per packet.
	if st := w.state.Load(); st != w.seen || w.sealer == nil {
		switch {
		case st == nil:
			return 0, nil // undecided: pion's SRTP is not ready either (see Egress)
		case st.pion:
			if w.stamp != nil {
				h = w.stamp.stamp(h, len(payload)+WireOverhead, w.at)
			}
			return w.pion.WriteRTP(h, payload)
		}
		if err := w.adopt(st); err != nil {
			return 0, err
		}
	}
	if w.stamp != nil {
		h = w.stamp.stamp(h, len(payload)+WireOverhead, w.at)
	}
	n, err := w.send(h, payload)
	if err != nil {
		return 0, err
	}
	w.packets.Add(1)
	w.bytes.Add(uint64(len(payload)))
	return n, nil
}

// send seals the packet and writes it: into a send slot of w.slots if it
// fits one, else into w.buf and from there to w.out.
func (w *egressWriter) send(h *rtp.Header, payload []byte) (int, error) {
	if w.slots != nil {
		w.h, w.payload = h, payload
		n, err := w.slots.WriteToAddrPortFunc(w.addr, w.fill)
		w.h, w.payload = nil, nil // the payload is the source's, reused
		if !errors.Is(err, errPacketTooLarge) {
			return n, err
		}
		// Larger than a slot: the socket sends it on its own.
	}
	if w.buf == nil {
		w.buf = make([]byte, 0, egressBufSize)
	}
	sealed, err := w.sealer.seal(w.buf[:0], h, payload) // errPacketTooLarge past cap(w.buf)
	if err != nil {
		return 0, err
	}
	return w.out.WriteToAddrPort(sealed, w.addr)
}

// sealInto is w.fill: it seals the packet of the write in progress into
// a send slot. A sealer checks the size before it advances its stream,
// so a packet too large for the slot can still be sealed elsewhere.
func (w *egressWriter) sealInto(slot []byte) (int, error) {
	sealed, err := w.sealer.seal(slot[:0], w.h, w.payload)
	return len(sealed), err
}

// adopt brings the writer up to date with a new state: a context for new
// keys (the first time only: keys never change), the new address.
func (w *egressWriter) adopt(st *egressState) error {
	if st.stopped {
		return ErrEgressStopped
	}
	if w.keys != st.keys {
		sl, err := newSealer(st.keys.profile, st.keys.key, st.keys.salt)
		if err != nil {
			return err
		}
		w.keys, w.sealer = st.keys, sl
	}
	w.addr, w.seen = st.addr, st
	return nil
}

// Write implements webrtc.TrackLocalWriter for a marshalled packet.
func (w *egressWriter) Write(b []byte) (int, error) {
	switch st := w.state.Load(); {
	case st == nil:
		return 0, nil
	case st.pion:
		return w.pion.Write(b)
	}
	var h rtp.Header
	n, err := h.Unmarshal(b)
	if err != nil {
		return 0, err
	}
	return w.WriteRTP(&h, b[n:])
}
