package allocate

import (
	"cmp"
	"slices"
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
	switch {
	case used > budget:
		// Congestion: step down at once to what fits, in one go.
		for _, i := range order {
			cur[i] = min(cur[i], target[i])
		}
		a.lastDown = now
		a.probe = probe{}
	case a.probe.active:
		res.ProbeBitrate = a.judgeProbe(tracks, cur, used, budget)
	case now.Sub(a.lastDown) >= a.cfg.Hold && now.Sub(a.lastUp) >= a.cfg.Hold:
		res.ProbeBitrate = a.startProbe(tracks, order, cur, target, used, budget)
	}
	a.report(tracks, cur, &res)
	return res
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
			l = target[i]
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

// startProbe picks the most important track whose target is above its
// current layer and whose next step fits, and starts probing for it. It
// returns the padding bitrate, or 0.
func (a *Allocator) startProbe(tracks []Track, order []int, cur, target []Layer, used, budget int) int {
	for _, i := range order {
		if target[i] <= cur[i] {
			continue
		}
		tr := &tracks[i]
		n := tr.next(cur[i])
		if cur[i] == Paused {
			n = tr.lowest()
		}
		delta := tr.rate(n) - tr.rate(cur[i])
		if n == Paused || used+delta > budget {
			continue
		}
		a.probe = probe{active: true, id: tr.ID, to: n, delta: delta, started: a.cfg.Now()}
		return delta
	}
	return 0
}

// judgeProbe keeps a running probe going, or after ProbeDuration commits
// its step if the budget covers it and otherwise backs off for Hold. It
// returns the padding bitrate still wanted.
func (a *Allocator) judgeProbe(tracks []Track, cur []Layer, used, budget int) int {
	now := a.cfg.Now()
	i := slices.IndexFunc(tracks, func(t Track) bool { return t.ID == a.probe.id })
	if i < 0 || cur[i] >= a.probe.to || tracks[i].Max < a.probe.to || tracks[i].rate(a.probe.to) == 0 {
		a.probe = probe{}
		return 0
	}
	if now.Sub(a.probe.started) < a.cfg.ProbeDuration {
		return a.probe.delta
	}
	if used-tracks[i].rate(cur[i])+tracks[i].rate(a.probe.to) <= budget {
		cur[i] = a.probe.to
		a.lastUp = now
	} else {
		a.lastDown = now
	}
	a.probe = probe{}
	return 0
}

// report fills Paused and Resumed and remembers the layers.
func (a *Allocator) report(tracks []Track, cur []Layer, res *Result) {
	next := make(map[string]Layer, len(tracks))
	for i := range tracks {
		tr := &tracks[i]
		next[tr.ID] = cur[i]
		if tr.Audio {
			continue
		}
		prev, known := a.current[tr.ID]
		switch {
		case cur[i] == Paused && (!known || prev != Paused) && tr.lowest() != Paused:
			res.Paused = append(res.Paused, tr.ID)
		case cur[i] != Paused && known && prev == Paused:
			res.Resumed = append(res.Resumed, tr.ID)
		}
	}
	a.current = next
}
