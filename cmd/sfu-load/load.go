package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/udpgro"
	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/webrtc/v4"
)

// Config is one load run.
type Config struct {
	// URL of the signaling endpoint; its host must be a loopback address.
	URL string
	// Channels, and Publishers and Subscribers per channel.
	Channels, Publishers, Subscribers int
	// VideoKbps is each publisher's VP8 bitrate (0: no video) at FPS
	// frames per second, with a key frame every KeyFrameInterval.
	VideoKbps        int
	FPS              int
	KeyFrameInterval time.Duration
	// Audio adds an Opus track (50 packets/s of 100 bytes) per publisher.
	Audio bool
	// Warmup runs after everyone is connected; Duration is the measured
	// window after it.
	Warmup, Duration time.Duration
	// Progress is the interval of progress lines (0: none).
	Progress time.Duration
	// SetupTimeout bounds connecting all clients; TeardownTimeout bounds
	// disconnecting them.
	SetupTimeout, TeardownTimeout time.Duration
	// ServerPID, when positive, is sampled for CPU time.
	ServerPID int
	// Seed drives packet sizes, phases and initial sequence numbers.
	Seed uint64
	// ChannelPrefix names the channels ("<prefix>-<i>").
	ChannelPrefix string
	// DialConcurrency bounds simultaneous connection setups.
	DialConcurrency int
	// SRTPProfile is "gcm128" (force AEAD_AES_128_GCM) or "default".
	SRTPProfile string
	// GRO gives every subscriber its own UDP socket read with UDP GRO,
	// so that a GSO message from the server is queued whole on loopback
	// instead of being segmented inside the server's send call.
	GRO bool
	// AllToAll makes the publishers sendrecv: each also receives the
	// other publishers of its channel, as in a meeting.
	AllToAll bool
	// Churn, with Churn.Clients > 0, runs a churn soak in the window.
	Churn ChurnConfig
	// Feedback makes the subscribers send what a browser sends: receiver
	// reports, NACKs for gaps, and transport-cc feedback every 100 ms
	// (pion/interceptor's report, nack and twcc generators). On by default.
	Feedback bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// DefaultConfig returns the defaults of the command's flags.
func DefaultConfig() Config {
	return Config{
		URL:      "ws://127.0.0.1:5000/signaling",
		Channels: 1, Publishers: 1, Subscribers: 10,
		VideoKbps: 1500, FPS: 30, KeyFrameInterval: 3 * time.Second, Audio: true,
		Warmup: 10 * time.Second, Duration: 30 * time.Second, Progress: 5 * time.Second,
		SetupTimeout: 2 * time.Minute, TeardownTimeout: 30 * time.Second,
		Seed: 1, ChannelPrefix: "sfu-load", DialConcurrency: 8, SRTPProfile: "gcm128",
		Churn:    ChurnConfig{Channels: 10, Hold: 2 * time.Second, Settle: time.Minute},
		Feedback: true,
	}
}

func (c *Config) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("url: scheme %q is not ws or wss", u.Scheme)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("url: host %q is not a loopback address: sfu-load only sends to loopback", host)
	}
	switch {
	case c.Channels < 1 || c.Publishers < 1 || c.Subscribers < 0:
		return errors.New("need at least 1 channel and 1 publisher, and subscribers >= 0")
	case c.Channels*(c.Publishers+c.Subscribers) > 10000:
		return errors.New("more than 10000 clients")
	case c.VideoKbps < 0 || (c.VideoKbps == 0 && !c.Audio):
		return errors.New("nothing to send: no video and no audio")
	case c.VideoKbps > 0 && (c.FPS < 1 || c.FPS > 240):
		return errors.New("fps must be in 1..240")
	case c.Duration <= 0 || c.Warmup < 0 || c.Progress < 0:
		return errors.New("duration must be positive, warmup and progress not negative")
	case c.SRTPProfile != "gcm128" && c.SRTPProfile != "default":
		return fmt.Errorf("srtp profile %q: want gcm128 or default", c.SRTPProfile)
	case c.AllToAll && c.Publishers < 2:
		return errors.New("all-to-all needs at least 2 publishers per channel")
	case c.Churn.Clients < 0 || c.Churn.Clients > 1000 || c.Churn.Channels < 0 || c.Churn.Hold < 0:
		return errors.New("churn: 0 to 1000 clients, channels and hold not negative")
	case c.Churn.Clients > 0 && c.Churn.Settle <= 0:
		return errors.New("churn: settle must be positive")
	}
	c.KeyFrameInterval = max(c.KeyFrameInterval, time.Second/time.Duration(max(c.FPS, 1)))
	c.DialConcurrency = max(c.DialConcurrency, 1)
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = 2 * time.Minute
	}
	if c.TeardownTimeout <= 0 {
		c.TeardownTimeout = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}

// generator is one run: its clients, publishers and subscribers.
type generator struct {
	cfg      Config
	pubs     publishers
	subs     []*subscriber    // recvonly subscribers, then (all-to-all) the publishers' receiving sides
	clients  []*client.Client // publishers first; nil where a dial failed
	readers  readerSet        // track readers
	gro      []groSocket      // with -gro, per subscriber; zero where none was opened
	kinds    int              // tracks per publisher
	recvonly int              // of subs, the recvonly subscribers
}

// Run connects the publishers and subscribers, measures for cfg.Duration
// after cfg.Warmup, disconnects everyone and returns the summary. All its
// goroutines have ended when it returns.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &generator{cfg: cfg}
	if cfg.VideoKbps > 0 {
		g.kinds++
	}
	if cfg.Audio {
		g.kinds++
	}
	g.pubs.stop = make(chan struct{})
	np := cfg.Channels * cfg.Publishers
	g.clients = make([]*client.Client, np+cfg.Channels*cfg.Subscribers)
	for i := range np {
		p, err := newPublisher(uint32(i), &cfg, cfg.Seed)
		if err != nil {
			return nil, err
		}
		g.pubs.list = append(g.pubs.list, p)
	}
	for ch := range cfg.Channels {
		for range cfg.Subscribers {
			g.subs = append(g.subs, newSubscriber(uint32(ch*cfg.Publishers), uint32(cfg.Publishers), &g.readers))
		}
	}
	g.recvonly = len(g.subs)
	if cfg.AllToAll {
		for i := range np {
			s := newSubscriber(uint32(i/cfg.Publishers*cfg.Publishers), uint32(cfg.Publishers), &g.readers)
			s.self = int32(i % cfg.Publishers)
			g.subs = append(g.subs, s)
		}
	}

	setupCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	err := g.setup(setupCtx, ctx)
	cancel()
	var sum *Summary
	if err == nil {
		sum, err = g.measure(ctx)
	}
	derrs := g.teardown()
	if sum != nil {
		sum.DisconnectErrors = derrs
	}
	return sum, err
}

// connected returns the number of steady clients that connected.
func (g *generator) connected() int {
	n := 0
	for _, c := range g.clients {
		if c != nil {
			n++
		}
	}
	return n
}

func (g *generator) channel(ch int) string { return fmt.Sprintf("%s-%d", g.cfg.ChannelPrefix, ch) }

func (g *generator) settings(s *webrtc.SettingEngine) {
	if g.cfg.SRTPProfile == "gcm128" {
		s.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM)
	}
}

func (g *generator) base(ch int) client.Config {
	c := client.Config{URL: g.cfg.URL, ChannelID: g.channel(ch)}
	if g.cfg.VideoKbps > 0 {
		c.VideoCodecType = "VP8"
	} else {
		c.Video = client.Bool(false)
	}
	if !g.cfg.Audio {
		c.Audio = client.Bool(false)
	}
	return c
}

// setup dials the publishers (starting each one's media as soon as it is
// connected), then the subscribers, and waits until every subscriber has
// all its tracks. runCtx bounds the publishers' media loops.
func (g *generator) setup(ctx, runCtx context.Context) error {
	start := time.Now()
	np := len(g.pubs.list)
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, SettingEngine: g.settings})
	if err != nil {
		return err
	}
	subAPI := api // receivers: with Feedback, they send what browsers send
	if g.cfg.Feedback {
		if subAPI, err = client.NewAPI(client.APIOptions{LoopbackOnly: true, SettingEngine: g.settings, Interceptors: g.feedback()}); err != nil {
			return err
		}
	}
	err = forEach(ctx, np, g.cfg.DialConcurrency, func(ctx context.Context, i int) error {
		p := g.pubs.list[i]
		cfg := g.base(i / g.cfg.Publishers)
		cfg.Role, cfg.API, cfg.Tracks = client.RoleSendonly, api, p.tracks()
		cfg.OnSenderRTCP = p.onRTCP
		if g.cfg.AllToAll {
			cfg.Role, cfg.API, cfg.OnTrack = client.RoleSendrecv, subAPI, g.subs[g.recvonly+i].onTrack
		}
		c, err := client.Dial(ctx, cfg)
		if err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
		g.clients[i] = c
		g.pubs.start(runCtx, p)
		return nil
	})
	if err != nil {
		return err
	}
	if g.cfg.GRO {
		g.gro = make([]groSocket, g.recvonly)
	}
	err = forEach(ctx, g.recvonly, g.cfg.DialConcurrency, func(ctx context.Context, i int) error {
		s := g.subs[i]
		cfg := g.base(i / g.cfg.Subscribers)
		cfg.Role, cfg.API, cfg.OnTrack = client.RoleRecvonly, subAPI, s.onTrack
		if g.cfg.GRO {
			api, err := g.groAPI(i)
			if err != nil {
				return fmt.Errorf("subscriber %d: %w", i, err)
			}
			cfg.API = api
		}
		c, err := client.Dial(ctx, cfg)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		g.clients[np+i] = c
		if err := c.WaitRemoteTracks(ctx, g.cfg.Publishers*g.kinds); err != nil {
			return fmt.Errorf("subscriber %d: waiting for %d tracks: %w", i, g.cfg.Publishers*g.kinds, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if g.cfg.AllToAll {
		for i, c := range g.clients[:np] {
			if err := c.WaitRemoteTracks(ctx, (g.cfg.Publishers-1)*g.kinds); err != nil {
				return fmt.Errorf("publisher %d: waiting for the others' tracks: %w", i, err)
			}
		}
	}
	fmt.Fprintf(g.cfg.Log, "connected %d publishers and %d subscribers in %.1fs\n",
		np, g.recvonly, time.Since(start).Seconds())
	return nil
}

// groSocket is a subscriber's own UDP GRO socket and the ICE mux on it.
type groSocket struct {
	conn *udpgro.Conn
	mux  *ice.UDPMuxDefault // owns conn
}

// groAPI opens subscriber i's own UDP GRO socket and returns an API whose
// ICE agents use only it. Subscribers never share a socket: the server
// batches per destination, so a shared one would fake its cost.
func (g *generator) groAPI(i int) (*webrtc.API, error) {
	conn, err := udpgro.Listen(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	g.gro[i] = groSocket{conn, mux}
	var reg *interceptor.Registry
	if g.cfg.Feedback {
		reg = g.feedback()
	}
	return client.NewAPI(client.APIOptions{LoopbackOnly: true, Interceptors: reg, SettingEngine: func(s *webrtc.SettingEngine) {
		g.settings(s)
		s.SetICEUDPMux(mux)
	}})
}

// feedback returns the interceptors with which a subscriber sends what a
// browser sends: receiver reports (every second), NACKs for gaps, and
// transport-cc feedback (every 100 ms, as Chrome).
func (g *generator) feedback() *interceptor.Registry {
	reg := &interceptor.Registry{}
	if rr, err := report.NewReceiverInterceptor(report.ReceiverInterval(time.Second)); err == nil {
		reg.Add(rr)
	}
	if n, err := nack.NewGeneratorInterceptor(); err == nil {
		reg.Add(n)
	}
	if tw, err := twcc.NewSenderInterceptor(twcc.SendInterval(100 * time.Millisecond)); err == nil {
		reg.Add(tw)
	}
	return reg
}

// teardown stops the publishers' media, disconnects the subscribers, then
// the publishers (so that the server does not re-offer to subscribers that
// are leaving), closes the subscribers' GRO sockets, and waits for the
// track readers. It returns the number of
// failed disconnects.
func (g *generator) teardown() int {
	g.pubs.halt()
	np := len(g.pubs.list)
	failed := g.disconnect(g.clients[np:]) + g.disconnect(g.clients[:np])
	for _, s := range g.gro {
		if s.mux != nil {
			_ = s.mux.Close() // and its socket
		}
	}
	g.readers.closeAndWait()
	return failed
}

// disconnect disconnects the clients (nil ones are skipped), a few at a
// time, and returns how many failed.
func (g *generator) disconnect(clients []*client.Client) int {
	var mu sync.Mutex
	failed := 0
	_ = forEach(context.Background(), len(clients), 4*g.cfg.DialConcurrency, func(_ context.Context, i int) error {
		c := clients[i]
		if c == nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.cfg.TeardownTimeout)
		defer cancel()
		if err := c.Disconnect(ctx); err != nil {
			mu.Lock()
			failed++
			mu.Unlock()
		}
		return nil
	})
	return failed
}

// forEach calls fn(i) for i in [0, n) with at most limit calls at a time
// and returns the first error; after an error the remaining calls are not
// started and the running ones see ctx cancelled.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// selfPID is the load generator's own pid, for its CPU sample.
var selfPID = os.Getpid()

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
