package forward

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

var vp8 = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	PayloadType:        96,
}

// sent is one packet as the subscriber's transport got it.
type sent struct {
	hdr     rtp.Header
	payload []byte
}

// recorder is a TrackLocalWriter that keeps copies of what it is given.
type recorder struct {
	mu   sync.Mutex
	pkts []sent
}

func (r *recorder) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pkts = append(r.pkts, sent{hdr: h.Clone(), payload: bytes.Clone(payload)})
	return len(payload), nil
}

func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }

func (r *recorder) take() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pkts
	r.pkts = nil
	return p
}

// bindCtx is the TrackLocalContext pion would give a sender.
type bindCtx struct {
	ssrc   webrtc.SSRC
	pt     webrtc.PayloadType
	writer webrtc.TrackLocalWriter
	exts   []webrtc.RTPHeaderExtensionParameter
}

func (c *bindCtx) CodecParameters() []webrtc.RTPCodecParameters {
	p := vp8
	p.PayloadType = c.pt
	return []webrtc.RTPCodecParameters{p}
}
func (c *bindCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return c.exts }
func (c *bindCtx) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c *bindCtx) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *bindCtx) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *bindCtx) WriteStream() webrtc.TrackLocalWriter                   { return c.writer }
func (c *bindCtx) ID() string                                             { return "ctx" }
func (c *bindCtx) RTCPReader() interceptor.RTCPReader                     { return nil }

// vp8Packet is a marshalled VP8 packet whose payload carries n.
func vp8Packet(sn uint16, ts uint32, key bool, n uint32) []byte {
	pl := make([]byte, 100)
	pl[0] = 0x10 // S=1, PID=0
	if !key {
		pl[1] = 0x01 // P=1: inter frame
	}
	binary.BigEndian.PutUint32(pl[2:], n)
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: sn, Timestamp: ts, SSRC: 0xabc}, Payload: pl}).Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

func counter(p sent) uint32 { return binary.BigEndian.Uint32(p.payload[2:]) }

type fixture struct {
	src  *Source
	dt   *DownTrack
	rec  *recorder
	plis int
}

func newFixture(t *testing.T) *fixture { return newFixtureEgress(t, nil) }

// newFixtureEgress is newFixture with the down-track writing through e
// (nil: straight to the recorder, as pion's writer).
func newFixtureEgress(t *testing.T, e *Egress) *fixture {
	t.Helper()
	f := &fixture{rec: &recorder{}}
	f.src = NewSource(SourceConfig{ID: "v", StreamID: "pub", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo,
		RequestKeyFrame: func() { f.plis++ }, KeyFrameInterval: time.Nanosecond})
	f.dt = NewDownTrack(f.src)
	if e != nil {
		f.dt.SetEgress(e)
	}
	if _, err := f.dt.Bind(&bindCtx{ssrc: 777, pt: 120, writer: f.rec}); err != nil {
		t.Fatal(err)
	}
	f.src.AddDownTrack(f.dt)
	return f
}

func TestDownTrackWaitsForKeyFrameAndRewrites(t *testing.T) {
	f := newFixture(t)
	f.plis = 0
	f.src.WritePacket(vp8Packet(10, 1000, false, 1))
	if got := f.rec.take(); len(got) != 0 || f.plis == 0 {
		t.Fatalf("before a key frame: sent %d packets, %d PLIs; want 0 sent and a PLI", len(got), f.plis)
	}
	f.src.WritePacket(vp8Packet(11, 4000, true, 2))
	f.src.WritePacket(vp8Packet(12, 7000, false, 3))
	got := f.rec.take()
	if len(got) != 2 {
		t.Fatalf("sent %d packets, want 2", len(got))
	}
	for i, p := range got {
		if p.hdr.SSRC != 777 || p.hdr.PayloadType != 120 || counter(p) != uint32(i+2) {
			t.Errorf("packet %d: ssrc %d pt %d counter %d", i, p.hdr.SSRC, p.hdr.PayloadType, counter(p))
		}
	}
	if got[1].hdr.SequenceNumber != got[0].hdr.SequenceNumber+1 || got[1].hdr.Timestamp-got[0].hdr.Timestamp != 3000 {
		t.Errorf("sn/ts not carried over: %+v then %+v", got[0].hdr, got[1].hdr)
	}
	if f.dt.Packets() != 2 || f.dt.Bytes() != 200 {
		t.Errorf("counters: %d packets %d bytes, want 2 and 200", f.dt.Packets(), f.dt.Bytes())
	}
}

// checkContinuous asserts strictly consecutive sequence numbers and
// non-decreasing timestamps.
func checkContinuous(t *testing.T, pkts []sent) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1].hdr, pkts[i].hdr
		if b.SequenceNumber != a.SequenceNumber+1 {
			t.Errorf("packet %d: sn %d after %d", i, b.SequenceNumber, a.SequenceNumber)
		}
		if int32(b.Timestamp-a.Timestamp) <= 0 {
			t.Errorf("packet %d: ts %d after %d", i, b.Timestamp, a.Timestamp)
		}
	}
}

func TestDownTrackSwitchAtKeyFrame(t *testing.T) {
	f := newFixture(t)
	r1 := NewSource(SourceConfig{ID: "v", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo, RID: "r1"})
	f.src.WritePacket(vp8Packet(100, 9000, true, 1))
	f.src.WritePacket(vp8Packet(101, 12000, false, 2))
	f.dt.SwitchTo(r1)
	if r1.DownTracks() != 1 {
		t.Fatal("switch target does not feed the down-track")
	}
	// Target has very different numbering; until its key frame the old
	// source keeps flowing.
	r1.WritePacket(vp8Packet(50000, 1<<31, false, 100))
	f.src.WritePacket(vp8Packet(102, 15000, false, 3))
	r1.WritePacket(vp8Packet(50001, 1<<31+3000, true, 101))
	f.src.WritePacket(vp8Packet(103, 18000, false, 4)) // old source: no longer forwarded
	r1.WritePacket(vp8Packet(50002, 1<<31+6000, false, 102))
	got := f.rec.take()
	var counters []uint32
	for _, p := range got {
		counters = append(counters, counter(p))
	}
	if want := []uint32{1, 2, 3, 101, 102}; !equal(counters, want) {
		t.Fatalf("forwarded %v, want %v", counters, want)
	}
	checkContinuous(t, got)
	if f.dt.Source() != r1 || f.src.DownTracks() != 0 {
		t.Errorf("after switch: source %v, old source has %d down-tracks", f.dt.Source().RID(), f.src.DownTracks())
	}
	// A NACK for a packet sent before the switch is answered from the old
	// source's history, one after it from the new one.
	nack := &rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{got[1].hdr.SequenceNumber, got[4].hdr.SequenceNumber})}
	if n := f.dt.HandleNACK(nack); n != 2 {
		t.Fatalf("resent %d, want 2", n)
	}
	rtx := f.rec.take()
	for i, want := range []sent{got[1], got[4]} {
		if rtx[i].hdr.SequenceNumber != want.hdr.SequenceNumber || rtx[i].hdr.Timestamp != want.hdr.Timestamp ||
			rtx[i].hdr.SSRC != 777 || !bytes.Equal(rtx[i].payload, want.payload) {
			t.Errorf("retransmission %d = %+v, want %+v", i, rtx[i].hdr, want.hdr)
		}
	}
	if f.dt.Retransmits() != 2 || f.dt.Packets() != 5 {
		t.Errorf("counters: %d retransmits, %d packets", f.dt.Retransmits(), f.dt.Packets())
	}
}

func TestDownTrackPauseResume(t *testing.T) {
	f := newFixture(t)
	pol := &Policy{}
	f.dt.SetPolicy(pol)
	f.src.WritePacket(vp8Packet(1, 0, true, 1))
	pol.SetPaused(webrtc.RTPCodecTypeVideo, true)
	f.src.WritePacket(vp8Packet(2, 3000, false, 2))
	f.src.WritePacket(vp8Packet(3, 6000, true, 3))
	pol.SetPaused(webrtc.RTPCodecTypeVideo, false)
	f.plis = 0
	f.src.WritePacket(vp8Packet(4, 9000, false, 4)) // waits for a key frame
	if f.plis == 0 {
		t.Error("resume did not ask for a key frame")
	}
	f.src.WritePacket(vp8Packet(5, 12000, true, 5))
	f.src.WritePacket(vp8Packet(6, 15000, false, 6))
	got := f.rec.take()
	var counters []uint32
	for _, p := range got {
		counters = append(counters, counter(p))
	}
	if want := []uint32{1, 5, 6}; !equal(counters, want) {
		t.Fatalf("forwarded %v, want %v", counters, want)
	}
	checkContinuous(t, got)
	if pol.Paused(webrtc.RTPCodecTypeAudio) {
		t.Error("pausing video paused audio")
	}
}

func TestDownTrackSenderReport(t *testing.T) {
	f := newFixture(t)
	if _, ok := f.dt.SenderReport(time.Now()); ok {
		t.Error("sender report before any packet")
	}
	f.src.WritePacket(vp8Packet(1, 5000, true, 1))
	f.src.WritePacket(vp8Packet(2, 8000, false, 2))
	sr, ok := f.dt.SenderReport(time.Now())
	if !ok || sr.SSRC != 777 || sr.PacketCount != 2 || sr.OctetCount != 200 || int32(sr.RTPTime-8000) < 0 {
		t.Errorf("sender report %+v", sr)
	}
}

func TestSourceReceptionReport(t *testing.T) {
	src := NewSource(SourceConfig{Codec: vp8, Kind: webrtc.RTPCodecTypeVideo})
	if _, ok := src.ReceptionReport(); ok {
		t.Error("report before any packet")
	}
	// 65534..65535, 0..7 with 2 and 5 missing: 10 expected, 8 received,
	// across a wrap.
	for _, sn := range []uint16{65534, 65535, 0, 1, 3, 4, 6, 7} {
		src.WritePacket(vp8Packet(sn, uint32(sn)*3000, false, 0))
	}
	rr, ok := src.ReceptionReport()
	if !ok || rr.SSRC != 0xabc || rr.TotalLost != 2 || rr.LastSequenceNumber != 1<<16+7 || rr.FractionLost != 2*256/10 {
		t.Errorf("report %+v", rr)
	}
	src.WritePacket(vp8Packet(8, 8*3000, false, 0))
	if rr, _ = src.ReceptionReport(); rr.FractionLost != 0 || rr.TotalLost != 2 {
		t.Errorf("second interval %+v", rr)
	}
}

// TestForwardDoesNotAllocate guards the rule users rely on for GC-free
// forwarding: once running, a packet goes from Source to the pion writer
// of every down-track without a heap allocation.
func TestForwardDoesNotAllocate(t *testing.T) {
	src := NewSource(SourceConfig{Codec: vp8, Kind: webrtc.RTPCodecTypeVideo, RequestKeyFrame: func() {}})
	var w countWriter
	for range 10 {
		dt := NewDownTrack(src)
		if _, err := dt.Bind(&bindCtx{ssrc: 1, pt: 96, writer: &w}); err != nil {
			t.Fatal(err)
		}
		src.AddDownTrack(dt)
	}
	key, delta := vp8Packet(0, 0, true, 0), vp8Packet(0, 0, false, 0)
	sn := uint16(0)
	next := func(p []byte) []byte {
		sn++
		binary.BigEndian.PutUint16(p[2:], sn)
		return p
	}
	src.WritePacket(next(key))
	allocs := testing.AllocsPerRun(1000, func() { src.WritePacket(next(delta)) })
	if allocs != 0 {
		t.Errorf("%v allocations per forwarded packet, want 0", allocs)
	}
	if w.n != 10*1002 { // the key frame, AllocsPerRun's warm-up run, 1000 runs
		t.Errorf("writer got %d packets, want %d", w.n, 10*1002)
	}
}

type countWriter struct{ n int }

func (w *countWriter) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	w.n++
	return h.MarshalSize() + len(p), nil
}
func (w *countWriter) Write(b []byte) (int, error) { return len(b), nil }

func equal(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// notReady drops the first n writes the way pion does before the
// subscriber's SRTP is up: 0 bytes written, no error.
type notReady struct {
	recorder
	n int
}

func (w *notReady) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	if w.n > 0 {
		w.n--
		return 0, nil
	}
	return w.recorder.WriteRTP(h, p)
}

// A key frame written before the transport was ready did not reach the
// subscriber: the down-track must wait for the next one instead of
// forwarding the inter frames that follow it.
func TestDownTrackKeyFrameLostBeforeTransportReady(t *testing.T) {
	w := &notReady{n: 1}
	src := NewSource(SourceConfig{ID: "v", StreamID: "pub", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo,
		RequestKeyFrame: func() {}, KeyFrameInterval: time.Nanosecond})
	dt := NewDownTrack(src)
	if _, err := dt.Bind(&bindCtx{ssrc: 1, pt: 96, writer: w}); err != nil {
		t.Fatal(err)
	}
	src.AddDownTrack(dt)
	src.WritePacket(vp8Packet(1, 100, true, 1))  // dropped by the transport
	src.WritePacket(vp8Packet(2, 200, false, 2)) // useless without it
	src.WritePacket(vp8Packet(3, 300, true, 3))
	src.WritePacket(vp8Packet(4, 400, false, 4))
	got := w.take()
	if len(got) != 2 || counter(got[0]) != 3 || counter(got[1]) != 4 {
		t.Fatalf("delivered %d packets starting with %v, want packets 3 (a key frame) and 4", len(got), got)
	}
	if got[1].hdr.SequenceNumber != got[0].hdr.SequenceNumber+1 {
		t.Errorf("sequence numbers %d, %d: not consecutive", got[0].hdr.SequenceNumber, got[1].hdr.SequenceNumber)
	}
	if dt.Packets() != 2 {
		t.Errorf("Packets() = %d, want 2: the dropped write is not counted", dt.Packets())
	}
}

// TestDownTrackSenderReportFollowsPublisherClock checks that a down-track's
// sender report maps wall clock to RTP time as the publisher's own report
// does (shifted by the down-track's timestamp offset), not by when packets
// happened to arrive, and falls back to arrival without a report.
func TestDownTrackSenderReportFollowsPublisherClock(t *testing.T) {
	f := newFixture(t)
	pol := &Policy{}
	f.dt.SetPolicy(pol)
	f.src.WritePacket(vp8Packet(1, 5000, true, 1))
	f.src.WritePacket(vp8Packet(2, 8000, false, 2))
	// A pause and resume give the down-track a timestamp offset.
	pol.SetPaused(webrtc.RTPCodecTypeVideo, true)
	f.src.WritePacket(vp8Packet(3, 11000, false, 3))
	pol.SetPaused(webrtc.RTPCodecTypeVideo, false)
	f.src.WritePacket(vp8Packet(4, 900000, true, 4))
	got := f.rec.take()
	if len(got) != 3 {
		t.Fatalf("forwarded %d packets, want 3", len(got))
	}
	tsOff := got[2].hdr.Timestamp - 900000
	if tsOff == 0 {
		t.Fatal("no timestamp offset after the resume: the test would not tell the clocks apart")
	}

	// The publisher reports RTP time 1,000,000 (far from any packet's).
	f.src.OnSenderReport(&rtcp.SenderReport{SSRC: 0xabc, NTPTime: 1 << 40, RTPTime: 1_000_000})
	before := monoNow()
	sr, ok := f.dt.SenderReport(time.Now())
	after := monoNow()
	if !ok {
		t.Fatal("no sender report")
	}
	ticks := func(ns int64) uint32 { return uint32(ns / 1000 * 90000 / 1e6) }
	lo := 1_000_000 + tsOff
	hi := lo + ticks(after-before) + 1
	if d := sr.RTPTime - lo; d > hi-lo {
		t.Errorf("RTP time %d, want within [%d, %d] (publisher's report + offset %d)", sr.RTPTime, lo, hi, tsOff)
	}

	// A report about another SSRC is not this source's clock.
	g := newFixture(t)
	g.src.WritePacket(vp8Packet(1, 5000, true, 1))
	g.src.OnSenderReport(&rtcp.SenderReport{SSRC: 0xdef, RTPTime: 1_000_000})
	if sr, _ := g.dt.SenderReport(time.Now()); int32(sr.RTPTime-5000) < 0 || sr.RTPTime-5000 > 90000 {
		t.Errorf("without the publisher's report: RTP time %d, want just after the last packet's 5000", sr.RTPTime)
	}
}

// TestDownTrackLongStream: a down-track keeps forwarding a stream far past
// 32,768 packets and a sequence-number wrap (it once took every packet
// after that for a late one and went silent), and still answers NACKs.
func TestDownTrackLongStream(t *testing.T) {
	f := newFixture(t)
	const total = 70500
	for i := range uint32(total) {
		f.src.WritePacket(vp8Packet(uint16(60000+i), 3000*i, i == 0, i))
		if i%10000 == 9999 {
			if got := f.rec.take(); len(got) != 10000 || counter(got[9999]) != i {
				t.Fatalf("after packet %d: forwarded %d of the last 10000", i, len(got))
			}
		}
	}
	last := f.rec.take()
	if len(last) != total%10000 {
		t.Fatalf("forwarded %d of the last %d", len(last), total%10000)
	}
	checkContinuous(t, last)
	// A late packet from long ago is dropped, not sent as new.
	f.src.WritePacket(vp8Packet(uint16((60000+total-20000)%65536), 3000, false, 1))
	if got := f.rec.take(); len(got) != 0 {
		t.Errorf("a packet 20,000 behind was forwarded")
	}
	want := last[len(last)-3]
	nack := &rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{want.hdr.SequenceNumber})}
	if n := f.dt.HandleNACK(nack); n != 1 {
		t.Fatalf("resent %d, want 1", n)
	}
	if rtx := f.rec.take(); len(rtx) != 1 || counter(rtx[0]) != counter(want) {
		t.Errorf("retransmission %v, want counter %d", rtx, counter(want))
	}
}

// TestNACKResendThrottled: a packet NACKed again before resendGap is not
// resent again, nor more than maxResends times in all; another packet
// is resent as usual.
func TestNACKResendThrottled(t *testing.T) {
	f := newFixture(t)
	for i := range uint16(3) {
		f.src.WritePacket(vp8Packet(10+i, 1000, i == 0, uint32(i)))
	}
	got := f.rec.take()
	nack := func(sn uint16) int {
		return f.dt.HandleNACK(&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{sn})})
	}
	sn := got[1].hdr.SequenceNumber
	if n := nack(sn); n != 1 {
		t.Fatalf("first NACK: resent %d, want 1", n)
	}
	if n := nack(sn); n != 0 {
		t.Fatalf("NACK again at once: resent %d, want 0", n)
	}
	if n := nack(got[2].hdr.SequenceNumber); n != 1 {
		t.Fatalf("NACK of another packet: resent %d, want 1", n)
	}
	// Past the gap it is resent again, up to maxResends in all.
	r := &f.dt.resends[sn%resendSlots]
	for i := 1; i < maxResends; i++ {
		r.at -= int64(resendGap)
		if n := nack(sn); n != 1 {
			t.Fatalf("NACK %d after the gap: resent %d, want 1", i+1, n)
		}
	}
	r.at -= int64(resendGap)
	if n := nack(sn); n != 0 {
		t.Fatalf("NACK past maxResends: resent %d, want 0", n)
	}
}
