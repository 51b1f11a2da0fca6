package main

import (
	"context"
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/internal/sfutest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childServerEnv) != "" {
		os.Exit(runChildServer())
	}
	goleak.VerifyTestMain(m)
}

// testLog sends progress lines to t.Log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runForTest runs the generator with cfg, logging to t, and returns the summary
// and its text.
func runForTest(t *testing.T, cfg Config) (*Summary, string) {
	t.Helper()
	cfg.Log = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	s.WriteText(&text)
	t.Log("\n" + text.String())
	return s, text.String()
}

// TestRunIdle connects 2 × 2 idle connections to an in-process server and
// samples it: everyone stays connected through the window, in the
// channels asked for.
func TestRunIdle(t *testing.T) {
	engine, url := sfutest.NewSignalingServer(t, sfu.Options{})
	seen := make(chan int, 1)
	cfg := IdleConfig{
		URL: url + "/signaling", ChannelPrefix: "idle", Channels: 2, PerChannel: 2,
		Duration: 500 * time.Millisecond, ServerPID: os.Getpid(),
		SetupTimeout: 30 * time.Second, DialConcurrency: 2,
		Log: logWriterFunc(func(string) {
			// Logged once everyone is connected, before the window.
			seen <- len(engine.Channel("idle-0").Connections()) + len(engine.Channel("idle-1").Connections())
		}),
	}
	s, err := RunIdle(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := <-seen; n != 4 {
		t.Errorf("the server had %d connections in idle-0 and idle-1 after setup, want 4", n)
	}
	if s.Connections != 4 || s.Channels != 2 || s.Disconnected != 0 || s.RSSKiB == 0 || s.WindowSeconds < 0.5 {
		t.Errorf("summary %+v", s)
	}
	var text strings.Builder
	s.WriteText(&text)
	if !strings.Contains(text.String(), "idle: 4 recvonly connections in 2 channel(s)") {
		t.Errorf("summary text:\n%s", text.String())
	}
}

// logWriterFunc is an io.Writer that hands each write to a function.
type logWriterFunc func(string)

func (f logWriterFunc) Write(b []byte) (int, error) { f(string(b)); return len(b), nil }

// TestRunLoopback drives an in-process server with 1 publisher and 3
// subscribers for 2 s.
func TestRunLoopback(t *testing.T) {
	engine, url := sfutest.NewSignalingServer(t, sfu.Options{})
	cfg := DefaultConfig()
	cfg.URL = url + "/signaling"
	cfg.Subscribers = 3
	cfg.Warmup = 500 * time.Millisecond
	cfg.Duration = 2 * time.Second
	cfg.Progress = 500 * time.Millisecond
	cfg.ServerPID = os.Getpid() // the server runs in this process
	s, _ := runForTest(t, cfg)

	if s.Forwarded == 0 || s.ForwardedPerSecond <= 0 {
		t.Fatalf("nothing forwarded: %+v", s)
	}
	if s.Streams != 6 || s.SilentStreams != 0 {
		t.Errorf("streams %d (%d silent), want 6 (0 silent)", s.Streams, s.SilentStreams)
	}
	if s.SentVideo == 0 || s.SentAudio == 0 || s.VideoStats == nil || s.AudioStats == nil ||
		s.VideoStats.Forwarded == 0 || s.AudioStats.Forwarded == 0 {
		t.Errorf("a kind is missing: sent %d/%d, video %+v, audio %+v", s.SentVideo, s.SentAudio, s.VideoStats, s.AudioStats)
	}
	if s.LossPercent >= 1 {
		t.Errorf("loss %.3f%% (%d of %d)", s.LossPercent, s.Lost, s.Expected)
	}
	if s.Duplicates != 0 || s.Malformed != 0 || s.Late != 0 {
		t.Errorf("duplicates %d, malformed %d, late %d", s.Duplicates, s.Malformed, s.Late)
	}
	for name, v := range map[string]float64{"p50": s.LatencyP50Micros, "p99": s.LatencyP99Micros, "max": s.LatencyMaxMicros} {
		if v <= 0 || v >= 1e6 {
			t.Errorf("latency %s = %.0f us, want in (0, 1 s)", name, v)
		}
	}
	if s.LatencyP50Micros > s.LatencyP99Micros || s.LatencyP99Micros > s.LatencyMaxMicros {
		t.Errorf("latency p50 %.0f > p99 %.0f or > max %.0f", s.LatencyP50Micros, s.LatencyP99Micros, s.LatencyMaxMicros)
	}
	if s.KeyFramesSeen == 0 && s.KeyFramesSent > 0 {
		t.Errorf("%d key frames sent, none received", s.KeyFramesSent)
	}
	for _, p := range []*ProcSummary{s.Server, s.LoadGen} {
		if p == nil || p.Error != "" || p.CPUSeconds <= 0 || p.CPUMicrosPerPacket <= 0 || p.CPUSecondsPerMpkt <= 0 || p.RSSKiB == 0 {
			t.Errorf("CPU figures not filled: %+v", p)
		}
	}
	if s.WindowSeconds < 1.9 || s.GoVersion == "" || s.NumCPU == 0 {
		t.Errorf("window %.2f s, go %q, cpus %d", s.WindowSeconds, s.GoVersion, s.NumCPU)
	}
	if s.DisconnectErrors != 0 {
		t.Errorf("%d disconnects failed", s.DisconnectErrors)
	}
	// By default the subscribers send what browsers send.
	if st := engine.Stats(); !s.Feedback || st.TransportCCsReceived == 0 {
		t.Errorf("feedback %v: the server got %d transport-cc feedbacks, want some", s.Feedback, st.TransportCCsReceived)
	}
}

func TestStreamRecord(t *testing.T) {
	var s stream
	for _, c := range []uint64{10, 11, 13, 12, 12, 16, 16, 14} {
		s.record(c, 0, 1000, false, false)
	}
	s.record(1, 0, 1000, false, false) // before the first counter: late
	var x streamSnap
	s.snapshot(&x, false)
	// 10..16 expected (7), 15 missing, 12 and 16 duplicated, 12 and 14 late.
	if x.expected != 7 || x.unique != 6 || x.lost() != 1 || x.dups != 2 || x.reorder != 2 || x.late != 1 || x.received != 9 {
		t.Errorf("got %+v", x)
	}
	// A jump beyond the window forgets what came before.
	s.record(16+2*dupWindow, 0, 1000, false, false)
	s.record(16+2*dupWindow-dupWindow/2, 0, 1000, false, false)
	s.snapshot(&x, false)
	if x.dups != 2 || x.reorder != 3 || x.late != 1 {
		t.Errorf("after jump: %+v", x)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for v := uint64(1); v <= 1000; v++ {
		h.add(v * 1000) // 1 us .. 1 ms
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 500e3}, {0.99, 990e3}, {1, 1000e3}} {
		got := float64(h.quantile(c.q))
		if got < c.want*0.88 || got > c.want*1.12 {
			t.Errorf("q%.2f = %.0f, want about %.0f", c.q, got, c.want)
		}
	}
	for i := range histBuckets - 1 {
		if histMid(i) >= histMid(i+1) {
			t.Fatalf("bucket %d mid %d >= next %d", i, histMid(i), histMid(i+1))
		}
	}
	for _, v := range []uint64{0, 7, 8, 100, 12345, 1 << 39, 1 << 50} {
		if i := histIndex(v); i < 0 || i >= histBuckets {
			t.Errorf("index(%d) = %d out of range", v, i)
		}
	}
}

func TestProbeRoundTrip(t *testing.T) {
	b := make([]byte, 1200)
	for _, c := range []struct {
		start, key bool
		off        int
	}{{true, true, 11}, {true, false, 4}, {false, false, 1}} {
		off := writeVP8Header(b, c.start, c.key, 6000)
		putProbe(b[off:], kindVideo, 7, 1<<40+3, 123456)
		got, key, ok := vp8ProbeOffset(b)
		if !ok || got != c.off || off != c.off || key != c.key {
			t.Errorf("start %v key %v: offset %d/%d key %v ok %v, want %d", c.start, c.key, off, got, key, ok, c.off)
		}
		p, ok := readProbe(b[got:])
		if !ok || p.kind != kindVideo || p.pub != 7 || p.counter != 1<<40+3 || p.sent != 123456 {
			t.Errorf("probe %+v ok %v", p, ok)
		}
	}
	// RTP: 1 CSRC, a one-word extension, 3 bytes of padding.
	pkt := make([]byte, 12+4+4+4+5+3)
	pkt[0] = 0x80 | 0x20 | 0x10 | 1
	binary.BigEndian.PutUint16(pkt[18:], 1)
	copy(pkt[24:], "hello")
	pkt[len(pkt)-1] = 3
	if p, ok := rtpPayload(pkt); !ok || string(p) != "hello" {
		t.Errorf("payload %q ok %v", p, ok)
	}
	if _, ok := rtpPayload(pkt[:14]); ok {
		t.Error("truncated packet accepted")
	}
}

func TestParseStatCPU(t *testing.T) {
	stat := "1234 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100 0 0"
	got, err := parseStatCPU([]byte(stat))
	if err != nil || got != 300 {
		t.Errorf("got %d, %v; want 300", got, err)
	}
	if _, err := readProc(os.Getpid()); err != nil {
		t.Error(err)
	}
}

func TestValidate(t *testing.T) {
	for _, u := range []string{"ws://10.0.0.1:5000/signaling", "http://127.0.0.1/", "ws://example.com/"} {
		c := DefaultConfig()
		c.URL = u
		if err := c.validate(); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"ws://127.0.0.1:5000/signaling", "ws://localhost/x", "ws://[::1]:1/"} {
		c := DefaultConfig()
		c.URL = u
		if err := c.validate(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	c, m, asJSON, err := parseFlags([]string{"-subscribers", "100", "-json", "-audio=false", "-duration", "3s"}, &strings.Builder{})
	if err != nil || !asJSON || m.messaging != nil || m.idle != nil || c.Subscribers != 100 || c.Audio || c.Duration != 3*time.Second {
		t.Errorf("flags: %+v %v %v", c, asJSON, err)
	}
	_, m, _, err = parseFlags([]string{"-mode", "messaging", "-senders", "2", "-receivers", "30", "-rate", "5", "-message-size", "64", "-duration", "4s"}, &strings.Builder{})
	if mc := m.messaging; err != nil || mc == nil || mc.Senders != 2 || mc.Receivers != 30 || mc.Rate != 5 || mc.Size != 64 || mc.Duration != 4*time.Second {
		t.Errorf("messaging flags: %+v %v", mc, err)
	}
	_, m, _, err = parseFlags([]string{"-mode", "idle", "-channels", "50", "-subscribers", "10", "-server-pid", "7", "-idle-baseline", "2s", "-duration", "20s"}, &strings.Builder{})
	if ic := m.idle; err != nil || ic == nil || ic.Channels != 50 || ic.PerChannel != 10 || ic.ServerPID != 7 || ic.Baseline != 2*time.Second || ic.Duration != 20*time.Second {
		t.Errorf("idle flags: %+v %v", ic, err)
	}
	if _, _, _, err := parseFlags([]string{"-mode", "chat"}, &strings.Builder{}); err == nil {
		t.Error("-mode chat accepted")
	}
}

// TestReceivePathAllocs checks that parsing a packet and recording its
// probe do not allocate.
func TestReceivePathAllocs(t *testing.T) {
	pkt := make([]byte, 12+1200)
	pkt[0] = 0x80
	off := writeVP8Header(pkt[12:], true, false, 6000)
	var s stream
	n := uint64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		putProbe(pkt[12+off:], kindVideo, 0, n, 1)
		n++
		payload, _ := rtpPayload(pkt)
		o, key, _ := vp8ProbeOffset(payload)
		p, _ := readProbe(payload[o:])
		s.record(p.counter, p.sent, 2, key, false)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per packet", allocs)
	}
}

// TestFrameLatency checks that only a frame's last packet counts as the
// frame's arrival.
func TestFrameLatency(t *testing.T) {
	var s stream
	s.record(0, 100, 1100, true, false)
	s.record(1, 100, 3100, false, true)
	var snap streamSnap
	s.snapshot(&snap, false)
	if snap.lat.n != 2 || snap.frameLat.n != 1 || snap.frameLat.max != 3000 {
		t.Errorf("latencies: %d packets, %d frames, frame max %d ns; want 2, 1, 3000", snap.lat.n, snap.frameLat.n, snap.frameLat.max)
	}
}

// TestRunGRO drives an in-process server that sends with UDP GSO to 1
// publisher and 2 subscribers reading with UDP GRO, for 1.5 s: the GSO
// messages must arrive whole and be split back without loss.
func TestRunGRO(t *testing.T) {
	engine, url := sfutest.NewSignalingServer(t, sfu.Options{BatchSends: true})
	cfg := DefaultConfig()
	cfg.URL = url + "/signaling"
	cfg.Subscribers = 2
	cfg.GRO = true
	cfg.Warmup = 500 * time.Millisecond
	cfg.Duration = 1500 * time.Millisecond
	cfg.Progress = 0
	s, text := runForTest(t, cfg)

	if !s.GRO || !strings.Contains(text, "gro=true") {
		t.Error("the summary does not say gro=true")
	}
	if s.Forwarded == 0 || s.Streams != 4 || s.SilentStreams != 0 || s.VideoStats == nil || s.VideoStats.Forwarded == 0 {
		t.Fatalf("forwarded %d, streams %d (%d silent), video %+v", s.Forwarded, s.Streams, s.SilentStreams, s.VideoStats)
	}
	if s.Lost != 0 || s.Duplicates != 0 || s.Malformed != 0 || s.Late != 0 {
		t.Errorf("lost %d of %d, duplicates %d, malformed %d, late %d", s.Lost, s.Expected, s.Duplicates, s.Malformed, s.Late)
	}
	if gso := engine.Stats().GSOMessages; gso == 0 || s.GROMessages == 0 || s.GROPackets < 2*s.GROMessages {
		t.Errorf("server sent %d GSO messages; subscribers read %d packets in %d coalesced messages", gso, s.GROPackets, s.GROMessages)
	}
	if s.DisconnectErrors != 0 {
		t.Errorf("%d disconnects failed", s.DisconnectErrors)
	}
}

// TestRunMessaging sends 50 messages/s from 3 senders to 5 receivers for
// a second through an in-process server: every message arrives once.
func TestRunMessaging(t *testing.T) {
	_, url := sfutest.NewSignalingServer(t, sfu.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := RunMessaging(ctx, MessagingConfig{
		URL: url + "/signaling", ChannelID: "m", Senders: 3, Receivers: 5, Rate: 50, Size: 200,
		Duration: time.Second, Drain: 20 * time.Second, SetupTimeout: 30 * time.Second, DialConcurrency: 4,
		Log: testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	s.WriteText(&text)
	t.Log("\n" + text.String())
	if s.Sent == 0 || s.Expected != s.Sent*5 || s.Received != s.Expected || s.Lost != 0 || s.Duplicates != 0 {
		t.Fatalf("sent %d, expected %d, received %d, lost %d, duplicates %d", s.Sent, s.Expected, s.Received, s.Lost, s.Duplicates)
	}
	if s.LatencyP50Micros <= 0 || s.LatencyP50Micros > s.LatencyP99Micros || s.LatencyP99Micros > s.LatencyMaxMicros {
		t.Fatalf("latency p50 %.0f p99 %.0f max %.0f", s.LatencyP50Micros, s.LatencyP99Micros, s.LatencyMaxMicros)
	}
}

// TestRunAllToAll: with -all-to-all every publisher also receives the
// others of its channel, and the summary counts those streams (never its
// own).
func TestRunAllToAll(t *testing.T) {
	_, url := sfutest.NewSignalingServer(t, sfu.Options{})
	cfg := DefaultConfig()
	cfg.URL = url + "/signaling"
	cfg.Publishers, cfg.Subscribers, cfg.AllToAll = 3, 1, true
	cfg.VideoKbps = 300
	cfg.Warmup, cfg.Duration = 500*time.Millisecond, 2*time.Second
	s, text := runForTest(t, cfg)
	// 1 subscriber x 3 publishers + 3 publishers x 2 others, 2 kinds each.
	if s.Streams != 18 || s.SilentStreams != 0 {
		t.Errorf("streams %d (%d silent), want 18 (0 silent)", s.Streams, s.SilentStreams)
	}
	if s.Forwarded == 0 || s.LossPercent >= 1 {
		t.Errorf("forwarded %d, loss %.3f%%", s.Forwarded, s.LossPercent)
	}
	if !strings.Contains(text, "publishers all-to-all") {
		t.Errorf("summary text:\n%s", text)
	}
}
