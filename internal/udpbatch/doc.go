// Package udpbatch wraps a UDP socket so that many small writes leave in
// one sendmmsg(2) system call instead of one sendto(2) each.
//
// [NewConn] returns a net.PacketConn that also implements the
// allocation-free methods pion/ice's UDP mux looks for
// (ReadFromAddrPort, WriteToAddrPort). Writes are copied into a fixed
// ring of preallocated slots and sent together when the batch is full,
// when Flush is called (the SFU calls it after fanning one packet out to
// every subscriber), or by a timer a short delay after the first queued
// write, so that ICE, DTLS and RTCP writes nobody flushes still go out
// promptly. Reads pass through untouched.
//
// Batching is implemented on Linux only; elsewhere NewConn returns the
// socket itself.
package udpbatch

import "time"

// Defaults for [Config] fields left at zero.
const (
	DefaultCapacity = 16
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
	// Delay bounds how long a queued packet waits when nobody calls
	// Flush (default DefaultDelay, at most one millisecond is sensible).
	Delay time.Duration
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
	Packets uint64 // packets sent in batches
	Batches uint64 // sendmmsg calls that sent at least one packet
	Direct  uint64 // packets written directly (too large, or an address the batch cannot encode)
	Drops   uint64 // queued packets that failed to send and were dropped
}

// Flusher is implemented by the conn NewConn returns when it batches.
type Flusher interface {
	Flush()
}
