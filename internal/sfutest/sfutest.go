// Package sfutest has what the project's tests share to run an engine:
// ICE restricted to 127.0.0.1, and cleanup when the test ends. Only tests
// import it; it sits above the root package and signaling, as an
// embedder would.
package sfutest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/signaling"
)

// LoopbackOptions restricts an engine's ICE to 127.0.0.1 (the interface
// "lo", loopback candidates included), so test traffic never leaves the
// machine. With SFU_TEST_LOG set, the engine logs to stderr.
func LoopbackOptions(o sfu.Options) sfu.Options {
	o.UDPAddr = "127.0.0.1:0"
	o.IncludeLoopback = true
	o.InterfaceFilter = func(name string) bool { return name == "lo" }
	if os.Getenv("SFU_TEST_LOG") != "" {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o
}

// NewEngine returns an engine on loopback that is closed, and checked to
// close in time, when the test ends.
func NewEngine(t testing.TB, o sfu.Options) *sfu.Engine {
	t.Helper()
	engine, err := sfu.NewEngine(LoopbackOptions(o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := engine.Close(ctx); err != nil {
			t.Errorf("engine close: %v", err)
		}
	})
	return engine
}

// NewSignalingServer serves the signaling of a NewEngine engine over HTTP
// on 127.0.0.1 until the test ends. It returns the engine and the
// signaling's ws:// URL.
func NewSignalingServer(t testing.TB, o sfu.Options, opts ...signaling.Option) (*sfu.Engine, string) {
	t.Helper()
	engine := NewEngine(t, o)
	srv := httptest.NewServer(signaling.NewHandler(engine, opts...))
	t.Cleanup(srv.Close)
	return engine, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// Eventually checks cond every 10 ms until it holds, and fails the test
// if ctx ends first. For state that no event announces (counters, a
// server goroutine's cleanup); where there is an event, wait on it.
func Eventually(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: never happened", what)
		case <-tick.C:
		}
	}
}

// Dial connects a client with cfg and closes it when the test ends.
func Dial(t testing.TB, ctx context.Context, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial %s %s at %s: %v", cfg.Role, cfg.ChannelID, cfg.URL, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
