//go:build linux

package udpbatch

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// frameSizes is a video frame of 6597 bytes split into 6 packets the way
// libwebrtc does: about equal, the smaller ones first. Per subscriber
// that makes two GSO groups (1099×3, 1100×3).
var frameSizes = []int{1099, 1099, 1099, 1100, 1100, 1100}

// BenchmarkFrameFanOut sends one video frame to 100 loopback subscribers
// per op: the SFU's hot path (Begin, a write per packet per subscriber in
// packet-major order, End(true)). "sendto" is the unbatched baseline, one
// write per packet on the plain socket.
//
// On loopback the receivers' input path (including splitting a GSO
// message back into datagrams) runs inside the sender's system call, so
// it is part of the measured time, as it is part of the SFU's CPU cost in
// load tests on one machine. Reading the datagrams is not: the receivers
// are drained with the timer stopped, every 16 frames, which also checks
// that every datagram arrived separately and in order.
func BenchmarkFrameFanOut(b *testing.B) {
	b.Run("gso", func(b *testing.B) { benchFanOut(b, Config{Delay: time.Hour}, false) })
	b.Run("nogso", func(b *testing.B) { benchFanOut(b, Config{Delay: time.Hour, DisableGSO: true}, false) })
	b.Run("sendto", func(b *testing.B) { benchFanOut(b, Config{}, true) })
}

func benchFanOut(b *testing.B, cfg Config, plain bool) {
	const subscribers, drainEvery = 100, 16
	s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	var c *Conn
	if plain {
		defer s.Close()
	} else {
		c = NewConn(s, cfg).(*Conn)
		defer c.Close()
		if !cfg.DisableGSO && !c.GSO() {
			b.Fatal("no UDP GSO on this kernel")
		}
	}
	rs := make([]*net.UDPConn, subscribers)
	addrs := make([]netip.AddrPort, subscribers)
	for i := range rs {
		r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		_ = r.SetReadBuffer(4 << 20) // drainEvery frames must fit
		rs[i], addrs[i] = r, r.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	pkt := make([]byte, 1500)
	for i := range pkt {
		pkt[i] = byte(i)
	}
	rbuf := make([]byte, 65536)
	pending := 0
	drain := func() {
		b.StopTimer()
		defer b.StartTimer()
		for _, r := range rs {
			_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
			for range pending {
				for _, size := range frameSizes {
					n, _, err := r.ReadFromUDPAddrPort(rbuf)
					if err != nil || n != size {
						b.Fatalf("read %d bytes, want %d: %v", n, size, err)
					}
				}
			}
		}
		pending = 0
	}

	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if c != nil {
			c.Begin()
			for _, size := range frameSizes {
				for _, a := range addrs {
					_, _ = c.WriteToAddrPort(pkt[:size], a)
				}
			}
			c.End(true)
		} else {
			for _, size := range frameSizes {
				for _, a := range addrs {
					_, _ = s.WriteToUDPAddrPort(pkt[:size], a)
				}
			}
		}
		if pending++; pending == drainEvery {
			drain()
		}
	}
	drain()
	b.StopTimer()
	pkts := float64(b.N * subscribers * len(frameSizes))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/pkts, "ns/pkt")
	if c != nil {
		st := c.Stats()
		if st.Drops != 0 || float64(st.Packets) != pkts {
			b.Fatalf("stats %+v after %v packets", st, pkts)
		}
		b.ReportMetric(float64(st.GSOMessages)/float64(b.N), "gso-msgs/op")
	}
}
