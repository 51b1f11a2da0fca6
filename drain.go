package sfu

import (
	"context"
	"errors"
)

// ErrDraining: the engine is draining (Engine.Drain) and accepts no new
// connections. Connect returns it inside a *RejectedError whose Reason,
// ReasonDraining, tells the client to retry (elsewhere, or later).
var ErrDraining = errors.New("sfu: draining")

// ReasonDraining is the reason a connect is refused with while the engine
// drains. The connection was not made; a client may retry at once on
// another server, or here after a restart.
const ReasonDraining = "SERVER-DRAINING-RETRY"

var errDrainingRejected = &RejectedError{Reason: ReasonDraining, Err: ErrDraining}

// drainState is guarded by Engine.mu.
type drainState struct {
	active bool
	idle   chan struct{} // closed when no channel is left; nil until Drain
}

// idleLocked closes idle if a drain waits for it. Called with Engine.mu
// held when the last channel went.
func (d *drainState) idleLocked() {
	if d.idle != nil {
		select {
		case <-d.idle:
		default:
			close(d.idle)
		}
	}
}

// Drain stops accepting connections (Connect returns a *RejectedError
// with ReasonDraining, matching ErrDraining) and waits for the existing
// ones to end on their own. When ctx is done first, it closes those left
// with ReasonShutdown (close code 1001) and returns ctx's error. Media and
// the management API keep working while it waits. Draining cannot be
// undone; call Close afterwards to release the engine.
func (e *Engine) Drain(ctx context.Context) error {
	e.mu.Lock()
	e.drain.active = true
	if e.drain.idle == nil {
		e.drain.idle = make(chan struct{})
		if len(e.rooms) == 0 {
			close(e.drain.idle)
		}
	}
	idle := e.drain.idle
	e.mu.Unlock()
	e.log.Info("draining: refusing new connections")

	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	var conns []*Connection
	e.mu.Lock()
	for _, r := range e.rooms {
		conns = append(conns, r.all()...)
	}
	e.mu.Unlock()
	e.log.Info("drain deadline: closing the remaining connections", "connections", len(conns))
	for _, c := range conns {
		c.Close(ReasonShutdown)
	}
	return ctx.Err()
}

// Draining reports whether Drain was called: the engine accepts no new
// connections (a readiness probe reports not ready).
func (e *Engine) Draining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.drain.active
}
