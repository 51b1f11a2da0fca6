// Package udpbatch wraps a UDP socket so that many small writes leave in
// a few sendmmsg(2) system calls instead of one sendto(2) each, and so
// that runs of packets to the same destination leave as one UDP GSO
// message each.
//
// [NewConn] returns a net.PacketConn that also implements the
// allocation-free methods pion/ice's UDP mux looks for
// (ReadFromAddrPort, WriteToAddrPort). Writes are copied into a fixed
// ring of preallocated slots (or built there by the caller, with
// [Conn.WriteToAddrPortFunc]) and sent together when the batch is full,
// when Flush or End(true) is called, or by a timer (see "Delays"). Reads
// return one datagram each, as the plain socket's do.
//
// Both sendmmsg and the reads' recvfrom are made as raw system calls
// (the runtime poller still waits for readiness): the socket is
// non-blocking, so they never block, and a plain system call costs the
// whole process more than the call. It wakes Go's sysmon when the
// process leaves idle, which then polls every 20 µs for a millisecond,
// and a send to a hundred receivers that lasts over 20 µs gets its P
// handed to another thread. With one packet arriving every few
// milliseconds, that polling and hand-off cost more than the I/O: sysmon
// was 11 % of the server's CPU under scripts/load.sh with plain calls
// and 1 % with raw ones (docs/performance.md, "Raw system calls").
//
// # GSO
//
// On a flush the queued packets are grouped by destination: a group is a
// run of one destination's packets, in queue order, that all have the
// same size except the last, which may be smaller. That is the kernel's
// rule for UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18):
// one sendmmsg entry carries the whole group, with one iovec per packet
// pointing at its slot and a control message giving the segment size,
// and the kernel cuts it back into the original datagrams after routing
// and the UDP/IP work were done once. The receiver sees the same
// datagrams as without GSO. The SFU fans a video frame out to every
// subscriber before flushing, and packetizers split a frame into
// packets of (nearly) equal size, so a flush typically holds one or two
// such groups per subscriber. Per-destination order is kept exactly;
// order across destinations is not. Grouping is O(n) per flush and does
// not allocate.
//
// A group is capped at 64 segments (the kernel's UDP_MAX_SEGMENTS was 64
// before Linux 6.9 and is 128 since) and 65000 bytes (one IP datagram).
//
// # Fallback
//
// NewConn probes the socket for UDP_SEGMENT; without it, or with
// Config.DisableGSO, every packet is its own sendmmsg entry. The probe
// matters: kernels before 4.18 ignore the control message and would send
// a group as one merged datagram. If a GSO send fails with an error that
// means "not here" (EIO: no checksum offload or IPsec on the route;
// EINVAL: e.g. SO_NO_CHECK; EOPNOTSUPP), GSO is switched off for the
// conn and the group is resent one datagram per packet, so nothing is
// lost. A segment larger than the route's (path) MTU fails too
// (EMSGSIZE, or EINVAL on kernels without an early-2025 fix), although
// the same datagram alone would be fragmented: then only groups of
// segments above 1232 bytes (the IPv6 minimum MTU less headers) stop
// being formed, and GSO stays on for the rest. Empty datagrams are never
// grouped (a segment cannot be empty).
//
// # Runs and delays
//
// A caller that writes a burst (the forwarder fanning a video frame out
// to all subscribers) brackets it with Begin and End. While any run is
// open, writes do not arm the timer. End(true) sends everything queued
// before it returns. End(false) lets the queued packets wait for more
// writes to the same destinations, which makes larger GSO groups: they
// are sent once no run was open for Delay since the last End(false)
// (each End(false) pushes this idle deadline back, and the next run of a
// burst may take longer than Delay to write its fan-out), and never later
// than 4×Delay after the oldest queued packet was queued.
//
// A write made while no run is open (ICE, DTLS, RTCP from pion's
// goroutines) is sent at the latest Delay after it was queued. A write
// made while some run is open, by whichever goroutine, is covered by that
// run's End. Runs must therefore be short and always ended; an End
// without its Begin panics.
//
// A conn that is being read needs no timer: from a datagram its reader
// returned until the reader finds the socket empty, neither writes nor
// End(false) arm the timer, and the reader sends what is queued before it
// waits. A forwarder that writes from the reader goroutine thus holds a
// frame's packets exactly as long as the rest of the frame is queued.
//
// The timer is one goroutine per conn. It is woken once when a batch
// first gets a deadline, not per write or per End, and sleeps until the
// current deadline, re-reading it when it wakes.
//
// Batching is implemented on Linux only; elsewhere NewConn returns the
// socket itself.
//
// Layering: an internal helper of the root sfu package, which puts one
// Conn under pion/ice's UDP mux for all peers; package forward writes to
// it through small interfaces (Batch, PacketWriter) and never imports it.
//
// Guarantees: writes, runs and reads allocate nothing (TestZeroAllocs,
// TestZeroAllocsRuns); any number of goroutines may write concurrently;
// per-destination order is kept; a packet waits at most 4×Delay; Close
// sends what is queued.
package udpbatch

import "time"

// Defaults for [Config] fields left at zero.
const (
	// DefaultCapacity holds a video frame's fan-out (a handful of packets
	// to each of 100-odd subscribers) and equals UIO_MAXIOV, the most
	// messages one sendmmsg call takes.
	DefaultCapacity = 1024
	DefaultSlotSize = 1500
	DefaultDelay    = 500 * time.Microsecond
)

// Config tunes a batching conn. The zero value uses the defaults.
type Config struct {
	// Capacity is the number of packets one batch holds; a full batch is
	// sent at once (default DefaultCapacity).
	Capacity int
	// SlotSize is the largest packet that is batched; larger ones are
	// written directly, after flushing the batch (default DefaultSlotSize).
	SlotSize int
	// Delay bounds how long a queued packet waits when nobody flushes
	// (default DefaultDelay, at most one millisecond is sensible); see
	// the package documentation for the exact guarantees.
	Delay time.Duration
	// DisableGSO sends one datagram per sendmmsg entry even where the
	// kernel supports UDP GSO.
	DisableGSO bool
}

func (c Config) withDefaults() Config {
	if c.Capacity <= 0 {
		c.Capacity = DefaultCapacity
	}
	if c.SlotSize <= 0 {
		c.SlotSize = DefaultSlotSize
	}
	if c.Delay <= 0 {
		c.Delay = DefaultDelay
	}
	return c
}

// Stats counts what a batching conn did.
type Stats struct {
	Packets     uint64 // packets sent in batches, with or without GSO
	Batches     uint64 // sendmmsg calls that sent at least one packet
	GSOMessages uint64 // sendmmsg entries sent with UDP GSO (2 or more packets each)
	GSOSegments uint64 // packets sent in those entries (counted in Packets too)
	GSOFailures uint64 // GSO entries the kernel refused; their packets were resent one by one
	Direct      uint64 // packets written directly (too large, or an address the batch cannot encode)
	Drops       uint64 // queued packets that failed to send and were dropped
}

// Flusher is implemented by the conn NewConn returns when it batches.
type Flusher interface {
	// Flush sends everything queued before it returns.
	Flush()
}

// Batcher is implemented by the conn NewConn returns when it batches (on
// Linux; elsewhere NewConn returns the socket, which implements neither
// Batcher nor Flusher). It adds runs to Flusher: see the package
// documentation.
type Batcher interface {
	Flusher
	// Begin opens a run; while any run is open, writes do not arm the
	// timer. Every Begin must be followed by exactly one End.
	Begin()
	// End closes the run Begin opened. With flush, everything queued is
	// sent before End returns; without, it is sent once no run was open
	// for Delay after the last End(false), and at the latest 4×Delay
	// after the oldest queued packet was queued.
	End(flush bool)
}
