// Package forward is the media plane of gosfu: it reads RTP from a
// publisher's track (a [Source]) and fans it out to the subscribers'
// outgoing tracks (each a [DownTrack]).
//
// The fan-out runs inline in the source's read goroutine. The list of
// down-tracks is an immutable slice behind an atomic pointer, so the hot
// path takes no lock that the control plane can hold; adding or removing a
// down-track copies the slice.
//
// With a [Batch] (the engine's batching UDP socket) each packet's fan-out
// is one run of the batch. A video packet that was already queued behind
// the previous one, and is not the last of its frame, ends its run without
// a flush, so that the frame's packets to each subscriber leave together
// (one UDP GSO message); every other packet is flushed when its fan-out
// ends.
package forward
