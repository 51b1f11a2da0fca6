package sfutest

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/client"
)

// FaultyConn is a client's UDP socket on 127.0.0.1 whose faults a test
// turns on while the client runs: random loss of its outgoing RTP and
// RTCP, a cut (nothing in or out, and nothing closed: the peer vanishes),
// or a stall (the client stops reading, so its receive buffer fills and
// the kernel drops what arrives, as for a process that hangs).
type FaultyConn struct {
	conn *net.UDPConn

	lossPPM atomic.Uint32 // of outgoing RTP/RTCP, per million
	cut     atomic.Bool
	dropped atomic.Uint64

	mu      sync.Mutex
	reading chan struct{} // closed while reads may proceed
	closed  bool
}

// ListenFaulty opens a FaultyConn on 127.0.0.1, closed when the test ends.
func ListenFaulty(t testing.TB) *FaultyConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &FaultyConn{conn: c, reading: make(chan struct{})}
	close(f.reading)
	t.Cleanup(func() { f.Close() })
	return f
}

// SetLoss drops each outgoing RTP or RTCP packet with probability p (STUN
// and DTLS pass, so the connection still sets up).
func (f *FaultyConn) SetLoss(p float64) { f.lossPPM.Store(uint32(p * 1e6)) }

// Cut makes the socket drop everything it sends and receives from now on.
func (f *FaultyConn) Cut() { f.cut.Store(true) }

// Stall stops reads until Resume (or Close).
func (f *FaultyConn) Stall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed && isClosed(f.reading) {
		f.reading = make(chan struct{})
	}
}

// Resume lets reads proceed again.
func (f *FaultyConn) Resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !isClosed(f.reading) {
		close(f.reading)
	}
}

// Dropped returns the number of outgoing packets dropped by SetLoss or Cut.
func (f *FaultyConn) Dropped() uint64 { return f.dropped.Load() }

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (f *FaultyConn) gate() {
	f.mu.Lock()
	r := f.reading
	f.mu.Unlock()
	<-r
}

// drop reports whether an outgoing packet b is to be dropped.
func (f *FaultyConn) drop(b []byte) bool {
	d := f.cut.Load()
	if !d && len(b) > 0 && b[0] >= 128 && b[0] <= 191 { // RTP or RTCP (RFC 7983)
		ppm := f.lossPPM.Load()
		d = ppm > 0 && rand.Uint32N(1e6) < ppm
	}
	if d {
		f.dropped.Add(1)
	}
	return d
}

func (f *FaultyConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		f.gate()
		n, addr, err := f.conn.ReadFromUDPAddrPort(b)
		if err != nil || !f.cut.Load() {
			return n, addr, err
		}
	}
}

func (f *FaultyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := f.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

func (f *FaultyConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if f.drop(b) {
		return len(b), nil
	}
	return f.conn.WriteToUDPAddrPort(b, addr)
}

func (f *FaultyConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if f.drop(b) {
		return len(b), nil
	}
	return f.conn.WriteTo(b, addr)
}

// Close closes the socket and releases a stalled reader.
func (f *FaultyConn) Close() error {
	f.mu.Lock()
	f.closed = true
	if !isClosed(f.reading) {
		close(f.reading)
	}
	f.mu.Unlock()
	return f.conn.Close()
}

func (f *FaultyConn) LocalAddr() net.Addr                { return f.conn.LocalAddr() }
func (f *FaultyConn) SetDeadline(t time.Time) error      { return f.conn.SetDeadline(t) }
func (f *FaultyConn) SetReadDeadline(t time.Time) error  { return f.conn.SetReadDeadline(t) }
func (f *FaultyConn) SetWriteDeadline(t time.Time) error { return f.conn.SetWriteDeadline(t) }

// ConnAPI returns a client API whose PeerConnections use conn (a
// FaultyConn, a ShapedConn) for all their media and ICE (opts as for
// client.NewAPI; opts.SettingEngine, if set, runs after conn is
// installed).
func ConnAPI(t testing.TB, conn net.PacketConn, opts client.APIOptions) *webrtc.API {
	t.Helper()
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { mux.Close() })
	more := opts.SettingEngine
	opts.LoopbackOnly = true
	opts.SettingEngine = func(s *webrtc.SettingEngine) {
		s.SetICEUDPMux(mux)
		if more != nil {
			more(s)
		}
	}
	api, err := client.NewAPI(opts)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// FaultyTCP dials the TCP connections of an HTTP client (a client's
// signaling WebSocket) so that a test can cut them: after Cut, writes
// vanish and reads block until the connection is closed, as when a peer
// drops off the network without a FIN.
type FaultyTCP struct {
	cut   atomic.Bool
	stall atomic.Bool
	mu    sync.Mutex
	conns []*faultyTCPConn
}

// HTTPClient returns an HTTP client that never uses a proxy and dials
// through f.
func (f *FaultyTCP) HTTPClient() *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			fc := &faultyTCPConn{Conn: c, f: f, done: make(chan struct{})}
			f.mu.Lock()
			f.conns = append(f.conns, fc)
			f.mu.Unlock()
			return fc, nil
		},
	}}
}

// Cut silences every connection f dialed, now and later.
func (f *FaultyTCP) Cut() { f.cut.Store(true) }

// Stall makes the next reads block until the connection is closed (the
// client stops reading its WebSocket) while writes still go out.
func (f *FaultyTCP) Stall() { f.stall.Store(true) }

type faultyTCPConn struct {
	net.Conn
	f         *FaultyTCP
	closeOnce sync.Once
	done      chan struct{}
}

func (c *faultyTCPConn) Read(b []byte) (int, error) {
	if c.f.cut.Load() || c.f.stall.Load() {
		<-c.done
		return 0, net.ErrClosed
	}
	return c.Conn.Read(b)
}

func (c *faultyTCPConn) Write(b []byte) (int, error) {
	if c.f.cut.Load() {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *faultyTCPConn) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	return c.Conn.Close()
}
