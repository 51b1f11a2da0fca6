package bwe

import "time"

// OnFeedback takes the packets one transport-cc feedback reports on, in
// transport-wide sequence order, and updates the estimate.
func (e *Estimator) OnFeedback(pkts []Packet) {
	if len(pkts) == 0 {
		return
	}
	now := e.cfg.Now()
	e.twcc = true
	e.observe(now, pkts)
	acked := e.ackedRate()
	switch {
	case e.loss > lossHigh:
		if now.Sub(e.lastCut) >= cutGap {
			// Lost packets are what the link could not carry, not what
			// it carried: the cut stops where a delay cut would, at a
			// share of what got through.
			e.estimate = max(e.estimate*(1-0.5*e.loss), min(e.estimate, decrease*acked))
			e.lastCut = now
			// The next cut answers new losses only, not these again.
			e.losses = e.losses[:0]
		}
	case e.queuing > overuseDelay:
		// What arrived while the queue built is what the link carries;
		// the window may reach back to before it filled, so the latest
		// feedback's own rate counts too.
		if rate := max(acked, e.batchRate); now.Sub(e.lastCut) >= cutGap && rate > 0 {
			e.estimate = min(e.estimate, decrease*rate)
			e.lastCut = now
		}
	case e.queuing < underuseDelay && e.loss < lossLow && !e.lastFeedback.IsZero():
		dt := min(now.Sub(e.lastFeedback), time.Second).Seconds()
		g := growth
		if e.lastCut.IsZero() {
			// Until the first sign of congestion, grow fast: the
			// estimate starts from a guess, and what is delivered
			// still bounds it.
			g = startGrowth
		}
		grown := e.estimate * (1 + g*dt)
		// Grow only up to what delivered traffic backs; never cut here.
		// What was delivered without queuing is carried for sure: a probe
		// (padding on top of the media) lifts the estimate to its rate
		// at once, as GCC's probe controller does.
		e.estimate = max(e.estimate, min(grown, headroom*acked+headroomAdd), acked)
	}
	e.estimate = min(max(e.estimate, float64(e.cfg.Min)), float64(e.cfg.Max))
	e.lastFeedback = now
}

// observe updates the loss fraction, the base and queuing delays and the
// acknowledged history from one feedback's packets.
func (e *Estimator) observe(now time.Time, pkts []Packet) {
	if e.baseStart.IsZero() || now.Sub(e.baseStart) >= baseWindow {
		e.basePrev, e.prevHave = e.baseCur, e.curHave
		e.curHave, e.baseStart = false, now
	}
	var lost, got, bytes int
	var delays, first, last time.Duration
	for _, p := range pkts {
		if !p.Received {
			lost++
			continue
		}
		if got == 0 || p.ArrivedAt < first {
			first = p.ArrivedAt
		}
		if got == 0 || p.ArrivedAt > last {
			last = p.ArrivedAt
		}
		if got > 0 {
			bytes += p.Size
		}
		got++
		d := p.ArrivedAt - p.SentAt
		if !e.curHave || d < e.baseCur {
			e.baseCur, e.curHave = d, true
		}
		delays += d
		e.acked = append(e.acked, acked{at: p.ArrivedAt, size: p.Size})
	}
	e.loss = e.windowLoss(now, lost, len(pkts))
	e.batchRate = 0
	if last-first >= minBatchSpan {
		e.batchRate = float64(bytes) * 8 / (last - first).Seconds()
	}
	if got > 0 {
		base := e.baseCur
		if e.prevHave && e.basePrev < base {
			base = e.basePrev
		}
		e.queuing = max(delays/time.Duration(got)-base, 0)
	}
	e.trimAcked()
}

// trimAcked keeps the received packets of the last ackWindow of arrival
// time, and at most maxAcked.
func (e *Estimator) trimAcked() {
	if len(e.acked) == 0 {
		return
	}
	last := e.acked[len(e.acked)-1].at
	i := 0
	for i < len(e.acked) && (last-e.acked[i].at > ackWindow || len(e.acked)-i > maxAcked) {
		i++
	}
	if i > 0 {
		e.acked = append(e.acked[:0], e.acked[i:]...)
	}
}

// ackedRate is the bitrate the subscriber received over the window, in
// bits per second, or 0 with too little history.
func (e *Estimator) ackedRate() float64 {
	if len(e.acked) < 2 {
		return 0
	}
	span := e.acked[len(e.acked)-1].at - e.acked[0].at
	if span < ackWindow/5 {
		return 0
	}
	bytes := 0
	for _, a := range e.acked[1:] {
		bytes += a.size
	}
	return float64(bytes) * 8 / span.Seconds()
}

// windowLoss records one feedback's losses and returns the loss fraction
// over the feedback of the last lossWindow. A single feedback's share is
// noise: a packet that arrives reordered after the feedback covering its
// successors was built is reported lost, and a feedback of a few dozen
// packets turns a handful of those into a loss above lossHigh.
func (e *Estimator) windowLoss(now time.Time, lost, total int) float64 {
	e.losses = append(e.losses, lossSample{at: now, lost: lost, total: total})
	i := 0
	for i < len(e.losses)-1 && now.Sub(e.losses[i].at) > lossWindow {
		i++
	}
	e.losses = append(e.losses[:0], e.losses[i:]...)
	lost, total = 0, 0
	for _, l := range e.losses {
		lost += l.lost
		total += l.total
	}
	return float64(lost) / float64(total)
}

type lossSample struct {
	at          time.Time
	lost, total int
}
