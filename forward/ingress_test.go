package forward

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// ingressFixture is a Source (with a recording down-track) added to an
// ingress on a real UDP socket, read as pion's UDP mux reads it, and a
// publisher socket sealing with the ingress's keys.
type ingressFixture struct {
	*fixture
	conn   *IngressConn
	in     *Ingress
	srv    netip.AddrPort
	pub    *net.UDPConn
	seal   *srtp.Context
	passed chan []byte // what the ingress left to pion
}

func newIngressFixture(t *testing.T) *ingressFixture {
	t.Helper()
	srv, pub := listenLoopback(t), listenLoopback(t)
	ic, err := NewIngressConn(srv)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := srtp.CreateContext(egressKey, egressSalt, egressProfile)
	if err != nil {
		t.Fatal(err)
	}
	f := &ingressFixture{fixture: newFixture(t), conn: ic, in: ic.NewIngress(), srv: addrOf(srv),
		pub: pub, seal: seal, passed: make(chan []byte, 16)}
	if err := f.in.Start(egressProfile, egressKey, egressSalt, addrOf(pub)); err != nil {
		t.Fatal(err)
	}
	f.in.Add(0xabc, f.src)

	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // pion's UDP mux
		defer close(done)
		buf := make([]byte, 8192)
		for {
			n, _, err := ic.ReadFromAddrPort(buf)
			if err != nil {
				return
			}
			select {
			case f.passed <- bytes.Clone(buf[:n]):
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		srv.Close()
		<-done
	})
	return f
}

// sealed returns p sealed by the publisher's SRTP context.
func (f *ingressFixture) sealed(t *testing.T, p []byte) []byte {
	t.Helper()
	b, err := f.seal.EncryptRTP(nil, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *ingressFixture) send(t *testing.T, from *net.UDPConn, b []byte) {
	t.Helper()
	if _, err := from.WriteToUDPAddrPort(b, f.srv); err != nil {
		t.Fatal(err)
	}
}

// sync sends a packet the ingress never takes (RTCP) and waits until the
// reader passes it on: everything sent before it has been handled.
func (f *ingressFixture) sync(t *testing.T) {
	t.Helper()
	marker := []byte{0x80, 201, 0, 1, 0, 0, 0, 1} // an empty receiver report
	f.send(t, f.pub, marker)
	f.expectPassed(t, marker)
}

func (f *ingressFixture) expectPassed(t *testing.T, want []byte) {
	t.Helper()
	select {
	case got := <-f.passed:
		if !bytes.Equal(got, want) {
			t.Fatalf("reader got % x..., want % x...", got[:min(len(got), 12)], want[:min(len(want), 12)])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reader did not get the packet")
	}
}

// counters returns the payload counters of what the down-track sent.
func (f *ingressFixture) counters() []uint32 {
	var got []uint32
	for _, p := range f.rec.take() {
		got = append(got, counter(p))
	}
	return got
}

func TestIngressOpensAddedStreams(t *testing.T) {
	f := newIngressFixture(t)
	// pion reads the first packets (OnTrack needs them) and Run forwards
	// them; then the ingress takes over.
	f.src.WritePacket(vp8Packet(100, 0, true, 0))
	f.src.WritePacket(vp8Packet(101, 0, false, 1))
	f.seal.SetROC(0xabc, 0)
	for i := range uint32(6) {
		f.send(t, f.pub, f.sealed(t, vp8Packet(102+uint16(i), 3000, false, 2+i)))
	}
	other := vp8Packet(7, 0, true, 99)
	binary.BigEndian.PutUint32(other[8:], 0xdef) // a stream not added
	otherSealed := f.sealed(t, other)
	f.send(t, f.pub, otherSealed)
	f.expectPassed(t, otherSealed)
	f.sync(t)

	if got, want := f.counters(), []uint32{0, 1, 2, 3, 4, 5, 6, 7}; !equal(got, want) {
		t.Errorf("down-track sent counters %v, want %v", got, want)
	}
	if f.conn.Opened() != 6 || f.conn.Rejected() != 0 {
		t.Errorf("opened %d, rejected %d; want 6, 0", f.conn.Opened(), f.conn.Rejected())
	}
}

func TestIngressPacketsFromElsewhereGoToPion(t *testing.T) {
	f := newIngressFixture(t)
	stranger := listenLoopback(t)
	b := f.sealed(t, vp8Packet(1, 0, true, 0))
	f.send(t, stranger, b) // right keys, wrong address
	f.expectPassed(t, b)
	stun := make([]byte, 20) // a STUN header: first byte 0
	f.send(t, f.pub, stun)
	f.expectPassed(t, stun)
	if n := len(f.rec.take()); n != 0 || f.conn.Opened() != 0 {
		t.Errorf("forwarded %d, opened %d; want none", n, f.conn.Opened())
	}
}

// TestIngressHandOverAcrossWrap: the Source has read up to sequence number
// 65534 through pion; the ingress must open 65535 with rollover counter 0
// and what follows with 1.
func TestIngressHandOverAcrossWrap(t *testing.T) {
	f := newIngressFixture(t)
	var sealed [][]byte
	for i, sn := range []uint16{65533, 65534, 65535, 0, 1} {
		p := vp8Packet(sn, uint32(i)*3000, i == 0, uint32(i))
		s := f.sealed(t, p) // advances the publisher's rollover counter
		if i < 2 {
			f.src.WritePacket(p) // what pion delivered
			continue
		}
		sealed = append(sealed, s)
	}
	for _, s := range sealed {
		f.send(t, f.pub, s)
	}
	f.sync(t)
	if got, want := f.counters(), []uint32{0, 1, 2, 3, 4}; !equal(got, want) {
		t.Errorf("down-track sent counters %v, want %v", got, want)
	}
	if f.conn.Opened() != 3 {
		t.Errorf("opened %d, want 3", f.conn.Opened())
	}
}

// TestIngressRejectsOnlyOwnedStreams: a packet that fails to open goes to
// pion while pion still owns the stream (the rollover guess may be
// wrong), and is dropped once the ingress owns it, as is a replay.
func TestIngressRejectsOnlyOwnedStreams(t *testing.T) {
	f := newIngressFixture(t)
	first := f.sealed(t, vp8Packet(10, 0, true, 0))
	forged := bytes.Clone(first)
	forged[len(forged)-1] ^= 1
	f.send(t, f.pub, forged)
	f.expectPassed(t, forged)

	f.send(t, f.pub, first)
	second := f.sealed(t, vp8Packet(11, 0, false, 1))
	forged = bytes.Clone(second)
	forged[len(forged)-1] ^= 1
	f.send(t, f.pub, forged)
	f.send(t, f.pub, second)
	f.send(t, f.pub, first) // replayed
	f.sync(t)
	if got, want := f.counters(), []uint32{0, 1}; !equal(got, want) {
		t.Errorf("down-track sent counters %v, want %v", got, want)
	}
	if f.conn.Opened() != 2 || f.conn.Rejected() != 2 {
		t.Errorf("opened %d, rejected %d; want 2, 2", f.conn.Opened(), f.conn.Rejected())
	}
}

func TestIngressSetRemoteStopRemove(t *testing.T) {
	f := newIngressFixture(t)
	moved := listenLoopback(t)
	f.in.SetRemote(addrOf(moved))
	b := f.sealed(t, vp8Packet(1, 0, true, 0))
	f.send(t, f.pub, b) // the old address
	f.expectPassed(t, b)
	f.send(t, moved, b)
	f.sync(t)
	if f.conn.Opened() != 1 {
		t.Fatalf("after SetRemote: opened %d, want 1", f.conn.Opened())
	}

	f.in.Remove(0xabc, f.src)
	b = f.sealed(t, vp8Packet(2, 0, false, 1))
	f.send(t, moved, b)
	f.expectPassed(t, b)

	f.in.Add(0xabc, f.src)
	f.in.Stop()
	b = f.sealed(t, vp8Packet(3, 0, false, 2))
	f.send(t, moved, b)
	f.expectPassed(t, b)
	if n := f.conn.peerCount(); n != 0 {
		t.Errorf("%d remote addresses registered after Stop, want 0", n)
	}
	if err := f.in.Start(egressProfile, egressKey, egressSalt, addrOf(moved)); err == nil {
		t.Error("Start after Stop succeeded")
	}
	if got := f.counters(); !equal(got, []uint32{0}) {
		t.Errorf("down-track sent counters %v, want [0]", got)
	}
}

// TestIngressZeroAllocs: opening and forwarding a packet in the reader
// allocates nothing.
func TestIngressZeroAllocs(t *testing.T) {
	f := newIngressFixture(t)
	// A down-track that only counts: the recorder's copies allocate.
	src := NewSource(SourceConfig{Codec: vp8, Kind: webrtc.RTPCodecTypeVideo, RequestKeyFrame: func() {}})
	var w countWriter
	dt := NewDownTrack(src)
	if _, err := dt.Bind(&bindCtx{ssrc: 1, pt: 96, writer: &w}); err != nil {
		t.Fatal(err)
	}
	src.AddDownTrack(dt)
	f.in.Add(0xabc, src)
	const runs = 200
	var sealed [][]byte
	for i := range uint16(runs + 2) {
		// With a header extension and a CSRC, as browsers send them:
		// parsing them must not allocate either.
		var p rtp.Packet
		if err := p.Unmarshal(vp8Packet(i, uint32(i)*3000, i == 0, uint32(i))); err != nil {
			t.Fatal(err)
		}
		p.CSRC = []uint32{5}
		if err := p.SetExtension(3, []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		plain, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, f.sealed(t, plain))
	}
	from := addrOf(f.pub)
	buf := make([]byte, 8192)
	take := func() {
		n := copy(buf, sealed[0])
		sealed = sealed[1:]
		if !f.conn.take(buf[:n], from) {
			t.Fatal("packet not taken")
		}
	}
	take() // the key frame
	if allocs := testing.AllocsPerRun(runs, take); allocs != 0 {
		t.Errorf("%v allocations per opened packet, want 0", allocs)
	}
	if w.n != runs+2 { // the key frame, AllocsPerRun's warm-up run, the runs
		t.Errorf("forwarded %d packets, want %d", w.n, runs+2)
	}
}

// rtxPacket wraps media packet p as RTX (RFC 4588) on ssrc 0xbee with
// sequence number sn, and a header extension to move along.
func rtxPacket(t *testing.T, p []byte, sn uint16) []byte {
	t.Helper()
	var orig rtp.Packet
	if err := orig.Unmarshal(p); err != nil {
		t.Fatal(err)
	}
	pl := binary.BigEndian.AppendUint16(nil, orig.SequenceNumber)
	pl = append(pl, orig.Payload...)
	h := rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: sn, Timestamp: orig.Timestamp, SSRC: 0xbee}
	if err := h.SetExtension(3, []byte{7, 7}); err != nil {
		t.Fatal(err)
	}
	b, err := (&rtp.Packet{Header: h, Payload: pl}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIngressUnwrapsRTX: a retransmission on the RTX stream reaches the
// down-track as the packet it repairs, in the gap it fills; an RTX probe
// (padding only) is dropped.
func TestIngressUnwrapsRTX(t *testing.T) {
	f := newIngressFixture(t)
	f.in.AddRepair(0xbee, 0xabc, f.src)
	f.src.WritePacket(vp8Packet(100, 0, true, 0))
	f.seal.SetROC(0xabc, 0)
	lost := vp8Packet(101, 3000, false, 1)
	f.send(t, f.pub, f.sealed(t, vp8Packet(102, 3000, false, 2)))
	f.send(t, f.pub, f.sealed(t, rtxPacket(t, lost, 9)))
	probe, err := (&rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PayloadType: 101, SequenceNumber: 10, SSRC: 0xbee},
		Payload: make([]byte, 200), PaddingSize: 200}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	probe[len(probe)-1] = 200
	f.send(t, f.pub, f.sealed(t, probe))
	f.sync(t)

	got := f.rec.take()
	var counters []uint32
	for _, p := range got {
		counters = append(counters, counter(p))
	}
	if want := []uint32{0, 2, 1}; !equal(counters, want) {
		t.Fatalf("down-track sent counters %v, want %v", counters, want)
	}
	if r := got[2]; r.hdr.SequenceNumber != got[0].hdr.SequenceNumber+1 || r.hdr.SSRC != 777 || r.hdr.Timestamp != got[1].hdr.Timestamp {
		t.Errorf("retransmission sent as sn %d ts %d ssrc %d; want sn %d ts %d ssrc 777",
			r.hdr.SequenceNumber, r.hdr.Timestamp, r.hdr.SSRC, got[0].hdr.SequenceNumber+1, got[1].hdr.Timestamp)
	}
	if !bytes.Equal(got[2].payload, lost[12:]) {
		t.Errorf("retransmitted payload differs from the lost packet's")
	}
	if f.conn.Opened() != 3 || f.conn.Rejected() != 0 {
		t.Errorf("opened %d, rejected %d; want 3, 0", f.conn.Opened(), f.conn.Rejected())
	}
}
