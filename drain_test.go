package sfu_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

func packetsReceived(c *client.Client) (n uint64) {
	for _, tr := range c.RemoteTracks() {
		n += tr.Packets()
	}
	return n
}

// TestDrainKeepsMediaUntilDeadline: while draining, a new connect is
// refused with a reason to retry, media keeps flowing to the existing
// subscriber, and at the deadline the rest are closed with 1001.
func TestDrainKeepsMediaUntilDeadline(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	pub := newPublisher(t, "pub")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 5*time.Millisecond)
	sub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly"})
	sfutest.Eventually(t, ctx, "subscriber receives", func() bool { return packetsReceived(sub) >= 20 })

	deadline, expire := context.WithCancel(ctx)
	drained := make(chan error, 1)
	go func() { drained <- ts.engine.Drain(deadline) }()
	sfutest.Eventually(t, ctx, "draining", ts.engine.Draining)

	_, err := client.Dial(ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly"})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != sfu.ReasonDraining {
		t.Fatalf("connect while draining: %v, want 4490 %s", err, sfu.ReasonDraining)
	}
	before := packetsReceived(sub)
	sfutest.Eventually(t, ctx, "media keeps flowing while draining", func() bool { return packetsReceived(sub) >= before+50 })
	select {
	case err := <-drained:
		t.Fatalf("Drain returned %v before its deadline with connections left", err)
	default:
	}

	expire()
	if err := <-drained; !errors.Is(err, context.Canceled) {
		t.Errorf("Drain = %v, want the deadline's error", err)
	}
	for _, c := range []*client.Client{p, sub} {
		<-c.Done()
		if ce := c.CloseError(); ce == nil || ce.Code != 1001 {
			t.Errorf("closed with %v, want 1001", ce)
		}
	}
}

// TestDrainEndsWhenConnectionsLeave: Drain returns as soon as the last
// connection ends on its own.
func TestDrainEndsWhenConnectionsLeave(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	c := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly"})
	drained := make(chan error, 1)
	go func() { drained <- ts.engine.Drain(ctx) }()
	sfutest.Eventually(t, ctx, "draining", ts.engine.Draining)
	if err := c.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-drained; err != nil {
		t.Errorf("Drain = %v, want nil once the channel emptied", err)
	}
	if err := ts.engine.Drain(ctx); err != nil { // nothing left: at once
		t.Errorf("second Drain = %v", err)
	}
}
