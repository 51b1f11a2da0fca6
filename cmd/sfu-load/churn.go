package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/client"
)

// ChurnConfig adds a churn soak to a media run (-churn): while the steady
// channels forward, Clients clients at a time connect, stay a random time
// up to Hold and leave (most with a disconnect message, some by closing
// their sockets without one), over and over, in the steady channels
// (recvonly) and in Channels channels of their own (any role, sending
// audio). Before the window and after the churn settles, the server's
// goroutines, heap after GC and open files are sampled, and its
// GetStatsReport counters are checked to add up; the steady streams must
// lose nothing and never go a second without a packet.
type ChurnConfig struct {
	Clients  int           // concurrent churn clients; 0: no churn
	Channels int           // churn channels besides the steady ones
	Hold     time.Duration // longest stay of one churn client
	// APIURL is the management API (for GetStatsReport); DebugURL the
	// server's debug listener (/debug/memstats: goroutines, heap after
	// GC). Empty: not sampled.
	APIURL, DebugURL string
	// Settle bounds the wait, after the churn stops, for the server to be
	// back to the steady connections and goroutines.
	Settle time.Duration
}

// ChurnSummary is the outcome of the churn soak.
type ChurnSummary struct {
	Cycles     uint64 `json:"cycles"`
	DialErrors uint64 `json:"dial_errors"`
	Abrupt     uint64 `json:"abrupt_leaves"`
	// The server before the churn and after it settled.
	Before, After ServerState
	// Growth in percent of Before; the soak passes at 5 % or less. The
	// heap may also have grown once, before the checkpoint halfway: it
	// passes if it grew 5 % or less from there to the end (LateHeapGrowth).
	GoroutineGrowth, HeapGrowth, FDGrowth float64
	Mid                                   *ServerState `json:"mid,omitempty"`
	LateHeapGrowth                        float64      `json:"late_heap_growth"`
	// Errors are the first few failed cycles' errors.
	Errors []string `json:"errors,omitempty"`
	// Counters are GetStatsReport's created = destroyed + ongoing after
	// the churn; Ongoing its ongoing connections then.
	CountersAddUp bool  `json:"counters_add_up"`
	Ongoing       int64 `json:"ongoing"`
	SettleSeconds float64
	// Problems lists what failed the soak (empty: passed).
	Problems []string `json:"problems"`
}

// churner runs the churn clients of one run.
type churner struct {
	cfg    ChurnConfig
	url    string
	steady []string // the steady channels
	api    *webrtc.API
	srv    server
	before ServerState

	prefix string
	mid    *ServerState // at the checkpoint, if it was taken

	// stop ends the running round of churn; only the run's measuring
	// goroutine starts and halts rounds.
	stop                   chan struct{}
	rounds                 int
	wg                     sync.WaitGroup
	errMu                  sync.Mutex
	errs                   []string
	cycles, fails, abrupts atomic.Uint64
}

// startChurn samples the server and starts the churn clients.
func (g *generator) startChurn(ctx context.Context) (*churner, error) {
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, SettingEngine: g.settings})
	if err != nil {
		return nil, err
	}
	c := &churner{cfg: g.cfg.Churn, url: g.cfg.URL, api: api, prefix: g.cfg.ChannelPrefix + "-churn",
		srv: server{pid: g.cfg.ServerPID, apiURL: g.cfg.Churn.APIURL, debugURL: g.cfg.Churn.DebugURL}}
	for ch := range g.cfg.Channels {
		c.steady = append(c.steady, g.channel(ch))
	}
	// A first round of churn before the baseline, so that what the
	// server sets up at its first connections (caches, pools, tables
	// grown to size) is not taken for churn's.
	var warm sync.WaitGroup
	for i := range c.cfg.Clients {
		warm.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 0x3a))
			for range warmCycles {
				_ = c.cycle(ctx, rng, nil)
			}
		})
	}
	warm.Wait()
	if c.before, err = c.settle(ctx, ServerState{}, g.connected()); err != nil {
		return nil, fmt.Errorf("churn: sampling the server: %w", err)
	}
	c.start(ctx)
	return c, nil
}

// warmCycles is the churn each client does before the baseline.
const warmCycles = 3

// start runs a round of churn clients until halt.
func (c *churner) start(ctx context.Context) {
	c.stop = make(chan struct{})
	for i := range c.cfg.Clients {
		c.wg.Add(1)
		go c.loop(ctx, c.stop, uint64(c.rounds*c.cfg.Clients+i))
	}
	c.rounds++
}

// halt stops the churn clients and waits for them to leave.
func (c *churner) halt() {
	if c.stop != nil {
		close(c.stop)
		c.stop = nil
	}
	c.wg.Wait()
}

// checkpoint pauses the churn, lets the server settle, samples it and
// resumes: growth from here to the end tells a leak, which grows with the
// churn, from what the server sets up once and keeps (buffers grown to
// the peak, caches).
func (c *churner) checkpoint(ctx context.Context, steady int) {
	c.halt()
	if st, err := c.settle(ctx, c.before, steady); err == nil {
		c.mid = &st
	}
	c.start(ctx)
}

// loop is one churn client's life, over and over, until stop.
func (c *churner) loop(ctx context.Context, stop <-chan struct{}, seed uint64) {
	defer c.wg.Done()
	rng := rand.New(rand.NewPCG(seed, 0xc4))
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if err := c.cycle(ctx, rng, stop); err != nil {
			c.fails.Add(1)
			c.errMu.Lock()
			if len(c.errs) < 5 {
				c.errs = append(c.errs, err.Error())
			}
			c.errMu.Unlock()
		}
		c.cycles.Add(1)
	}
}

// cycle connects one client, keeps it up to Hold and lets it go.
func (c *churner) cycle(ctx context.Context, rng *rand.Rand, stop <-chan struct{}) error {
	cfg := client.Config{URL: c.url, API: c.api, Video: client.Bool(false)}
	n := rng.IntN(len(c.steady) + c.cfg.Channels)
	var audio *webrtc.TrackLocalStaticRTP
	if n < len(c.steady) {
		cfg.ChannelID, cfg.Role = c.steady[n], client.RoleRecvonly
	} else {
		cfg.ChannelID = fmt.Sprintf("%s-%d", c.prefix, n-len(c.steady))
		cfg.Role = []string{client.RoleSendrecv, client.RoleSendonly, client.RoleRecvonly}[rng.IntN(3)]
		if cfg.Role != client.RoleRecvonly {
			var err error
			audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "churn")
			if err != nil {
				return err
			}
			cfg.Tracks = []webrtc.TrackLocal{audio}
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cl, err := client.Dial(dctx, cfg)
	if err != nil {
		return err
	}
	hold := time.Duration(rng.Int64N(int64(c.cfg.Hold) + 1))
	sendAudio(dctx, audio, hold, stop)
	if rng.IntN(10) < 3 { // leave without a word: the server notices the closed socket
		c.abrupts.Add(1)
		return cl.Close()
	}
	if err := cl.Disconnect(dctx); err != nil {
		cl.Close()
		return err
	}
	return nil
}

// sendAudio writes an Opus-sized packet every 20 ms on t (if not nil)
// for d, or until stop.
func sendAudio(ctx context.Context, t *webrtc.TrackLocalStaticRTP, d time.Duration, stop <-chan struct{}) {
	end := time.NewTimer(d)
	defer end.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 100)
	for sn := uint16(0); ; sn++ {
		select {
		case <-end.C:
			return
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			if t != nil {
				_ = t.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: sn, Timestamp: uint32(sn) * 960}, Payload: payload})
			}
		}
	}
}

// finish stops the churn, waits for the server to settle back to the
// steady connections, samples it again and judges the soak.
func (c *churner) finish(ctx context.Context, steady int) *ChurnSummary {
	c.halt()
	s := &ChurnSummary{Cycles: c.cycles.Load(), DialErrors: c.fails.Load(), Abrupt: c.abrupts.Load(), Before: c.before, Mid: c.mid}
	c.errMu.Lock()
	s.Errors = c.errs
	c.errMu.Unlock()
	start := time.Now()
	var err error
	s.After, err = c.settle(ctx, c.before, steady)
	s.SettleSeconds = time.Since(start).Seconds()
	if err != nil {
		s.Problems = append(s.Problems, "sampling the server: "+err.Error())
		return s
	}
	s.judge(int64(steady))
	return s
}

// settle samples the server until it is back to the steady connections
// and, given a baseline, near its goroutines and open files, or until
// Settle has passed; it returns the last sample.
func (c *churner) settle(ctx context.Context, before ServerState, steady int) (ServerState, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Settle)
	defer cancel()
	for {
		st, err := c.srv.sample(ctx)
		if err == nil && st.settled(before, int64(steady)) {
			return st, nil
		}
		// The server announces none of this: look again shortly.
		if sleep(ctx, 250*time.Millisecond) != nil {
			return st, err
		}
	}
}

// judge fills the growth figures and the problems.
func (s *ChurnSummary) judge(steady int64) {
	growth := func(a, b int64) float64 { return 100 * float64(b-a) / float64(max(a, 1)) }
	s.GoroutineGrowth = growth(s.Before.Goroutines, s.After.Goroutines)
	s.HeapGrowth = growth(s.Before.HeapBytes, s.After.HeapBytes)
	s.FDGrowth = growth(s.Before.OpenFiles, s.After.OpenFiles)
	// What the server sets up once and keeps shows before the checkpoint;
	// a leak goes on growing after it.
	heapLeak := s.HeapGrowth > 5
	if s.Mid != nil {
		s.LateHeapGrowth = growth(s.Mid.HeapBytes, s.After.HeapBytes)
		heapLeak = heapLeak && s.LateHeapGrowth > 5
	}
	for _, g := range []struct {
		what    string
		sampled bool
		grew    bool
		pct     float64
	}{
		{"goroutines", s.Before.Goroutines > 0, s.GoroutineGrowth > 5, s.GoroutineGrowth},
		{"heap after GC", s.Before.HeapBytes > 0, heapLeak, s.HeapGrowth},
		{"open files", s.Before.OpenFiles > 0, s.FDGrowth > 5, s.FDGrowth},
	} {
		if g.sampled && g.grew {
			s.Problems = append(s.Problems, fmt.Sprintf("%s grew %.1f %%", g.what, g.pct))
		}
	}
	if st := s.After.Stats; st != nil {
		s.Ongoing = st.Ongoing
		s.CountersAddUp = st.Created == st.Destroyed+st.Ongoing
		if !s.CountersAddUp {
			s.Problems = append(s.Problems, fmt.Sprintf("created %d != destroyed %d + ongoing %d", st.Created, st.Destroyed, st.Ongoing))
		}
		if st.Ongoing != steady {
			s.Problems = append(s.Problems, fmt.Sprintf("%d connections left, want the %d steady ones", st.Ongoing, steady))
		}
	}
	if s.Cycles == 0 {
		s.Problems = append(s.Problems, "no churn cycle completed")
	}
}

// freezeMillis is the longest a steady stream may go without a packet
// during the churn.
const freezeMillis = 1000

// judgeSteady adds what the steady streams suffered during the churn.
func (s *ChurnSummary) judgeSteady(sum *Summary) {
	if sum.Lost > 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("the steady streams lost %d packets", sum.Lost))
	}
	if sum.SilentStreams > 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("%d steady streams received nothing", sum.SilentStreams))
	}
	if sum.MaxGapMillis > freezeMillis {
		s.Problems = append(s.Problems, fmt.Sprintf("a steady stream froze for %.0f ms", sum.MaxGapMillis))
	}
}

// WriteText prints the churn part of the summary.
func (s *ChurnSummary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "  churn           %d cycles (%d left without a disconnect), %d failed\n", s.Cycles, s.Abrupt, s.DialErrors)
	for _, e := range s.Errors {
		fmt.Fprintf(w, "    failed cycle  %s\n", e)
	}
	fmt.Fprintf(w, "    server        before: %s\n", s.Before)
	if s.Mid != nil {
		fmt.Fprintf(w, "                  halfway: %s\n", *s.Mid)
	}
	fmt.Fprintf(w, "                  after:  %s (settled in %.1f s)\n", s.After, s.SettleSeconds)
	fmt.Fprintf(w, "    growth        goroutines %+.1f %%, heap %+.1f %% (%+.1f %% since halfway), open files %+.1f %%\n",
		s.GoroutineGrowth, s.HeapGrowth, s.LateHeapGrowth, s.FDGrowth)
	if s.After.Stats != nil {
		fmt.Fprintf(w, "    counters      created %d = destroyed %d + ongoing %d: %v\n",
			s.After.Stats.Created, s.After.Stats.Destroyed, s.After.Stats.Ongoing, s.CountersAddUp)
	}
	verdict := "passed"
	if len(s.Problems) > 0 {
		verdict = fmt.Sprintf("FAILED: %q", s.Problems)
	}
	fmt.Fprintf(w, "    soak          %s\n", verdict)
}
