package sfu_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// panicObserver panics on every event it is shown.
type panicObserver struct{}

func (panicObserver) Observe(sfu.LifecycleEvent) { panic("observer bug") }

// Embedder hooks that panic (Authenticate, OnConnectionCreated,
// OnConnectionDestroyed, an Observer) end only the connection concerned:
// the panic is logged with its stack, and the channel's other connections
// keep their media.
func TestHookPanicEndsOnlyItsConnection(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	logs := &lockedBuffer{}
	ts := newTestServer(t, sfu.Options{
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Authenticate: func(_ context.Context, req *sfu.ConnectRequest) (sfu.Decision, error) {
			if req.ClientID == "auth-bomb" {
				panic("authenticate bug")
			}
			return sfu.Decision{Allow: true}, nil
		},
		OnConnectionCreated: func(c sfu.ConnectionInfo) {
			if c.ClientID == "created-bomb" {
				panic("created bug")
			}
		},
		OnConnectionDestroyed: func(sfu.ConnectionInfo, sfu.CloseReason) { panic("destroyed bug") },
	})
	ts.engine.AddObserver(panicObserver{})

	rt := newRouter()
	pub := newPublisher(t, "pub")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "c", ClientID: "pub", Role: client.RoleSendonly, VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 10*time.Millisecond)
	sub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "c", ClientID: "sub", Role: client.RoleRecvonly, OnTrack: rt.onTrack})
	rt.from(p.ConnectionID()).wait(t, ctx, "sub before the panics")

	_, err := client.Dial(ctx, client.Config{URL: ts.url, ChannelID: "c", ClientID: "auth-bomb", Role: client.RoleRecvonly})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != "AUTH-ERROR" {
		t.Fatalf("connect with a panicking Authenticate: %v, want 4490 AUTH-ERROR", err)
	}
	// The server may end it before or after Dial sees it connected.
	bomb, err := client.Dial(ctx, client.Config{URL: ts.url, ChannelID: "c", ClientID: "created-bomb", Role: client.RoleRecvonly})
	if err == nil {
		defer bomb.Close()
		select {
		case <-bomb.Done():
		case <-ctx.Done():
			t.Fatal("the connection whose OnConnectionCreated panicked was not ended")
		}
		ce = bomb.CloseError()
	} else if !errors.As(err, &ce) {
		ce = nil
	}
	if ce == nil || ce.Code != 4490 || ce.Reason != "INTERNAL-ERROR" {
		t.Errorf("the connection whose OnConnectionCreated panicked: %v (%v), want 4490 INTERNAL-ERROR", ce, err)
	}

	// The others go on: a new subscriber gets the publisher's media, the
	// first one is still there.
	rt2 := newRouter()
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "c", ClientID: "sub2", Role: client.RoleRecvonly, OnTrack: rt2.onTrack})
	rt2.from(p.ConnectionID()).wait(t, ctx, "a subscriber after the panics")
	select {
	case <-sub.Done():
		t.Errorf("the first subscriber was closed: %v", sub.CloseError())
	default:
	}
	out := logs.String()
	for _, hook := range []string{"hook=Authenticate", "hook=OnConnectionCreated", "hook=OnConnectionDestroyed", "hook=Observer"} {
		if !strings.Contains(out, "embedder hook panicked") || !strings.Contains(out, hook) {
			t.Errorf("no panic logged for %s", hook)
		}
	}
	if !strings.Contains(out, "hooks_test.go") {
		t.Error("the panic log has no stack")
	}
	if n := ts.engine.Stats().HookPanics; n < 4 {
		t.Errorf("HookPanics = %d, want at least 4", n)
	}
}
