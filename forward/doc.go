// Package forward is the media plane of gosfu: it reads RTP from a
// publisher's track (a [Source]) and fans it out to the subscribers'
// outgoing tracks (each a [DownTrack]).
//
// The fan-out runs inline in the goroutine that delivers the packet: the
// source's read loop ([Source.Run], reading what pion decrypted), or, once
// the engine's [Ingress] owns the stream, the UDP socket's reader itself. The list of
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
//
// A down-track given an [Egress] does not write through pion: once the
// subscriber's DTLS handshake is done, the egress seals each packet with
// the connection's SRTP keys (recovered by the engine from pion's
// handshake hooks) straight into the shared UDP socket's send slot (the
// batching socket's; a plain one gets it from the down-track's own
// buffer), for the address ICE selected. Until then, and
// for a connection whose keys are not known, packets go through pion's
// writer as usual. For the AEAD profiles it seals on crypto/cipher itself,
// straight from the source's payload.
//
// The [Ingress] is the same on the way in: an [IngressConn] wraps the
// socket under pion's ICE UDP mux, and a publisher connection's Ingress
// opens the SRTP of its published streams with the remote keys and hands
// each packet to its Source in the reader goroutine. pion reads only
// what the ingress does not take: STUN, DTLS, RTCP, each stream's first
// packets (pion needs them to report the track), and everything of a
// connection whose keys are not known. [Attach] starts both at the end of
// the DTLS handshake.
//
// Layering: forward is the bottom of the engine. The root sfu package
// creates Sources for publications and DownTracks for subscriptions and
// writes each pair's [Policy] (pause, requested layer); forward imports
// pion but no other gosfu package.
//
// Guarantees: forwarding a packet allocates nothing, in the source, the
// down-tracks, the egress and the ingress (TestForwardDoesNotAllocate,
// TestEgressZeroAllocs, TestIngressZeroAllocs, and
// benchmarks.TestForwardZeroAllocsRealPeerConnection through a real
// PeerConnection); there is no goroutine or channel hand-off per packet.
// Control calls (adding and removing down-tracks, switching layers,
// policies) are safe from any goroutine while packets flow; a Source's
// packets must come from one goroutine at a time, as a track's reader or
// the socket's reader delivers them.
package forward
