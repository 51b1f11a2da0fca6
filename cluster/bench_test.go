package cluster

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Latency benchmarks of a three-node cluster on loopback; each reports
// p50 and p99 of its b.N operations. docs/performance.md has the figures:
//
//	unshare -n bash -c 'ip link set lo up && go test -run XXX -bench . -benchtime 1000x ./cluster/'

// reportPercentiles reports p50 and p99 of d in milliseconds.
func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	at := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / 1e6 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkConnect: WebSocket dial to offer, for a channel on node A,
// asked of A (direct) or of B (a redirect, then A); new-channel asks A
// for a channel nobody owns (a claim in the replicated bucket).
func BenchmarkConnect(b *testing.B) {
	for _, tc := range []struct{ name, via string }{{"direct", "A"}, {"redirected", "B"}, {"new-channel", "A"}} {
		b.Run(tc.name, func(b *testing.B) {
			nodes := newCluster(b, 3, nil)
			ctx := context.Background()
			holder, _, err := rawConnect(ctx, nodes[0].sigURL, "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer holder.CloseNow()
			url := nodes[0].sigURL
			if tc.via == "B" {
				url = nodes[1].sigURL
			}
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				ch := "bench"
				if tc.name == "new-channel" {
					ch = "bench-" + strconv.Itoa(i)
				}
				start := time.Now()
				ws, served, err := rawConnect(ctx, url, ch)
				if err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
				ws.CloseNow()
				if served != nodes[0].sigURL {
					b.Fatalf("served by %s", served)
				}
			}
			b.StopTimer()
			reportPercentiles(b, d)
		})
	}
}

// BenchmarkAPI: ListChannelConnections for a channel on node A, called
// on A (local) or on B (routed to A over NATS request/reply).
func BenchmarkAPI(b *testing.B) {
	for _, tc := range []struct{ name string }{{"local"}, {"routed"}} {
		b.Run(tc.name, func(b *testing.B) {
			nodes := newCluster(b, 3, nil)
			holder, _, err := rawConnect(context.Background(), nodes[0].sigURL, "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer holder.CloseNow()
			tn := nodes[0]
			if tc.name == "routed" {
				tn = nodes[1]
			}
			hc := tn.srv.Client()
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				req, _ := http.NewRequest(http.MethodPost, tn.apiURL, strings.NewReader(`{"channel_id":"bench"}`))
				req.Header.Set("x-sora-target", "Sora_20201013.ListChannelConnections")
				start := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var buf [4096]byte
				n, _ := resp.Body.Read(buf[:])
				resp.Body.Close()
				d = append(d, time.Since(start))
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(buf[:n]), "connection_id") {
					b.Fatalf("%d %s", resp.StatusCode, buf[:n])
				}
			}
			b.StopTimer()
			reportPercentiles(b, d)
		})
	}
}
