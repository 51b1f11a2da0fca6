//go:build linux

package udpbatch

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := newConn(t, Config{})
	if len(c.b.lens) != DefaultCapacity || DefaultCapacity != 1024 || c.slot != DefaultSlotSize || c.delay != int64(DefaultDelay) {
		t.Errorf("capacity %d, slot %d, delay %d", len(c.b.lens), c.slot, c.delay)
	}
	if len(c.b.table) < 2*DefaultCapacity {
		t.Errorf("table of %d entries for %d slots", len(c.b.table), DefaultCapacity)
	}
}

func TestEndFlushes(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	sizes := []int{1100, 1100, 900}
	rs := receivers(t, 4)
	c.Begin()
	fanOut(t, c, rs, sizes)
	if c.armed.Load() || len(c.kick) != 0 {
		t.Fatal("writes inside a run armed the timer")
	}
	if st := c.Stats(); st.Packets != 0 {
		t.Fatalf("sent before End: %+v", st)
	}
	c.End(true)
	// Counted before End returned: the send happened in End.
	if st := c.Stats(); st.Packets != 12 || st.GSOMessages != 4 || st.GSOSegments != 12 {
		t.Fatalf("after End(true): %+v", st)
	}
	expectFanOut(t, rs, sizes)
}

// TestEndHolds: End(false) leaves the packets queued, so the next run's
// packets to the same destinations join their GSO groups.
func TestEndHolds(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	rs := receivers(t, 3)
	buf := make([]byte, 1500)
	for seq := range 4 {
		c.Begin()
		for d, r := range rs {
			if _, err := c.WriteToAddrPort(packet(buf, d, seq, 1000), addrOf(r)); err != nil {
				t.Fatal(err)
			}
		}
		last := seq == 3
		c.End(last)
		if st := c.Stats(); !last && (st.Packets != 0 || !c.armed.Load()) {
			t.Fatalf("after End(false) %d: armed %v, stats %+v", seq, c.armed.Load(), st)
		}
	}
	if st := c.Stats(); st.Packets != 12 || st.GSOMessages != 3 || st.GSOSegments != 12 {
		t.Errorf("stats %+v, want one GSO message of 4 per receiver", st)
	}
	expectFanOut(t, rs, []int{1000, 1000, 1000, 1000})
}

// TestEndFalseSends: with nobody flushing, End(false)'s packets still
// arrive, batch after batch (the timer re-arms).
func TestEndFalseSends(t *testing.T) {
	const delay = 2 * time.Millisecond
	c := newConn(t, Config{Delay: delay})
	rs := receivers(t, 2)
	for round := range 3 {
		start := time.Now()
		c.Begin()
		fanOut(t, c, rs, []int{800, 800, 500})
		c.End(false)
		if !c.armed.Load() {
			t.Fatal("End(false) did not arm the timer")
		}
		expectFanOut(t, rs, []int{800, 800, 500})
		t.Logf("round %d: sent %v after End(false) (Delay %v)", round, time.Since(start), delay)
	}
}

// TestArming checks through state which events arm the timer.
func TestArming(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	r := listen(t)
	defer r.Close()
	buf := make([]byte, 100)
	write := func() {
		t.Helper()
		if _, err := c.WriteToAddrPort(buf, addrOf(r)); err != nil {
			t.Fatal(err)
		}
	}
	c.Begin()
	write()
	c.Begin() // a second run, e.g. another source
	write()
	c.End(false) // the other run is still open: End(false) arms regardless
	if !c.armed.Load() {
		t.Fatal("End(false) did not arm")
	}
	c.Flush()
	if c.armed.Load() {
		t.Fatal("armed after Flush emptied the batch")
	}
	write() // made while a run is open: covered by that run's End
	if c.armed.Load() {
		t.Fatal("a write inside a run armed the timer")
	}
	c.End(true)
	if c.armed.Load() || c.Stats().Packets != 3 {
		t.Fatalf("after End(true): armed %v, stats %+v", c.armed.Load(), c.Stats())
	}
	write() // no run open
	if !c.armed.Load() {
		t.Fatal("a write with no run open did not arm the timer")
	}
	readN(t, r, 3)
}

// TestDeadlines checks the deadline arithmetic without waiting for it.
func TestDeadlines(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	r := listen(t)
	defer r.Close()
	buf := make([]byte, 100)
	d := c.delay
	state := func() (first, dl int64, ok bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		dl, ok = c.deadlineLocked(c.now())
		return c.firstAt, dl, ok
	}

	c.Begin()
	_, _ = c.WriteToAddrPort(buf, addrOf(r))
	if _, _, ok := state(); ok {
		t.Fatal("a write inside an open run set a deadline")
	}
	c.End(false)
	first, dl, ok := state()
	if !ok || dl <= first || dl > first+d+int64(time.Minute) {
		t.Fatalf("after End(false): deadline %d, first %d", dl, first)
	}
	c.Begin()
	c.End(false) // pushes the idle deadline back
	if _, dl2, _ := state(); dl2 < dl {
		t.Fatalf("a later End(false) moved the deadline from %d to %d", dl, dl2)
	}

	// While a run is open (the next packet's fan-out), an idle deadline
	// that passed does not send: the run's End decides, or the cap.
	c.mu.Lock()
	saved := c.idleAt
	c.idleAt = 1
	now := c.now()
	c.runs.Add(1) // Begin, without taking mu
	open, _ := c.deadlineLocked(now)
	c.runs.Add(-1)
	c.idleAt = saved
	c.mu.Unlock()
	if open < now+d && open != first+4*d {
		t.Fatalf("with a run open, a passed idle deadline gave %d at %d (Delay %d)", open, now, d)
	}

	// Pretend the packet was queued 4×Delay ago: the next End(false) is
	// past the hard cap and sends at once.
	c.mu.Lock()
	c.firstAt -= 4 * d
	c.mu.Unlock()
	c.Begin()
	c.End(false)
	if st := c.Stats(); st.Packets != 1 {
		t.Fatalf("End(false) past the 4×Delay cap did not send: %+v", st)
	}

	// A write with no run open bounds the batch at Delay after it; a
	// later End(false) cannot push that back.
	_, _ = c.WriteToAddrPort(buf, addrOf(r))
	first, unrun, _ := state()
	if unrun != first+d {
		t.Fatalf("a plain write into an empty batch: deadline %d, want %d", unrun, first+d)
	}
	c.Begin()
	_, _ = c.WriteToAddrPort(buf, addrOf(r))
	c.End(false)
	if _, dl, _ := state(); dl != unrun {
		t.Fatalf("End(false) moved a plain write's deadline from %d to %d", unrun, dl)
	}
	c.Flush()
	readN(t, r, 3)
}

// TestHardCap keeps extending a run's idle deadline with End(false) far
// more often than Delay: the first packet must still go out (by the
// 4×Delay cap). Only arrival is asserted; the time is logged.
func TestHardCap(t *testing.T) {
	const delay = 20 * time.Millisecond
	c := newConn(t, Config{Delay: delay})
	r := listen(t)
	defer r.Close()
	arrived := make(chan time.Time, 1)
	go func() {
		buf := make([]byte, 1500)
		_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := r.ReadFromUDPAddrPort(buf); err == nil {
			arrived <- time.Now()
		}
		close(arrived)
	}()
	start := time.Now()
	c.Begin()
	if _, err := c.WriteToAddrPort(make([]byte, 100), addrOf(r)); err != nil {
		t.Fatal(err)
	}
	c.End(false)
	ends := 0
	for {
		select {
		case at, ok := <-arrived:
			if !ok {
				t.Fatalf("not sent after 10 s of End(false) every few µs (%d calls)", ends)
			}
			t.Logf("sent %v after queueing, %d End(false) calls later (Delay %v, cap %v)",
				at.Sub(start), ends, delay, 4*delay)
			return
		default:
		}
		c.Begin()
		c.End(false)
		ends++
		runtime.Gosched()
	}
}

func TestZeroAllocsRuns(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	rs := receivers(t, 50)
	pkt := make([]byte, 1100)
	frame := func(flush bool) {
		c.Begin()
		for _, size := range []int{1100, 1100, 1100, 800} {
			for _, r := range rs {
				_, _ = c.WriteToAddrPort(pkt[:size], addrOf(r))
			}
		}
		c.End(flush)
	}
	frame(true)
	if st := c.Stats(); st.GSOMessages != 50 {
		t.Fatalf("frame not grouped: %+v", st)
	}
	// Receivers are not read: the kernel drops what overflows them,
	// which the sender does not notice.
	if a := testing.AllocsPerRun(50, func() { frame(true) }); a != 0 {
		t.Errorf("Begin + 200 writes + End(true): %v allocations, want 0", a)
	}
	if a := testing.AllocsPerRun(50, func() { frame(false); c.Flush() }); a != 0 {
		t.Errorf("Begin + 200 writes + End(false) + Flush: %v allocations, want 0", a)
	}
}

// TestConcurrentRuns mixes runs (ending both ways), plain writes and
// Flush from several goroutines: every packet arrives, each writer's in
// order.
func TestConcurrentRuns(t *testing.T) {
	c := newConn(t, Config{Capacity: 64, Delay: 200 * time.Microsecond})
	const runners, plain, rounds, perRun = 4, 2, 40, 3
	const writers = runners + plain
	const each = runners*rounds*perRun + plain*rounds // per receiver
	rs := receivers(t, 3)
	var rwg sync.WaitGroup
	got := make([]int, len(rs))
	for i, r := range rs {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			next := make([]int, writers)
			buf := make([]byte, 65536)
			_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
			for got[i] < each {
				m, _, err := r.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				w, seq := int(binary.BigEndian.Uint32(buf)), int(binary.BigEndian.Uint32(buf[4:]))
				if w >= writers || seq != next[w] || m != 200+w {
					t.Errorf("receiver %d: writer %d seq %d len %d, want seq %d", i, w, seq, m, next[w])
					return
				}
				next[w]++
				got[i]++
			}
		}()
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			seq := make([]int, len(rs))
			write := func(d int) {
				if _, err := c.WriteToAddrPort(packet(buf, w, seq[d], 200+w), addrOf(rs[d])); err != nil {
					t.Error(err)
				}
				seq[d]++
			}
			for round := range rounds {
				if w >= runners { // pion's goroutines: no runs
					for d := range rs {
						write(d)
					}
					if round%5 == 4 {
						c.Flush()
					}
					continue
				}
				c.Begin()
				for range perRun {
					for d := range rs {
						write(d)
					}
				}
				c.End(round%2 == 0)
				if round%8 == 7 {
					time.Sleep(200 * time.Microsecond) // pacing: let the readers keep up
				}
			}
		}()
	}
	wg.Wait()
	rwg.Wait()
	c.Flush() // waits for a flush the timer may still be finishing (counting)
	for i, n := range got {
		if n != each {
			t.Errorf("receiver %d got %d of %d packets", i, n, each)
		}
	}
	if st := c.Stats(); st.Packets != uint64(len(rs)*each) || st.Drops != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestCloseDuringRuns closes the conn while goroutines are inside runs:
// nothing deadlocks or panics, and writes after Close fail cleanly.
func TestCloseDuringRuns(t *testing.T) {
	pc := NewConn(listen(t), Config{Capacity: 32, Delay: 100 * time.Microsecond})
	c := pc.(*Conn)
	rs := receivers(t, 2)
	started := make(chan struct{}, 5)
	var wg sync.WaitGroup
	for w := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 300)
			for i := 0; ; i++ {
				if i == 20 {
					started <- struct{}{}
				}
				run := w < 4
				if run {
					c.Begin()
				}
				var err error
				for _, r := range rs {
					if _, err = c.WriteToAddrPort(buf, addrOf(r)); err != nil {
						break
					}
				}
				if run {
					c.End(i%3 == 0)
				} else if i%4 == 0 {
					c.Flush()
				}
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	for range 5 {
		<-started
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
	c.Begin()
	c.End(true)
	c.Flush()
	if _, err := c.WriteToAddrPort(make([]byte, 10), addrOf(rs[0])); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
}

func TestEndWithoutBegin(t *testing.T) {
	c := newConn(t, Config{})
	defer func() {
		if recover() == nil {
			t.Error("End without Begin did not panic")
		}
		c.runs.Store(0)
	}()
	c.End(true)
}

// TestReaderSendsHeldOnDrain: a forwarder writing from the reader
// goroutine (the engine's SRTP ingress) holds a burst's packets with
// End(false) while more datagrams are queued, and they leave when the
// reader finds the socket empty, in GSO groups, without the timer (Delay
// is an hour here).
func TestReaderSendsHeldOnDrain(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	pub := listen(t)
	defer pub.Close()
	rs := receivers(t, 3)
	const burst = 4
	// The whole burst is queued before the reader starts.
	for seq := range burst {
		if _, err := pub.WriteToUDPAddrPort([]byte{byte(seq)}, c.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		in, out := make([]byte, 100), make([]byte, 1500)
		for range burst {
			if _, _, err := c.ReadFromAddrPort(in); err != nil {
				done <- err
				return
			}
			c.Begin()
			for d, r := range rs {
				if _, err := c.WriteToAddrPort(packet(out, d, int(in[0]), 1000), addrOf(r)); err != nil {
					done <- err
					return
				}
			}
			if c.armed.Load() {
				done <- errors.New("a write by the reader armed the timer")
				return
			}
			c.End(false)
			if c.armed.Load() {
				done <- errors.New("End(false) by the reader armed the timer")
				return
			}
		}
		// The socket is empty now: this read drains, then waits until
		// the conn is closed.
		_, _, err := c.ReadFromAddrPort(in)
		done <- err
	}()
	for d, r := range rs {
		for i, p := range readN(t, r, burst) {
			if s, seq := checkPacket(t, p); s != d || seq != i {
				t.Fatalf("receiver %d packet %d: got %d/%d", d, i, s, seq)
			}
		}
	}
	c.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("reader ended with %v, want net.ErrClosed", err)
	}
	// Read after the reader ended: the receivers may get the packets
	// before the flush that sent them has published its counts.
	if st := c.Stats(); st.GSOMessages != uint64(len(rs)) || st.GSOSegments != uint64(len(rs)*burst) {
		t.Errorf("stats %+v, want one GSO message of %d to each of %d receivers", st, burst, len(rs))
	}
}
