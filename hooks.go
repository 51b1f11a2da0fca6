package sfu

import (
	"context"
	"fmt"
	"runtime/debug"
)

// ReasonInternalError ends a connection whose embedder hook panicked.
var ReasonInternalError = CloseReason{4490, "INTERNAL-ERROR"}

// An embedder's hook (Authenticate, OnConnectionCreated,
// OnConnectionDestroyed, a MessageHandler, an Observer) that panics must
// not take the process down: the panic is recovered, logged with its
// stack and counted, and only the connection it concerned is ended.

// recoverHook is deferred around a hook call. It recovers a panic, logs
// it with its stack and the connection's ids, and reports it in
// *panicked when that is not nil.
func (e *Engine) recoverHook(hook string, c *Connection, panicked *bool) {
	v := recover()
	if v == nil {
		return
	}
	e.stats.HookPanicked()
	args := []any{"hook", hook, "panic", fmt.Sprint(v), "stack", string(debug.Stack())}
	if c != nil {
		args = append(args, "channel_id", c.channelID, "connection_id", c.id)
	}
	e.log.Error("embedder hook panicked", args...)
	if panicked != nil {
		*panicked = true
	}
}

// callAuthenticate runs the Authenticate hook; a panic refuses the
// connect with AUTH-ERROR.
func (e *Engine) callAuthenticate(ctx context.Context, req *ConnectRequest) (d Decision, err error) {
	panicked := false
	defer func() {
		if panicked {
			d, err = Decision{}, fmt.Errorf("sfu: Authenticate panicked")
		}
	}()
	defer e.recoverHook("Authenticate", nil, &panicked)
	return e.opts.Authenticate(ctx, req)
}

// connectionCreated runs OnConnectionCreated; a panic ends c.
func (c *Connection) connectionCreated(h func(ConnectionInfo)) {
	panicked := false
	func() {
		defer c.engine.recoverHook("OnConnectionCreated", c, &panicked)
		h(c.Info())
	}()
	if panicked {
		c.engine.goTracked(func() { c.Close(ReasonInternalError) })
	}
}

// connectionDestroyed runs OnConnectionDestroyed; a panic is logged.
func (c *Connection) connectionDestroyed(h func(ConnectionInfo, CloseReason)) {
	defer c.engine.recoverHook("OnConnectionDestroyed", c, nil)
	h(c.Info(), c.reason)
}

// handleMessage hands m to the MessageHandler and reports whether it
// returned; a panic ends the sender's connection.
func (e *Engine) handleMessage(h MessageHandler, sender *Connection, m Message) (ok bool) {
	panicked := false
	func() {
		defer e.recoverHook("MessageHandler", sender, &panicked)
		h.HandleMessage(m)
	}()
	if panicked {
		e.goTracked(func() { sender.Close(ReasonInternalError) })
	}
	return !panicked
}
