package signaling_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/internal/sfutest"
	"github.com/gosfu/sfu/signaling"
)

// newLimitedServer serves a handler with opts and returns it and its URL.
func newLimitedServer(t *testing.T, opts ...signaling.Option) (*signaling.Handler, string) {
	t.Helper()
	h := signaling.NewHandler(sfutest.NewEngine(t, sfu.Options{}), opts...)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// expectClose reads until the server closes ws and checks the reason.
func expectClose(t *testing.T, ctx context.Context, ws *websocket.Conn, reason string) {
	t.Helper()
	_, ce := readUntilClose(t, ctx, ws)
	if ce.Code != signaling.CloseCodeError || ce.Reason != reason {
		t.Fatalf("closed with %d %q, want 4490 %q", ce.Code, ce.Reason, reason)
	}
}

// One socket over WithMaxSockets is closed with TOO-MANY-CONNECTIONS and
// counted; once one closes, a new one is admitted.
func TestMaxSockets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, url := newLimitedServer(t, signaling.WithMaxSockets(2), signaling.WithConnectTimeout(5*time.Second))
	a := rawDial(t, ctx, url)
	rawDial(t, ctx, url)
	expectClose(t, ctx, rawDial(t, ctx, url), signaling.ReasonTooManySockets)
	if s := h.Stats(); s.RejectedSockets != 1 || s.OpenSockets != 2 {
		t.Errorf("Stats = %+v, want 1 rejected, 2 open", s)
	}
	a.Close(websocket.StatusNormalClosure, "")
	sfutest.Eventually(t, ctx, "the closed socket's slot given back", func() bool { return h.Stats().OpenSockets == 1 })
	c := rawDial(t, ctx, url)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"connect"}`)); err != nil {
		t.Fatal(err)
	}
	expectClose(t, ctx, c, "MISSING-CHANNEL-ID") // admitted: its connect was read
}

// A burst of sockets from one address beyond WithConnectRate is closed
// with CONNECT-RATE-LIMITED.
func TestConnectRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, url := newLimitedServer(t, signaling.WithConnectRate(0.001, 2), signaling.WithConnectTimeout(5*time.Second))
	rawDial(t, ctx, url)
	rawDial(t, ctx, url)
	expectClose(t, ctx, rawDial(t, ctx, url), signaling.ReasonConnectRateLimited)
	if s := h.Stats(); s.RejectedConnectRate != 1 {
		t.Errorf("Stats = %+v, want 1 rejected by rate", s)
	}
}

// A connected client sending messages faster than WithMessageRate is
// closed with MESSAGE-RATE-LIMITED, after the offer it was sent.
func TestMessageRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, url := newLimitedServer(t, signaling.WithMessageRate(1, 3))
	ws := rawDial(t, ctx, url)
	if err := ws.Write(ctx, websocket.MessageText, []byte(connectOK)); err != nil {
		t.Fatal(err)
	}
	const candidate = `{"type":"candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}`
	for range 10 {
		if err := ws.Write(ctx, websocket.MessageText, []byte(candidate)); err != nil {
			break // closed by the server
		}
	}
	msgs, ce := readUntilClose(t, ctx, ws)
	if ce.Code != signaling.CloseCodeError || ce.Reason != signaling.ReasonMessageRateLimited {
		t.Fatalf("closed with %d %q, want 4490 %q", ce.Code, ce.Reason, signaling.ReasonMessageRateLimited)
	}
	if len(msgs) == 0 || msgs[0]["type"] != "offer" {
		t.Errorf("messages before the close: %v, want the offer first", msgs)
	}
	if s := h.Stats(); s.ClosedMessageRate != 1 {
		t.Errorf("Stats = %+v, want 1 closed for its message rate", s)
	}
}
