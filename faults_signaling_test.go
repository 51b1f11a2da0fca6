package sfu_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

// pushLog records the pushes a client received: the index each carries
// and, for the healthy client, how long each took.
type pushLog struct {
	mu    sync.Mutex
	n     int
	sent  []time.Time
	took  []time.Duration
	moved chan struct{}
}

func newPushLog() *pushLog { return &pushLog{moved: make(chan struct{}, 1)} }

func (l *pushLog) onPush(data json.RawMessage) {
	var m struct{ I int }
	if json.Unmarshal(data, &m) != nil {
		return
	}
	l.mu.Lock()
	l.n++
	if m.I < len(l.sent) {
		l.took = append(l.took, time.Since(l.sent[m.I]))
	}
	l.mu.Unlock()
	select {
	case l.moved <- struct{}{}:
	default:
	}
}

func (l *pushLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// TestStalledWebSocketDoesNotDelayOthers: one client stops reading its
// WebSocket while the channel gets a stream of pushes. Push never waits
// for it; the healthy client gets every push as fast as when both read;
// the stalled one is closed with EVENT-QUEUE-FULL once the kernel's
// buffers and its queue are full.
func TestStalledWebSocketDoesNotDelayOthers(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ends := watchEndings(ts.engine)
	ctx := testContext(t, 60*time.Second)

	// 600 pushes of 64 KiB: more than loopback's socket buffers and the
	// 256-event queue hold. At most window are in flight to a reading
	// client, so a reader is never the one that falls behind.
	const pushes, window = 600, 32
	pad := strings.Repeat("x", 64<<10)
	healthy, other := newPushLog(), newPushLog()
	h := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "w", Role: "recvonly", OnPush: healthy.onPush})
	tcp := &sfutest.FaultyTCP{}
	stalled := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "w", Role: "recvonly", HTTPClient: tcp.HTTPClient(), OnPush: other.onPush})
	waitCreated(t, ctx, h, stalled.ConnectionID())

	// stream pushes to the channel, keeping within window of the readers
	// given, and returns the healthy client's latencies, sorted.
	stream := func(readers ...*pushLog) []time.Duration {
		base := make([]int, len(readers))
		for i, r := range readers {
			base[i] = r.count()
		}
		healthy.mu.Lock()
		healthy.sent, healthy.took = make([]time.Time, pushes), nil
		healthy.mu.Unlock()
		for i := range pushes {
			for j, r := range readers {
				for r.count()-base[j] < i-window {
					select {
					case <-r.moved:
					case <-ctx.Done():
						t.Fatalf("push %d: a reading client got %d", i, r.count()-base[j])
					}
				}
			}
			healthy.mu.Lock()
			healthy.sent[i] = time.Now()
			healthy.mu.Unlock()
			data, _ := json.Marshal(map[string]any{"I": i, "pad": pad})
			if err := ts.engine.Channel("w").Push(ctx, data); err != nil {
				t.Fatal(err)
			}
		}
		sfutest.Eventually(t, ctx, "every push at the healthy client", func() bool { return healthy.count()-base[0] == pushes })
		healthy.mu.Lock()
		defer healthy.mu.Unlock()
		d := slices.Clone(healthy.took)
		slices.Sort(d)
		return d
	}
	both := stream(healthy, other)
	tcp.Stall()
	during := stream(healthy)
	if r := ends.wait(t, ctx, stalled.ConnectionID()); r != sfu.ReasonSlowConsumer {
		t.Errorf("stalled client closed with %v, want %v", r, sfu.ReasonSlowConsumer)
	}
	t.Logf("healthy client, %d pushes of 64 KiB: both reading p50 %v p99 %v; one stalled p50 %v p99 %v",
		pushes, quantile(both, .5), quantile(both, .99), quantile(during, .5), quantile(during, .99))
	// Waiting on the stalled client would hold pushes for seconds; the
	// same stream costs the healthy one no more than when both read.
	if limit := 2*quantile(both, .99) + 250*time.Millisecond; quantile(during, .99) > limit {
		t.Errorf("healthy client's p99 push latency %v with one client stalled, over %v", quantile(during, .99), limit)
	}
}
