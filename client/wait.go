package client

import (
	"context"
	"encoding/json"
	"sync"
)

// Wait blocks until cond returns true, ctx ends, or the signaling
// connection ended with cond still false. cond is evaluated at once and
// again after every change the client sees (a message, a new remote track,
// a PeerConnection state change), never while the client holds a lock, so
// it may call the client's getters. It returns nil, ctx's error, or the
// reason the signaling ended (see Err).
func (c *Client) Wait(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			if cond() {
				return nil
			}
			if err := c.Err(); err != nil {
				return err
			}
			return ErrClosed
		}
	}
}

// Notifies returns every "notify" received so far, oldest first. The
// client keeps them all for its lifetime.
func (c *Client) Notifies() []Notify {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Notify(nil), c.notifies...)
}

// WaitNotify waits until a notify for which match returns true has been
// received (including ones received before the call) and returns the
// first such message. A nil match accepts any notify.
func (c *Client) WaitNotify(ctx context.Context, match func(eventType string, raw json.RawMessage) bool) (json.RawMessage, error) {
	var found json.RawMessage
	err := c.Wait(ctx, func() bool {
		for _, n := range c.Notifies() {
			if match == nil || match(n.EventType, n.Raw) {
				found = n.Raw
				return true
			}
		}
		return false
	})
	return found, err
}

// Pushes returns the "data" of every "push" received so far, oldest first.
func (c *Client) Pushes() []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]json.RawMessage(nil), c.pushes...)
}

// WaitPush waits until a push whose data satisfies match has been received
// (including ones received before the call) and returns that data. A nil
// match accepts any push.
func (c *Client) WaitPush(ctx context.Context, match func(data json.RawMessage) bool) (json.RawMessage, error) {
	var found json.RawMessage
	err := c.Wait(ctx, func() bool {
		for _, d := range c.Pushes() {
			if match == nil || match(d) {
				found = d
				return true
			}
		}
		return false
	})
	return found, err
}

// ReOffers returns the number of re-offers answered so far.
func (c *Client) ReOffers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reOffers
}

// WaitReOffers waits until at least n re-offers have been answered.
func (c *Client) WaitReOffers(ctx context.Context, n int) error {
	return c.Wait(ctx, func() bool { return c.ReOffers() >= n })
}

// RemoteTracks returns every remote track seen so far, in arrival order
// (tracks of departed publishers included).
func (c *Client) RemoteTracks() []*RemoteTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*RemoteTrack(nil), c.tracks...)
}

// WaitRemoteTracks waits until at least n remote tracks have arrived (pion
// reports a track when its first packet arrives).
func (c *Client) WaitRemoteTracks(ctx context.Context, n int) error {
	return c.Wait(ctx, func() bool { return len(c.RemoteTracks()) >= n })
}

// dispatcher runs callbacks one at a time, in order, on one goroutine, so
// that a slow callback never holds up signaling.
type dispatcher struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []func()
	closed bool
}

func newDispatcher() *dispatcher {
	d := &dispatcher{}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *dispatcher) push(f func()) {
	d.mu.Lock()
	if !d.closed {
		d.queue = append(d.queue, f)
		d.cond.Signal()
	}
	d.mu.Unlock()
}

// close lets run return once the queue is empty.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
}

func (d *dispatcher) run() {
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if len(d.queue) == 0 {
			d.mu.Unlock()
			return
		}
		f := d.queue[0]
		d.queue[0] = nil
		d.queue = d.queue[1:]
		d.mu.Unlock()
		f()
	}
}
