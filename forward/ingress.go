package forward

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// ingressReplayWindow is the SRTP replay window of an ingress, in
// packets: pion's default for its own SRTP sessions.
const ingressReplayWindow = 64

// ErrNoAddrPort is returned by [NewIngressConn] for a socket that cannot
// read and write with netip.AddrPort.
var ErrNoAddrPort = errors.New("forward: socket without AddrPort reads and writes")

// AddrPortConn is a UDP socket that reads and writes without allocating
// net.Addr values: what pion's ICE UDP mux uses when it can.
type AddrPortConn interface {
	net.PacketConn
	ReadFromAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// IngressConn is the engine's UDP socket as pion's ICE UDP mux reads it,
// with the engine's own SRTP ingress in front.
//
// Without it, a publisher's packet passes four goroutines (pion's UDP
// mux, its DTLS/SRTP mux, its SRTP session, the Source's reader), each
// hand-off waking a thread. An [Ingress] opens the SRTP of its
// connection's published streams in the socket reader instead, and
// forwards each packet there, inline: one goroutine from the socket to
// the subscribers. Everything else (STUN, DTLS, RTCP, streams not added
// to an Ingress, packets it cannot open before it owns the stream) goes
// on to pion as before.
type IngressConn struct {
	AddrPortConn

	mu    sync.RWMutex
	peers map[netip.AddrPort]*Ingress // by remote address

	opened, rejected atomic.Uint64
}

// NewIngressConn wraps c, which must be an [AddrPortConn] or a
// *net.UDPConn.
func NewIngressConn(c net.PacketConn) (*IngressConn, error) {
	var ac AddrPortConn
	switch c := c.(type) {
	case AddrPortConn:
		ac = c
	case *net.UDPConn:
		ac = udpAddrPortConn{c}
	default:
		return nil, ErrNoAddrPort
	}
	return &IngressConn{AddrPortConn: ac, peers: map[netip.AddrPort]*Ingress{}}, nil
}

// udpAddrPortConn gives *net.UDPConn the method names of AddrPortConn
// (and so of PacketWriter).
type udpAddrPortConn struct{ *net.UDPConn }

func (c udpAddrPortConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromUDPAddrPort(b)
}

func (c udpAddrPortConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.WriteToUDPAddrPort(b, addr)
}

// ReadFromAddrPort returns the next datagram that the ingress does not
// take. The packets it takes are forwarded before it reads on, by the
// goroutine that called it (pion's UDP mux reader), into b: b's capacity
// beyond the packet may be used for RTP padding (see equalize).
func (c *IngressConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := c.AddrPortConn.ReadFromAddrPort(b)
		if err != nil || !c.take(b[:n], from) {
			return n, from, err
		}
	}
}

// ReadFrom is ReadFromAddrPort with a net.Addr.
func (c *IngressConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// Opened returns how many RTP packets the ingresses have opened and
// forwarded.
func (c *IngressConn) Opened() uint64 { return c.opened.Load() }

// Rejected returns how many RTP packets of streams an ingress owned
// failed to open (forged, replayed or corrupted) and were dropped.
func (c *IngressConn) Rejected() uint64 { return c.rejected.Load() }

// take reports whether an ingress took p: opened and forwarded it, or
// dropped it as one of its streams' packets that does not authenticate.
func (c *IngressConn) take(p []byte, from netip.AddrPort) bool {
	media := isRTP(p)
	if !media && !isRTCP(p) {
		return false
	}
	if from.Addr().Is4In6() {
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	}
	c.mu.RLock()
	in := c.peers[from]
	c.mu.RUnlock()
	if in == nil {
		return false
	}
	if !media {
		return in.openRTCP(p)
	}
	switch in.open(p) {
	case opened:
		c.opened.Add(1)
		return true
	case rejected:
		c.rejected.Add(1)
		return true
	}
	return false
}

// isRTP reports whether p looks like an RTP packet: version 2, and not an
// RTCP packet type (RFC 5761 section 4). STUN and DTLS never have version
// 2 in their first byte (RFC 7983).
func isRTP(p []byte) bool {
	return len(p) >= 12 && p[0]>>6 == 2 && (p[1] < 192 || p[1] > 223)
}

func (c *IngressConn) register(addr netip.AddrPort, in *Ingress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peers[addr] = in
}

func (c *IngressConn) unregister(addr netip.AddrPort, in *Ingress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peers[addr] == in {
		delete(c.peers, addr)
	}
}

// peerCount returns the number of registered remote addresses.
func (c *IngressConn) peerCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.peers)
}

// Ingress opens one publisher connection's SRTP with the remote keys of
// its DTLS handshake and hands the RTP of the streams added to it
// straight to their [Source]. It starts, as the [Egress] does, when the
// connection's DTLS handshake is done ([Attach]); until then, and for
// every stream not added, pion reads as usual.
//
// The hand-over of a stream: pion decrypts its first packets (it needs
// them to report the track), then the stream is added, and the ingress
// opens the next packet with the rollover counter the [Source] has
// reached. From the first packet the ingress opens, it owns the stream:
// pion's SRTP context for it falls behind for good, so what the ingress
// cannot open is dropped, not passed on. Packets pion already holds still
// reach the Source through its Run loop, a few places out of order.
type Ingress struct {
	conn *IngressConn

	mu      sync.Mutex
	ctx     *srtp.Context // nil before Start
	remote  netip.AddrPort
	stopped bool
	streams map[uint32]*ingressStream
	hdr     rtp.Header // DecryptRTP's, reused
	aside   []byte     // where packets of streams not yet owned are opened

	feedback FeedbackHandler // nil: pion reads the connection's RTCP
	rtcpHdr  rtcp.Header     // DecryptRTCP's, reused
	rtcpBuf  []byte          // where RTCP is opened
}

type ingressStream struct {
	src   *Source
	owned bool // a packet opened: ctx's rollover counter is right
	// repairs is, for an RTX stream (RFC 4588), the SSRC of the stream
	// it repairs; 0 for a media stream.
	repairs uint32
}

// open's outcomes.
const (
	notOurs  = iota // pion reads it
	opened          // opened and forwarded
	rejected        // one of our streams', did not open: dropped
)

// NewIngress returns a stopped ingress that will read from c.
func (c *IngressConn) NewIngress() *Ingress {
	return &Ingress{conn: c, streams: map[uint32]*ingressStream{}}
}

// Start opens packets that come from remote with key and salt (the
// remote SRTP master key and salt of profile). It fails if srtp rejects
// them, or after Stop.
func (in *Ingress) Start(profile srtp.ProtectionProfile, key, salt []byte, remote netip.AddrPort) error {
	ctx, err := srtp.CreateContext(key, salt, profile, srtp.SRTPReplayProtection(ingressReplayWindow), srtp.SRTCPReplayProtection(ingressReplayWindow))
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stopped || in.ctx != nil {
		return errDecided
	}
	in.ctx, in.remote = ctx, remote
	in.conn.register(remote, in)
	return nil
}

// SetRemote follows the connection to another address (ICE selected
// another candidate pair). It does nothing before Start or after Stop.
func (in *Ingress) SetRemote(addr netip.AddrPort) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ctx == nil || in.stopped || addr == in.remote {
		return
	}
	in.conn.unregister(in.remote, in)
	in.remote = addr
	in.conn.register(addr, in)
}

// Stop ends the ingress for good: pion reads everything again (and
// drops it, since the connection is closing).
func (in *Ingress) Stop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ctx != nil && !in.stopped {
		in.conn.unregister(in.remote, in)
	}
	in.stopped = true
}

// Add hands the packets of ssrc to src from the next one on.
func (in *Ingress) Add(ssrc uint32, src *Source) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.streams[ssrc] = &ingressStream{src: src}
}

// AddRepair hands the RTX packets of rtxSSRC (RFC 4588), which repair
// ssrc, to src from the next one on, as the packets they carry. Once the
// ingress owns a stream, pion never returns that stream's RTX packets
// (its track reader waits on the media stream), so the ingress must take
// them too: they are the publisher's answers to NACKs.
func (in *Ingress) AddRepair(rtxSSRC, ssrc uint32, src *Source) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.streams[rtxSSRC] = &ingressStream{src: src, repairs: ssrc}
}

// Remove stops handing the packets of ssrc to src.
func (in *Ingress) Remove(ssrc uint32, src *Source) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if st := in.streams[ssrc]; st != nil && st.src == src {
		delete(in.streams, ssrc)
	}
}

// open decrypts p in place if it belongs to an added stream, and forwards
// it. Called by the socket's reader only.
func (in *Ingress) open(p []byte) int {
	ssrc := binary.BigEndian.Uint32(p[8:12])
	in.mu.Lock()
	st := in.streams[ssrc]
	if st == nil || in.ctx == nil || in.stopped {
		in.mu.Unlock()
		return notOurs
	}
	dst := p[:0] // in place
	if !st.owned {
		roc := uint32(0) // an RTX stream's first packets: its own count starts at 0
		if st.repairs == 0 {
			roc = st.src.rolloverFor(binary.BigEndian.Uint16(p[2:4]))
		}
		in.ctx.SetROC(ssrc, roc)
		// A failed open wipes its output, and this packet may still be
		// pion's: open it aside.
		if in.aside == nil {
			in.aside = make([]byte, MaxPacketSize)
		}
		dst = in.aside[:0]
	}
	plain, err := in.ctx.DecryptRTP(dst, p, &in.hdr)
	if err != nil {
		in.mu.Unlock()
		if st.owned {
			return rejected
		}
		return notOurs // maybe a wrong rollover guess: pion's is right
	}
	if !st.owned {
		plain = p[:copy(p, plain)]
		st.owned = true
	}
	src := st.src
	if st.repairs != 0 {
		plain = unwrapRTX(plain, st.repairs, src.cfg.Codec.PayloadType)
	}
	in.mu.Unlock()
	if plain != nil {
		src.deliver(plain[:len(plain):cap(plain)])
	}
	return opened
}

// unwrapRTX turns RTX packet p in place into the packet it
// carries (RFC 4588 section 4): the original sequence number from the
// payload's first two bytes, the media stream's SSRC and payload type.
// It returns nil for an RTX packet without one (padding sent to probe
// bandwidth).
func unwrapRTX(p []byte, ssrc uint32, pt webrtc.PayloadType) []byte {
	hl := rtpHeaderLen(p)
	if hl < 0 {
		return nil
	}
	end := len(p)
	if p[0]&0x20 != 0 { // padding
		if end == hl {
			return nil
		}
		pad := int(p[end-1])
		if pad == 0 || end-pad < hl {
			return nil // as Source drops it
		}
		end -= pad
	}
	if end-hl < 2 {
		return nil
	}
	osn := binary.BigEndian.Uint16(p[hl:])
	copy(p[2:hl+2], p[:hl])
	p = p[2:]
	binary.BigEndian.PutUint16(p[2:], osn)
	p[1] = p[1]&0x80 | byte(pt)&0x7f
	binary.BigEndian.PutUint32(p[8:], ssrc)
	return p
}

// rtpHeaderLen returns the length of p's RTP header (fixed part, CSRCs
// and extension), or -1 if p is shorter.
func rtpHeaderLen(p []byte) int {
	n := 12 + 4*int(p[0]&0x0f)
	if p[0]&0x10 != 0 {
		if len(p) < n+4 {
			return -1
		}
		n += 4 + 4*int(binary.BigEndian.Uint16(p[n+2:]))
	}
	if n > len(p) {
		return -1
	}
	return n
}
