package sfu

import (
	"context"
	"encoding/json"
	"fmt"
)

// Channel is a handle on one channel of an Engine. A channel exists while
// it has connections; methods return ErrChannelNotFound otherwise. Handles
// are cheap and safe for concurrent use.
type Channel struct {
	engine *Engine
	id     string
}

// ID returns the channel id.
func (ch *Channel) ID() string { return ch.id }

// Connections returns the channel's connections in join order, including
// those still setting up. It is empty for a channel that does not exist.
func (ch *Channel) Connections() []*Connection {
	r := ch.engine.room(ch.id)
	if r == nil {
		return nil
	}
	return r.all()
}

// Connection returns the connection with that id.
func (ch *Channel) Connection(connID string) (*Connection, error) {
	r := ch.engine.room(ch.id)
	if r == nil {
		return nil, fmt.Errorf("%w: %q", ErrChannelNotFound, ch.id)
	}
	c := r.find(connID)
	if c == nil {
		return nil, fmt.Errorf("%w: %q in channel %q", ErrConnectionNotFound, connID, ch.id)
	}
	return c, nil
}

// Disconnect closes every connection of the channel. Clients see close
// code 1000, reason DISCONNECTED-API.
func (ch *Channel) Disconnect(ctx context.Context) error {
	r := ch.engine.room(ch.id)
	if r == nil {
		return fmt.Errorf("%w: %q", ErrChannelNotFound, ch.id)
	}
	for _, c := range r.all() {
		c.Close(ReasonDisconnectedAPI)
	}
	return nil
}

// DisconnectConnection closes one connection (close 1000,
// DISCONNECTED-API).
func (ch *Channel) DisconnectConnection(ctx context.Context, connID string) error {
	c, err := ch.Connection(connID)
	if err != nil {
		return err
	}
	c.Close(ReasonDisconnectedAPI)
	return nil
}

// Push sends data to every connected connection of the channel.
func (ch *Channel) Push(ctx context.Context, data json.RawMessage) error {
	r := ch.engine.room(ch.id)
	if r == nil {
		return fmt.Errorf("%w: %q", ErrChannelNotFound, ch.id)
	}
	for _, c := range r.connected() {
		c.Push(data)
	}
	return nil
}
