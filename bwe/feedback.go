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
			e.estimate *= 1 - 0.5*e.loss
			e.lastCut = now
		}
	case e.queuing > overuseDelay:
		if now.Sub(e.lastCut) >= cutGap && acked > 0 {
			e.estimate = min(e.estimate, decrease*acked)
			e.lastCut = now
		}
	case e.queuing < underuseDelay && e.loss < lossLow && !e.lastFeedback.IsZero():
		dt := min(now.Sub(e.lastFeedback), time.Second).Seconds()
		grown := e.estimate * (1 + growth*dt)
		// Grow only up to what delivered traffic backs; never cut here.
		e.estimate = max(e.estimate, min(grown, headroom*acked+headroomAdd))
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
	var lost, got int
	var delays time.Duration
	for _, p := range pkts {
		if !p.Received {
			lost++
			continue
		}
		got++
		d := p.ArrivedAt - p.SentAt
		if !e.curHave || d < e.baseCur {
			e.baseCur, e.curHave = d, true
		}
		delays += d
		e.acked = append(e.acked, acked{at: p.ArrivedAt, size: p.Size})
	}
	e.loss = float64(lost) / float64(len(pkts))
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
