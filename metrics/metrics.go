package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/signaling"
)

const namespace = "sfu"

// maxCloseReasons bounds the close reasons given a label of their own;
// more are counted as "other" (an embedder may close connections with
// reasons of its own).
const maxCloseReasons = 64

// Connect outcomes other than accepted.
var refusals = []string{"invalid", "denied", "auth_failed", "limit", "draining", "error"}

// Metrics collects an engine's metrics. It is a prometheus.Collector and
// an sfu.Observer; New makes it observe the engine.
type Metrics struct {
	engine *sfu.Engine

	refused map[string]*atomic.Uint64 // by outcome; fixed at New
	setup   prometheus.Histogram

	closedMu sync.Mutex
	closed   map[closeKey]uint64

	signalingMu sync.Mutex
	signaling   []*signaling.Handler

	descs map[string]*prometheus.Desc
}

type closeKey struct {
	code   int
	reason string
}

// New returns the metrics of engine and makes them observe it. Call it
// before clients connect.
func New(engine *sfu.Engine) *Metrics {
	m := &Metrics{
		engine:  engine,
		refused: map[string]*atomic.Uint64{},
		closed:  map[closeKey]uint64{},
		setup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "connection_setup_seconds",
			Help:    "Time from connect to the connection's media connected.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30},
		}),
		descs: map[string]*prometheus.Desc{},
	}
	for _, o := range refusals {
		m.refused[o] = &atomic.Uint64{}
	}
	for _, d := range []struct {
		name, help string
		labels     []string
	}{
		{"connections", "Connections now, by role (those setting up included).", []string{"role"}},
		{"channels", "Channels now.", nil},
		{"connects_total", "Connect requests, by outcome.", []string{"outcome"}},
		{"connections_connected_total", "Connections whose media connected.", nil},
		{"connections_closed_total", "Ended connections, by close code and reason.", []string{"code", "reason"}},
		{"rtp_received_packets_total", "RTP packets received from publishers.", nil},
		{"rtp_received_bytes_total", "RTP payload bytes received from publishers.", nil},
		{"rtp_sent_packets_total", "RTP packets forwarded to subscribers, retransmissions excluded.", nil},
		{"rtp_sent_bytes_total", "RTP payload bytes forwarded to subscribers.", nil},
		{"rtp_retransmitted_packets_total", "RTP packets resent to subscribers to answer their NACKs.", nil},
		{"rtp_dropped_packets_total", "RTP packets dropped, by cause.", []string{"cause"}},
		{"rtcp_feedback_received_total", "RTCP feedback packets received from subscribers, by type.", []string{"type"}},
		{"keyframe_requests_sent_total", "Key-frame requests (PLI) sent to publishers.", nil},
		{"keyframes_received_total", "Key frames received from publishers.", nil},
		{"layer_switches_total", "Simulcast layer switches asked of subscribers' tracks.", nil},
		{"webhooks_total", "Webhook calls, by webhook and outcome.", []string{"webhook", "outcome"}},
		{"nacks_sent_total", "Generic NACK packets sent to publishers for packets they skipped.", nil},
		{"probe_bytes_total", "Bytes of probe traffic sent to subscribers by bandwidth allocation.", nil},
		{"bandwidth_pauses_total", "Videos paused to a subscriber whose downlink could not carry them.", nil},
		{"signaling_sockets", "Signaling WebSockets open now.", nil},
		{"signaling_refused_total", "Signaling WebSockets refused or closed by a limit, by limit.", []string{"limit"}},
	} {
		m.descs[d.name] = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", d.name), d.help, d.labels, nil)
	}
	engine.AddObserver(m)
	return m
}

// AddSignaling adds h's limit counters (signaling.Handler.Stats) to the
// metrics: sfu_signaling_sockets and sfu_signaling_refused_total. With
// several handlers, their counters are summed.
func (m *Metrics) AddSignaling(h *signaling.Handler) {
	m.signalingMu.Lock()
	m.signaling = append(m.signaling, h)
	m.signalingMu.Unlock()
}

// Handler serves the engine's metrics with the Go runtime and process
// collectors in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Observe implements sfu.Observer: it counts refusals and close reasons
// and times setups.
func (m *Metrics) Observe(ev sfu.LifecycleEvent) {
	switch ev.Kind {
	case sfu.ConnectRefused:
		m.refused[refusal(ev.Err)].Add(1)
	case sfu.ConnectionCreated:
		m.setup.Observe(ev.Setup.Seconds())
	case sfu.ConnectionDestroyed:
		k := closeKey{ev.Reason.Code, ev.Reason.Reason}
		m.closedMu.Lock()
		if _, ok := m.closed[k]; !ok && len(m.closed) >= maxCloseReasons {
			k.reason = "other"
		}
		m.closed[k]++
		m.closedMu.Unlock()
	}
}

// collectSignaling reports the signaling handlers' limit counters.
func (m *Metrics) collectSignaling(gauge, counter func(name string, v float64, labels ...string)) {
	var sum signaling.Stats
	m.signalingMu.Lock()
	for _, h := range m.signaling {
		st := h.Stats()
		sum.OpenSockets += st.OpenSockets
		sum.RejectedSockets += st.RejectedSockets
		sum.RejectedConnectRate += st.RejectedConnectRate
		sum.ClosedMessageRate += st.ClosedMessageRate
	}
	m.signalingMu.Unlock()
	gauge("signaling_sockets", float64(sum.OpenSockets))
	counter("signaling_refused_total", float64(sum.RejectedSockets), "max_sockets")
	counter("signaling_refused_total", float64(sum.RejectedConnectRate), "connect_rate")
	counter("signaling_refused_total", float64(sum.ClosedMessageRate), "message_rate")
}

func refusal(err error) string {
	var rej *sfu.RejectedError
	switch {
	case errors.Is(err, sfu.ErrDraining):
		return "draining"
	case errors.Is(err, sfu.ErrInvalidArgument):
		return "invalid"
	case errors.Is(err, sfu.ErrLimitExceeded):
		return "limit"
	case errors.As(err, &rej) && rej.Err != nil:
		return "auth_failed"
	case errors.Is(err, sfu.ErrRejected):
		return "denied"
	}
	return "error"
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
	m.setup.Describe(ch)
}

// Collect implements prometheus.Collector: it reads the engine's counters
// and connection list once per scrape.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.CounterValue, v, labels...)
	}
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.GaugeValue, v, labels...)
	}

	channels := m.engine.Channels()
	roles := map[sfu.Role]int{sfu.RoleSendRecv: 0, sfu.RoleSendOnly: 0, sfu.RoleRecvOnly: 0}
	for _, c := range channels {
		for _, conn := range c.Connections() {
			roles[conn.Role()]++
		}
	}
	for r, n := range roles {
		gauge("connections", float64(n), string(r))
	}
	gauge("channels", float64(len(channels)))

	s := m.engine.Stats()
	counter("connects_total", float64(s.ConnectionsCreated), "accepted")
	for o, n := range m.refused {
		counter("connects_total", float64(n.Load()), o)
	}
	counter("connections_connected_total", float64(s.ConnectionsSuccessful))
	m.closedMu.Lock()
	for k, n := range m.closed {
		counter("connections_closed_total", float64(n), strconv.Itoa(k.code), k.reason)
	}
	m.closedMu.Unlock()
	m.setup.Collect(ch)

	counter("rtp_received_packets_total", float64(s.ReceivedPackets))
	counter("rtp_received_bytes_total", float64(s.ReceivedBytes))
	counter("rtp_sent_packets_total", float64(s.SentPackets))
	counter("rtp_sent_bytes_total", float64(s.SentBytes))
	counter("rtp_retransmitted_packets_total", float64(s.Retransmits))
	counter("rtp_dropped_packets_total", float64(s.OpenRejects), "srtp_rejected")
	counter("rtp_dropped_packets_total", float64(s.SendDrops), "send_error")
	counter("rtcp_feedback_received_total", float64(s.PLIsReceived), "pli")
	counter("rtcp_feedback_received_total", float64(s.FIRsReceived), "fir")
	counter("rtcp_feedback_received_total", float64(s.NACKsReceived), "nack")
	counter("rtcp_feedback_received_total", float64(s.TransportCCsReceived), "transport-cc")
	counter("rtcp_feedback_received_total", float64(s.REMBsReceived), "remb")
	counter("keyframe_requests_sent_total", float64(s.KeyFrameRequests))
	counter("keyframes_received_total", float64(s.KeyFrames))
	counter("layer_switches_total", float64(s.LayerSwitches))
	counter("nacks_sent_total", float64(s.NACKsSent))
	counter("probe_bytes_total", float64(s.ProbeBytes))
	counter("bandwidth_pauses_total", float64(s.BandwidthPauses))
	m.collectSignaling(gauge, counter)

	for _, w := range []struct {
		webhook, outcome string
		n                int64
	}{
		{"auth", "allowed", s.AuthAllowed}, {"auth", "denied", s.AuthDenied}, {"auth", "failed", s.AuthFailed},
		{"event", "successful", s.EventWebhookSuccessful}, {"event", "failed", s.EventWebhookFailed},
		{"event", "ignored", s.EventWebhookIgnored},
		{"session", "successful", s.SessionWebhookSuccessful}, {"session", "failed", s.SessionWebhookFailed},
		{"session", "ignored", s.SessionWebhookIgnored},
	} {
		counter("webhooks_total", float64(w.n), w.webhook, w.outcome)
	}
}
