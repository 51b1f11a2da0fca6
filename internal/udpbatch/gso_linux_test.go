//go:build linux

package udpbatch

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// planned runs b.plan, checks that every entry is well formed, and
// returns the slots of each entry's packets in entry order.
func planned(t *testing.T, b *batch, gso bool, segMax int) [][]int {
	t.Helper()
	b.plan(gso, segMax)
	var out [][]int
	for m := range b.nmsg {
		g, h := b.groups[m], &b.msgs[m].hdr
		if g.n < 1 || int(h.Iovlen) != int(g.n) || h.Iov != &b.iovs[g.end-g.n] ||
			h.Name != &b.names[g.first][0] || h.Namelen != b.namelen {
			t.Fatalf("entry %d: header does not match group %+v", m, g)
		}
		var slots []int
		for j := g.end - g.n; j < g.end; j++ {
			s := int(b.iovSlot[j])
			if b.iovs[j].Base != &b.bufs[s*b.slot] || int(b.iovs[j].Len) != int(b.lens[s]) {
				t.Fatalf("entry %d: iovec %d does not point at slot %d", m, j, s)
			}
			slots = append(slots, s)
		}
		if g.n == 1 {
			if h.Control != nil || h.Controllen != 0 {
				t.Fatalf("entry %d of one packet has a cmsg", m)
			}
		} else {
			off := m * cmsgSpace
			cm := (*unix.Cmsghdr)(unsafe.Pointer(&b.ctrl[off]))
			seg := binary.NativeEndian.Uint16(b.ctrl[off+unix.CmsgLen(0):])
			if h.Control != &b.ctrl[off] || int(h.Controllen) != cmsgSpace || cm.Level != unix.SOL_UDP ||
				cm.Type != unix.UDP_SEGMENT || int(cm.Len) != unix.CmsgLen(2) || int(seg) != int(b.lens[slots[0]]) {
				t.Fatalf("entry %d: bad UDP_SEGMENT cmsg (seg %d)", m, seg)
			}
		}
		out = append(out, slots)
	}
	return out
}

// fill queues packets of the given sizes for 127.0.0.1:port (ports[i]).
func fill(b *batch, ports, sizes []int) {
	b.n = 0
	for i, size := range sizes {
		b.push(make([]byte, size), netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(ports[i]))
	}
}

func TestPlan(t *testing.T) {
	repeat := func(n, v int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	seq := func(from, to int) []int {
		var s []int
		for i := from; i < to; i++ {
			s = append(s, i)
		}
		return s
	}
	tests := []struct {
		name   string
		ports  []int // destination of each packet
		sizes  []int
		gso    bool
		segMax int
		want   [][]int
	}{{
		name:  "fan-out: 3 equal then a smaller one to each of 3, interleaved",
		ports: []int{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3},
		sizes: []int{1100, 1100, 1100, 1100, 1100, 1100, 1100, 1100, 1100, 700, 700, 700},
		gso:   true,
		want:  [][]int{{0, 3, 6, 9}, {1, 4, 7, 10}, {2, 5, 8, 11}},
	}, {
		name:  "mixed sizes",
		ports: repeat(7, 1),
		sizes: []int{1000, 1000, 1001, 1001, 500, 1000, 40},
		gso:   true,
		want:  [][]int{{0, 1}, {2, 3, 4}, {5, 6}},
	}, {
		name:  "libwebrtc: smaller packets first",
		ports: repeat(6, 1),
		sizes: []int{1099, 1099, 1099, 1100, 1100, 1100},
		gso:   true,
		want:  [][]int{{0, 1, 2}, {3, 4, 5}},
	}, {
		name:  "a larger packet starts a group, a smaller one ends it",
		ports: repeat(5, 1),
		sizes: []int{500, 1000, 1000, 600, 600},
		gso:   true,
		want:  [][]int{{0}, {1, 2, 3}, {4}},
	}, {
		name:  "entries in order of their first packet",
		ports: []int{1, 2, 1, 2, 3},
		sizes: []int{100, 100, 200, 100, 50},
		gso:   true,
		want:  [][]int{{0}, {1, 3}, {2}, {4}},
	}, {
		name:  "64 segments at most",
		ports: repeat(150, 1),
		sizes: repeat(150, 100),
		gso:   true,
		want:  [][]int{seq(0, 64), seq(64, 128), seq(128, 150)},
	}, {
		name:  "65000 bytes at most",
		ports: repeat(60, 1),
		sizes: repeat(60, 1200),
		gso:   true,
		want:  [][]int{seq(0, 54), seq(54, 60)},
	}, {
		name:   "segments above segMax stay alone",
		ports:  repeat(4, 1),
		sizes:  []int{1400, 1400, 1000, 1000},
		gso:    true,
		segMax: mtuSafeSegment,
		want:   [][]int{{0}, {1}, {2, 3}},
	}, {
		name:  "empty datagrams stay alone",
		ports: repeat(5, 1),
		sizes: []int{0, 0, 100, 0, 0},
		gso:   true,
		want:  [][]int{{0}, {1}, {2}, {3}, {4}},
	}, {
		name:  "without GSO one packet per entry",
		ports: []int{1, 1, 2, 1},
		sizes: []int{100, 100, 100, 100},
		want:  [][]int{{0}, {1}, {2}, {3}},
	}}
	b := newBatch(256, 1500, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.segMax == 0 {
				tt.segMax = math.MaxInt32
			}
			fill(b, tt.ports, tt.sizes)
			if got := planned(t, b, tt.gso, tt.segMax); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestPlanProperties checks the kernel's rules and the order on random
// batches, many destinations (table collisions) and a wrapped generation.
func TestPlanProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, inet6 := range []bool{false, true} {
		b := newBatch(1024, 1500, inet6)
		for round := range 200 {
			if round == 100 {
				b.gen = math.MaxUint32 // the next plan wraps to 0
			}
			n, dests := 1+r.IntN(1024), 1+r.IntN(600)
			ports, sizes := make([]int, n), make([]int, n)
			for i := range n {
				ports[i] = 1000 + r.IntN(dests)
				sizes[i] = []int{1100, 1100, 1100, 1101, 900, 40, 0, r.IntN(1501)}[r.IntN(8)]
			}
			fill(b, ports, sizes)
			got := planned(t, b, true, math.MaxInt32)
			seen := make([]bool, n)
			perDest := map[int][]int{}
			for _, g := range got {
				bytes := 0
				for k, s := range g {
					if seen[s] || ports[s] != ports[g[0]] || sizes[s] > sizes[g[0]] ||
						(sizes[s] < sizes[g[0]] && k != len(g)-1) || (sizes[s] == 0 && len(g) > 1) {
						t.Fatalf("round %d: bad group %v (sizes %v)", round, g, sizes[g[0]])
					}
					seen[s] = true
					bytes += sizes[s]
					perDest[ports[s]] = append(perDest[ports[s]], s)
				}
				if len(g) > maxGSOSegments || (len(g) > 1 && bytes > maxGSOBytes) {
					t.Fatalf("round %d: group of %d packets, %d bytes", round, len(g), bytes)
				}
			}
			for p, slots := range perDest {
				if !slices.IsSorted(slots) {
					t.Fatalf("round %d: destination %d out of order: %v", round, p, slots)
				}
			}
			if slices.Contains(seen, false) {
				t.Fatalf("round %d: a packet is in no group", round)
			}
		}
	}
}

// fanOut writes k packets to every receiver, interleaved (packet 1 to
// each, then packet 2 to each, ...); sizes[s] is packet s's size.
func fanOut(t *testing.T, c *Conn, rs []*net.UDPConn, sizes []int) {
	t.Helper()
	buf := make([]byte, 1500)
	for s, size := range sizes {
		for d, r := range rs {
			if _, err := c.WriteToAddrPort(packet(buf, d, s, size), addrOf(r)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// expectFanOut reads what fanOut wrote: every datagram separate, intact
// and in order.
func expectFanOut(t *testing.T, rs []*net.UDPConn, sizes []int) {
	t.Helper()
	for d, r := range rs {
		for i, p := range readN(t, r, len(sizes)) {
			sender, seq := checkPacket(t, p)
			if sender != d || seq != i || len(p) != sizes[i] {
				t.Fatalf("receiver %d datagram %d: sender %d seq %d len %d, want seq %d len %d",
					d, i, sender, seq, len(p), i, sizes[i])
			}
		}
	}
}

func receivers(t *testing.T, n int) []*net.UDPConn {
	rs := make([]*net.UDPConn, n)
	for i := range rs {
		rs[i] = listen(t)
		t.Cleanup(func() { _ = rs[i].Close() })
	}
	return rs
}

func TestGSOFanOut(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	if !c.GSO() {
		t.Fatal("GSO probe failed: this kernel (Linux ≥ 4.18) supports UDP_SEGMENT")
	}
	const dests = 20
	sizes := []int{1100, 1100, 1100, 1100, 1100, 700}
	rs := receivers(t, dests)
	fanOut(t, c, rs, sizes)
	c.Flush()
	expectFanOut(t, rs, sizes)
	want := Stats{Packets: dests * 6, Batches: 1, GSOMessages: dests, GSOSegments: dests * 6}
	if st := c.Stats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

func TestGSOMixedSizes(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	sizes := []int{1000, 1000, 1001, 1001, 500, 1000, 40}
	rs := receivers(t, 3)
	fanOut(t, c, rs, sizes)
	c.Flush()
	expectFanOut(t, rs, sizes)
	// Per receiver: {1000 1000} {1001 1001 500} {1000 40}.
	if st := c.Stats(); st.GSOMessages != 9 || st.GSOSegments != 21 || st.Packets != 21 || st.Drops != 0 {
		t.Errorf("stats %+v, want 9 GSO messages of 21 segments", st)
	}
}

func TestGSOCaps(t *testing.T) {
	for _, tt := range []struct {
		n, size int
		msgs    uint64
	}{
		{100, 1200, 2}, // 54 × 1200 bytes fit 65000
		{150, 100, 3},  // 64 segments at most
	} {
		t.Run(fmt.Sprintf("%dx%d", tt.n, tt.size), func(t *testing.T) {
			c := newConn(t, Config{Delay: time.Hour})
			sizes := make([]int, tt.n)
			for i := range sizes {
				sizes[i] = tt.size
			}
			rs := receivers(t, 1)
			fanOut(t, c, rs, sizes)
			c.Flush()
			expectFanOut(t, rs, sizes)
			if st := c.Stats(); st.GSOMessages != tt.msgs || st.GSOSegments != uint64(tt.n) || st.Drops != 0 {
				t.Errorf("stats %+v, want %d GSO messages", st, tt.msgs)
			}
		})
	}
}

func TestDisableGSO(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour, DisableGSO: true})
	if c.GSO() {
		t.Fatal("GSO on despite DisableGSO")
	}
	sizes := []int{1100, 1100, 1100, 700}
	rs := receivers(t, 10)
	fanOut(t, c, rs, sizes)
	c.Flush()
	expectFanOut(t, rs, sizes)
	if st := c.Stats(); st.GSOMessages != 0 || st.Packets != 40 || st.Batches != 1 {
		t.Errorf("stats %+v, want 40 packets in 1 batch, no GSO", st)
	}
}

// TestGSOFallback makes the kernel refuse GSO sends for real: a socket
// with SO_NO_CHECK gets EINVAL for them (UDP_SEGMENT needs the checksum
// offload path) while single datagrams go out.
func TestGSOFallback(t *testing.T) {
	s := listen(t)
	rc, err := s.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	pc := NewConn(s, Config{Delay: time.Hour})
	defer pc.Close()
	c := pc.(*Conn)
	rs := receivers(t, 3)

	// Segments above 1232 bytes: could be the MTU, so only such groups stop.
	big := []int{1400, 1400, 1400, 1400}
	fanOut(t, c, rs, big)
	c.Flush()
	expectFanOut(t, rs, big)
	c.mu.Lock()
	segMax := c.segMax
	c.mu.Unlock()
	if st := c.Stats(); !c.GSO() || segMax != mtuSafeSegment || st.GSOFailures != 1 || st.GSOMessages != 0 || st.Packets != 12 || st.Drops != 0 {
		t.Fatalf("after big segments: GSO %v, segMax %d, stats %+v", c.GSO(), segMax, st)
	}

	// Small segments fail too: GSO goes off for the conn.
	small := []int{1000, 1000, 1000, 600}
	fanOut(t, c, rs, small)
	c.Flush()
	expectFanOut(t, rs, small)
	if st := c.Stats(); c.GSO() || st.GSOFailures != 2 || st.GSOMessages != 0 || st.Packets != 24 || st.Drops != 0 {
		t.Fatalf("after small segments: GSO %v, stats %+v", c.GSO(), st)
	}

	fanOut(t, c, rs, small)
	c.Flush()
	expectFanOut(t, rs, small)
	if st := c.Stats(); st.GSOFailures != 2 || st.Packets != 36 {
		t.Fatalf("with GSO off: stats %+v", st)
	}
}

func TestGSODualStack(t *testing.T) {
	s, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Skip("no IPv6:", err)
	}
	pc := NewConn(s, Config{Delay: time.Hour})
	defer pc.Close()
	c := pc.(*Conn)
	if !c.inet6 {
		t.Skip("socket is not AF_INET6")
	}
	rs := []*net.UDPConn{listen(t)}
	defer rs[0].Close()
	if r6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		defer r6.Close()
		rs = append(rs, r6)
	}
	sizes := []int{1200, 1200, 1200, 1000}
	fanOut(t, c, rs, sizes)
	c.Flush()
	expectFanOut(t, rs, sizes)
	if st := c.Stats(); st.GSOMessages != uint64(len(rs)) || st.Packets != uint64(4*len(rs)) {
		t.Errorf("stats %+v, want %d GSO messages", st, len(rs))
	}
}

// TestGSOEmptyDatagrams: empty datagrams are valid and must not vanish
// into a group.
func TestGSOEmptyDatagrams(t *testing.T) {
	c := newConn(t, Config{Delay: time.Hour})
	r := listen(t)
	defer r.Close()
	sizes := []int{100, 0, 100, 100, 0, 0, 50}
	buf := make([]byte, 100)
	for _, size := range sizes {
		if _, err := c.WriteToAddrPort(buf[:size], addrOf(r)); err != nil {
			t.Fatal(err)
		}
	}
	c.Flush()
	for i, p := range readN(t, r, len(sizes)) {
		if len(p) != sizes[i] {
			t.Fatalf("datagram %d: %d bytes, want %d", i, len(p), sizes[i])
		}
	}
	if st := c.Stats(); st.GSOMessages != 1 || st.GSOSegments != 2 {
		t.Errorf("stats %+v, want one GSO message (100, 100)", st)
	}
}
