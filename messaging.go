package sfu

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/datachannel"
)

// messagingReceiver is one connection's open DataChannel of a messaging
// label with a receiving direction.
type messagingReceiver struct {
	c    *Connection
	ch   *webrtc.DataChannel
	spec datachannel.Spec
}

// receiverSets maps a messaging label to its receivers. A room replaces
// the whole map on every change (copy on write), so that a relay reads it
// without a lock or an allocation.
type receiverSets map[string][]messagingReceiver

func (r *room) addMessagingReceiver(label string, mr messagingReceiver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.conns, mr.c) {
		return // left while its DataChannel opened
	}
	var next receiverSets
	if cur := r.receivers.Load(); cur != nil {
		next = maps.Clone(*cur)
	} else {
		next = receiverSets{}
	}
	next[label] = append(slices.Clip(next[label]), mr)
	r.receivers.Store(&next)
}

// removeMessagingReceivers drops c's receivers; r.mu must be held.
func (r *room) removeMessagingReceiversLocked(c *Connection) {
	cur := r.receivers.Load()
	if cur == nil {
		return
	}
	next := receiverSets{}
	for label, rs := range *cur {
		kept := slices.DeleteFunc(slices.Clone(rs), func(mr messagingReceiver) bool { return mr.c == c })
		if len(kept) > 0 {
			next[label] = kept
		}
	}
	r.receivers.Store(&next)
}

// relay takes a message from sender on label, checks it against the
// sender's label and limits, hands it to the engine's MessageHandler and
// fans it out to every other receiver of the label.
func (r *room) relay(sender *Connection, label string, data []byte) {
	e := r.engine
	lim := e.opts.DataChannels.Limits
	spec, ok := sender.dc.specs[label]
	switch {
	case !ok || !spec.Direction.Sends():
		e.dcCounters.Dropped(datachannel.DropNotAllowed)
		return
	case len(data) > lim.MaxMessageSize:
		e.dcCounters.Dropped(datachannel.DropTooLarge)
		return
	case !sender.dc.limiter.Allow():
		e.dcCounters.Dropped(datachannel.DropRateLimited)
		return
	}
	payload := data
	if spec.Compress {
		var err error
		if payload, err = datachannel.Decompress(data, lim.MaxMessageSize); err != nil {
			if errors.Is(err, datachannel.ErrTooLarge) {
				e.dcCounters.Dropped(datachannel.DropTooLarge)
			} else {
				e.dcCounters.Dropped(datachannel.DropUndecodable)
			}
			return
		}
	}
	e.dcCounters.Relayed()
	if h := e.opts.DataChannels.Handler; h != nil && !e.handleMessage(h, sender, Message{ChannelID: r.id, ConnectionID: sender.id, Label: label, Data: payload}) {
		return
	}
	var out datachannel.Outgoing
	out.Reset(sender.id, payload)
	r.deliver(&out, label, sender, "")
}

// deliver sends out to the receivers of label, except the sender, or
// only to connection to when it is set. It returns how many it was handed
// to.
func (r *room) deliver(out *datachannel.Outgoing, label string, except *Connection, to string) int {
	e := r.engine
	sets := r.receivers.Load()
	if sets == nil {
		return 0
	}
	n := 0
	for _, mr := range (*sets)[label] {
		if mr.c == except || (to != "" && mr.c.id != to) {
			continue
		}
		if mr.ch.BufferedAmount() > e.opts.DataChannels.Limits.MaxBufferedAmount {
			e.dcCounters.Dropped(datachannel.DropBufferFull)
			continue
		}
		frame, err := out.Frame(mr.spec.WithSenderID(), mr.spec.Compress)
		if err != nil {
			e.dcCounters.Dropped(datachannel.DropDeliveryFailed)
			continue
		}
		if err := mr.ch.Send(frame); err != nil {
			e.dcCounters.Dropped(datachannel.DropDeliveryFailed)
			continue
		}
		e.dcCounters.Sent(len(frame))
		e.dcCounters.Delivered()
		n++
	}
	return n
}

// SendMessage sends data on a messaging label to every connection of the
// channel that has the label with a receiving direction, as a
// participant's message from ServerSenderID. It returns how many
// connections it was handed to.
func (ch *Channel) SendMessage(ctx context.Context, label string, data []byte) (int, error) {
	return ch.sendMessage(label, data, "")
}

// SendMessageTo sends data on a messaging label to one connection. It
// returns ErrFeatureDisabled when the connection has no open DataChannel
// of that label with a receiving direction, or when that DataChannel has
// more than Limits.MaxBufferedAmount queued (counted as DroppedBufferFull).
func (ch *Channel) SendMessageTo(ctx context.Context, connID, label string, data []byte) error {
	if _, err := ch.Connection(connID); err != nil {
		return err
	}
	n, err := ch.sendMessage(label, data, connID)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: connection %q does not receive on %q", ErrFeatureDisabled, connID, label)
	}
	return nil
}

func (ch *Channel) sendMessage(label string, data []byte, to string) (int, error) {
	if !datachannel.IsMessagingLabel(label) || len(label) > datachannel.MaxLabelLength {
		return 0, invalid("label", "%q is not a messaging label (#name)", label)
	}
	if max := ch.engine.opts.DataChannels.Limits.MaxMessageSize; len(data) > max {
		return 0, invalid("data", "larger than %d bytes", max)
	}
	r := ch.engine.room(ch.id)
	if r == nil {
		return 0, fmt.Errorf("%w: %q", ErrChannelNotFound, ch.id)
	}
	var out datachannel.Outgoing
	out.Reset(ServerSenderID, data)
	return r.deliver(&out, label, nil, to), nil
}
