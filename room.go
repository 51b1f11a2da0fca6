package sfu

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/metadata"
)

// room is the state of one channel. Its mutex guards membership and the
// list of publications; it is never held across pion calls.
type room struct {
	engine    *Engine
	id        string
	sessionID string // this lifetime of the channel
	createdAt time.Time

	mu    sync.Mutex
	conns []*Connection // in join order
	pubs  []*publication
	// meta is the connections' signaling-notify metadata. Changes are
	// made under mu, so pushes leave in the order of the changes.
	meta *metadata.Store
	// receivers are the messaging labels' receivers (messaging.go).
	receivers atomic.Pointer[receiverSets]
	// forwards are the running RTP forwards, by publisher (rtpforward.go).
	forwards map[string]*rtpForward
	// spot is the spotlight state; nil unless the channel's first
	// connection asked for spotlight.
	spot *roomSpotlight
}

func newRoom(e *Engine, id string, first *Connection) *room {
	r := &room{engine: e, id: id, sessionID: newSessionID(), createdAt: time.Now(),
		meta: metadata.NewStore(e.opts.MaxMetadataSize)}
	if first.spotlight {
		r.spot = newRoomSpotlight(e.opts.Spotlight, first.spot.number)
		e.goTracked(r.spotRun)
	}
	return r
}

func (r *room) add(c *Connection, limit int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.conns) >= limit {
		return fmt.Errorf("%w: %d connections in channel", ErrLimitExceeded, limit)
	}
	r.conns = append(r.conns, c)
	return nil
}

func (r *room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns) == 0
}

func (r *room) all() []*Connection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.conns)
}

// find returns the connection with that id, or nil.
func (r *room) find(connID string) *Connection {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		if c.id == connID {
			return c
		}
	}
	return nil
}

// connected returns the connections whose media connected, in join order.
func (r *room) connected() []*Connection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.connectedLocked()
}

func (r *room) connectedLocked() []*Connection {
	out := make([]*Connection, 0, len(r.conns))
	for _, c := range r.conns {
		if c.isConnected() {
			out = append(out, c)
		}
	}
	return out
}

// publicationsFor returns the publications c should receive: every other
// publisher's, except those of its own bundle.
func (r *room) publicationsFor(c *Connection) []*publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*publication
	for _, p := range r.pubs {
		if p.owner != c && p.owner.bundleID != c.bundleID {
			out = append(out, p)
		}
	}
	return out
}

// publicationsOf returns the publications of owner.
func (r *room) publicationsOf(owner *Connection) []*publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*publication
	for _, p := range r.pubs {
		if p.owner == owner {
			out = append(out, p)
		}
	}
	return out
}

// publish adds a source to its owner's publication of that kind (a new
// simulcast layer joins the existing one) and asks every receiving
// connection to bring its subscriptions up to date.
func (r *room) publish(owner *Connection, src *forward.Source) {
	r.mu.Lock()
	var pub *publication
	for _, p := range r.pubs {
		if p.owner == owner && p.kind == src.Kind() {
			pub = p
		}
	}
	if pub == nil {
		pub = newPublication(owner, src.Kind())
		r.pubs = append(r.pubs, pub)
	}
	pub.add(src)
	subs := r.receiversLocked(owner)
	r.mu.Unlock()
	for _, c := range subs {
		c.renegotiate()
	}
}

// unpublish removes a source; a publication left without sources goes.
func (r *room) unpublish(src *forward.Source) {
	r.mu.Lock()
	var owner *Connection
	r.pubs = slices.DeleteFunc(r.pubs, func(p *publication) bool {
		if !p.has(src) {
			return false
		}
		owner = p.owner
		return p.remove(src)
	})
	var subs []*Connection
	if owner != nil {
		subs = r.receiversLocked(owner)
	}
	r.mu.Unlock()
	for _, c := range subs {
		c.renegotiate()
	}
}

func (r *room) receiversLocked(except *Connection) []*Connection {
	var out []*Connection
	for _, c := range r.conns {
		if c != except && c.role.Receives() {
			out = append(out, c)
		}
	}
	return out
}

// counts fills the channel counters of n from the connected connections.
func countsLocked(conns []*Connection, n *Notify) {
	for _, c := range conns {
		n.Connections++
		switch c.role {
		case RoleSendRecv:
			n.SendRecv++
		case RoleSendOnly:
			n.SendOnly++
		case RoleRecvOnly:
			n.RecvOnly++
		}
	}
}

// markConnected records that c's media connected and sends the
// connection.created notifies: c's own (with data listing the others),
// then c's to every other connected connection.
func (r *room) markConnected(c *Connection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.conns, c) || !c.setConnected() {
		return
	}
	setup := time.Unix(0, c.connectedAt.Load()).Sub(c.createdAt)
	r.engine.stats.ConnectionConnected(setup)
	// Under r.mu, so that it is observed before c's ConnectionDestroyed.
	r.engine.observe(LifecycleEvent{Kind: ConnectionCreated, ChannelID: r.id, SessionID: r.sessionID,
		Connection: c.Info(), Setup: setup})
	conns := r.connectedLocked()
	self := c.notify("connection.created", conns)
	self.Data = make([]NotifyEntry, 0, len(conns)-1)
	for _, o := range conns {
		if o != c {
			self.Data = append(self.Data, NotifyEntry{ConnectionID: o.id, ClientID: o.clientID,
				Metadata: r.meta.Get(o.id), AuthzMetadata: o.authzMetadata})
		}
	}
	c.emit(Event{Kind: EventNotify, Notify: self})
	created := c.notify("connection.created", conns) // one value for all the others
	for _, o := range conns {
		if o != c {
			o.emit(Event{Kind: EventNotify, Notify: created})
		}
	}
}

// remove takes c out of the room with its publications, tells the others
// (connection.destroyed, if c had connected) and renegotiates them. The
// caller then drops the room if it is empty (Engine.dropIfEmpty).
func (r *room) remove(c *Connection) {
	r.mu.Lock()
	i := slices.Index(r.conns, c)
	if i < 0 {
		r.mu.Unlock()
		return
	}
	r.conns = slices.Delete(r.conns, i, i+1)
	hadPubs := false
	r.pubs = slices.DeleteFunc(r.pubs, func(p *publication) bool {
		if p.owner == c {
			hadPubs = true
			return true
		}
		return false
	})
	if c.isConnected() {
		conns := r.connectedLocked()
		destroyed := c.notify("connection.destroyed", conns)
		for _, o := range conns {
			o.emit(Event{Kind: EventNotify, Notify: destroyed})
		}
	}
	r.meta.Remove(c.id)
	r.stopForwardLocked(c)
	r.removeMessagingReceiversLocked(c)
	for _, o := range r.conns {
		o.forgetSender(c.id)
	}
	var subs []*Connection
	if hadPubs {
		subs = r.receiversLocked(c)
	}
	r.mu.Unlock()
	r.spotLeave(c)
	for _, o := range subs {
		o.renegotiate()
	}
}

// notify builds a notify about c with the counts of conns.
func (c *Connection) notify(eventType string, conns []*Connection) *Notify {
	n := &Notify{
		EventType:         eventType,
		Timestamp:         timestamp(time.Now()),
		Role:              c.role,
		ChannelID:         c.channelID,
		ClientID:          c.clientID,
		BundleID:          c.bundleID,
		ConnectionID:      c.id,
		Audio:             c.audio,
		Video:             c.video,
		Metadata:          c.room.meta.Get(c.id),
		AuthzMetadata:     c.authzMetadata,
		Minutes:           int(time.Since(c.createdAt) / time.Minute),
		TURNTransportType: "udp",
	}
	countsLocked(conns, n)
	return n
}
