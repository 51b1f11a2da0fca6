// Package udpgro is a UDP socket that reads with UDP generic receive
// offload (UDP_GRO, Linux 5.0): the kernel may hand it several datagrams
// of one sender coalesced into one buffer, with their segment size in a
// control message, and [Conn] splits them back into the original
// datagrams, one per read.
//
// On loopback this matters for whoever sends with UDP GSO (UDP_SEGMENT):
// the kernel runs the receiver's input path inside the sender's send
// call, and a receiving socket without UDP_GRO makes it segment every GSO
// message there and queue and wake the receiver once per segment, all
// charged to the sender. With UDP_GRO a GSO message is queued whole, as
// it would be after a real network's receive offload.
//
// [Listen] returns an error wrapping [ErrUnsupported] on systems other
// than Linux, and where the kernel refuses UDP_GRO.
//
// Layering: used only by the load generator (cmd/sfu-load -gro), never by
// the engine. Reads allocate nothing (TestReadAllocs).
package udpgro

import "errors"

// ErrUnsupported means that UDP GRO is not available on this system.
var ErrUnsupported = errors.New("udpgro: UDP GRO is not supported")
