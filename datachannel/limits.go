package datachannel

import (
	"sync/atomic"

	"golang.org/x/time/rate"
)

// Limits bound what one connection may send on its messaging labels.
type Limits struct {
	// MaxMessageSize bounds one message in bytes, after decompression.
	MaxMessageSize int
	// MessagesPerSecond is the sustained rate; Burst the messages a
	// connection may send at once after being quiet.
	MessagesPerSecond float64
	Burst             int
	// MaxBufferedAmount bounds the bytes queued to one receiver's
	// DataChannel; a message that would go over is dropped for that
	// receiver.
	MaxBufferedAmount uint64
}

// NewLimiter returns a connection's rate limiter for l. It is safe for
// concurrent use (one connection's labels are read by several
// goroutines) and does not allocate.
func (l Limits) NewLimiter() *rate.Limiter {
	return rate.NewLimiter(rate.Limit(l.MessagesPerSecond), l.Burst)
}

// Counters count an engine's DataChannel traffic. The zero value is
// ready; it is safe for concurrent use.
type Counters struct {
	// Every DataChannel message, signaling labels included, as SCTP
	// user messages.
	received, receivedBytes atomic.Uint64
	sent, sentBytes         atomic.Uint64

	// Messaging: messages relayed and deliveries made, and what was
	// dropped and why.
	relayed, delivered                      atomic.Uint64
	tooLarge, rateLimited, notAllowed       atomic.Uint64
	undecodable, bufferFull, deliveryFailed atomic.Uint64
}

// Received counts one message of n bytes from a client.
func (c *Counters) Received(n int) {
	c.received.Add(1)
	c.receivedBytes.Add(uint64(n))
}

// Sent counts one message of n bytes to a client.
func (c *Counters) Sent(n int) {
	c.sent.Add(1)
	c.sentBytes.Add(uint64(n))
}

// Relayed counts a messaging message accepted for fan-out.
func (c *Counters) Relayed() { c.relayed.Add(1) }

// Delivered counts one message handed to one receiver.
func (c *Counters) Delivered() { c.delivered.Add(1) }

// Drop reasons.
type DropReason int

// Why a message was dropped.
const (
	// DropTooLarge: over MaxMessageSize (or inflating to more).
	DropTooLarge DropReason = iota
	// DropRateLimited: the sender went over its rate.
	DropRateLimited
	// DropNotAllowed: the sender's label is recvonly, or not one it
	// asked for.
	DropNotAllowed
	// DropUndecodable: the label is compressed and the message is not a
	// zlib stream.
	DropUndecodable
	// DropBufferFull: the receiver's DataChannel had more than
	// MaxBufferedAmount queued (counted per receiver).
	DropBufferFull
	// DropDeliveryFailed: the receiver's DataChannel refused the message
	// (closing; counted per receiver).
	DropDeliveryFailed
)

// Dropped counts one message dropped for reason.
func (c *Counters) Dropped(reason DropReason) {
	switch reason {
	case DropTooLarge:
		c.tooLarge.Add(1)
	case DropRateLimited:
		c.rateLimited.Add(1)
	case DropNotAllowed:
		c.notAllowed.Add(1)
	case DropUndecodable:
		c.undecodable.Add(1)
	case DropBufferFull:
		c.bufferFull.Add(1)
	case DropDeliveryFailed:
		c.deliveryFailed.Add(1)
	}
}

// Stats is a snapshot of Counters.
type Stats struct {
	// SCTP user messages and their bytes, every label.
	ReceivedMessages, ReceivedBytes uint64
	SentMessages, SentBytes         uint64
	// Messaging.
	Relayed, Delivered uint64
	// Dropped messages by reason.
	DroppedTooLarge, DroppedRateLimited, DroppedNotAllowed       uint64
	DroppedUndecodable, DroppedBufferFull, DroppedDeliveryFailed uint64
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() Stats {
	return Stats{
		ReceivedMessages: c.received.Load(), ReceivedBytes: c.receivedBytes.Load(),
		SentMessages: c.sent.Load(), SentBytes: c.sentBytes.Load(),
		Relayed: c.relayed.Load(), Delivered: c.delivered.Load(),
		DroppedTooLarge: c.tooLarge.Load(), DroppedRateLimited: c.rateLimited.Load(),
		DroppedNotAllowed: c.notAllowed.Load(), DroppedUndecodable: c.undecodable.Load(),
		DroppedBufferFull: c.bufferFull.Load(), DroppedDeliveryFailed: c.deliveryFailed.Load(),
	}
}
