package sfutest

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ShapedConn is a client's UDP socket on 127.0.0.1 behind a simulated
// downlink bottleneck: the RTP and RTCP it receives pass a FIFO drained
// at a set rate, which tail-drops what would wait longer than its queue
// allows, as a home router's or cell's buffer does. So a client's
// transport-cc feedback reports what such a link does: arrival times
// that spread out, then losses. STUN and DTLS pass at once, so the
// connection sets up and stays up whatever the rate.
type ShapedConn struct {
	conn    *net.UDPConn
	rate    atomic.Int64 // bits per second; 0: unlimited
	queue   time.Duration
	in      chan shapedPacket
	dropped atomic.Uint64
	wg      sync.WaitGroup
}

type shapedPacket struct {
	b    []byte
	addr netip.AddrPort
	at   time.Time // when the link delivers it
}

// shapedOverhead is what the link counts beyond a UDP payload: the IPv4
// and UDP headers.
const shapedOverhead = 28

// ListenShaped opens a ShapedConn on 127.0.0.1 whose downlink carries
// bps bits per second (0: unlimited) and queues at most queue; it is
// closed when the test ends.
func ListenShaped(t testing.TB, bps int, queue time.Duration) *ShapedConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &ShapedConn{conn: c, queue: queue, in: make(chan shapedPacket, 4096)}
	s.rate.Store(int64(bps))
	s.wg.Add(1)
	go s.pump()
	t.Cleanup(func() { s.Close() })
	return s
}

// SetRate changes the downlink's rate from now on (0: unlimited).
func (s *ShapedConn) SetRate(bps int) { s.rate.Store(int64(bps)) }

// Dropped returns the number of packets the queue dropped.
func (s *ShapedConn) Dropped() uint64 { return s.dropped.Load() }

// pump reads the socket as fast as packets arrive, timestamps them and
// schedules each one's delivery through the bottleneck.
func (s *ShapedConn) pump() {
	defer s.wg.Done()
	defer close(s.in)
	var busyUntil time.Time
	for {
		b := make([]byte, 1500)
		n, addr, err := s.conn.ReadFromUDPAddrPort(b)
		if err != nil {
			return
		}
		now := time.Now()
		p := shapedPacket{b: b[:n], addr: addr, at: now}
		if rate := s.rate.Load(); rate > 0 && n > 0 && b[0] >= 128 && b[0] <= 191 { // RTP/RTCP (RFC 7983)
			start := now
			if busyUntil.After(now) {
				start = busyUntil
			}
			if start.Sub(now) > s.queue {
				s.dropped.Add(1)
				continue
			}
			busyUntil = start.Add(time.Duration(int64(n+shapedOverhead) * 8 * int64(time.Second) / rate))
			p.at = busyUntil
		}
		select {
		case s.in <- p:
		default:
			s.dropped.Add(1) // the client stopped reading
		}
	}
}

func (s *ShapedConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	p, ok := <-s.in
	if !ok {
		return 0, netip.AddrPort{}, net.ErrClosed
	}
	if d := time.Until(p.at); d > 0 {
		// The link is busy until then: the wait is the packet's transit.
		time.Sleep(d)
	}
	return copy(b, p.b), p.addr, nil
}

func (s *ShapedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := s.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

func (s *ShapedConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return s.conn.WriteToUDPAddrPort(b, addr)
}

func (s *ShapedConn) WriteTo(b []byte, addr net.Addr) (int, error) { return s.conn.WriteTo(b, addr) }

// Close closes the socket and waits for its reader.
func (s *ShapedConn) Close() error {
	err := s.conn.Close()
	s.wg.Wait()
	return err
}

func (s *ShapedConn) LocalAddr() net.Addr                { return s.conn.LocalAddr() }
func (s *ShapedConn) SetDeadline(t time.Time) error      { return s.conn.SetDeadline(t) }
func (s *ShapedConn) SetReadDeadline(t time.Time) error  { return s.conn.SetReadDeadline(t) }
func (s *ShapedConn) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }
