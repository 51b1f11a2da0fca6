// Package forward is the media plane of gosfu: it reads RTP from a
// publisher's track (a [Source]) and fans it out to the subscribers'
// outgoing tracks (each a [DownTrack]).
//
// The fan-out runs inline in the source's read goroutine. The list of
// down-tracks is an immutable slice behind an atomic pointer, so the hot
// path takes no lock that the control plane can hold; adding or removing a
// down-track copies the slice.
package forward
