package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/datachannel"
)

// MessagingConfig is one messaging run (-mode messaging): Senders
// sendonly and Receivers recvonly messaging clients (no audio, no video,
// DataChannel signaling) in one channel; each sender sends Rate messages
// per second of Size bytes on label "#load" for Duration, and every
// receiver gets every sender's messages.
type MessagingConfig struct {
	URL, ChannelID     string
	Senders, Receivers int
	Rate               float64 // messages per second per sender
	Size               int     // bytes per message, at least messageHeaderSize
	Duration           time.Duration
	// Drain bounds the wait for messages in flight after the senders
	// stopped.
	Drain           time.Duration
	SetupTimeout    time.Duration
	DialConcurrency int
	Log             io.Writer
}

// MessagingSummary is the outcome of a messaging run.
type MessagingSummary struct {
	Senders, Receivers int
	RatePerSender      float64
	Sent               uint64
	// Expected is Sent times Receivers; Received counts distinct
	// messages received, Lost the difference.
	Expected, Received, Lost uint64
	LossPercent              float64
	Duplicates               uint64
	DeliveriesPerSecond      float64
	// One-way latency, send call to the receiver's callback (same
	// process and clock).
	LatencyP50Micros, LatencyP99Micros, LatencyMaxMicros float64
	WindowSeconds                                        float64
}

// messageHeaderSize is what each message starts with: sender index
// (uint32), sequence number (uint64), send time (monotonic ns, int64).
const messageHeaderSize = 20

const messagingLabel = "#load"

// msgReceiver counts one receiver's messages; its callbacks run on one
// goroutine (the client's dispatcher), the summary reads it under mu.
type msgReceiver struct {
	mu       sync.Mutex
	last     []uint64 // per sender: highest sequence number + 1
	received uint64
	dups     uint64
	lat      histogram
}

func (r *msgReceiver) onMessage(_ string, b []byte) {
	now := monoNow()
	if len(b) < messageHeaderSize {
		return
	}
	s := binary.BigEndian.Uint32(b)
	seq := binary.BigEndian.Uint64(b[4:])
	sent := int64(binary.BigEndian.Uint64(b[12:]))
	r.mu.Lock()
	defer r.mu.Unlock()
	if int(s) >= len(r.last) {
		return
	}
	if seq < r.last[s] {
		r.dups++ // the label is ordered: anything not new is a duplicate
		return
	}
	r.last[s] = seq + 1
	r.received++
	r.lat.add(uint64(max(now-sent, 0)))
}

func (c *MessagingConfig) validate() error {
	lc := DefaultConfig() // valid but for the URL, which it checks
	lc.URL = c.URL
	if err := lc.validate(); err != nil {
		return err
	}
	switch {
	case c.Duration <= 0 || c.Drain < 0 || c.SetupTimeout <= 0 || c.DialConcurrency < 1:
		return errors.New("duration, setup timeout and dial concurrency must be positive, drain not negative")
	case c.Senders < 1 || c.Receivers < 1 || c.Senders+c.Receivers > 10000:
		return errors.New("need 1 to 10000 clients, at least one sender and one receiver")
	case c.Rate <= 0 || c.Rate > 10000:
		return errors.New("rate must be in (0, 10000] messages/s per sender")
	case c.Size < messageHeaderSize || c.Size > 64<<10:
		return fmt.Errorf("message size must be %d to 65536 bytes", messageHeaderSize)
	}
	return nil
}

// RunMessaging connects everyone, sends for the duration, waits for the
// messages in flight and summarises.
func RunMessaging(ctx context.Context, cfg MessagingConfig) (*MessagingSummary, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	logf := lineLogger(cfg.Log)
	dial := func(ctx context.Context, dir datachannel.Direction, on func(string, []byte)) (*client.Client, error) {
		c, err := client.Dial(ctx, client.Config{
			URL: cfg.URL, ChannelID: cfg.ChannelID, Role: client.RoleSendonly,
			Audio: client.Bool(false), Video: client.Bool(false),
			DataChannelSignaling: true, IgnoreDisconnectWebSocket: true,
			DataChannels:         []client.DataChannel{{Label: messagingLabel, Direction: dir}},
			OnDataChannelMessage: on,
		})
		if err == nil {
			if err = c.WaitSwitched(ctx); err != nil {
				c.Close()
			}
		}
		return c, err
	}
	recv := make([]*msgReceiver, cfg.Receivers)
	clients := make([]*client.Client, cfg.Senders+cfg.Receivers)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	setupCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	err := forEach(setupCtx, len(clients), cfg.DialConcurrency, func(ctx context.Context, i int) error {
		var on func(string, []byte)
		dir := datachannel.SendOnly
		if i >= cfg.Senders {
			r := &msgReceiver{last: make([]uint64, cfg.Senders)}
			recv[i-cfg.Senders], on, dir = r, r.onMessage, datachannel.RecvOnly
		}
		c, err := dial(ctx, dir, on)
		clients[i] = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	logf("messaging: %d senders and %d receivers connected", cfg.Senders, cfg.Receivers)

	sent := make([]uint64, cfg.Senders)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[i] = sendMessages(ctx, clients[i], uint32(i), cfg)
		}()
	}
	wg.Wait()
	window := time.Since(start)

	sum := &MessagingSummary{Senders: cfg.Senders, Receivers: cfg.Receivers, RatePerSender: cfg.Rate}
	for _, n := range sent {
		sum.Sent += n
	}
	sum.Expected = sum.Sent * uint64(cfg.Receivers)
	received := func() uint64 {
		var n uint64
		for _, r := range recv {
			r.mu.Lock()
			n += r.received
			r.mu.Unlock()
		}
		return n
	}
	// Drain: poll until everything arrived or the drain time is up.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(cfg.Drain)
drain:
	for received() < sum.Expected {
		select {
		case <-tick.C:
		case <-deadline:
			break drain
		case <-ctx.Done():
			break drain
		}
	}
	var lat histogram
	for _, r := range recv {
		r.mu.Lock()
		sum.Received += r.received
		sum.Duplicates += r.dups
		lat.merge(&r.lat)
		r.mu.Unlock()
	}
	sum.Lost = sum.Expected - min(sum.Received, sum.Expected)
	if sum.Expected > 0 {
		sum.LossPercent = 100 * float64(sum.Lost) / float64(sum.Expected)
	}
	sum.WindowSeconds = window.Seconds()
	sum.DeliveriesPerSecond = float64(sum.Received) / window.Seconds()
	sum.LatencyP50Micros = float64(lat.quantile(0.5)) / 1e3
	sum.LatencyP99Micros = float64(lat.quantile(0.99)) / 1e3
	sum.LatencyMaxMicros = float64(lat.max) / 1e3
	return sum, nil
}

// sendMessages sends at cfg.Rate for cfg.Duration and returns how many
// it sent.
func sendMessages(ctx context.Context, c *client.Client, idx uint32, cfg MessagingConfig) uint64 {
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
	defer tick.Stop()
	end := time.After(cfg.Duration)
	msg := make([]byte, cfg.Size)
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return seq
		case <-end:
			return seq
		case <-tick.C:
		}
		binary.BigEndian.PutUint32(msg, idx)
		binary.BigEndian.PutUint64(msg[4:], seq)
		binary.BigEndian.PutUint64(msg[12:], uint64(monoNow()))
		if err := c.SendMessage(messagingLabel, msg); err != nil {
			return seq
		}
		seq++
	}
}

// WriteText prints the summary.
func (s *MessagingSummary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "messaging: %d senders x %.0f msg/s -> %d receivers, %.1f s\n", s.Senders, s.RatePerSender, s.Receivers, s.WindowSeconds)
	fmt.Fprintf(w, "sent %d, deliveries expected %d, received %d, lost %d (%.3f %%), duplicates %d\n",
		s.Sent, s.Expected, s.Received, s.Lost, s.LossPercent, s.Duplicates)
	fmt.Fprintf(w, "deliveries/s %.0f; latency p50 %.0f us, p99 %.0f us, max %.0f us\n",
		s.DeliveriesPerSecond, s.LatencyP50Micros, s.LatencyP99Micros, s.LatencyMaxMicros)
}

// lineLogger returns a printf that writes one line to w, or nothing when
// w is nil.
func lineLogger(w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) {
		if w != nil {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
}
