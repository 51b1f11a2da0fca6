package sfu

import (
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/simulcast"
)

// publication is one kind of media a connection publishes: one source, or
// the simulcast layers (r0, r1, r2) of one video track, each its own
// source. Subscribers get one down-track per publication; for simulcast
// it forwards one layer at a time.
type publication struct {
	owner *Connection
	kind  webrtc.RTPCodecType

	mu      sync.Mutex
	single  *forward.Source
	layers  [simulcast.Count]*forward.Source
	tracker *simulcast.Tracker
	counted [simulcast.Count]uint64 // layer packet counts at the last sample

	// Bitrate samples of each layer (or of the single source, at 0),
	// for bandwidth allocation.
	rateAt    time.Time
	rateBytes [simulcast.Count]uint64
	rates     [simulcast.Count]int
}

func newPublication(owner *Connection, kind webrtc.RTPCodecType) *publication {
	return &publication{owner: owner, kind: kind, tracker: simulcast.NewTracker(0)}
}

// add adds a source: a layer if it has a rid, else the single source.
func (p *publication) add(src *forward.Source) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, err := simulcast.ParseRID(src.RID()); err == nil {
		p.layers[l] = src
		p.tracker.Seen(l, time.Now().UnixNano())
		return
	}
	p.single = src
}

// remove removes a source and reports whether the publication is now
// empty.
func (p *publication) remove(src *forward.Source) (empty bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.single == src {
		p.single = nil
	}
	for i, s := range p.layers {
		if s == src {
			p.layers[i] = nil
		}
	}
	return p.single == nil && p.layers == [simulcast.Count]*forward.Source{}
}

// has reports whether src is one of the publication's sources.
func (p *publication) has(src *forward.Source) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.single == src {
		return src != nil
	}
	for _, s := range p.layers {
		if s == src && s != nil {
			return true
		}
	}
	return false
}

// sources returns every source of the publication.
func (p *publication) sources() []*forward.Source {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.single != nil {
		return []*forward.Source{p.single}
	}
	var out []*forward.Source
	for _, s := range p.layers {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// layer returns simulcast layer l, or nil when it has not arrived.
func (p *publication) layer(l simulcast.Layer) *forward.Source {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.layers[l]
}

// isSimulcast reports whether the publication has layers.
func (p *publication) isSimulcast() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.single == nil
}

// any returns a source of the publication (its codec, track id and stream
// id are those of every layer), or nil.
func (p *publication) any() *forward.Source {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.single != nil {
		return p.single
	}
	for _, s := range p.layers {
		if s != nil {
			return s
		}
	}
	return nil
}

// rateSample is the least time between two bitrate samples.
const rateSample = 500 * time.Millisecond

// bitrates returns the bitrate, in bits per second, at which each layer
// (or the single source, at index 0) arrived over the last sample period,
// as it costs a subscriber's downlink (forward.WireOverhead per packet
// included); 0 for a layer not arriving.
func (p *publication) bitrates(now time.Time) [simulcast.Count]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if el := now.Sub(p.rateAt); el >= rateSample {
		srcs := p.layers
		if p.single != nil {
			srcs = [simulcast.Count]*forward.Source{p.single}
		}
		for l, s := range srcs {
			var b uint64
			if s != nil {
				b = s.Bytes() + s.Packets()*forward.WireOverhead
			}
			if !p.rateAt.IsZero() && b >= p.rateBytes[l] {
				p.rates[l] = int(float64(b-p.rateBytes[l]) * 8 / el.Seconds())
			}
			p.rateBytes[l] = b
		}
		p.rateAt = now
	}
	return p.rates
}

// choose returns the source to forward to a receiver that asked for
// layer requested: the publication's only source, or the layer
// simulcast.Choose picks among the layers arriving now.
func (p *publication) choose(requested simulcast.Layer) *forward.Source {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.single != nil {
		return p.single
	}
	now := time.Now().UnixNano()
	// A layer arrives if its packet count moved since the last sample;
	// counting here keeps the per-packet path free of it.
	for l, s := range p.layers {
		if s == nil {
			continue
		}
		if n := s.Packets(); n != p.counted[l] {
			p.counted[l] = n
			p.tracker.Seen(simulcast.Layer(l), now)
		}
	}
	var present simulcast.Set
	for l, s := range p.layers {
		if s != nil {
			present = present.With(simulcast.Layer(l))
		}
	}
	l := simulcast.Choose(requested, p.tracker.Arriving(now)&present)
	if l == simulcast.None {
		// Nothing arriving: keep to a layer that exists, so the
		// subscription has a source once packets come.
		l = simulcast.Choose(requested, present)
	}
	if l == simulcast.None {
		return nil
	}
	return p.layers[l]
}
