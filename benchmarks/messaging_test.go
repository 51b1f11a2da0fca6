package benchmarks

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/datachannel"
	"github.com/gosfu/sfu/internal/sfutest"
)

// BenchmarkMessaging sends one "#" message at a time from a messaging
// client to N receivers through a real engine: pion DataChannels over
// SCTP, DTLS and UDP on 127.0.0.1, every client in this process. Each
// iteration waits until all N got the message. It reports the time and
// the heap allocations per delivered message; both count the whole
// process (the sender's and receivers' pion stacks too), so N=1 is the
// baseline that shows what the fan-out costs per extra receiver.
func BenchmarkMessaging(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("receivers=%d", n), func(b *testing.B) { benchMessaging(b, n) })
	}
}

func benchMessaging(b *testing.B, receivers int) {
	_, url := sfutest.NewSignalingServer(b, sfu.Options{DataChannels: sfu.DataChannelOptions{
		Limits: datachannel.Limits{MessagesPerSecond: 1e9, Burst: 1 << 30},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var got atomic.Int64
	arrived := make(chan struct{}, 1)
	target := atomic.Int64{}
	onMessage := func(string, []byte) {
		if got.Add(1) == target.Load() {
			arrived <- struct{}{}
		}
	}
	dialMessaging := func(dir string, on func(string, []byte)) (*client.Client, error) {
		c, err := client.Dial(ctx, client.Config{
			URL: url, ChannelID: "bench", Role: client.RoleSendonly,
			Audio: client.Bool(false), Video: client.Bool(false), DataChannelSignaling: true,
			IgnoreDisconnectWebSocket: true,
			DataChannels:              []client.DataChannel{{Label: "#m", Direction: datachannel.Direction(dir)}},
			OnDataChannelMessage:      on,
		})
		if err == nil {
			err = c.WaitSwitched(ctx)
		}
		return c, err
	}
	var mu sync.Mutex
	var clients []*client.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10) // connect in small batches
	for range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := dialMessaging("recvonly", onMessage)
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				clients = append(clients, c)
			}
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	sender, err := dialMessaging("sendonly", nil)
	if err != nil {
		b.Fatal(err)
	}
	clients = append(clients, sender)
	msg := make([]byte, 100)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		target.Store(int64(i+1) * int64(receivers))
		if err := sender.SendMessage("#m", msg); err != nil {
			b.Fatal(err)
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			b.Fatalf("message %d: %d of %d deliveries", i, got.Load(), target.Load())
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	deliveries := float64(b.N * receivers)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/deliveries, "allocs/delivery")
}
