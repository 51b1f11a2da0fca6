package sfu_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// recorder is an Observer that keeps every event and signals each one.
type recorder struct {
	mu     sync.Mutex
	events []sfu.LifecycleEvent
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) Observe(ev sfu.LifecycleEvent) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// waitKind waits for an event of kind (about connection connID, if not
// empty) and returns every event so far.
func (r *recorder) waitKind(t *testing.T, ctx context.Context, kind sfu.LifecycleKind, connID ...string) []sfu.LifecycleEvent {
	t.Helper()
	for {
		r.mu.Lock()
		evs := append([]sfu.LifecycleEvent(nil), r.events...)
		r.mu.Unlock()
		for _, ev := range evs {
			if ev.Kind == kind && (len(connID) == 0 || ev.Connection.ConnectionID == connID[0]) {
				return evs
			}
		}
		select {
		case <-r.signal:
		case <-ctx.Done():
			t.Fatalf("no %s event; got %v", kind, evs)
		}
	}
}

func TestObserverSeesLifecycleInOrder(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	rec := newRecorder()
	ts.engine.AddObserver(rec)
	ctx := testContext(t, 20*time.Second)

	if _, err := client.Dial(ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "bogus"}); err == nil {
		t.Fatal("role bogus accepted")
	}
	// A connection's own connection.created notify is sent after it was
	// observed: waiting for it orders a before b.
	created := func(typ string, _ json.RawMessage) bool { return typ == "connection.created" }
	a := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly"})
	if _, err := a.WaitNotify(ctx, created); err != nil {
		t.Fatal(err)
	}
	b := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "sendrecv"})
	if _, err := b.WaitNotify(ctx, created); err != nil {
		t.Fatal(err)
	}
	if err := b.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	rec.waitKind(t, ctx, sfu.ConnectionDestroyed, b.ConnectionID())
	if err := a.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	evs := rec.waitKind(t, ctx, sfu.SessionDestroyed)

	type step struct {
		kind sfu.LifecycleKind
		conn string
	}
	var got []step
	var sessionID string
	for _, ev := range evs {
		if ev.Kind == sfu.ConnectionUpdated {
			continue // re-negotiations, as many as there happen to be
		}
		got = append(got, step{ev.Kind, ev.Connection.ConnectionID})
		switch ev.Kind {
		case sfu.ConnectRefused:
			if !errors.Is(ev.Err, sfu.ErrInvalidArgument) {
				t.Errorf("refused with %v, want ErrInvalidArgument", ev.Err)
			}
		case sfu.SessionCreated:
			sessionID = ev.SessionID
		case sfu.ConnectionDestroyed:
			if !ev.Connected || ev.Reason != sfu.ReasonDisconnect || ev.Duration <= 0 {
				t.Errorf("destroyed: connected %v, reason %v, duration %v", ev.Connected, ev.Reason, ev.Duration)
			}
		case sfu.ConnectionCreated:
			if ev.Setup <= 0 {
				t.Errorf("created: setup %v", ev.Setup)
			}
		}
		if ev.Kind != sfu.ConnectRefused && (ev.SessionID == "" || ev.SessionID != sessionID || ev.ChannelID != "room") {
			t.Errorf("%s: channel %q session %q, want room %q", ev.Kind, ev.ChannelID, ev.SessionID, sessionID)
		}
	}
	want := []step{
		{sfu.ConnectRefused, ""},
		{sfu.SessionCreated, ""},
		{sfu.ConnectionCreated, a.ConnectionID()},
		{sfu.ConnectionCreated, b.ConnectionID()},
		{sfu.ConnectionDestroyed, b.ConnectionID()},
		{sfu.ConnectionDestroyed, a.ConnectionID()},
		{sfu.SessionDestroyed, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// TestObserverConnectionThatNeverConnected: a connection accepted but
// never connected is destroyed with Connected false, and was never
// observed as created.
func TestObserverConnectionThatNeverConnected(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	rec := newRecorder()
	ts.engine.AddObserver(rec)
	ctx := testContext(t, 20*time.Second)
	c, _, err := ts.engine.Connect(ctx, sfu.ConnectRequest{ChannelID: "c", Role: sfu.RoleRecvOnly})
	if err != nil {
		t.Fatal(err)
	}
	c.Close(sfu.ReasonDisconnectedAPI)
	evs := rec.waitKind(t, ctx, sfu.SessionDestroyed)
	var kinds []sfu.LifecycleKind
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
		if ev.Kind == sfu.ConnectionDestroyed && (ev.Connected || ev.Duration != 0 || ev.Connection.ConnectionID != c.ID()) {
			t.Errorf("destroyed: %+v", ev)
		}
	}
	want := []sfu.LifecycleKind{sfu.SessionCreated, sfu.ConnectionDestroyed, sfu.SessionDestroyed}
	if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
		t.Errorf("events %v, want %v", kinds, want)
	}
}
