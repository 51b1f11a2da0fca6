package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gosfu/sfu/client"
)

// IdleConfig is one idle run (-mode idle): Channels × PerChannel recvonly
// clients that publish nothing, connected and left alone, while the
// server's CPU time is sampled. What the server then spends is the cost
// of keeping a connection: pings and their pongs with the client's
// statistics, answering the client's ICE consent checks, timers.
type IdleConfig struct {
	URL, ChannelPrefix   string
	Channels, PerChannel int
	// Baseline is a window sampled before anyone connects: the empty
	// server's own CPU time, subtracted from nothing but printed beside.
	Baseline, Warmup, Duration time.Duration
	ServerPID                  int
	SetupTimeout               time.Duration
	DialConcurrency            int
	Log                        io.Writer
}

// IdleSummary is the outcome of an idle run.
type IdleSummary struct {
	Connections   int     `json:"connections"`
	Channels      int     `json:"channels"`
	WindowSeconds float64 `json:"window_s"`
	// The server's CPU time per second of the window: without any
	// connection (the baseline window) and with them.
	EmptyCPUPercent float64 `json:"empty_cpu_percent"`
	CPUPercent      float64 `json:"cpu_percent"`
	// CPU time per connection per second, above the empty server's.
	CPUMicrosPerConnSecond float64 `json:"cpu_us_per_connection_second"`
	// Resident memory before connecting and at the end of the window.
	RSSEmptyKiB, RSSKiB uint64
	RSSPerConnKiB       float64 `json:"rss_per_connection_kib"`
	VoluntarySwitches   uint64  `json:"voluntary_ctxt_switches"`
	Disconnected        int     `json:"disconnected"`
}

func (c *IdleConfig) validate() error {
	lc := DefaultConfig() // valid but for the URL, which it checks
	lc.URL = c.URL
	if err := lc.validate(); err != nil {
		return err
	}
	switch {
	case c.ServerPID <= 0:
		return errors.New("idle mode needs -server-pid")
	case c.Channels < 1 || c.PerChannel < 1 || c.Channels*c.PerChannel > 10000:
		return errors.New("need 1 to 10000 connections")
	case c.Duration <= 0 || c.Warmup < 0 || c.Baseline < 0 || c.SetupTimeout <= 0 || c.DialConcurrency < 1:
		return errors.New("duration, setup timeout and dial concurrency must be positive, warmup and baseline not negative")
	}
	return nil
}

// RunIdle samples the empty server, connects everyone, waits for the
// warm-up and samples the server over the window.
func RunIdle(ctx context.Context, cfg IdleConfig) (*IdleSummary, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	logf := lineLogger(cfg.Log)
	sum := &IdleSummary{Connections: cfg.Channels * cfg.PerChannel, Channels: cfg.Channels}
	empty0, err := readProc(cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, cfg.Baseline); err != nil {
		return nil, err
	}
	empty1, err := readProc(cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	if cfg.Baseline > 0 {
		sum.EmptyCPUPercent = 100 * cpuSeconds(empty1.cpuTicks-empty0.cpuTicks) / cfg.Baseline.Seconds()
	}
	sum.RSSEmptyKiB = empty1.rssKiB

	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true})
	if err != nil {
		return nil, err
	}
	clients := make([]*client.Client, sum.Connections)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	setupCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	err = forEach(setupCtx, len(clients), cfg.DialConcurrency, func(ctx context.Context, i int) error {
		c, err := client.Dial(ctx, client.Config{
			URL: cfg.URL, ChannelID: fmt.Sprintf("%s-%d", cfg.ChannelPrefix, i%cfg.Channels),
			Role: client.RoleRecvonly, API: api,
		})
		clients[i] = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	logf("idle: %d connections in %d channels connected", sum.Connections, cfg.Channels)
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}
	start := time.Now()
	s0, err := readProc(cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	s1, err := readProc(cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	window := time.Since(start).Seconds()
	for _, c := range clients {
		select {
		case <-c.Done():
			sum.Disconnected++
		default:
		}
	}
	sum.WindowSeconds = window
	sum.CPUPercent = 100 * cpuSeconds(s1.cpuTicks-s0.cpuTicks) / window
	sum.CPUMicrosPerConnSecond = (sum.CPUPercent - sum.EmptyCPUPercent) / 100 * 1e6 / float64(sum.Connections)
	sum.RSSKiB = s1.rssKiB
	sum.RSSPerConnKiB = (float64(s1.rssKiB) - float64(sum.RSSEmptyKiB)) / float64(sum.Connections)
	sum.VoluntarySwitches = s1.volSwitches - s0.volSwitches
	return sum, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WriteText prints the summary.
func (s *IdleSummary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "idle: %d recvonly connections in %d channel(s), nothing published, %.1f s window\n",
		s.Connections, s.Channels, s.WindowSeconds)
	fmt.Fprintf(w, "server CPU %.2f %% of a core (empty server %.2f %%): %.1f us of CPU per connection per second\n",
		s.CPUPercent, s.EmptyCPUPercent, s.CPUMicrosPerConnSecond)
	fmt.Fprintf(w, "server RSS %d KiB (empty %d KiB): %.0f KiB per connection; %d voluntary context switches in the window; %d connections ended early\n",
		s.RSSKiB, s.RSSEmptyKiB, s.RSSPerConnKiB, s.VoluntarySwitches, s.Disconnected)
}
