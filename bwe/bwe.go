package bwe

import (
	"time"
)

// Packet is one packet a transport-cc feedback reports on.
type Packet struct {
	// SentAt is when the engine sent it, on the engine's monotonic clock.
	SentAt time.Duration
	// Size is its size in bytes.
	Size int
	// Received is false for a packet the subscriber reports lost.
	Received bool
	// ArrivedAt is when the subscriber received it, on the subscriber's
	// clock (only differences matter).
	ArrivedAt time.Duration
}

// Config tunes an Estimator. Zero fields take the defaults.
type Config struct {
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Initial is the estimate before any feedback (default 1 Mbps).
	Initial int
	// Min and Max bound the estimate (defaults 50 kbps and 50 Mbps).
	Min, Max int
}

// Defaults for Config's zero fields and the estimator's thresholds.
const (
	DefaultInitial = 1_000_000
	DefaultMin     = 50_000
	DefaultMax     = 50_000_000

	// overuseDelay is the queuing delay taken as congestion, underuse
	// the one below which the estimate may grow.
	overuseDelay  = 50 * time.Millisecond
	underuseDelay = 15 * time.Millisecond
	// lossHigh cuts the estimate, lossLow lets it grow.
	lossHigh, lossLow = 0.10, 0.02
	// growth is the relative increase per second without congestion
	// (startGrowth before the first cut);
	// headroom bounds the estimate to this multiple of the acknowledged
	// rate, plus headroomAdd.
	growth      = 0.08
	startGrowth = 0.5
	headroom    = 1.5
	headroomAdd = 50_000
	// decrease is the share of the acknowledged rate a delay overuse cuts
	// the estimate to; cutGap is the least time between two cuts.
	decrease = 0.85
	cutGap   = 300 * time.Millisecond
	// ackWindow is the window of the acknowledged rate; baseWindow the
	// length of each of the two windows the lowest delay is taken over.
	ackWindow  = 500 * time.Millisecond
	baseWindow = 5 * time.Second
	// minBatchSpan is the least span of arrivals one feedback's own rate
	// is taken over.
	minBatchSpan = 20 * time.Millisecond
	// lossWindow is the span of feedback the loss fraction is taken over.
	lossWindow = time.Second
	// rembFresh is how long a REMB caps the estimate.
	rembFresh = 5 * time.Second
	// maxAcked bounds the acknowledged-packet history.
	maxAcked = 4096
)

// Estimator is one connection's downlink estimate.
type Estimator struct {
	cfg      Config
	estimate float64
	twcc     bool

	lastFeedback, lastCut time.Time
	queuing               time.Duration // last batch's mean queuing delay
	loss                  float64       // loss fraction over lossWindow
	losses                []lossSample  // the feedback within lossWindow
	batchRate             float64       // the last feedback's received rate, 0 if too short

	// base delay: the lowest of this window and the previous one.
	baseCur, basePrev time.Duration
	curHave, prevHave bool
	baseStart         time.Time

	acked []acked // received packets within ackWindow, by arrival

	remb   int
	rembAt time.Time
}

type acked struct {
	at   time.Duration
	size int
}

// New returns an Estimator with cfg's zero fields set to the defaults.
func New(cfg Config) *Estimator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Min <= 0 {
		cfg.Min = DefaultMin
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	if cfg.Initial <= 0 {
		cfg.Initial = DefaultInitial
	}
	cfg.Initial = min(max(cfg.Initial, cfg.Min), cfg.Max)
	return &Estimator{cfg: cfg, estimate: float64(cfg.Initial)}
}

// Estimate returns the estimated available bitrate in bits per second.
func (e *Estimator) Estimate() int {
	est := int(e.estimate)
	if e.remb > 0 && e.cfg.Now().Sub(e.rembAt) < rembFresh {
		if !e.twcc {
			return e.remb
		}
		est = min(est, e.remb)
	}
	return est
}

// Signals returns the last feedback's queuing delay and the loss
// fraction over the feedback of the last second.
func (e *Estimator) Signals() (queuing time.Duration, loss float64) {
	return e.queuing, e.loss
}

// OnREMB takes a receiver-estimated maximum bitrate.
func (e *Estimator) OnREMB(bps uint64) {
	e.remb = int(min(max(bps, uint64(e.cfg.Min)), uint64(e.cfg.Max)))
	e.rembAt = e.cfg.Now()
}
