package sfu

import (
	"slices"
	"sync"
	"time"

	"github.com/gosfu/sfu/internal/id"
	"github.com/gosfu/sfu/stats"
)

// Observer learns the lifecycle of an engine's connections and channels:
// connects refused, connections created, re-negotiated and destroyed,
// channels (sessions) created and destroyed. Webhooks, metrics and audit
// logs are observers; add one with Engine.AddObserver.
//
// Observe is called synchronously on the engine's control path, sometimes
// with a channel's lock held, so it must return at once: it must not block,
// do I/O or call back into the engine. An observer that has work to do
// queues the event and does it elsewhere. The events of one channel are
// observed in the order they happened: a session's SessionCreated comes
// before its connections' events, a connection's ConnectionCreated before
// its ConnectionDestroyed, and SessionDestroyed last.
type Observer interface {
	Observe(LifecycleEvent)
}

// StatsContributor is implemented by an Observer that keeps counters of
// its own for GetStatsReport (the webhook senders): Engine.Stats adds
// them to the snapshot.
type StatsContributor interface {
	ContributeStats(*stats.Snapshot)
}

// LifecycleKind says what a LifecycleEvent reports.
type LifecycleKind int

// Lifecycle event kinds.
const (
	// ConnectRefused: Connect refused a request (invalid, denied by
	// Authenticate, over a limit, or the engine is draining). Err says
	// why; Connection holds what was requested.
	ConnectRefused LifecycleKind = iota + 1
	// ConnectionCreated: a connection's media connected. Setup is the
	// time from connect to then.
	ConnectionCreated
	// ConnectionUpdated: a connection completed a re-negotiation.
	ConnectionUpdated
	// ConnectionDestroyed: a connection accepted by Connect ended.
	// Connected says whether its media had connected (only then was
	// ConnectionCreated observed); Duration is how long it was connected.
	ConnectionDestroyed
	// SessionCreated: a channel came into existence (its first
	// connection was accepted).
	SessionCreated
	// SessionDestroyed: a channel ended (its last connection left).
	// Duration is how long it existed.
	SessionDestroyed
)

// String names the kind as Sora's webhooks do ("connection.created").
func (k LifecycleKind) String() string {
	switch k {
	case ConnectRefused:
		return "connect.refused"
	case ConnectionCreated:
		return "connection.created"
	case ConnectionUpdated:
		return "connection.updated"
	case ConnectionDestroyed:
		return "connection.destroyed"
	case SessionCreated:
		return "session.created"
	case SessionDestroyed:
		return "session.destroyed"
	}
	return "unknown"
}

// LifecycleEvent is one thing that happened to a connection or channel.
type LifecycleEvent struct {
	Kind LifecycleKind
	// Time is when it happened.
	Time      time.Time
	ChannelID string
	// SessionID names this lifetime of the channel: a channel that ends
	// and is used again gets a new one. Empty for ConnectRefused.
	SessionID string
	// Connection describes the connection (zero for session events).
	Connection ConnectionInfo
	// Connected, for ConnectionDestroyed: the media had connected.
	Connected bool
	// Setup, for ConnectionCreated: connect → media connected.
	Setup time.Duration
	// Duration, for ConnectionDestroyed: how long the connection was
	// connected (0 if never); for SessionDestroyed: the channel's life.
	Duration time.Duration
	// Reason, for ConnectionDestroyed: why it ended.
	Reason CloseReason
	// Err, for ConnectRefused: Connect's error (match it with errors.Is
	// and errors.As: ErrInvalidArgument, ErrRejected, ErrLimitExceeded,
	// ErrDraining, ...).
	Err error
}

// observers is the engine's list, copied on write: observing takes no
// lock but the list's own, briefly.
type observers struct {
	mu   sync.Mutex
	list []Observer
}

// AddObserver makes o observe the engine's lifecycle events from now on.
// Add observers before serving clients, or the first events are missed.
func (e *Engine) AddObserver(o Observer) {
	e.observers.mu.Lock()
	defer e.observers.mu.Unlock()
	e.observers.list = append(slices.Clip(e.observers.list), o)
}

func (e *Engine) observerList() []Observer {
	e.observers.mu.Lock()
	defer e.observers.mu.Unlock()
	return e.observers.list
}

// observe hands ev to every observer.
func (e *Engine) observe(ev LifecycleEvent) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	for _, o := range e.observerList() {
		e.observeOne(o, ev)
	}
}

// observeOne hands ev to o; a panic is logged and the other observers
// still see ev.
func (e *Engine) observeOne(o Observer, ev LifecycleEvent) {
	defer e.recoverHook("Observer", nil, nil)
	o.Observe(ev)
}

// contributeStats adds the counters of observers that keep their own.
func (e *Engine) contributeStats(s *stats.Snapshot) {
	for _, o := range e.observerList() {
		if c, ok := o.(StatsContributor); ok {
			c.ContributeStats(s)
		}
	}
}

// newSessionID names a channel's lifetime, like a connection id.
func newSessionID() string { return id.New() }
