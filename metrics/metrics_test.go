package metrics_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
	"github.com/gosfu/sfu/metrics"
	"github.com/gosfu/sfu/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape GETs the metrics and returns them by name, and the raw text.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams, raw
}

// value returns the value of the sample of name whose labels include
// labels (name/value pairs); -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestMetricsFollowForwarding forwards a publisher to two subscribers and
// checks that /metrics counts what they really received.
func TestMetricsFollowForwarding(t *testing.T) {
	engine, url := sfutest.NewSignalingServer(t, sfu.Options{})
	m := metrics.New(engine)
	msrv := httptest.NewServer(m.Handler())
	t.Cleanup(msrv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	video, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "pub")
	audio, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "pub")
	var subs []*client.Client
	for range 2 {
		s, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "recvonly"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		subs = append(subs, s)
	}
	pub, err := client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "sendonly", VideoCodecType: "VP8",
		Tracks: []webrtc.TrackLocal{audio, video}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	var p sfutest.Pacer
	var written atomic.Uint64
	p.Run(t, 5*time.Millisecond, func(n uint32) {
		// Every video packet is a VP8 key frame (P bit clear).
		vp := make([]byte, 300)
		vp[0], vp[1] = 0x10, 0x00
		binary.BigEndian.PutUint32(vp[2:], n)
		if video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 3000, Marker: true}, Payload: vp}) == nil {
			written.Add(1)
		}
		if audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 960}, Payload: make([]byte, 60)}) == nil {
			written.Add(1)
		}
	})
	received := func() (n uint64) {
		for _, s := range subs {
			for _, tr := range s.RemoteTracks() {
				n += tr.Packets()
			}
		}
		return n
	}
	sfutest.Eventually(t, ctx, "subscribers receive 100 packets", func() bool { return received() >= 100 })
	p.Halt()

	// Once the last packets have arrived, what the engine counts is what
	// the publisher sent and the subscribers got.
	var fams map[string]*dto.MetricFamily
	sfutest.Eventually(t, ctx, "counters settle", func() bool {
		fams, _ = scrape(t, msrv.URL)
		sent := value(fams, "sfu_rtp_sent_packets_total") + value(fams, "sfu_rtp_retransmitted_packets_total")
		return sent == float64(received()) && value(fams, "sfu_rtp_received_packets_total") == float64(written.Load())
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sfu_connections", []string{"role", "recvonly"}, 2},
		{"sfu_connections", []string{"role", "sendonly"}, 1},
		{"sfu_connections", []string{"role", "sendrecv"}, 0},
		{"sfu_channels", nil, 1},
		{"sfu_connects_total", []string{"outcome", "accepted"}, 3},
		{"sfu_connections_connected_total", nil, 3},
		{"sfu_connection_setup_seconds", nil, 3}, // samples
	} {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(fams, "sfu_rtp_sent_bytes_total"); got <= 0 {
		t.Errorf("sfu_rtp_sent_bytes_total = %v", got)
	}
	if got := value(fams, "sfu_keyframes_received_total"); got <= 0 {
		t.Errorf("sfu_keyframes_received_total = %v", got)
	}
	if value(fams, "go_goroutines") <= 0 || value(fams, "process_start_time_seconds") <= 0 {
		t.Error("no Go runtime or process metrics")
	}

	// A refused connect and a closed connection are counted by cause.
	_, err = client.Dial(ctx, client.Config{URL: url, ChannelID: "room", Role: "nonsense"})
	if err == nil {
		t.Fatal("connect with role nonsense accepted")
	}
	if err := pub.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	sfutest.Eventually(t, ctx, "the publisher's close is counted", func() bool {
		fams, _ = scrape(t, msrv.URL)
		return value(fams, "sfu_connections_closed_total", "code", "1000", "reason", "NO-ERROR") == 1
	})
	if got := value(fams, "sfu_connects_total", "outcome", "invalid"); got != 1 {
		t.Errorf("connects refused as invalid = %v, want 1", got)
	}
}

// TestMetricsLint runs promlint over the collector and over what the
// handler serves.
func TestMetricsLint(t *testing.T) {
	engine := sfutest.NewEngine(t, sfu.Options{})
	m := metrics.New(engine)
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	_, raw := scrape(t, srv.URL)
	problems, err = promlint.New(bytes.NewReader(raw)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint /metrics: %s: %s", p.Metric, p.Text)
	}
}

// TestRefusalOutcomes: the engine's refusals map to the outcome label.
func TestRefusalOutcomes(t *testing.T) {
	engine := sfutest.NewEngine(t, sfu.Options{Authenticate: func(ctx context.Context, req *sfu.ConnectRequest) (sfu.Decision, error) {
		switch req.ClientID {
		case "deny":
			return sfu.Decision{Reason: "NO"}, nil
		case "fail":
			return sfu.Decision{}, errors.New("auth backend down")
		}
		return sfu.Decision{Allow: true}, nil
	}})
	m := metrics.New(engine)
	ctx := context.Background()
	for _, id := range []string{"deny", "fail"} {
		if _, _, err := engine.Connect(ctx, sfu.ConnectRequest{ChannelID: "c", Role: sfu.RoleRecvOnly, ClientID: id}); err == nil {
			t.Fatalf("%s: accepted", id)
		}
	}
	if _, _, err := engine.Connect(ctx, sfu.ConnectRequest{Role: sfu.RoleRecvOnly}); err == nil {
		t.Fatal("no channel id: accepted")
	}
	if err := engine.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := engine.Connect(ctx, sfu.ConnectRequest{ChannelID: "c", Role: sfu.RoleRecvOnly}); !errors.Is(err, sfu.ErrDraining) {
		t.Fatalf("connect while draining: %v", err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams, _ := scrape(t, srv.URL)
	for outcome, want := range map[string]float64{"denied": 1, "auth_failed": 1, "invalid": 1, "draining": 1, "accepted": 0, "limit": 0} {
		if got := value(fams, "sfu_connects_total", "outcome", outcome); got != want {
			t.Errorf("connects %s = %v, want %v", outcome, got, want)
		}
	}
	if got := value(fams, "sfu_webhooks_total", "webhook", "auth", "outcome", "failed"); got != 1 {
		t.Errorf("auth failed = %v, want 1", got)
	}
}

// TestSignalingLimitMetrics: a WebSocket refused by the socket cap shows
// in sfu_signaling_refused_total and the open ones in sfu_signaling_sockets.
func TestSignalingLimitMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	engine := sfutest.NewEngine(t, sfu.Options{})
	m := metrics.New(engine)
	h := signaling.NewHandler(engine, signaling.WithMaxSockets(1), signaling.WithConnectTimeout(5*time.Second))
	m.AddSignaling(h)
	sig := httptest.NewServer(h)
	defer sig.Close()
	url := "ws" + strings.TrimPrefix(sig.URL, "http")

	open, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer open.CloseNow()
	refused, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer refused.CloseNow()
	_, _, err = refused.Read(ctx)
	if ce := (websocket.CloseError{}); !errors.As(err, &ce) || ce.Reason != signaling.ReasonTooManySockets {
		t.Fatalf("second socket: %v, want closed with %s", err, signaling.ReasonTooManySockets)
	}

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams, _ := scrape(t, srv.URL)
	for _, c := range []struct {
		name, limit string
		want        float64
	}{
		{"sfu_signaling_sockets", "", 1},
		{"sfu_signaling_refused_total", "max_sockets", 1},
		{"sfu_signaling_refused_total", "connect_rate", 0},
		{"sfu_signaling_refused_total", "message_rate", 0},
	} {
		var labels []string
		if c.limit != "" {
			labels = []string{"limit", c.limit}
		}
		if got := value(fams, c.name, labels...); got != c.want {
			t.Errorf("%s %s = %v, want %v", c.name, c.limit, got, c.want)
		}
	}
}
