package benchmarks

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
)

var fanoutSizes = []int{1, 10, 100, 1000}

func perPktPerSub(b *testing.B, subs int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(subs), "ns/pkt/sub")
}

// BenchmarkFanout forwards one publisher's packets to N subscribers,
// through gosfu (Source → DownTrack → TrackLocalWriter) and through the
// pion baseline (TrackLocalStaticRTP.Write → TrackLocalWriter), without
// SRTP (per-subscriber copy) and with AES-128-GCM sealing per subscriber.
// With GCM, impl=egress is gosfu sealing as the engine does (its own SRTP
// egress, to a socket that drops the packets) where impl=gosfu seals with
// pion's SRTP context, as pion's own write path does.
// One op is one publisher packet.
//
// The gosfu and egress rows also report "pion-ratio": their time over the
// pion baseline's for the same N, the same SRTP and as many packets, run
// right after them in the same benchmark (timer stopped), so that the
// ratio compares runs made under the same machine load and reads off the
// output. Below 1 is cheaper than pion.
func BenchmarkFanout(b *testing.B) {
	for _, srtp := range []string{"none", "gcm"} {
		gcm := srtp == "gcm"
		for _, n := range fanoutSizes {
			b.Run(fmt.Sprintf("impl=gosfu/srtp=%s/subs=%d", srtp, n), func(b *testing.B) {
				src, _ := gosfuFanout(b, n, gcm)
				s := newStream(42, 0)
				src.WritePacket(s.next()) // key frame: every down-track starts
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					src.WritePacket(s.next())
				}
				perPktPerSub(b, n)
				reportPionRatio(b, n, gcm)
			})
			if gcm {
				b.Run(fmt.Sprintf("impl=egress/srtp=gcm/subs=%d", n), func(b *testing.B) {
					src := egressFanout(b, n)
					s := newStream(42, 0)
					src.WritePacket(s.next())
					b.ReportAllocs()
					b.ResetTimer()
					for range b.N {
						src.WritePacket(s.next())
					}
					perPktPerSub(b, n)
					reportPionRatio(b, n, true)
				})
			}
			b.Run(fmt.Sprintf("impl=pion/srtp=%s/subs=%d", srtp, n), func(b *testing.B) {
				tr := pionFanout(b, n, gcm)
				s := newStream(42, 0)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := tr.Write(s.next()); err != nil {
						b.Fatal(err)
					}
				}
				perPktPerSub(b, n)
			})
		}
	}
}

// reportPionRatio stops the timer, forwards b.N packets through the pion
// baseline with n subscribers and reports the benchmark's time so far over
// the baseline's.
func reportPionRatio(b *testing.B, n int, gcm bool) {
	b.StopTimer()
	elapsed := b.Elapsed()
	tr := pionFanout(b, n, gcm)
	s := newStream(42, 0)
	start := time.Now()
	for range b.N {
		if _, err := tr.Write(s.next()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(elapsed)/float64(time.Since(start)), "pion-ratio")
}

// BenchmarkLayerSwitch has three simulcast layers (r0, r1, r2) of one
// track, each sending; 100 down-tracks switch to the next layer every 90
// packets and take it over at its next key frame (every 30 packets of a
// layer). One op is one packet of each layer; ns/pkt/sub divides by the
// packets a subscriber receives (one layer's).
func BenchmarkLayerSwitch(b *testing.B) {
	const subs, switchEvery = 100, 90
	var layers [3]*forward.Source
	var streams [3]*stream
	for i := range layers {
		layers[i] = forward.NewSource(forward.SourceConfig{ID: "v", StreamID: "pub", RID: fmt.Sprint("r", i), Codec: vp8, Kind: webrtc.RTPCodecTypeVideo, RequestKeyFrame: func() {}, RequestRetransmit: func([]rtcp.NackPair) {}})
		streams[i] = newStream(uint32(40+i), 30)
	}
	dts := make([]*forward.DownTrack, subs)
	for i := range dts {
		dts[i] = bindDownTrack(b, layers[0], newCtx(i, false))
	}
	for i := range layers {
		layers[i].WritePacket(streams[i].next())
	}
	target := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%switchEvery == switchEvery-1 {
			target = (target + 1) % len(layers)
			for _, d := range dts {
				d.SwitchTo(layers[target])
			}
		}
		for l := range layers {
			layers[l].WritePacket(streams[l].next())
		}
	}
	perPktPerSub(b, subs)
	var sent uint64
	for _, d := range dts {
		sent += d.Packets()
	}
	b.ReportMetric(float64(sent)/float64(subs)/float64(b.N+1), "fwd/op/sub")
}

// BenchmarkChurn forwards to 100 subscribers while one leaves and one
// joins every 100 packets (a new, bound down-track each time).
func BenchmarkChurn(b *testing.B) {
	const subs, churnEvery = 100, 100
	src, dts := gosfuFanout(b, subs, false)
	s := newStream(42, 30)
	src.WritePacket(s.next())
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%churnEvery == churnEvery-1 {
			src.RemoveDownTrack(dts[0])
			copy(dts, dts[1:])
			dts[len(dts)-1] = bindDownTrack(b, src, newCtx(i, false))
		}
		src.WritePacket(s.next())
	}
	perPktPerSub(b, subs)
}
