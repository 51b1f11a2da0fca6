package spotlight

import "sync/atomic"

// Meter folds one sender's RFC 6464 audio levels into the current window.
// The forwarding path calls AddLevel for every audio packet; the
// [Detector] takes the window's mean once per tick. Both are lock-free:
// one atomic add per packet, one atomic swap per tick.
type Meter struct {
	// v packs the window: packets in the high 32 bits, the sum of their
	// loudness (127 - level, so silence adds 0) in the low 32. A window
	// would need 33 million packets to overflow the sum.
	v atomic.Uint64
}

// AddLevel adds one packet's audio level: the 7-bit level of the RFC 6464
// extension, in -dBov (0 is the loudest, 127 silence). Higher bits are
// ignored, so the extension's first byte (voice flag and level) can be
// passed as is.
func (m *Meter) AddLevel(level uint8) {
	m.v.Add(1<<32 | uint64(127-level&0x7f))
}

// take returns the window's mean loudness (127 - mean level; 0 when no
// packet came) and starts a new window.
func (m *Meter) take() int {
	v := m.v.Swap(0)
	n := v >> 32
	if n == 0 {
		return 0
	}
	return int((v & 0xffffffff) / n)
}
