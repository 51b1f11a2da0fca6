//go:build linux

package udpbatch

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(4 << 20)
	return c
}

func newConn(t *testing.T, cfg Config) *Conn {
	t.Helper()
	pc := NewConn(listen(t), cfg)
	c, ok := pc.(*Conn)
	if !ok {
		t.Fatalf("NewConn returned %T, want *Conn", pc)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// packet is 8 bytes of sender and sequence number, then a pattern.
func packet(buf []byte, sender, seq, size int) []byte {
	p := buf[:size]
	binary.BigEndian.PutUint32(p[0:], uint32(sender))
	binary.BigEndian.PutUint32(p[4:], uint32(seq))
	for i := 8; i < size; i++ {
		p[i] = byte(seq + i)
	}
	return p
}

func checkPacket(t *testing.T, p []byte) (sender, seq int) {
	t.Helper()
	if len(p) < 8 {
		t.Fatalf("short packet of %d bytes", len(p))
	}
	sender, seq = int(binary.BigEndian.Uint32(p)), int(binary.BigEndian.Uint32(p[4:]))
	for i := 8; i < len(p); i++ {
		if p[i] != byte(seq+i) {
			t.Fatalf("packet %d/%d corrupt at byte %d", sender, seq, i)
		}
	}
	return sender, seq
}

// readN reads n datagrams from r within a bounded time. The buffer takes
// any datagram, so packets merged by a wrong GSO send would show.
func readN(t *testing.T, r *net.UDPConn, n int) [][]byte {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out [][]byte
	buf := make([]byte, 65536)
	for len(out) < n {
		m, _, err := r.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d of %d packets: %v", len(out), n, err)
		}
		out = append(out, append([]byte(nil), buf[:m]...))
	}
	return out
}

func TestPionCapabilities(t *testing.T) {
	c := newConn(t, Config{})
	// What pion/ice's asAddrPortReaderWriter type-asserts.
	var _ interface {
		ReadFromAddrPort([]byte) (int, netip.AddrPort, error)
		WriteToAddrPort([]byte, netip.AddrPort) (int, error)
	} = c
}

func TestOrderManyDestinations(t *testing.T) {
	c := newConn(t, Config{Capacity: 16, Delay: time.Hour}) // only full batches and Flush send
	const dests, perDest = 8, 60
	rs := make([]*net.UDPConn, dests)
	for i := range rs {
		rs[i] = listen(t)
		defer rs[i].Close()
	}
	buf := make([]byte, 1500)
	for seq := range perDest {
		for d, r := range rs {
			size := 8 + (seq*37+d*11)%1400
			if _, err := c.WriteToAddrPort(packet(buf, d, seq, size), addrOf(r)); err != nil {
				t.Fatal(err)
			}
		}
		if seq%7 == 0 {
			c.Flush()
		}
	}
	c.Flush()
	for d, r := range rs {
		for i, p := range readN(t, r, perDest) {
			sender, seq := checkPacket(t, p)
			if sender != d || seq != i || len(p) != 8+(seq*37+d*11)%1400 {
				t.Fatalf("destination %d packet %d: got sender %d seq %d len %d", d, i, sender, seq, len(p))
			}
		}
	}
	st := c.Stats()
	if st.Packets != dests*perDest || st.Drops != 0 || st.Direct != 0 || st.Batches >= st.Packets/4 {
		t.Errorf("stats %+v", st)
	}
}

func TestLargeAndWriteToKeepOrder(t *testing.T) {
	c := newConn(t, Config{SlotSize: 100, Delay: time.Hour})
	r := listen(t)
	defer r.Close()
	buf := make([]byte, 1500)
	for seq := range 10 {
		size := 50
		if seq%3 == 1 {
			size = 500 // larger than a slot: written directly after the queue
		}
		var err error
		if seq%2 == 0 {
			_, err = c.WriteTo(packet(buf, 0, seq, size), r.LocalAddr())
		} else {
			_, err = c.WriteToAddrPort(packet(buf, 0, seq, size), addrOf(r))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	c.Flush()
	for i, p := range readN(t, r, 10) {
		if _, seq := checkPacket(t, p); seq != i {
			t.Fatalf("packet %d has seq %d", i, seq)
		}
	}
}

func TestUnbatchableAddresses(t *testing.T) {
	c := newConn(t, Config{})
	buf := make([]byte, 10)
	for _, a := range []netip.AddrPort{{}, netip.MustParseAddrPort("[::1]:9")} {
		if _, err := c.WriteToAddrPort(buf, a); err == nil {
			t.Errorf("write to %v from an IPv4 socket succeeded", a)
		}
	}
	if st := c.Stats(); st.Direct != 2 {
		t.Errorf("stats %+v, want 2 direct", st)
	}
}

func TestTimerSendsPartialBatch(t *testing.T) {
	c := newConn(t, Config{Delay: time.Millisecond})
	r := listen(t)
	defer r.Close()
	buf := make([]byte, 100)
	for round := range 3 { // the timer re-arms after each flush
		start := time.Now()
		for seq := range 3 {
			if _, err := c.WriteToAddrPort(packet(buf, round, seq, 100), addrOf(r)); err != nil {
				t.Fatal(err)
			}
		}
		for i, p := range readN(t, r, 3) {
			if s, seq := checkPacket(t, p); s != round || seq != i {
				t.Fatalf("round %d packet %d: got %d/%d", round, i, s, seq)
			}
		}
		t.Logf("round %d: 3 packets after %v without Flush", round, time.Since(start))
	}
}

func TestCloseFlushes(t *testing.T) {
	pc := NewConn(listen(t), Config{Delay: time.Hour})
	r := listen(t)
	defer r.Close()
	buf := make([]byte, 100)
	for seq := range 5 {
		if _, err := pc.(*Conn).WriteToAddrPort(packet(buf, 0, seq, 100), addrOf(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	if len(readN(t, r, 5)) != 5 {
		t.Fatal("lost packets")
	}
	if _, err := pc.(*Conn).WriteToAddrPort(buf, addrOf(r)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v, want net.ErrClosed", err)
	}
	if err := pc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second close: %v, want net.ErrClosed", err)
	}
}

func TestZeroAllocs(t *testing.T) {
	c := newConn(t, Config{Capacity: 8})
	r := listen(t)
	defer r.Close()
	dst := addrOf(r)
	pkt := make([]byte, 1200)
	drain := make(chan struct{})
	go func() { // keep the receiver's buffer from filling
		defer close(drain)
		buf := make([]byte, 1500)
		for {
			if _, _, err := r.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	defer func() { _ = r.Close(); <-drain }()
	for range 100 {
		_, _ = c.WriteToAddrPort(pkt, dst)
	}
	c.Flush()
	if a := testing.AllocsPerRun(1000, func() {
		_, _ = c.WriteToAddrPort(pkt, dst)
		c.Flush()
	}); a != 0 {
		t.Errorf("WriteToAddrPort+Flush: %v allocations, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		for range 20 { // fills the batch twice: flushes on full too
			_, _ = c.WriteToAddrPort(pkt, dst)
		}
		c.Flush()
	}); a != 0 {
		t.Errorf("20 writes+Flush: %v allocations, want 0", a)
	}
	fill := func(slot []byte) (int, error) { return copy(slot, pkt), nil }
	if a := testing.AllocsPerRun(100, func() {
		for range 20 {
			_, _ = c.WriteToAddrPortFunc(dst, fill)
		}
		c.Flush()
	}); a != 0 {
		t.Errorf("20 WriteToAddrPortFunc+Flush: %v allocations, want 0", a)
	}
}

func TestConcurrentWriters(t *testing.T) {
	c := newConn(t, Config{Capacity: 32, Delay: 200 * time.Microsecond})
	const writers, each = 8, 100
	r := listen(t)
	got := make(chan int, 1)
	go func() {
		next := make([]int, writers)
		n := 0
		defer func() { got <- n }()
		buf := make([]byte, 1500)
		for {
			_ = r.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, _, err := r.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			w, seq := int(binary.BigEndian.Uint32(buf)), int(binary.BigEndian.Uint32(buf[4:]))
			if w >= writers || seq < next[w] || m != 64 {
				t.Errorf("writer %d: seq %d after %d (len %d)", w, seq, next[w], m)
				return
			}
			next[w] = seq + 1
			if n++; n == writers*each {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for seq := range each {
				if _, err := c.WriteToAddrPort(packet(buf, w, seq, 64), addrOf(r)); err != nil {
					t.Error(err)
					return
				}
				if seq%10 == 9 {
					c.Flush()
					time.Sleep(100 * time.Microsecond) // let the reader keep up
				}
			}
		}()
	}
	wg.Wait()
	c.Flush()
	n := <-got
	_ = r.Close()
	st := c.Stats()
	if st.Packets != writers*each || st.Drops != 0 {
		t.Errorf("stats %+v, want %d packets and no drops", st, writers*each)
	}
	if n != writers*each {
		t.Errorf("received %d of %d packets", n, writers*each)
	}
}

func TestDualStackSocket(t *testing.T) {
	s, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Skip("no IPv6:", err)
	}
	pc := NewConn(s, Config{})
	defer pc.Close()
	c := pc.(*Conn)
	if !c.inet6 {
		t.Skip("socket is not AF_INET6")
	}
	rs := []*net.UDPConn{listen(t)}
	if r6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		rs = append(rs, r6)
	}
	buf := make([]byte, 100)
	for i, r := range rs {
		defer r.Close()
		if _, err := c.WriteToAddrPort(packet(buf, i, 7, 100), addrOf(r)); err != nil {
			t.Fatal(err)
		}
	}
	c.Flush()
	for i, r := range rs {
		if s, seq := checkPacket(t, readN(t, r, 1)[0]); s != i || seq != 7 {
			t.Errorf("receiver %d got %d/%d", i, s, seq)
		}
	}
	if st := c.Stats(); st.Direct != 0 || st.Drops != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestWriteToAddrPortFunc builds packets straight in the send slots,
// between plain writes: they arrive intact and in order, a failing fill
// queues nothing, and an address no batch can encode is still tried
// directly with what fill built.
func TestWriteToAddrPortFunc(t *testing.T) {
	c := newConn(t, Config{SlotSize: 100, Capacity: 4, Delay: time.Hour})
	r := listen(t)
	defer r.Close()
	buf := make([]byte, 100)
	seq := 0
	build := func(slot []byte) (int, error) {
		if len(slot) != 100 {
			t.Errorf("slot of %d bytes, want the slot size 100", len(slot))
		}
		return len(packet(slot, 1, seq, 60+seq)), nil
	}
	errFill := errors.New("fill failed")
	for ; seq < 10; seq++ { // 10 packets, 4 per batch: flushes when full too
		var n int
		var err error
		if seq%3 == 2 {
			n, err = c.WriteToAddrPort(packet(buf, 1, seq, 60+seq), addrOf(r))
		} else {
			n, err = c.WriteToAddrPortFunc(addrOf(r), build)
		}
		if err != nil || n != 60+seq {
			t.Fatalf("packet %d: %d, %v", seq, n, err)
		}
		if seq == 5 {
			if n, err := c.WriteToAddrPortFunc(addrOf(r), func([]byte) (int, error) { return 0, errFill }); n != 0 || !errors.Is(err, errFill) {
				t.Fatalf("failing fill: %d, %v; want 0 and its error", n, err)
			}
			if n, err := c.WriteToAddrPortFunc(addrOf(r), func(slot []byte) (int, error) { return len(slot) + 1, nil }); n != 0 || err == nil {
				t.Fatalf("fill claiming more than its slot: %d, %v; want 0 and an error", n, err)
			}
		}
	}
	c.Flush()
	for i, p := range readN(t, r, 10) {
		if sender, seq := checkPacket(t, p); sender != 1 || seq != i || len(p) != 60+i {
			t.Fatalf("packet %d: sender %d, seq %d, %d bytes", i, sender, seq, len(p))
		}
	}
	if st := c.Stats(); st.Packets != 10 || st.Direct != 0 {
		t.Errorf("stats %+v, want 10 batched packets", st)
	}

	built := false
	if _, err := c.WriteToAddrPortFunc(netip.MustParseAddrPort("[::1]:9"), func(slot []byte) (int, error) {
		built = true
		return len(packet(slot, 1, 0, 20)), nil
	}); err == nil || !built {
		t.Errorf("IPv6 address on an IPv4 socket: error %v, fill called %v; want a send error after fill", err, built)
	}
	if st := c.Stats(); st.Direct != 1 {
		t.Errorf("stats %+v, want 1 direct", st)
	}
	_ = c.Close()
	if _, err := c.WriteToAddrPortFunc(addrOf(r), build); !errors.Is(err, net.ErrClosed) {
		t.Errorf("after Close: %v, want net.ErrClosed", err)
	}
}
