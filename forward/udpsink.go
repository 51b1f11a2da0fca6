package forward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

// UDPSink is a [Sink] that sends a stream's packets as plain RTP (no
// SRTP) to one UDP address, from a socket of its own: what
// StartForwardingRtp hands to ffmpeg or GStreamer. It writes a 12-byte
// header of its own (the publisher's payload type, sequence numbers and
// timestamps, an SSRC of its choosing) before the payload.
//
// A write never blocks the fan-out: a packet the socket cannot take at
// once is dropped and counted. Nobody listening yet (ICMP port
// unreachable) is counted too, and sending goes on.
type UDPSink struct {
	conn *net.UDPConn
	ssrc uint32
	buf  [MaxPacketSize + rtpHeaderSize]byte
	send *sender // the platform's non-blocking write

	sent    atomic.Uint64
	dropped atomic.Uint64
}

const rtpHeaderSize = 12

// NewUDPSink opens a UDP socket connected to dst that sends with the
// given SSRC.
func NewUDPSink(dst netip.AddrPort, ssrc uint32) (*UDPSink, error) {
	if !dst.IsValid() || dst.Port() == 0 {
		return nil, fmt.Errorf("forward: invalid RTP destination %v", dst)
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return nil, fmt.Errorf("forward: RTP destination %v: %w", dst, err)
	}
	u := &UDPSink{conn: conn, ssrc: ssrc}
	if u.send, err = newSender(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return u, nil
}

// WriteRTP sends p. It implements [Sink].
func (u *UDPSink) WriteRTP(p *SinkPacket) {
	if len(p.Payload) > MaxPacketSize {
		u.dropped.Add(1)
		return
	}
	b := u.buf[:]
	b[0] = 0x80 // version 2, no padding, extension or CSRC
	b[1] = p.PayloadType & 0x7f
	if p.Marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], p.SequenceNumber)
	binary.BigEndian.PutUint32(b[4:], p.Timestamp)
	binary.BigEndian.PutUint32(b[8:], u.ssrc)
	n := rtpHeaderSize + copy(b[rtpHeaderSize:], p.Payload)
	if u.send.write(b[:n]) {
		u.sent.Add(1)
	} else {
		u.dropped.Add(1)
	}
}

// Sent returns the number of packets the socket took.
func (u *UDPSink) Sent() uint64 { return u.sent.Load() }

// Dropped returns the number of packets not sent: the socket's buffer
// was full, nobody listened (port unreachable), or the packet was too
// large.
func (u *UDPSink) Dropped() uint64 { return u.dropped.Load() }

// LocalAddr returns the address the sink sends from.
func (u *UDPSink) LocalAddr() netip.AddrPort { return u.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Close closes the socket. Detach the sink from its source first.
func (u *UDPSink) Close() error {
	if err := u.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
