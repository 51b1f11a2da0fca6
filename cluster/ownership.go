package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	sfu "github.com/gosfu/sfu"
)

// channelKey encodes a channel id as a key: NATS keys allow only
// A-Z a-z 0-9 - _ = . /, channel ids allow more.
func channelKey(ch string) string { return base64.RawURLEncoding.EncodeToString([]byte(ch)) }

// ownership is a node's local view of the channels it owns, guarded by
// mu. A claim is released (its key deleted) only when no connect for the
// channel is in flight here and the engine has no such channel, so a
// connect routed here never finds its claim gone under it.
type ownership struct {
	mu        sync.Mutex
	owned     map[string]uint64        // channel → revision of our key
	inflight  map[string]int           // connects between Route and Connect's return
	live      map[string]bool          // channels the engine has (observer)
	releasing map[string]chan struct{} // closed when the key's deletion is done
	pending   map[string]bool          // to release, for ownerLoop
	conns     int                      // connected connections (observer)
	wake      chan struct{}            // cap 1: pending has entries
}

func newOwnership() ownership {
	return ownership{
		owned: map[string]uint64{}, inflight: map[string]int{}, live: map[string]bool{},
		releasing: map[string]chan struct{}{}, pending: map[string]bool{},
		wake: make(chan struct{}, 1),
	}
}

// begin counts a connect in flight for ch and reports whether this node
// owns ch. It waits while ch's release is under way.
func (o *ownership) begin(ctx context.Context, ch string) (bool, error) {
	for {
		o.mu.Lock()
		wait, releasing := o.releasing[ch]
		if !releasing {
			o.inflight[ch]++
			_, owned := o.owned[ch]
			o.mu.Unlock()
			return owned, nil
		}
		o.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// end ends a connect begun with begin.
func (o *ownership) end(ch string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inflight[ch]--; o.inflight[ch] <= 0 {
		delete(o.inflight, ch)
		o.scheduleLocked(ch)
	}
}

// adopt records a claim (ours since rev).
func (o *ownership) adopt(ch string, rev uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.owned[ch]; !ok {
		o.owned[ch] = rev
	}
}

// scheduleLocked queues ch's release if nothing holds it any more.
func (o *ownership) scheduleLocked(ch string) {
	if _, owned := o.owned[ch]; !owned || o.inflight[ch] > 0 || o.live[ch] {
		return
	}
	o.pending[ch] = true
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// takeReleasable moves the pending channels that are still releasable
// into releasing and returns them with their revisions.
func (o *ownership) takeReleasable() map[string]uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]uint64{}
	for ch := range o.pending {
		delete(o.pending, ch)
		rev, owned := o.owned[ch]
		if !owned || o.inflight[ch] > 0 || o.live[ch] {
			continue
		}
		delete(o.owned, ch)
		o.releasing[ch] = make(chan struct{})
		out[ch] = rev
	}
	return out
}

// released ends ch's release.
func (o *ownership) released(ch string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.releasing[ch]; ok {
		close(c)
		delete(o.releasing, ch)
	}
}

// snapshot copies the claims, for the heartbeat.
func (o *ownership) snapshot() map[string]uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]uint64, len(o.owned))
	for ch, rev := range o.owned {
		out[ch] = rev
	}
	return out
}

// refreshed records a heartbeat's new revision; lost drops a claim that
// another node took over.
func (o *ownership) refreshed(ch string, old, rev uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owned[ch] == old {
		o.owned[ch] = rev
	}
}

func (o *ownership) lost(ch string, old uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owned[ch] == old {
		delete(o.owned, ch)
	}
}

// takeAll empties the claims, for Close.
func (o *ownership) takeAll() map[string]uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.owned
	o.owned = map[string]uint64{}
	return out
}

func (o *ownership) connections() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.conns
}

// observer feeds the engine's lifecycle into the node's ownership. It
// only touches maps: Observe must not block.
type observer struct{ n *Node }

func (ob observer) Observe(ev sfu.LifecycleEvent) {
	o := &ob.n.own
	o.mu.Lock()
	defer o.mu.Unlock()
	switch ev.Kind {
	case sfu.SessionCreated:
		o.live[ev.ChannelID] = true
		if _, owned := o.owned[ev.ChannelID]; !owned && o.inflight[ev.ChannelID] == 0 {
			ob.n.log.Warn("channel created without a claim (engine used beside the cluster's handlers?)", "channel_id", ev.ChannelID)
		}
	case sfu.SessionDestroyed:
		delete(o.live, ev.ChannelID)
		o.scheduleLocked(ev.ChannelID)
	case sfu.ConnectionCreated:
		o.conns++
	case sfu.ConnectionDestroyed:
		if ev.Connected {
			o.conns--
		}
	}
}

// ownerLoop heartbeats the node and its claims every TTL/3 and releases
// the claims of channels that ended. One goroutine does both, so a
// release never races a heartbeat of the same key.
func (n *Node) ownerLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.TTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-n.quit:
			return
		case <-tick.C:
			n.heartbeat()
		case <-n.own.wake:
			n.release()
		}
	}
}

func (n *Node) heartbeat() {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.TTL/3)
	defer cancel()
	if err := n.register(ctx); err != nil {
		n.log.Warn("heartbeat", "err", err)
	}
	for ch, rev := range n.own.snapshot() {
		nrev, err := n.channels.Update(ctx, channelKey(ch), []byte(n.cfg.NodeName), rev)
		switch {
		case err == nil:
			n.own.refreshed(ch, rev, nrev)
		case isWrongRevision(err):
			n.own.lost(ch, rev)
			n.log.Error("lost a channel's ownership (heartbeats were late by more than the TTL)", "channel_id", ch)
		default:
			n.log.Warn("channel heartbeat", "channel_id", ch, "err", err)
		}
	}
}

func (n *Node) release() {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.RequestTimeout)
	defer cancel()
	for ch, rev := range n.own.takeReleasable() {
		err := n.channels.Delete(ctx, channelKey(ch), jetstream.LastRevision(rev))
		if err != nil && !isWrongRevision(err) {
			n.log.Warn("release channel", "channel_id", ch, "err", err)
		}
		n.own.released(ch)
	}
}

// isWrongRevision: the key changed since our revision (another node
// claimed it after ours expired).
func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}
