package signaling_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/signaling"
)

// fakeRouter sends channel "elsewhere" to location, refuses "broken" and
// serves the rest here, counting done calls.
type fakeRouter struct {
	location   string
	redirected atomic.Bool // a connect came with "redirect": true
	done       atomic.Int32
}

func (r *fakeRouter) Route(ctx context.Context, req sfu.ConnectRequest) (string, func(), error) {
	if req.Redirected {
		r.redirected.Store(true)
	}
	switch req.ChannelID {
	case "elsewhere":
		return r.location, nil, nil
	case "broken":
		return "", nil, &sfu.RejectedError{Reason: "CLUSTER-UNAVAILABLE", Err: errors.New("nats down")}
	}
	return "", func() { r.done.Add(1) }, nil
}

func TestRouterRedirects(t *testing.T) {
	r := &fakeRouter{location: "wss://other.example/signaling"}
	url := newServer(t, sfu.Options{}, signaling.WithRouter(r))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ws := rawDial(t, ctx, url)
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"connect","role":"recvonly","channel_id":"elsewhere"}`)); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"type":"redirect","location":"wss://other.example/signaling"}` {
		t.Fatalf("got %s", data)
	}
	// The client closes, as sora-js-sdk does; the server lets it.
	ws.Close(websocket.StatusNormalClosure, "")

	// Refused by the router: 4490 with the router's reason, no offer.
	ws = rawDial(t, ctx, url)
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"connect","role":"recvonly","channel_id":"broken"}`)); err != nil {
		t.Fatal(err)
	}
	msgs, ce := readUntilClose(t, ctx, ws)
	if len(msgs) != 0 || ce.Code != 4490 || ce.Reason != "CLUSTER-UNAVAILABLE" {
		t.Fatalf("got %v then %v", msgs, ce)
	}

	// Served here: an offer, the done callback once Connect returned,
	// and the re-sent connect's redirect flag reaches the router.
	ws = rawDial(t, ctx, url)
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"connect","role":"recvonly","channel_id":"here","redirect":true}`)); err != nil {
		t.Fatal(err)
	}
	_, data, err = ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(data[:16]) != `{"type":"offer",` {
		t.Fatalf("got %.80s", data)
	}
	if r.done.Load() != 1 || !r.redirected.Load() {
		t.Fatalf("done called %d times, redirect flag seen %v", r.done.Load(), r.redirected.Load())
	}
}
