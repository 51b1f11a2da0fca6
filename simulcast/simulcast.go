package simulcast

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Layer is a simulcast layer, 0 (r0, lowest) to 2 (r2, highest).
type Layer int8

// Layers, and None for "no layer".
const (
	None Layer = -1
	R0   Layer = 0
	R1   Layer = 1
	R2   Layer = 2
	// Count is the number of layers.
	Count = 3
)

// ParseRID returns the layer named by rid ("r0", "r1", "r2").
func ParseRID(rid string) (Layer, error) {
	switch rid {
	case "r0":
		return R0, nil
	case "r1":
		return R1, nil
	case "r2":
		return R2, nil
	}
	return None, fmt.Errorf("simulcast: unknown rid %q (want r0, r1 or r2)", rid)
}

// RID returns the layer's rid, or "" for None.
func (l Layer) RID() string {
	if l < R0 || l > R2 {
		return ""
	}
	return [...]string{"r0", "r1", "r2"}[l]
}

// String returns the rid, or "none".
func (l Layer) String() string {
	if r := l.RID(); r != "" {
		return r
	}
	return "none"
}

// Set is a set of layers.
type Set uint8

// Of returns the set of the given layers.
func Of(layers ...Layer) Set {
	var s Set
	for _, l := range layers {
		s = s.With(l)
	}
	return s
}

// Has reports whether l is in the set.
func (s Set) Has(l Layer) bool { return l >= R0 && l <= R2 && s&(1<<l) != 0 }

// With returns the set with l added.
func (s Set) With(l Layer) Set {
	if l < R0 || l > R2 {
		return s
	}
	return s | 1<<l
}

// Choose returns the layer to forward to a receiver that asked for
// requested, given the layers arriving: requested if arriving, else the
// next lower arriving, else the next higher, else None.
func Choose(requested Layer, arriving Set) Layer {
	if requested < R0 || requested > R2 {
		return None
	}
	for l := requested; l >= R0; l-- {
		if arriving.Has(l) {
			return l
		}
	}
	for l := requested + 1; l <= R2; l++ {
		if arriving.Has(l) {
			return l
		}
	}
	return None
}

// DefaultTimeout is how long a layer may go without a packet before it
// counts as stopped. Encoders pause low layers under congestion; a second
// is long compared with a frame interval and short for a viewer.
const DefaultTimeout = time.Second

// Tracker records when each layer of one sender last delivered a packet.
// Seen is called on the hot path and only does an atomic store.
type Tracker struct {
	timeout time.Duration
	last    [Count]atomic.Int64 // unix nanoseconds; 0 = never
}

// NewTracker returns a tracker with the given stop timeout (0 means
// DefaultTimeout).
func NewTracker(timeout time.Duration) *Tracker {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Tracker{timeout: timeout}
}

// Seen records a packet of layer l at now (unix nanoseconds).
func (t *Tracker) Seen(l Layer, now int64) {
	if l >= R0 && l <= R2 {
		t.last[l].Store(now)
	}
}

// Arriving returns the layers that delivered a packet within the timeout
// before now (unix nanoseconds).
func (t *Tracker) Arriving(now int64) Set {
	var s Set
	for l := R0; l <= R2; l++ {
		if last := t.last[l].Load(); last != 0 && now-last <= int64(t.timeout) {
			s = s.With(l)
		}
	}
	return s
}
