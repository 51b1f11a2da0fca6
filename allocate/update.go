package allocate

import (
	"cmp"
	"slices"
	"time"
)

// Update takes the connection's estimate of available downlink, in bits per
// second, and its tracks, and returns the layer to forward for each track.
// Tracks are matched to earlier calls by ID; a track not passed is
// forgotten.
func (a *Allocator) Update(estimate int, tracks []Track) Result {
	now := a.cfg.Now()
	budget := int(float64(estimate) * a.cfg.Utilization)
	order := videoOrder(tracks)
	target := targets(budget, tracks, order)
	cur := a.carry(tracks, target)
	res := Result{Layers: cur}

	used := 0
	for i := range tracks {
		used += tracks[i].rate(cur[i])
	}
	// What is forwarded now stays while the estimate covers it, margin
	// or not: Utilization is the room kept for what is added (a new
	// track, a step up), and an estimate that only follows what is
	// delivered, held by a noisy loss signal, would otherwise take back
	// what the downlink carries well.
	if used <= estimate {
		a.short = time.Time{} // no shortage: a deferred pause is off
	}
	switch {
	case used > estimate:
		// Congestion: step down at once to what fits, in one go.
		for _, i := range order {
			cur[i] = min(cur[i], target[i])
		}
		a.deferPauses(tracks, cur, now)
		if a.probe.active {
			a.failures++
		}
		a.lastDown = now
		a.probe = probe{}
	case a.probe.active:
		res.ProbeBitrate = a.judgeProbe(estimate, tracks, cur, used, budget)
	case now.Sub(a.lastDown) >= a.backoff() && now.Sub(a.lastUp) >= a.cfg.Hold:
		res.ProbeBitrate = a.startProbe(estimate, tracks, order, cur, used)
	}
	a.report(tracks, cur, &res)
	return res
}

// deferPauses keeps at its lowest layer each video track that this step
// down pauses, until the shortage has lasted PauseAfter.
func (a *Allocator) deferPauses(tracks []Track, cur []Layer, now time.Time) {
	deferred := false
	for i := range tracks {
		prev, known := a.current[tracks[i].ID]
		if cur[i] != Paused || tracks[i].Audio || known && prev == Paused {
			continue
		}
		if a.short.IsZero() {
			a.short = now
		}
		if now.Sub(a.short) < a.cfg.PauseAfter {
			cur[i] = tracks[i].lowest()
			deferred = true
		}
	}
	if !deferred {
		a.short = time.Time{}
	}
}

// videoOrder returns the indexes of the video tracks, most important first;
// ties keep the caller's order.
func videoOrder(tracks []Track) []int {
	order := make([]int, 0, len(tracks))
	for i := range tracks {
		if !tracks[i].Audio {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(x, y int) int {
		return cmp.Compare(tracks[y].Priority, tracks[x].Priority)
	})
	return order
}

// targets returns the layers the budget would carry with no history: audio
// first, then every video track's lowest layer by importance, then raises
// in the same order.
func targets(budget int, tracks []Track, order []int) []Layer {
	t := make([]Layer, len(tracks))
	for i := range tracks {
		if tracks[i].Audio {
			budget -= tracks[i].rate(0)
		}
	}
	for _, i := range order {
		t[i] = Paused
		if l := tracks[i].lowest(); l != Paused && tracks[i].rate(l) <= budget {
			t[i] = l
			budget -= tracks[i].rate(l)
		}
	}
	for _, i := range order {
		tr := &tracks[i]
		for t[i] != Paused {
			n := tr.next(t[i])
			if n == Paused || tr.rate(n)-tr.rate(t[i]) > budget {
				break
			}
			budget -= tr.rate(n) - tr.rate(t[i])
			t[i] = n
		}
	}
	return t
}

// carry returns each track's current layer: the remembered one, brought
// within the track's cap and arriving layers, or for a new track the
// target.
func (a *Allocator) carry(tracks []Track, target []Layer) []Layer {
	cur := make([]Layer, len(tracks))
	for i := range tracks {
		tr := &tracks[i]
		l, known := a.current[tr.ID]
		switch {
		case tr.Audio:
			l = 0
		case !known:
			// A new track (or one the allocator sees for the first
			// time, already flowing) starts at its target, or if that
			// is a pause at its lowest layer: a pause waits PauseAfter
			// as for a track that was flowing.
			l = target[i]
			if l == Paused {
				l = tr.lowest()
			}
		case l != Paused:
			l = tr.fit(l)
		}
		cur[i] = l
	}
	return cur
}

// fit returns the highest arriving layer not above l or Max, else the
// lowest arriving one, else Paused.
func (t *Track) fit(l Layer) Layer {
	for n := min(l, t.Max, MaxLayers-1); n >= 0; n-- {
		if t.Bitrates[n] > 0 {
			return n
		}
	}
	return t.lowest()
}

// backoff is how long after a step down or failed probe the next probe
// waits: Hold, doubled for each probe that failed since the last one that
// succeeded, up to 8 Hold. A downlink that cannot carry the next layer is
// then probed, and briefly overfilled, ever more rarely.
func (a *Allocator) backoff() time.Duration {
	return a.cfg.Hold << min(a.failures, maxBackoffShift)
}

const maxBackoffShift = 3

// probeOvershoot is how far above the step's goal a probe sends, so that
// the estimate it leaves covers the goal within Utilization, with room for
// the media's variations.
const probeOvershoot = 1.1

// startProbe picks the most important track below its cap, and starts
// probing for its next layer: whether the estimate covers that layer or
// not, since only traffic the downlink delivered backs the estimate, and
// a probe is how it shows more. It returns the padding bitrate, or 0. The
// padding brings what the
// connection receives to the goal (the media after the step) divided by
// Utilization, and a margin: a downlink that carries that shows an
// estimate whose budget covers the step.
func (a *Allocator) startProbe(estimate int, tracks []Track, order []int, cur []Layer, used int) int {
	for _, i := range order {
		tr := &tracks[i]
		n := tr.next(cur[i])
		if cur[i] == Paused {
			n = tr.lowest()
		}
		if n == Paused {
			continue
		}
		goal := used - tr.rate(cur[i]) + tr.rate(n)
		pad := max(int(float64(goal)/a.cfg.Utilization*probeOvershoot)-used, 1)
		a.probe = probe{active: true, id: tr.ID, to: n, pad: pad, estimate: estimate, started: a.cfg.Now()}
		return pad
	}
	return 0
}

// judgeProbe keeps a running probe going, or after ProbeDuration commits
// its step if the budget covers it. A probe fails, and backs off, if the
// budget does not cover it then, or as soon as the estimate falls below
// what it was at the start: the downlink is queuing the probe, and every
// further packet of it adds delay or loss to the media. It returns the
// padding bitrate still wanted.
func (a *Allocator) judgeProbe(estimate int, tracks []Track, cur []Layer, used, budget int) int {
	now := a.cfg.Now()
	i := slices.IndexFunc(tracks, func(t Track) bool { return t.ID == a.probe.id })
	if i < 0 || cur[i] >= a.probe.to || tracks[i].Max < a.probe.to || tracks[i].rate(a.probe.to) == 0 {
		a.probe = probe{}
		return 0
	}
	fell := estimate < a.probe.estimate
	if !fell && now.Sub(a.probe.started) < a.cfg.ProbeDuration {
		return a.probe.pad
	}
	if !fell && used-tracks[i].rate(cur[i])+tracks[i].rate(a.probe.to) <= budget {
		cur[i] = a.probe.to
		a.lastUp = now
		a.failures = 0
	} else {
		a.lastDown = now
		a.failures++
	}
	a.probe = probe{}
	return 0
}

// report fills Paused and Resumed and remembers the layers.
func (a *Allocator) report(tracks []Track, cur []Layer, res *Result) {
	next := make(map[string]Layer, len(tracks))
	for i := range tracks {
		tr := &tracks[i]
		if tr.Audio {
			continue
		}
		if tr.lowest() == Paused {
			// Nothing arriving (yet, or within its cap): not a pause
			// of the allocator's, and no layer to remember. The track
			// starts afresh from its target once layers arrive.
			continue
		}
		next[tr.ID] = cur[i]
		prev, known := a.current[tr.ID]
		switch {
		case cur[i] == Paused && (!known || prev != Paused):
			res.Paused = append(res.Paused, tr.ID)
		case cur[i] != Paused && known && prev == Paused:
			res.Resumed = append(res.Resumed, tr.ID)
		}
	}
	a.current = next
}
