package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"
)

// Summary is the result of one run, over the measured window.
type Summary struct {
	URL                   string  `json:"url"`
	Channels              int     `json:"channels"`
	PublishersPerChannel  int     `json:"publishers_per_channel"`
	SubscribersPerChannel int     `json:"subscribers_per_channel"`
	AllToAll              bool    `json:"all_to_all"`
	VideoKbps             int     `json:"video_kbps"`
	FPS                   int     `json:"fps"`
	Audio                 bool    `json:"audio"`
	SRTPProfile           string  `json:"srtp_profile"`
	GRO                   bool    `json:"gro"`
	Feedback              bool    `json:"feedback"`
	WarmupSeconds         float64 `json:"warmup_seconds"`
	WindowSeconds         float64 `json:"window_seconds"`

	// Streams is the number of (subscriber, publisher, kind) streams;
	// SilentStreams received nothing in the window.
	Streams       int `json:"streams"`
	SilentStreams int `json:"silent_streams"`
	// SentVideo and SentAudio are the packets the publishers sent in the
	// window; OfferedPerSecond is what the server should forward per
	// second (sent times subscribers of the channel).
	SentVideo        uint64  `json:"sent_video"`
	SentAudio        uint64  `json:"sent_audio"`
	OfferedPerSecond float64 `json:"offered_per_second"`
	// With GRO: the datagrams the subscribers' sockets got coalesced (a
	// GSO message that stayed whole), and the packets those held.
	GROMessages uint64 `json:"gro_messages,omitempty"`
	GROPackets  uint64 `json:"gro_packets,omitempty"`

	// Forwarded is the sum of packets received by all subscribers.
	Forwarded          uint64  `json:"forwarded"`
	ForwardedPerSecond float64 `json:"forwarded_per_second"`
	// Expected and Lost come from probe counter gaps.
	Expected    uint64  `json:"expected"`
	Lost        uint64  `json:"lost"`
	LossPercent float64 `json:"loss_percent"`
	Duplicates  uint64  `json:"duplicates"`
	Reordered   uint64  `json:"reordered"`
	Late        uint64  `json:"late"`
	Malformed   uint64  `json:"malformed"`

	// One-way latency (publisher write to subscriber read), microseconds.
	LatencyP50Micros  float64 `json:"latency_p50_us"`
	LatencyP99Micros  float64 `json:"latency_p99_us"`
	LatencyMaxMicros  float64 `json:"latency_max_us"`
	LatencyMeanMicros float64 `json:"latency_mean_us"`
	// MaxGapMillis is the longest a stream went without a packet (a
	// freeze shows here).
	MaxGapMillis float64 `json:"max_gap_ms"`

	VideoStats *KindSummary `json:"video_stats,omitempty"`
	AudioStats *KindSummary `json:"audio_stats,omitempty"`

	// Key frames sent, PLI/FIR seen by publishers and key-frame starts
	// received, in the window.
	KeyFramesSent    uint64 `json:"key_frames_sent"`
	KeyFramesSeen    uint64 `json:"key_frames_received"`
	KeyFrameRequests uint64 `json:"key_frame_requests"`
	WriteErrors      uint64 `json:"write_errors"`
	DisconnectErrors int    `json:"disconnect_errors"`

	Churn   *ChurnSummary `json:"churn,omitempty"`
	Server  *ProcSummary  `json:"server,omitempty"`
	LoadGen *ProcSummary  `json:"loadgen,omitempty"`

	GoVersion  string `json:"go_version"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
}

// KindSummary is the part of the summary for one kind of media.
type KindSummary struct {
	Forwarded   uint64  `json:"forwarded"`
	Expected    uint64  `json:"expected"`
	Lost        uint64  `json:"lost"`
	LossPercent float64 `json:"loss_percent"`
	P50Micros   float64 `json:"latency_p50_us"`
	P99Micros   float64 `json:"latency_p99_us"`
	MaxMicros   float64 `json:"latency_max_us"`
	// Latency of the packets that end a frame (RTP marker): when the
	// subscriber has the whole frame. Zero for audio.
	FrameP50Micros float64 `json:"frame_latency_p50_us,omitempty"`
	FrameP99Micros float64 `json:"frame_latency_p99_us,omitempty"`
}

// ProcSummary is a process's CPU use over the window, from utime+stime
// of /proc/<pid>/stat (10 ms resolution).
type ProcSummary struct {
	PID int `json:"pid"`
	// CPUSeconds is utime+stime spent in the window; CPUPercent is that
	// over the window (100 = one core busy).
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPercent float64 `json:"cpu_percent"`
	// Per forwarded packet.
	CPUSecondsPerMpkt    float64 `json:"cpu_seconds_per_mpkt"`
	CPUMicrosPerPacket   float64 `json:"cpu_us_per_packet"`
	RSSKiB               uint64  `json:"rss_kib"`
	VoluntarySwitches    uint64  `json:"voluntary_ctxt_switches"`
	NonvoluntarySwitches uint64  `json:"nonvoluntary_ctxt_switches"`
	Error                string  `json:"error,omitempty"`
}

// snapshot is the state of a run at one instant.
type snapshot struct {
	at                time.Time
	streams           []streamSnap
	video, audio      uint64
	keys, plis        uint64
	groMsgs, groSegs  uint64
	server, self      procSample
	serverErr, selfEr error
}

func (g *generator) snapshot(resetMax bool) *snapshot {
	s := &snapshot{at: time.Now()}
	if g.cfg.ServerPID > 0 {
		s.server, s.serverErr = readProc(g.cfg.ServerPID)
	}
	s.self, s.selfEr = readProc(selfPID)
	s.video, s.audio, s.keys, s.plis, _ = g.pubs.sent()
	for _, x := range g.gro {
		if x.conn != nil {
			m, p := x.conn.Coalesced()
			s.groMsgs, s.groSegs = s.groMsgs+m, s.groSegs+p
		}
	}
	for _, sub := range g.subs {
		for i := range sub.streams {
			if !sub.counted(i) {
				continue // keeps kind = index % 2: a publisher's two streams go together
			}
			var x streamSnap
			sub.streams[i].snapshot(&x, resetMax)
			s.streams = append(s.streams, x)
		}
	}
	return s
}

// progress is the cumulative count of received and lost packets.
func (g *generator) progress() (received, lost, expected uint64) {
	var x streamSnap
	for _, sub := range g.subs {
		for i := range sub.streams {
			sub.streams[i].snapshot(&x, false)
			received += x.received
			lost += x.lost()
			expected += x.expected
		}
	}
	return received, lost, expected
}

// measure waits out the warm-up, samples at window start and end, and
// prints progress lines in between.
func (g *generator) measure(ctx context.Context) (*Summary, error) {
	begin := time.Now()
	warm := time.NewTimer(g.cfg.Warmup)
	defer warm.Stop()
	var endC <-chan time.Time
	var tickC <-chan time.Time
	if g.cfg.Progress > 0 {
		t := time.NewTicker(g.cfg.Progress)
		defer t.Stop()
		tickC = t.C
	}
	var start *snapshot
	var churn *churner
	var halfC <-chan time.Time
	lastAt := begin
	lastRecv, _, _ := g.progress()
	for {
		select {
		case <-ctx.Done():
			if churn != nil {
				churn.halt()
			}
			return nil, ctx.Err()
		case <-warm.C:
			if g.cfg.Churn.Clients > 0 {
				var err error
				if churn, err = g.startChurn(ctx); err != nil {
					return nil, err
				}
			}
			start = g.snapshot(true)
			end := time.NewTimer(g.cfg.Duration)
			defer end.Stop()
			endC = end.C
			if churn != nil {
				half := time.NewTimer(g.cfg.Duration / 2)
				defer half.Stop()
				halfC = half.C
			}
			fmt.Fprintf(g.cfg.Log, "%6.1fs warm-up done, measuring for %s\n", time.Since(begin).Seconds(), g.cfg.Duration)
		case <-halfC:
			churn.checkpoint(ctx, g.connected())
		case <-endC:
			sum := g.summarize(start, g.snapshot(false))
			if churn != nil {
				sum.Churn = churn.finish(ctx, g.connected())
				sum.Churn.judgeSteady(sum)
			}
			return sum, nil
		case now := <-tickC:
			recv, lost, exp := g.progress()
			phase := "warm-up"
			if start != nil {
				phase = "window"
			}
			fmt.Fprintf(g.cfg.Log, "%6.1fs %-7s forwarded %8.0f pkt/s  loss so far %d/%d (%.3f%%)\n",
				now.Sub(begin).Seconds(), phase, float64(recv-lastRecv)/now.Sub(lastAt).Seconds(),
				lost, exp, percent(lost, exp))
			lastAt, lastRecv = now, recv
		}
	}
}

func percent(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func micros(ns uint64) float64 { return float64(ns) / 1e3 }

// summarize computes the window's figures from two snapshots.
func (g *generator) summarize(a, b *snapshot) *Summary {
	cfg := g.cfg
	window := b.at.Sub(a.at).Seconds()
	s := &Summary{
		URL: cfg.URL, Channels: cfg.Channels, PublishersPerChannel: cfg.Publishers,
		SubscribersPerChannel: cfg.Subscribers, AllToAll: cfg.AllToAll, VideoKbps: cfg.VideoKbps, FPS: cfg.FPS,
		Audio: cfg.Audio, SRTPProfile: cfg.SRTPProfile, GRO: cfg.GRO, Feedback: cfg.Feedback,
		WarmupSeconds: cfg.Warmup.Seconds(), WindowSeconds: window,
		SentVideo: b.video - a.video, SentAudio: b.audio - a.audio,
		GROMessages: b.groMsgs - a.groMsgs, GROPackets: b.groSegs - a.groSegs,
		GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUModel: cpuModel(),
	}
	receivers := cfg.Subscribers
	if cfg.AllToAll {
		receivers += cfg.Publishers - 1
	}
	s.OfferedPerSecond = float64((s.SentVideo+s.SentAudio)*uint64(receivers)) / window
	_, _, _, _, s.WriteErrors = g.pubs.sent()
	s.KeyFramesSent, s.KeyFrameRequests = b.keys-a.keys, b.plis-a.plis
	on := [2]bool{cfg.VideoKbps > 0, cfg.Audio} // stream index i has kind i%2
	var kinds [2]streamSnap
	var lost [2]uint64
	var lat histogram
	for i := range b.streams {
		k := i % 2
		if !on[k] {
			continue
		}
		d := delta(&b.streams[i], &a.streams[i])
		if d.received == 0 {
			s.SilentStreams++
		}
		lost[k] += d.lost() // clamped per stream
		kinds[k].add(&d)
		lat.merge(&d.lat)
		s.MaxGapMillis = max(s.MaxGapMillis, float64(d.gapMax)/1e6)
		s.Streams++
	}
	for k, x := range kinds {
		if !on[k] {
			continue
		}
		ks := &KindSummary{
			Forwarded: x.received, Expected: x.expected, Lost: lost[k],
			LossPercent: percent(lost[k], x.expected),
			P50Micros:   micros(x.lat.quantile(0.5)), P99Micros: micros(x.lat.quantile(0.99)),
			MaxMicros: micros(x.lat.max),
		}
		if k == 0 {
			ks.FrameP50Micros, ks.FrameP99Micros = micros(x.frameLat.quantile(0.5)), micros(x.frameLat.quantile(0.99))
			s.VideoStats = ks
		} else {
			s.AudioStats = ks
		}
		s.Forwarded += x.received
		s.Expected += x.expected
		s.Lost += lost[k]
		s.Duplicates += x.dups
		s.Reordered += x.reorder
		s.Late += x.late
		s.KeyFramesSeen += x.keys
	}
	for _, sub := range g.subs {
		s.Malformed += sub.malformed.Load() + sub.foreign.Load()
	}
	s.ForwardedPerSecond = float64(s.Forwarded) / window
	s.LossPercent = percent(s.Lost, s.Expected)
	h := &lat
	s.LatencyP50Micros, s.LatencyP99Micros = micros(h.quantile(0.5)), micros(h.quantile(0.99))
	s.LatencyMaxMicros = micros(h.max)
	if h.n > 0 {
		s.LatencyMeanMicros = micros(h.sum / h.n)
	}
	if cfg.ServerPID > 0 {
		s.Server = procSummary(cfg.ServerPID, a.server, b.server, a.serverErr, b.serverErr, window, s.Forwarded)
	}
	s.LoadGen = procSummary(selfPID, a.self, b.self, a.selfEr, b.selfEr, window, s.Forwarded)
	return s
}

func procSummary(pid int, a, b procSample, aerr, berr error, window float64, fwd uint64) *ProcSummary {
	p := &ProcSummary{PID: pid}
	if err := firstErr(aerr, berr); err != nil {
		p.Error = err.Error()
		return p
	}
	p.CPUSeconds = cpuSeconds(b.cpuTicks - a.cpuTicks)
	p.CPUPercent = 100 * p.CPUSeconds / window
	if fwd > 0 {
		p.CPUSecondsPerMpkt = p.CPUSeconds / (float64(fwd) / 1e6)
		p.CPUMicrosPerPacket = p.CPUSeconds * 1e6 / float64(fwd)
	}
	p.RSSKiB = b.rssKiB
	p.VoluntarySwitches = b.volSwitches - a.volSwitches
	p.NonvoluntarySwitches = b.ivolSwitches - a.ivolSwitches
	return p
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// WriteText prints the summary for people.
func (s *Summary) WriteText(w io.Writer) {
	meet := ""
	if s.AllToAll {
		meet = ", publishers all-to-all"
	}
	fmt.Fprintf(w, "sfu-load summary: %d channel(s) x (%d publisher(s) -> %d subscriber(s)%s), video %d kbps VP8 @%d fps, audio %v, srtp %s, gro=%v, feedback=%v\n",
		s.Channels, s.PublishersPerChannel, s.SubscribersPerChannel, meet, s.VideoKbps, s.FPS, s.Audio, s.SRTPProfile, s.GRO, s.Feedback)
	fmt.Fprintf(w, "  window          %.1f s after %.1f s warm-up, %d streams (%d silent)\n", s.WindowSeconds, s.WarmupSeconds, s.Streams, s.SilentStreams)
	fmt.Fprintf(w, "  sent            %d video + %d audio packets; offered %.0f pkt/s to forward\n", s.SentVideo, s.SentAudio, s.OfferedPerSecond)
	fmt.Fprintf(w, "  forwarded       %d packets, %.0f pkt/s\n", s.Forwarded, s.ForwardedPerSecond)
	if s.GRO {
		fmt.Fprintf(w, "  gro             %d packets arrived in %d coalesced messages (%.1f each)\n",
			s.GROPackets, s.GROMessages, float64(s.GROPackets)/float64(max(s.GROMessages, 1)))
	}
	fmt.Fprintf(w, "  loss            %d of %d (%.4f%%), duplicates %d, reordered %d, late %d, malformed %d\n",
		s.Lost, s.Expected, s.LossPercent, s.Duplicates, s.Reordered, s.Late, s.Malformed)
	fmt.Fprintf(w, "  latency         p50 %.0f us, p99 %.0f us, max %.0f us, mean %.0f us; longest gap in a stream %.0f ms\n",
		s.LatencyP50Micros, s.LatencyP99Micros, s.LatencyMaxMicros, s.LatencyMeanMicros, s.MaxGapMillis)
	for _, k := range []struct {
		name string
		ks   *KindSummary
	}{{"video", s.VideoStats}, {"audio", s.AudioStats}} {
		if k.ks != nil {
			fmt.Fprintf(w, "    %-5s         %d pkts, loss %.4f%%, p50 %.0f us, p99 %.0f us, max %.0f us\n",
				k.name, k.ks.Forwarded, k.ks.LossPercent, k.ks.P50Micros, k.ks.P99Micros, k.ks.MaxMicros)
			if k.ks.FrameP50Micros > 0 {
				fmt.Fprintf(w, "    frames        p50 %.0f us, p99 %.0f us (frame complete: its last packet)\n",
					k.ks.FrameP50Micros, k.ks.FrameP99Micros)
			}
		}
	}
	if s.Churn != nil {
		s.Churn.WriteText(w)
	}
	fmt.Fprintf(w, "  key frames      %d sent (%d PLI/FIR seen), %d received (sum over subscribers)\n", s.KeyFramesSent, s.KeyFrameRequests, s.KeyFramesSeen)
	for _, p := range []struct {
		name string
		ps   *ProcSummary
	}{{"server", s.Server}, {"load generator", s.LoadGen}} {
		if p.ps == nil {
			continue
		}
		if p.ps.Error != "" {
			fmt.Fprintf(w, "  %-15s pid %d: %s\n", p.name+" CPU", p.ps.PID, p.ps.Error)
			continue
		}
		fmt.Fprintf(w, "  %-15s pid %d: %.2f s (%.1f%% of a core), %.2f CPU-s per Mpkt, %.2f us per forwarded packet, RSS %d KiB, ctx switches %d vol / %d invol\n",
			p.name+" CPU", p.ps.PID, p.ps.CPUSeconds, p.ps.CPUPercent, p.ps.CPUSecondsPerMpkt, p.ps.CPUMicrosPerPacket,
			p.ps.RSSKiB, p.ps.VoluntarySwitches, p.ps.NonvoluntarySwitches)
	}
	fmt.Fprintf(w, "  errors          %d write, %d disconnect\n", s.WriteErrors, s.DisconnectErrors)
	fmt.Fprintf(w, "  machine         %s, %d CPUs, GOMAXPROCS %d, %s\n", s.CPUModel, s.NumCPU, s.GOMAXPROCS, s.GoVersion)
}
