package forward

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func readRTP(t *testing.T, c *net.UDPConn) rtp.Packet {
	t.Helper()
	buf := make([]byte, 2000)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no RTP arrived: %v", err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatalf("not RTP: %v", err)
	}
	return p
}

func newTestUDPSink(t *testing.T, dst netip.AddrPort) *UDPSink {
	t.Helper()
	u, err := NewUDPSink(dst, 0x1234)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// The sink gets every packet the source forwards, as plain RTP with the
// publisher's payload type and payload, continuous sequence numbers across
// a padding-only packet, and the sink's own SSRC; RemoveSink stops it.
func TestUDPSinkForwardsPlainRTP(t *testing.T) {
	recv := listenLoopback(t)
	u := newTestUDPSink(t, recv.LocalAddr().(*net.UDPAddr).AddrPort())
	src := NewSource(SourceConfig{ID: "v", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo})
	src.AddSink(u)

	src.WritePacket(vp8Packet(100, 9000, true, 1))
	probe, err := (&rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PayloadType: 100, SequenceNumber: 101, Timestamp: 9000, SSRC: 0xabc},
		Payload: []byte{0, 0, 0, 4}, PaddingSize: 4}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	probe = probe[:12+4] // header and the 4 padding bytes only
	probe[len(probe)-1] = 4
	src.WritePacket(probe)
	src.WritePacket(vp8Packet(102, 12000, false, 2))

	for i, want := range []uint32{1, 2} {
		p := readRTP(t, recv)
		if p.PayloadType != 100 || p.SSRC != 0x1234 || p.SequenceNumber != uint16(100+i) || p.Extension || p.Padding {
			t.Errorf("packet %d header %+v: want payload type 100, SSRC 0x1234, sequence %d, no extension or padding", i, p.Header, 100+i)
		}
		if got := binary.BigEndian.Uint32(p.Payload[2:]); got != want || len(p.Payload) != 100 {
			t.Errorf("packet %d payload counter %d (%d bytes), want %d (100 bytes)", i, got, len(p.Payload), want)
		}
	}
	if !src.RemoveSink(u) {
		t.Fatal("RemoveSink: not attached")
	}
	src.WritePacket(vp8Packet(103, 15000, false, 3))
	recv.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := recv.Read(make([]byte, 2000)); err == nil {
		t.Errorf("a %d-byte packet arrived after RemoveSink", n)
	}
	if u.Sent() != 2 {
		t.Errorf("Sent = %d, want 2", u.Sent())
	}
}

// Nobody listening (ICMP port unreachable) costs packets, not the sink:
// once a receiver binds the port, packets arrive again.
func TestUDPSinkSurvivesPortUnreachable(t *testing.T) {
	hold := listenLoopback(t)
	dst := hold.LocalAddr().(*net.UDPAddr).AddrPort()
	hold.Close() // nobody listens on dst now
	u := newTestUDPSink(t, dst)
	pkt := &SinkPacket{PayloadType: 111, Payload: []byte("opus")}
	// The kernel reports the ICMP error on a later write; there is no
	// event to wait for, so write until one fails (bounded).
	for deadline := time.Now().Add(5 * time.Second); u.Dropped() == 0 && time.Now().Before(deadline); {
		pkt.SequenceNumber++
		u.WriteRTP(pkt)
		time.Sleep(time.Millisecond)
	}
	if u.Dropped() == 0 {
		t.Errorf("no write failed while nobody listened (sent %d)", u.Sent())
	}
	recv, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(dst))
	if err != nil {
		t.Fatalf("rebind %v: %v", dst, err)
	}
	defer recv.Close()
	pkt.SequenceNumber = 99
	u.WriteRTP(pkt) // may still meet the last error
	u.WriteRTP(pkt)
	p := readRTP(t, recv)
	if p.SequenceNumber != 99 || !bytes.Equal(p.Payload, []byte("opus")) || p.PayloadType != 111 {
		t.Errorf("got %+v %q, want sequence 99, payload type 111, payload opus", p.Header, p.Payload)
	}
}

// Forwarding to a UDP sink allocates nothing per packet.
func TestUDPSinkZeroAllocs(t *testing.T) {
	recv := listenLoopback(t)
	u := newTestUDPSink(t, recv.LocalAddr().(*net.UDPAddr).AddrPort())
	src := NewSource(SourceConfig{ID: "v", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo})
	src.AddSink(u)
	pkt := vp8Packet(1, 0, true, 0)
	var sn uint16
	src.WritePacket(pkt)
	allocs := testing.AllocsPerRun(1000, func() {
		sn++
		binary.BigEndian.PutUint16(pkt[2:], sn)
		src.WritePacket(pkt)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet to a UDP sink, want 0", allocs)
	}
	if u.Sent()+u.Dropped() != 1002 {
		t.Errorf("sink handled %d packets, want 1002", u.Sent()+u.Dropped())
	}
}
