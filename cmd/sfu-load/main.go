package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sfu-load:", err)
		os.Exit(1)
	}
}

// modes holds the configuration of the mode the command line chose:
// media (neither set), messaging or idle.
type modes struct {
	messaging *MessagingConfig
	idle      *IdleConfig
}

// parseFlags turns the command line into a Config, the configuration of
// another mode (-mode messaging or idle) and the -json switch.
func parseFlags(args []string, stderr io.Writer) (Config, modes, bool, error) {
	c := DefaultConfig()
	m := MessagingConfig{Senders: 1, Receivers: 10, Rate: 10, Size: 100, Drain: 5 * time.Second}
	idleBaseline := 5 * time.Second
	var asJSON bool
	var mode string
	fs := flag.NewFlagSet("sfu-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", c.URL, "signaling URL (host must be loopback)")
	fs.IntVar(&c.Channels, "channels", c.Channels, "number of channels")
	fs.IntVar(&c.Publishers, "publishers", c.Publishers, "publishers per channel")
	fs.IntVar(&c.Subscribers, "subscribers", c.Subscribers, "subscribers per channel")
	fs.IntVar(&c.VideoKbps, "video-bitrate", c.VideoKbps, "VP8 bitrate per publisher in kbps (0: no video)")
	fs.IntVar(&c.FPS, "fps", c.FPS, "video frames per second")
	fs.DurationVar(&c.KeyFrameInterval, "keyframe-interval", c.KeyFrameInterval, "periodic key frame interval (also on PLI/FIR)")
	fs.BoolVar(&c.Audio, "audio", c.Audio, "also publish Opus (50 packets/s, 100 bytes)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "measured window, after the warm-up")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "warm-up after everyone is connected")
	fs.DurationVar(&c.Progress, "progress", c.Progress, "progress line interval on stderr (0: none)")
	fs.DurationVar(&c.SetupTimeout, "setup-timeout", c.SetupTimeout, "bound on connecting all clients")
	fs.IntVar(&c.ServerPID, "server-pid", c.ServerPID, "pid of the server, for its CPU time from /proc (0: none)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed for packet sizes, phases and initial sequence numbers")
	fs.StringVar(&c.ChannelPrefix, "channel-prefix", c.ChannelPrefix, "channel ids are <prefix>-<n>")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", c.DialConcurrency, "connections set up at a time")
	fs.StringVar(&c.SRTPProfile, "srtp", c.SRTPProfile, "SRTP profile: gcm128 (forced AEAD_AES_128_GCM) or default")
	fs.BoolVar(&c.GRO, "gro", c.GRO, "subscribers read with UDP GRO: a GSO message the server sends arrives whole instead of being segmented on loopback's receive path (inside the server's send call)")
	fs.BoolVar(&c.Feedback, "feedback", c.Feedback, "subscribers send receiver reports, NACKs for gaps and transport-cc feedback, as browsers do (-feedback=false: none)")
	fs.BoolVar(&c.AllToAll, "all-to-all", false, "media: publishers are sendrecv and also receive each other, as in a meeting")
	fs.IntVar(&c.Churn.Clients, "churn", 0, "media: churn soak: this many clients at a time join and leave at random during the window (0: none)")
	fs.IntVar(&c.Churn.Channels, "churn-channels", c.Churn.Channels, "churn: channels of their own the churn clients also join")
	fs.DurationVar(&c.Churn.Hold, "churn-hold", c.Churn.Hold, "churn: longest stay of a churn client")
	fs.StringVar(&c.Churn.APIURL, "api-url", "", "churn: the server's management API, for GetStatsReport (e.g. http://127.0.0.1:3000/)")
	fs.StringVar(&c.Churn.DebugURL, "debug-url", "", "churn: the server's -debug-listen, for its goroutines and heap after GC (/debug/memstats; e.g. http://127.0.0.1:6060)")
	fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	fs.StringVar(&mode, "mode", "media", "media (publishers and subscribers), messaging (DataChannel messages on #load) or idle (-channels x -subscribers connections that send nothing; needs -server-pid)")
	fs.IntVar(&m.Senders, "senders", m.Senders, "messaging: sending clients")
	fs.IntVar(&m.Receivers, "receivers", m.Receivers, "messaging: receiving clients")
	fs.Float64Var(&m.Rate, "rate", m.Rate, "messaging: messages per second per sender")
	fs.IntVar(&m.Size, "message-size", m.Size, "messaging: bytes per message")
	fs.DurationVar(&idleBaseline, "idle-baseline", idleBaseline, "idle: window sampled before connecting (the empty server's CPU)")
	if err := fs.Parse(args); err != nil {
		return c, modes{}, false, err
	}
	if fs.NArg() > 0 {
		return c, modes{}, false, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	switch mode {
	case "media":
		return c, modes{}, asJSON, nil
	case "messaging":
		m.URL, m.ChannelID, m.Duration = c.URL, c.ChannelPrefix+"-messaging", c.Duration
		m.SetupTimeout, m.DialConcurrency = c.SetupTimeout, c.DialConcurrency
		return c, modes{messaging: &m}, asJSON, nil
	case "idle":
		return c, modes{idle: &IdleConfig{
			URL: c.URL, ChannelPrefix: c.ChannelPrefix + "-idle", Channels: c.Channels, PerChannel: c.Subscribers,
			Baseline: idleBaseline, Warmup: c.Warmup, Duration: c.Duration, ServerPID: c.ServerPID,
			SetupTimeout: c.SetupTimeout, DialConcurrency: c.DialConcurrency,
		}}, asJSON, nil
	}
	return c, modes{}, false, fmt.Errorf("-mode %q is not media, messaging or idle", mode)
}

// summary is the outcome of a run of any mode.
type summary interface {
	WriteText(io.Writer)
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg, mode, asJSON, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg.Log = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var sum summary
	switch {
	case mode.messaging != nil:
		mode.messaging.Log = stderr
		sum, err = RunMessaging(ctx, *mode.messaging)
	case mode.idle != nil:
		mode.idle.Log = stderr
		sum, err = RunIdle(ctx, *mode.idle)
	default:
		sum, err = Run(ctx, cfg)
	}
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		sum.WriteText(stdout)
	}
	if s, ok := sum.(*Summary); ok && s.Churn != nil && len(s.Churn.Problems) > 0 {
		return fmt.Errorf("churn soak failed: %q", s.Churn.Problems)
	}
	return nil
}
