package forward

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/internal/udpbatch"
)

func listenLoopback(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

var (
	egressProfile = srtp.ProtectionProfileAeadAes128Gcm
	egressKey     = bytes.Repeat([]byte{0x11}, 16)
	egressSalt    = bytes.Repeat([]byte{0x22}, 12)
)

// egressFixture is a down-track writing through an egress on a real UDP
// socket; rec stands for pion's writer.
type egressFixture struct {
	*fixture
	egress *Egress
	out    PacketWriter
}

// batchStats returns the batching conn's counters, false for a plain
// socket.
func (f *egressFixture) batchStats() (udpbatch.Stats, bool) {
	c, ok := f.out.(interface{ Stats() udpbatch.Stats })
	if !ok {
		return udpbatch.Stats{}, false
	}
	return c.Stats(), true
}

// egressSockets are the sockets an egress writes to: the plain one, and
// the engine's batching one, whose slots the egress seals into.
var egressSockets = []string{"plain", "batched"}

func newEgressFixture(t *testing.T, socket string) *egressFixture {
	t.Helper()
	var out PacketWriter = UDPConnWriter(listenLoopback(t))
	if socket == "batched" {
		// Small slots: a larger packet is sealed aside and sent directly.
		c := udpbatch.NewConn(listenLoopback(t), udpbatch.Config{SlotSize: 256})
		t.Cleanup(func() { _ = c.Close() })
		if _, ok := c.(slotWriter); !ok && runtime.GOOS == "linux" {
			t.Fatalf("the batching conn %T takes no sealing into its slots", c)
		}
		if pw, ok := c.(PacketWriter); ok {
			out = pw
		} else { // elsewhere NewConn returns the plain socket
			out = UDPConnWriter(c.(*net.UDPConn))
		}
	}
	e := NewEgress(out)
	return &egressFixture{fixture: newFixtureEgress(t, e), egress: e, out: out}
}

// readSRTP reads one datagram from c and opens it with the egress keys
// (what the subscriber's SRTP session does).
func readSRTP(t *testing.T, c *net.UDPConn, dec *srtp.Context) *rtp.Packet {
	t.Helper()
	buf := make([]byte, 1500)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no packet: %v", err)
	}
	plain, err := dec.DecryptRTP(nil, buf[:n], nil)
	if err != nil {
		t.Fatalf("the subscriber cannot open the packet: %v", err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestEgressSealsForTheSubscriber(t *testing.T) {
	for _, socket := range egressSockets {
		t.Run(socket, func(t *testing.T) { testEgressSeals(t, socket) })
	}
}

func testEgressSeals(t *testing.T, socket string) {
	f := newEgressFixture(t, socket)
	rx := listenLoopback(t)
	dec, err := srtp.CreateContext(egressKey, egressSalt, egressProfile)
	if err != nil {
		t.Fatal(err)
	}

	// Before the egress is started (or told to use pion) nothing goes
	// out: pion's SRTP is not ready yet either.
	f.src.WritePacket(vp8Packet(10, 1000, true, 1))
	if got := f.rec.take(); len(got) != 0 || f.dt.Packets() != 0 || f.egress.Active() {
		t.Fatalf("undecided: pion got %d packets, down-track sent %d, egress active %v; want none",
			len(got), f.dt.Packets(), f.egress.Active())
	}

	if err := f.egress.Start(egressProfile, egressKey, egressSalt, addrOf(rx)); err != nil {
		t.Fatal(err)
	}
	f.src.WritePacket(vp8Packet(11, 4000, true, 2)) // a key frame: the down-track waits for one again
	for i := range uint32(2) {
		f.src.WritePacket(vp8Packet(12+uint16(i), 7000+3000*i, false, 3+i))
	}
	for i := range uint32(3) {
		p := readSRTP(t, rx, dec)
		want := vp8Packet(0, 0, i == 0, 2+i)[12:]
		if p.SSRC != 777 || p.PayloadType != 120 || !bytes.Equal(p.Payload, want) {
			t.Errorf("packet %d: ssrc %d pt %d, payload intact %v", i, p.SSRC, p.PayloadType, bytes.Equal(p.Payload, want))
		}
	}
	if got := f.rec.take(); len(got) != 0 {
		t.Errorf("after Start pion's writer got %d packets", len(got))
	}

	// Across the sequence-number wrap the subscriber's rollover counter
	// follows the egress's (a stream of its own, written directly).
	w := f.dt.bound.Load().writer
	for i, sn := range []uint16{0xfffe, 0xffff, 0, 1} {
		h := &rtp.Header{Version: 2, PayloadType: 120, SequenceNumber: sn, Timestamp: uint32(i), SSRC: 778}
		if _, err := w.WriteRTP(h, []byte{byte(i), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if p := readSRTP(t, rx, dec); p.SequenceNumber != sn || !bytes.Equal(p.Payload, []byte{byte(i), 1, 2, 3}) {
			t.Errorf("sn %d: got sn %d payload %v", sn, p.SequenceNumber, p.Payload)
		}
	}

	// A packet larger than a send slot of the batching conn (sealed
	// aside then) arrives as intact as the others.
	big := bytes.Repeat([]byte{0xab}, 400)
	if _, err := w.WriteRTP(&rtp.Header{Version: 2, PayloadType: 120, SequenceNumber: 2, SSRC: 778}, big); err != nil {
		t.Fatal(err)
	}
	if p := readSRTP(t, rx, dec); p.SequenceNumber != 2 || !bytes.Equal(p.Payload, big) {
		t.Errorf("a %d-byte payload: got sn %d, %d bytes", len(big), p.SequenceNumber, len(p.Payload))
	}
	if st, ok := f.batchStats(); ok && (st.Packets != 7 || st.Direct != 1) {
		t.Errorf("batching conn: %+v, want 7 packets through its slots and the large one direct", st)
	}

	// ICE selects another pair: the next packet goes there.
	rx2 := listenLoopback(t)
	f.egress.SetRemote(addrOf(rx2))
	f.src.WritePacket(vp8Packet(14, 13000, false, 6))
	if p := readSRTP(t, rx2, dec); !bytes.Equal(p.Payload, vp8Packet(0, 0, false, 6)[12:]) {
		t.Error("after SetRemote: payload differs")
	}
	if f.egress.Packets() != 9 || f.egress.Bytes() != 816 || f.dt.Packets() != 4 {
		t.Errorf("egress counted %d packets, %d bytes; down-track %d; want 9, 816, 4",
			f.egress.Packets(), f.egress.Bytes(), f.dt.Packets())
	}

	f.egress.Stop()
	if _, err := w.WriteRTP(&rtp.Header{Version: 2, SSRC: 777}, []byte{1}); !errors.Is(err, ErrEgressStopped) {
		t.Errorf("write after Stop: %v, want ErrEgressStopped", err)
	}
	// The binding ends (pion unbinds the track): its counts stay.
	if err := f.dt.Unbind(nil); err != nil || f.egress.Packets() != 9 {
		t.Errorf("after Unbind: err %v, egress counts %d packets, want 9", err, f.egress.Packets())
	}
}

// TestEgressUsePion: without usable keys (a bad key here) the connection
// is left to pion for good: packets go to pion's writer, and a later
// Start is refused.
func TestEgressUsePion(t *testing.T) {
	f := newEgressFixture(t, "plain")
	rx := listenLoopback(t)
	if err := f.egress.Start(egressProfile, egressKey[:5], egressSalt, addrOf(rx)); err == nil {
		t.Fatal("Start with a 5-byte AES key succeeded")
	}
	f.egress.UsePion()
	f.src.WritePacket(vp8Packet(10, 1000, true, 1))
	if got := f.rec.take(); len(got) != 1 || f.egress.Active() {
		t.Errorf("after UsePion: pion got %d packets, egress active %v; want 1, false", len(got), f.egress.Active())
	}
	if err := f.egress.Start(egressProfile, egressKey, egressSalt, addrOf(rx)); err == nil {
		t.Error("Start after UsePion succeeded")
	}
	f.src.WritePacket(vp8Packet(11, 4000, false, 2))
	if got := f.rec.take(); len(got) != 1 || f.egress.Packets() != 0 {
		t.Errorf("after a refused Start: pion got %d packets, egress sealed %d; want 1, 0", len(got), f.egress.Packets())
	}
}

// TestEgressZeroAllocs: sealing and sending through the egress, from
// Source.WritePacket to the socket, allocates nothing per packet.
func TestEgressZeroAllocs(t *testing.T) {
	for _, socket := range egressSockets {
		t.Run(socket, func(t *testing.T) { testEgressZeroAllocs(t, socket) })
	}
}

func testEgressZeroAllocs(t *testing.T, socket string) {
	f := newEgressFixture(t, socket)
	rx := listenLoopback(t)
	if err := f.egress.Start(egressProfile, egressKey, egressSalt, addrOf(rx)); err != nil {
		t.Fatal(err)
	}
	pkt := vp8Packet(10, 1000, true, 1)
	sn := uint16(10)
	write := func() {
		sn++
		pkt[2], pkt[3] = byte(sn>>8), byte(sn)
		f.src.WritePacket(pkt)
	}
	write() // first packet: the SRTP context and buffer are made here
	if allocs := testing.AllocsPerRun(500, write); allocs != 0 {
		t.Errorf("%v allocations per packet through the egress, want 0", allocs)
	}
	if f.egress.Packets() < 500 {
		t.Errorf("egress sent %d packets, want over 500", f.egress.Packets())
	}
}

// TestPairRemote: the egress sends to, and the ingress expects packets
// from, the remote side of a pair whose local side is a UDP host
// candidate (the engine's socket); any other pair leaves the connection
// to pion.
func TestPairRemote(t *testing.T) {
	host := &webrtc.ICECandidate{Protocol: webrtc.ICEProtocolUDP, Typ: webrtc.ICECandidateTypeHost, Address: "127.0.0.1", Port: 5000}
	remote := func(addr string) *webrtc.ICECandidate {
		return &webrtc.ICECandidate{Protocol: webrtc.ICEProtocolUDP, Typ: webrtc.ICECandidateTypePrflx, Address: addr, Port: 40000}
	}
	relay := *host
	relay.Typ = webrtc.ICECandidateTypeRelay
	tcp := *host
	tcp.Protocol = webrtc.ICEProtocolTCP
	for _, c := range []struct {
		name string
		pair *webrtc.ICECandidatePair
		want string // "" for refused
	}{
		{"host to prflx", &webrtc.ICECandidatePair{Local: host, Remote: remote("192.0.2.7")}, "192.0.2.7:40000"},
		{"v4-mapped remote", &webrtc.ICECandidatePair{Local: host, Remote: remote("::ffff:192.0.2.7")}, "192.0.2.7:40000"},
		{"mDNS name", &webrtc.ICECandidatePair{Local: host, Remote: remote("abc.local")}, ""},
		{"local relay", &webrtc.ICECandidatePair{Local: &relay, Remote: remote("192.0.2.7")}, ""},
		{"local TCP", &webrtc.ICECandidatePair{Local: &tcp, Remote: remote("192.0.2.7")}, ""},
		{"no remote", &webrtc.ICECandidatePair{Local: host}, ""},
		{"no pair", nil, ""},
	} {
		got := ""
		if addr, ok := pairRemote(c.pair); ok {
			got = addr.String()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q (empty: refused)", c.name, got, c.want)
		}
	}
}
