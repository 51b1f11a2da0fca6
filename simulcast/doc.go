// Package simulcast decides which simulcast layer a receiver gets from a
// sender. A simulcast publisher sends up to three layers, r0 < r1 < r2. A
// receiver asks for one; it gets that one if it is arriving, otherwise the
// next lower layer that is, otherwise the next higher one. A layer that
// stops arriving for a while is dropped from the choice and taken back when
// it returns.
//
// The package is pure logic with no WebRTC dependency: the engine reports
// arrivals to a [Tracker] and asks [Choose] what to forward; switching
// itself (at a key frame of the new layer) happens in package forward.
//
// Layering: a feature package below the root sfu package; it imports
// nothing of gosfu or pion. Guarantees: Tracker.Seen is called per packet
// and is one atomic store, without allocation or lock; a Tracker is safe
// for concurrent use; Choose is a pure function.
package simulcast
