package sfu_test

import (
	"errors"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// An adapter that stops draining a connection's events gets the
// connection closed, instead of blocking its channel.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	ts := newTestServer(t, sfu.Options{EventQueueSize: 2})
	ctx := testContext(t, 10*time.Second)
	conn, offer, err := ts.engine.Connect(ctx, sfu.ConnectRequest{ChannelID: "slow", Role: sfu.RoleRecvOnly})
	if err != nil {
		t.Fatal(err)
	}
	if offer.ConnectionID != conn.ID() || len(conn.ID()) != 26 {
		t.Errorf("offer names connection %q, connection is %q", offer.ConnectionID, conn.ID())
	}
	for range 3 {
		conn.Push([]byte(`{"n":1}`))
	}
	select {
	case <-conn.Done():
	case <-ctx.Done():
		t.Fatal("connection not closed although nobody drains its events")
	}
	if got := conn.CloseReason(); got != sfu.ReasonSlowConsumer {
		t.Errorf("close reason = %v, want %v", got, sfu.ReasonSlowConsumer)
	}
	if n := len(ts.engine.Channels()); n != 0 {
		t.Errorf("%d channels left after the only connection closed", n)
	}
}

func TestConnectionLimit(t *testing.T) {
	ts := newTestServer(t, sfu.Options{MaxConnectionsPerChannel: 1})
	ctx := testContext(t, 10*time.Second)
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "full", Role: "recvonly"})
	_, err := client.Dial(ctx, client.Config{URL: ts.url, ChannelID: "full", Role: "recvonly"})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != "LIMIT-EXCEEDED" {
		t.Errorf("second connection: %v, want close 4490 LIMIT-EXCEEDED", err)
	}
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "other", Role: "recvonly"})
	if _, _, err := ts.engine.Connect(ctx, sfu.ConnectRequest{ChannelID: "full", Role: sfu.RoleRecvOnly}); !errors.Is(err, sfu.ErrLimitExceeded) {
		t.Errorf("Connect over the limit: %v, want ErrLimitExceeded", err)
	}
}
