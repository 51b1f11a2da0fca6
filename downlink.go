package sfu

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"github.com/gosfu/sfu/bwe"
	"github.com/gosfu/sfu/forward"
)

// Downlink is the engine's estimate of the bandwidth available on a
// subscriber connection's downlink, from the subscriber's transport-cc
// feedback (the engine numbers every packet it sends it) or, for a
// client that sends only that, its REMB.
type Downlink struct {
	ChannelID    string
	ConnectionID string
	// Bitrate is the estimate in bits per second; 0 until the subscriber
	// sent any feedback.
	Bitrate int
	// Source is "transport-cc", "remb", or "" before any feedback.
	Source string
	// QueuingDelay and Loss are the transport-cc feedback's signals: the
	// last one's mean delay above the lowest recently seen, and the share
	// of the packets reported lost over the last second.
	QueuingDelay time.Duration
	Loss         float64
	// TransportCCs and REMBs count the feedback taken.
	TransportCCs, REMBs uint64
	// ProbeBytes counts the probe traffic sent (with
	// Options.BandwidthAllocation): copies of recent video packets that
	// show whether the downlink carries a higher layer.
	ProbeBytes uint64
}

// downlink is a connection's estimator, fed by the transport-cc feedback
// its ingress takes (pion's RTCP readers with PionSRTP) and its REMBs.
type downlink struct {
	mu           sync.Mutex
	est          *bwe.Estimator
	pkts         []bwe.Packet // reused per feedback
	twccs, rembs uint64
	probed       atomic.Uint64 // bytes of probe traffic sent

	// Unwrapping: sent times are 32-bit microseconds, the feedback's
	// reference time 24 bits of 64 ms.
	lastSentUS int64
	haveSent   bool
	lastRef    int64
	haveRef    bool
}

func (d *downlink) estimator() *bwe.Estimator {
	if d.est == nil {
		d.est = bwe.New(bwe.Config{})
	}
	return d.est
}

// onTransportCC matches a feedback with what eg recorded sending.
func (d *downlink) onTransportCC(fb *rtcp.TransportLayerCC, eg *forward.Egress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.twccs++
	fb.ReferenceTime = uint32(d.unwrapRef(fb.ReferenceTime))
	d.pkts = bwe.FromTransportCC(d.pkts[:0], fb, func(seq uint16) (time.Duration, int, bool) {
		at, size, ok := eg.TransportSent(seq)
		if !ok {
			return 0, 0, false
		}
		return d.unwrapSent(at), size, true
	})
	d.estimator().OnFeedback(d.pkts)
}

func (d *downlink) onREMB(bps float32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rembs++
	d.estimator().OnREMB(uint64(max(bps, 0)))
}

// unwrapSent extends a 32-bit microsecond send time to the one nearest
// the last seen.
func (d *downlink) unwrapSent(at time.Duration) time.Duration {
	us := uint32(at / time.Microsecond)
	if !d.haveSent {
		d.lastSentUS, d.haveSent = int64(us), true
	} else {
		d.lastSentUS += int64(int32(us - uint32(d.lastSentUS)))
	}
	return time.Duration(d.lastSentUS) * time.Microsecond
}

// unwrapRef extends a 24-bit reference time likewise.
func (d *downlink) unwrapRef(ref uint32) int64 {
	ref &= 1<<24 - 1
	if !d.haveRef {
		d.lastRef, d.haveRef = int64(ref), true
	} else {
		delta := int64(ref) - d.lastRef&(1<<24-1)
		switch {
		case delta > 1<<23:
			delta -= 1 << 24
		case delta < -(1 << 23):
			delta += 1 << 24
		}
		d.lastRef += delta
	}
	return d.lastRef
}

func (d *downlink) snapshot() Downlink {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := Downlink{TransportCCs: d.twccs, REMBs: d.rembs, ProbeBytes: d.probed.Load()}
	if d.est == nil {
		return out
	}
	out.Bitrate = d.est.Estimate()
	out.QueuingDelay, out.Loss = d.est.Signals()
	if d.twccs > 0 {
		out.Source = "transport-cc"
	} else {
		out.Source = "remb"
	}
	return out
}

// ConnectionDownlink returns the engine's estimate of the connection's
// available downlink bandwidth.
func (ch *Channel) ConnectionDownlink(ctx context.Context, connID string) (Downlink, error) {
	c, err := ch.Connection(connID)
	if err != nil {
		return Downlink{}, err
	}
	d := c.downlink.snapshot()
	d.ChannelID, d.ConnectionID = ch.id, c.id
	return d, nil
}

// feedbackTap takes the transport-cc feedback the connection's ingress
// opens in the socket reader (forward.Ingress.SetFeedbackHandler).
type feedbackTap struct{ c *Connection }

func (t feedbackTap) TransportCC(fb *rtcp.TransportLayerCC) {
	t.c.engine.stats.TransportCCReceived()
	t.c.downlink.onTransportCC(fb, t.c.egress)
}
