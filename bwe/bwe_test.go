package bwe

import (
	"testing"
	"time"
)

// link is a simulated bottleneck: a FIFO drained at capacity bits per
// second (0: unlimited), tail-dropping what would queue over maxQueue.
type link struct {
	capacity  int
	prop      time.Duration
	maxQueue  time.Duration
	busyUntil time.Duration
}

func (l *link) send(at time.Duration, size int) (time.Duration, bool) {
	if l.capacity == 0 {
		return at + l.prop, true
	}
	start := max(at, l.busyUntil)
	if start-at > l.maxQueue {
		return 0, false
	}
	l.busyUntil = start + time.Duration(size*8)*time.Second/time.Duration(l.capacity)
	return l.busyUntil + l.prop, true
}

// sim sends media at min(estimate, demand) over a link, 1200-byte
// packets, and feeds the estimator transport-cc feedback every 100 ms.
type sim struct {
	t       *testing.T
	e       *Estimator
	link    *link
	demand  int
	probe   int // sent on top of the media, whatever the estimate
	now     time.Duration
	base    time.Time
	credit  float64
	pending []Packet
	sent    int
	lost    int
}

func newSim(t *testing.T, l *link, demand int) *sim {
	s := &sim{t: t, link: l, demand: demand, base: time.Unix(1_000_000, 0)}
	s.e = New(Config{Now: func() time.Time { return s.base.Add(s.now) }})
	return s
}

const tick = 5 * time.Millisecond

// run advances the simulation by d and returns the lowest and highest
// estimate seen meanwhile.
func (s *sim) run(d time.Duration) (lo, hi int) {
	lo = 1 << 62
	for end := s.now + d; s.now < end; s.now += tick {
		rate := min(s.e.Estimate(), s.demand) + s.probe
		s.credit += float64(rate) * tick.Seconds() / 8
		for ; s.credit >= 1200; s.credit -= 1200 {
			at, ok := s.link.send(s.now, 1200)
			s.pending = append(s.pending, Packet{SentAt: s.now, Size: 1200, Received: ok, ArrivedAt: at})
			s.sent++
			if !ok {
				s.lost++
			}
		}
		if s.now%(100*time.Millisecond) == 0 {
			s.feedback()
		}
		est := s.e.Estimate()
		lo, hi = min(lo, est), max(hi, est)
	}
	return lo, hi
}

// feedback reports the packets that have arrived, or were lost, by now.
func (s *sim) feedback() {
	n := 0
	for n < len(s.pending) && (!s.pending[n].Received || s.pending[n].ArrivedAt <= s.now) {
		n++
	}
	if n > 0 {
		s.e.OnFeedback(s.pending[:n])
		s.pending = append(s.pending[:0], s.pending[n:]...)
	}
}

func (s *sim) lossSince(sent, lost int) float64 {
	if s.sent == sent {
		return 0
	}
	return float64(s.lost-lost) / float64(s.sent-sent)
}

// TestSettlesOnBottleneck: a subscriber behind 500 kbps, sent what the
// estimate allows of 2 Mbps, settles near 500 kbps with little loss.
func TestSettlesOnBottleneck(t *testing.T) {
	s := newSim(t, &link{capacity: 500_000, prop: 20 * time.Millisecond, maxQueue: 300 * time.Millisecond}, 2_000_000)
	s.run(15 * time.Second)
	sent, lost := s.sent, s.lost
	lo, hi := s.run(10 * time.Second)
	loss := s.lossSince(sent, lost)
	t.Logf("last 10 s: estimate %d..%d bps, loss %.2f%%", lo, hi, 100*loss)
	if lo < 250_000 || hi > 700_000 {
		t.Errorf("estimate %d..%d bps behind a 500 kbps link, want within 250..700 kbps", lo, hi)
	}
	if loss > 0.02 {
		t.Errorf("loss %.2f%% once settled, want under 2%%", 100*loss)
	}
}

// TestUnlimitedReachesDemand: without a bottleneck the estimate grows
// past what the subscriber's tracks need, so the top layers are kept.
func TestUnlimitedReachesDemand(t *testing.T) {
	s := newSim(t, &link{prop: 20 * time.Millisecond}, 1_800_000)
	s.run(20 * time.Second)
	if lo, _ := s.run(5 * time.Second); lo < 1_800_000 {
		t.Errorf("estimate fell to %d bps on an unlimited link, want at least the 1.8 Mbps demand", lo)
	}
}

// TestDownlinkDrop: the link falls from 5 Mbps to 500 kbps; the estimate
// follows within a few seconds of simulated time.
func TestDownlinkDrop(t *testing.T) {
	l := &link{capacity: 5_000_000, prop: 20 * time.Millisecond, maxQueue: 300 * time.Millisecond}
	s := newSim(t, l, 2_000_000)
	s.run(20 * time.Second)
	if est := s.e.Estimate(); est < 2_000_000 {
		t.Fatalf("before the drop: estimate %d, want at least the 2 Mbps demand", est)
	}
	l.capacity = 500_000
	var settled time.Duration
	for settled = 0; settled < 10*time.Second; settled += 100 * time.Millisecond {
		s.run(100 * time.Millisecond)
		if s.e.Estimate() <= 600_000 {
			break
		}
	}
	t.Logf("estimate at or under 600 kbps %v after the drop", settled)
	if settled >= 3*time.Second {
		t.Errorf("estimate still %d bps %v after the drop to 500 kbps", s.e.Estimate(), settled)
	}
}

// TestProbeLiftsEstimate: on an unlimited link the estimate does not grow
// far past the media rate, since only delivered traffic backs growth, until a
// probe on top of the media is delivered: then it rises to the probe's
// rate within the probe's second. Behind a bottleneck the same probe
// brings it down to the link.
func TestProbeLiftsEstimate(t *testing.T) {
	s := newSim(t, &link{prop: 20 * time.Millisecond}, 300_000)
	s.run(10 * time.Second)
	if est := s.e.Estimate(); est >= 1_300_000 {
		t.Fatalf("estimate %d bps with 300 kbps of media; the probe would have nothing to show", est)
	}
	s.probe = 1_200_000
	s.run(time.Second)
	if est := s.e.Estimate(); est < 1_300_000 {
		t.Errorf("after a 1 s probe of 1.2 Mbps on 300 kbps of media: estimate %d, want at least 1.3 Mbps", est)
	}

	s = newSim(t, &link{capacity: 500_000, prop: 20 * time.Millisecond, maxQueue: 300 * time.Millisecond}, 300_000)
	s.run(10 * time.Second)
	s.probe = 1_200_000
	s.run(time.Second)
	if est := s.e.Estimate(); est > 600_000 {
		t.Errorf("after a probe behind a 500 kbps link: estimate %d bps, want at most 600 kbps", est)
	}
}

func TestREMB(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	e := New(Config{Now: func() time.Time { return now }})
	if got := e.Estimate(); got != DefaultInitial {
		t.Fatalf("initial estimate %d, want %d", got, DefaultInitial)
	}
	// REMB only: it is the estimate.
	e.OnREMB(3_000_000)
	if got := e.Estimate(); got != 3_000_000 {
		t.Errorf("REMB only: estimate %d, want 3000000", got)
	}
	// With transport-cc the REMB caps it.
	e.OnFeedback([]Packet{{SentAt: 0, Size: 1200, Received: true, ArrivedAt: 10 * time.Millisecond}})
	e.OnREMB(400_000)
	if got := e.Estimate(); got != 400_000 {
		t.Errorf("REMB under the transport-cc estimate: %d, want 400000", got)
	}
	// A stale REMB no longer counts.
	now = now.Add(rembFresh)
	if got := e.Estimate(); got != DefaultInitial {
		t.Errorf("stale REMB: estimate %d, want the transport-cc one, %d", got, DefaultInitial)
	}
	// Bounds.
	e.OnREMB(1)
	if q, _ := e.Signals(); e.Estimate() != DefaultMin || q != 0 {
		t.Errorf("REMB of 1 bps: estimate %d, want the minimum %d", e.Estimate(), DefaultMin)
	}
}

// TestLossCutsEstimate: a fifth of the packets lost brings the estimate
// down even without queuing, from its 1 Mbit/s start to a share
// (decrease) of the 768 kbit/s delivered.
func TestLossCutsEstimate(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	e := New(Config{Now: func() time.Time { return now }})
	var at time.Duration
	for range 20 {
		now = now.Add(100 * time.Millisecond)
		pkts := make([]Packet, 10)
		for i := range pkts {
			at += 10 * time.Millisecond
			pkts[i] = Packet{SentAt: at, Size: 1200, Received: i%5 != 0, ArrivedAt: at + 20*time.Millisecond}
		}
		e.OnFeedback(pkts)
	}
	want := int(decrease * 768_000)
	if _, loss := e.Signals(); loss != 0.2 || e.Estimate() < want*95/100 || e.Estimate() > want*105/100 {
		t.Errorf("20%% loss: loss signal %.2f, estimate %d, want 0.20 and about %d", loss, e.Estimate(), want)
	}
}

// TestIsolatedLossIsNoise: one feedback reporting a sixth of its
// packets lost (what reordering around a feedback's boundary looks like)
// among clean ones does not cut the estimate: loss counts over a second.
func TestIsolatedLossIsNoise(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	e := New(Config{Now: func() time.Time { return now }})
	var at time.Duration
	for n := range 20 {
		now = now.Add(50 * time.Millisecond)
		pkts := make([]Packet, 60)
		for i := range pkts {
			at += 800 * time.Microsecond
			pkts[i] = Packet{SentAt: at, Size: 1200, Received: n != 10 || i%6 != 0, ArrivedAt: at + 20*time.Millisecond}
		}
		e.OnFeedback(pkts)
		if _, loss := e.Signals(); n == 10 && (loss == 0 || loss > lossLow) {
			t.Fatalf("loss signal %.3f after the lossy feedback; want above 0 and under %.2f", loss, lossLow)
		}
	}
	if e.Estimate() < DefaultInitial {
		t.Errorf("estimate cut to %d by one lossy feedback", e.Estimate())
	}
}

// TestStartCatchesUp: media already flowing at 1.6 Mbit/s when the
// estimate starts from its 1 Mbit/s guess: before any congestion the
// estimate grows fast, and within a second stands a tenth above what is
// delivered, so an allocation at 90 % of it keeps the media.
func TestStartCatchesUp(t *testing.T) {
	s := newSim(t, &link{prop: 20 * time.Millisecond}, 1_600_000)
	s.e = New(Config{Now: func() time.Time { return s.base.Add(s.now) }})
	s.probe = 1_600_000 // sent whatever the estimate, as forwarded media is
	s.demand = 0
	s.run(time.Second)
	if est := s.e.Estimate(); est < 1_780_000 {
		t.Errorf("estimate %d bit/s after 1 s of 1.6 Mbit/s delivered, want at least 1.78 Mbit/s", est)
	}
}

// TestLossCutStopsAtDelivered: heavy loss behind a narrow link cuts the
// estimate, but not below a share of what the link delivered: the media
// that fits keeps fitting.
func TestLossCutStopsAtDelivered(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	e := New(Config{Now: func() time.Time { return now }})
	var at time.Duration
	for range 30 {
		now = now.Add(100 * time.Millisecond)
		// 20 packets of 1,000 bytes sent in 100 ms, 10 delivered: 800
		// kbit/s got through, half was lost.
		pkts := make([]Packet, 20)
		for i := range pkts {
			at += 5 * time.Millisecond
			pkts[i] = Packet{SentAt: at, Size: 1000, Received: i%2 == 0, ArrivedAt: at + 20*time.Millisecond}
		}
		e.OnFeedback(pkts)
	}
	if est := e.Estimate(); est < int(decrease*800_000*0.95) || est > 800_000 {
		t.Errorf("50 %% loss with 800 kbit/s delivered: estimate %d, want about %d", est, int(decrease*800_000))
	}
}
