package sfu

import (
	"time"

	"github.com/gosfu/sfu/datachannel"
)

// Defaults of DataChannelOptions.
const (
	DefaultDataChannelOpenTimeout     = 15 * time.Second
	DefaultMaxDataChannelMessageSize  = 64 << 10
	DefaultDataChannelMessagesPerSec  = 100
	DefaultDataChannelMessageBurst    = 200
	DefaultMaxDataChannelBufferedSize = 1 << 20
)

// DataChannelOptions configure DataChannel signaling and messaging.
type DataChannelOptions struct {
	// Signaling is data_channel_signaling for a client that does not
	// send it (Sora's default: false).
	Signaling bool
	// IgnoreDisconnectWebSocket is ignore_disconnect_websocket for a
	// client that does not send it (Sora's default: false).
	IgnoreDisconnectWebSocket bool
	// OpenTimeout bounds connect → every DataChannel open (default 15 s).
	// A connection whose DataChannels are not all open by then keeps its
	// signaling on the WebSocket, and the engine logs it.
	OpenTimeout time.Duration
	// Limits bound each connection's messaging (defaults: 64 KiB per
	// message, 100 messages/s with bursts of 200, 1 MiB queued per
	// receiver). Messages over a limit are dropped and counted in
	// Engine.DataChannelStats.
	Limits datachannel.Limits
	// Handler, when set, receives every message sent on a "#" label, in
	// the order each sender sent them, before it is relayed.
	Handler MessageHandler
}

// MessageHandler receives a channel's "#" messages, so that a Go program
// (a bot, a moderator, a recorder) takes part in its messaging.
// HandleMessage runs on the sender's read path: it must return quickly,
// and must not keep m.Data, which is shared with the receivers.
type MessageHandler interface {
	HandleMessage(m Message)
}

// Message is one message on a messaging label.
type Message struct {
	ChannelID string
	// ConnectionID is the sender's; ServerSenderID for messages sent
	// with Channel.SendMessage.
	ConnectionID string
	Label        string
	// Data is the payload as the sender sent it, decompressed. Read only.
	Data []byte
}

// ServerSenderID is the sender connection id of messages the engine sends
// itself (Channel.SendMessage): receivers whose label has a header get it
// before the payload, as they get a participant's id.
const ServerSenderID = "00000000000000000000000000"

// minSCTPMessageSize is the smallest DataChannel message size the engine
// accepts: room for a re-answer with many m-lines on the signaling
// DataChannel (the signaling handler's default message bound).
const minSCTPMessageSize = 256 << 10

// maxSCTPMessageSize is the largest DataChannel message the engine
// accepts and advertises (a=max-message-size): pion's default is 1 GiB,
// which a client could make the server buffer. A messaging message over
// Limits.MaxMessageSize but under this is dropped and counted; one over
// this closes the DataChannel it came on.
func (o DataChannelOptions) maxSCTPMessageSize() uint32 {
	return uint32(max(minSCTPMessageSize, o.Limits.MaxMessageSize+1<<10))
}

func (o DataChannelOptions) withDefaults() DataChannelOptions {
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = DefaultDataChannelOpenTimeout
	}
	l := &o.Limits
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = DefaultMaxDataChannelMessageSize
	}
	if l.MessagesPerSecond <= 0 {
		l.MessagesPerSecond = DefaultDataChannelMessagesPerSec
	}
	if l.Burst <= 0 {
		l.Burst = DefaultDataChannelMessageBurst
	}
	if l.MaxBufferedAmount == 0 {
		l.MaxBufferedAmount = DefaultMaxDataChannelBufferedSize
	}
	return o
}
