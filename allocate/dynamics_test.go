package allocate

import (
	"slices"
	"testing"
	"time"
)

// step is one Update in a scripted run: advance the clock, then update.
type step struct {
	after    time.Duration
	estimate int
	want     []Layer
	probe    bool // a probe is requested (ProbeBitrate > 0)
	paused   []string
	resumed  []string
}

func run(t *testing.T, tracks []Track, steps []step) {
	t.Helper()
	a, c := newTestAllocator()
	for n, s := range steps {
		c.advance(s.after)
		res := a.Update(s.estimate, tracks)
		if !slices.Equal(res.Layers, s.want) {
			t.Fatalf("step %d (estimate %d): layers = %v, want %v", n, s.estimate, res.Layers, s.want)
		}
		if (res.ProbeBitrate > 0) != s.probe {
			t.Fatalf("step %d: probe bitrate = %d, want probing %v", n, res.ProbeBitrate, s.probe)
		}
		if !slices.Equal(res.Paused, s.paused) || !slices.Equal(res.Resumed, s.resumed) {
			t.Fatalf("step %d: paused %v resumed %v, want %v and %v", n, res.Paused, res.Resumed, s.paused, s.resumed)
		}
	}
}

func TestEstimateFallsStepsDownInPriorityOrder(t *testing.T) {
	tracks := []Track{audio("a"), simulcast("low", 0), simulcast("high", 1)}
	run(t, tracks, []step{
		{0, 5_000_000, []Layer{0, 2, 2}, false, nil, nil},
		// 2.5M: high keeps r2 (1.5M), low drops to r1 (0.5M).
		{time.Second, 2_500_000, []Layer{0, 1, 2}, false, nil, nil},
		// 1.8M: high r2 still fits with low at r0.
		{time.Second, 1_800_000, []Layer{0, 0, 2}, false, nil, nil},
		// 1M: high r1, low r0.
		{time.Second, 1_000_000, []Layer{0, 0, 1}, false, nil, nil},
		// 300k: low pauses, high r0.
		{time.Second, 300_000, []Layer{0, Paused, 0}, false, []string{"low"}, nil},
		// 100k: both paused; audio stays.
		{time.Second, 100_000, []Layer{0, Paused, Paused}, false, []string{"high"}, nil},
	})
}

func TestRecoveryStepsUpOneLayerAfterProbing(t *testing.T) {
	tracks := []Track{simulcast("low", 0), simulcast("high", 1)}
	run(t, tracks, []step{
		{0, 5_000_000, []Layer{2, 2}, false, nil, nil},
		{time.Second, 200_000, []Layer{Paused, 0}, false, []string{"low"}, nil},
		// The estimate recovers, but nothing moves within Hold of the drop.
		{time.Second, 5_000_000, []Layer{Paused, 0}, false, nil, nil},
		{3 * time.Second, 5_000_000, []Layer{Paused, 0}, false, nil, nil},
		// Hold has passed: probe for the most important track's next layer.
		{time.Second, 5_000_000, []Layer{Paused, 0}, true, nil, nil},
		{500 * time.Millisecond, 5_000_000, []Layer{Paused, 0}, true, nil, nil},
		// ProbeDuration has passed and the estimate covered it: one step.
		{500 * time.Millisecond, 5_000_000, []Layer{Paused, 1}, false, nil, nil},
		// The next step waits Hold after the last one, then probes again.
		{4 * time.Second, 5_000_000, []Layer{Paused, 1}, false, nil, nil},
		{time.Second, 5_000_000, []Layer{Paused, 1}, true, nil, nil},
		{time.Second, 5_000_000, []Layer{Paused, 2}, false, nil, nil},
		// Then the paused track resumes at its lowest layer.
		{5 * time.Second, 5_000_000, []Layer{Paused, 2}, true, nil, nil},
		{time.Second, 5_000_000, []Layer{0, 2}, false, nil, []string{"low"}},
	})
}

// TestFailedProbeBacksOff: a probe fails as soon as the estimate falls
// below where it started; the next waits Hold, doubled for every failure
// in a row, and a success resets that.
func TestFailedProbeBacksOff(t *testing.T) {
	tracks := []Track{simulcast("v", 0)}
	run(t, tracks, []step{
		{0, 700_000, []Layer{1}, false, nil, nil},
		{time.Second, 200_000, []Layer{0}, false, nil, nil},
		{5 * time.Second, 700_000, []Layer{0}, true, nil, nil},
		// The estimate fell during the probe: it stops at once, no step.
		{100 * time.Millisecond, 650_000, []Layer{0}, false, nil, nil},
		// One failure: 2 Hold before the next probe.
		{9 * time.Second, 700_000, []Layer{0}, false, nil, nil},
		{time.Second, 700_000, []Layer{0}, true, nil, nil},
		{100 * time.Millisecond, 600_000, []Layer{0}, false, nil, nil},
		// Two: 4 Hold.
		{19 * time.Second, 700_000, []Layer{0}, false, nil, nil},
		{time.Second, 700_000, []Layer{0}, true, nil, nil},
		{time.Second, 700_000, []Layer{1}, false, nil, nil},
		// A success resets it: the next drop waits Hold again.
		{time.Second, 200_000, []Layer{0}, false, nil, nil},
		{5 * time.Second, 700_000, []Layer{0}, true, nil, nil},
	})
}

// TestProbeOvershoots: the probe's padding brings what the connection
// receives above the step's goal by the utilization margin, so that an
// estimate of what it delivered covers the step.
func TestProbeOvershoots(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(Config{Now: c.now}) // the default Utilization
	v := simulcast("v", 0)
	a.Update(700_000, []Track{v}) // r1: 500k used
	c.advance(DefaultHold)
	res := a.Update(700_000, []Track{v})
	goal := v.Bitrates[2] // after the step to r2
	if sent := v.Bitrates[1] + res.ProbeBitrate; float64(sent)*DefaultUtilization < float64(goal) {
		t.Fatalf("probe of %d bps on %d of media: %d received covers only %d of the %d goal",
			res.ProbeBitrate, v.Bitrates[1], sent, int(float64(sent)*DefaultUtilization), goal)
	}
	c.advance(DefaultProbeDuration)
	if got := a.Update(int(float64(v.Bitrates[1]+res.ProbeBitrate)*0.98), []Track{v}).Layers[0]; got != 2 {
		t.Fatalf("an estimate near what the probe delivered: layer %v, want the step to 2", got)
	}
}

func TestCongestionDuringProbeCancelsIt(t *testing.T) {
	tracks := []Track{simulcast("v", 0)}
	run(t, tracks, []step{
		{0, 600_000, []Layer{1}, false, nil, nil},
		{5 * time.Second, 5_000_000, []Layer{1}, true, nil, nil},
		{500 * time.Millisecond, 300_000, []Layer{0}, false, nil, nil},
		{time.Second, 5_000_000, []Layer{0}, false, nil, nil},
	})
}

func TestReceiverCap(t *testing.T) {
	a, c := newTestAllocator()
	v := simulcast("v", 0)
	if got := a.Update(5_000_000, []Track{v}).Layers[0]; got != 2 {
		t.Fatalf("auto: layer %v, want 2", got)
	}
	// RequestRtpStream r0: takes effect at once, no probe needed.
	v.Max = 0
	c.advance(time.Second)
	if got := a.Update(5_000_000, []Track{v}).Layers[0]; got != 0 {
		t.Fatalf("capped at r0: layer %v, want 0", got)
	}
	// Back to auto: the allocator raises it, through probes.
	v.Max = 2
	var layers []Layer
	for range 30 {
		c.advance(time.Second)
		layers = append(layers, a.Update(5_000_000, []Track{v}).Layers[0])
	}
	if layers[0] != 0 || layers[len(layers)-1] != 2 {
		t.Fatalf("uncapped: layers %v, want a climb from 0 to 2", layers)
	}
}

func TestLayerStopsArriving(t *testing.T) {
	a, c := newTestAllocator()
	v := simulcast("v", 0)
	a.Update(5_000_000, []Track{v})
	v.Bitrates[2] = 0
	c.advance(time.Second)
	if got := a.Update(5_000_000, []Track{v}).Layers[0]; got != 1 {
		t.Fatalf("r2 stopped: layer %v, want 1", got)
	}
}

// TestOscillationBounded: an estimate flapping every half second between
// starvation and plenty moves the layer up at most once per Hold.
func TestOscillationBounded(t *testing.T) {
	a, c := newTestAllocator()
	tracks := []Track{simulcast("v", 0)}
	const total = 60 * time.Second
	ups, prev := 0, a.Update(5_000_000, tracks).Layers[0]
	for el := time.Duration(0); el < total; el += 500 * time.Millisecond {
		c.advance(500 * time.Millisecond)
		est := 5_000_000
		if (el/(500*time.Millisecond))%2 == 0 {
			est = 200_000
		}
		l := a.Update(est, tracks).Layers[0]
		if l > prev {
			ups++
		}
		prev = l
	}
	t.Logf("%d steps up in %v", ups, total)
	if max := int(total / DefaultHold); ups > max {
		t.Fatalf("%d steps up in %v, want at most %d", ups, total, max)
	}
}

// TestTrackWithoutRatesYet: a track whose layers have not been measured
// yet (all bitrates 0) is not paused; once they are, it starts from its
// target like a new track, without waiting for a probe.
func TestTrackWithoutRatesYet(t *testing.T) {
	a, c := newTestAllocator()
	v := simulcast("v", 0)
	unmeasured := v
	unmeasured.Bitrates = [MaxLayers]int{}
	if res := a.Update(1_000_000, []Track{unmeasured}); len(res.Paused) != 0 {
		t.Fatalf("unmeasured track reported paused: %+v", res)
	}
	c.advance(100 * time.Millisecond)
	if res := a.Update(1_000_000, []Track{v}); res.Layers[0] != 1 || len(res.Resumed) != 0 {
		t.Fatalf("measured at last: %+v, want layer 1 (what 1 Mbit/s carries), no resume", res)
	}
}

// TestPauseDeferred: with the default PauseAfter a dip of the estimate
// under the lowest layer keeps the track at it; only a shortage that
// lasts pauses it.
func TestPauseDeferred(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(Config{Now: c.now, Utilization: 1})
	tracks := []Track{audio("a"), simulcast("v", 0)}
	step := func(after time.Duration, est int, want Layer, paused []string) {
		t.Helper()
		c.advance(after)
		res := a.Update(est, tracks)
		if res.Layers[1] != want || !slices.Equal(res.Paused, paused) {
			t.Fatalf("estimate %d: layer %v, paused %v; want %v, %v", est, res.Layers[1], res.Paused, want, paused)
		}
	}
	step(0, 1_000_000, 1, nil)
	step(time.Second, 100_000, 0, nil)            // short: kept at r0
	step(time.Second, 100_000, 0, nil)            // still within PauseAfter
	step(500*time.Millisecond, 1_000_000, 0, nil) // recovered: the clock restarts
	step(time.Second, 100_000, 0, nil)            // short again
	step(DefaultPauseAfter, 100_000, Paused, []string{"v"})
}

// TestNewTrackThatDoesNotFitWaits: a track the allocator meets for the
// first time (a new subscription, or one flowing before the allocation
// started) whose lowest layer does not fit keeps it for PauseAfter, as
// a flowing track would, then pauses.
func TestNewTrackThatDoesNotFitWaits(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(Config{Now: c.now})
	v := Track{ID: "v", Bitrates: [MaxLayers]int{1_600_000}}
	if res := a.Update(1_000_000, []Track{v}); res.Layers[0] != 0 || len(res.Paused) != 0 {
		t.Fatalf("first sight: %+v, want layer 0 kept", res)
	}
	c.advance(DefaultPauseAfter / 2)
	if res := a.Update(1_000_000, []Track{v}); res.Layers[0] != 0 {
		t.Fatalf("within PauseAfter: %+v, want layer 0 kept", res)
	}
	c.advance(DefaultPauseAfter / 2)
	if res := a.Update(1_000_000, []Track{v}); res.Layers[0] != Paused || len(res.Paused) != 1 {
		t.Fatalf("after PauseAfter: %+v, want paused", res)
	}
}

// TestKeepsWhatTheEstimateCovers: the utilization margin applies to what
// is added, not to what flows: an estimate between the forwarded bitrate
// and that bitrate over Utilization keeps the layer; one below it steps
// down.
func TestKeepsWhatTheEstimateCovers(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(Config{Now: c.now})
	v := simulcast("v", 0) // r1 is 500k
	if got := a.Update(600_000, []Track{v}).Layers[0]; got != 1 {
		t.Fatalf("600k: layer %v, want 1 (500k within 90 %%)", got)
	}
	c.advance(time.Second)
	if got := a.Update(520_000, []Track{v}).Layers[0]; got != 1 {
		t.Fatalf("520k, under 500k/0.9 but over 500k: layer %v, want 1 kept", got)
	}
	c.advance(time.Second)
	if got := a.Update(480_000, []Track{v}).Layers[0]; got != 0 {
		t.Fatalf("480k: layer %v, want 0", got)
	}
}
