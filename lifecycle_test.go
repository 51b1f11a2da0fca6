package sfu_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// router hands each remote track to the receiver of its publisher.
type router struct {
	want int // packets of each kind a receiver waits for
	mu   sync.Mutex
	recv map[string]*receiver
}

func newRouter() *router { return &router{want: 20, recv: map[string]*receiver{}} }

// from returns the receiver for the publisher with that connection id.
func (rt *router) from(connID string) *receiver {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	r := rt.recv[connID]
	if r == nil {
		r = newReceiver(rt.want)
		rt.recv[connID] = r
	}
	return r
}

func (rt *router) onTrack(t *client.RemoteTrack) { rt.from(t.ConnectionID).onTrack(t) }

// mediaSections parses an SDP and returns its m-lines' msid stream ids
// ("" for none) and whether each is active (not inactive, port not 0).
func mediaSections(t *testing.T, raw string) (streams []string, active []bool) {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatalf("parse SDP: %v", err)
	}
	for _, m := range sd.MediaDescriptions {
		stream := ""
		if v, ok := m.Attribute("msid"); ok {
			stream, _, _ = strings.Cut(v, " ")
		}
		_, inactive := m.Attribute("inactive")
		streams = append(streams, stream)
		active = append(active, !inactive && m.MediaName.Port.Value != 0)
	}
	return streams, active
}

// activeStreams counts the active m-lines per msid stream id.
func activeStreams(t *testing.T, raw string) map[string]int {
	streams, active := mediaSections(t, raw)
	out := map[string]int{}
	for i, s := range streams {
		if active[i] && s != "" {
			out[s]++
		}
	}
	return out
}

func TestPublisherJoinsAfterSubscriberAndLeaves(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)

	rt := newRouter()
	sub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "recvonly", OnTrack: rt.onTrack})

	pub := newPublisher(t, "pub")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 5*time.Millisecond)
	rt.from(p.ConnectionID()).wait(t, ctx, "subscriber")
	if got := activeStreams(t, sub.RemoteSDP())[p.ConnectionID()]; got != 2 {
		t.Fatalf("subscriber SDP has %d active m-lines of the publisher, want 2", got)
	}

	reOffers := sub.ReOffers()
	if err := p.Disconnect(ctx); err != nil {
		t.Fatalf("publisher disconnect: %v", err)
	}
	pub.Halt()
	raw, err := sub.WaitNotify(ctx, func(typ string, raw json.RawMessage) bool {
		return typ == "connection.destroyed" && strings.Contains(string(raw), p.ConnectionID())
	})
	if err != nil {
		t.Fatalf("no connection.destroyed: %v", err)
	}
	var n struct {
		ConnectionID string `json:"connection_id"`
		Connections  int    `json:"channel_connections"`
		SendOnly     int    `json:"channel_sendonly_connections"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	if n.Connections != 1 || n.SendOnly != 0 {
		t.Errorf("connection.destroyed counts = %+v, want 1 connection, 0 sendonly", n)
	}
	if err := sub.Wait(ctx, func() bool {
		return sub.ReOffers() > reOffers && activeStreams(t, sub.RemoteSDP())[p.ConnectionID()] == 0
	}); err != nil {
		t.Fatalf("publisher's m-lines not stopped by a re-offer: %v\n%s", err, sub.RemoteSDP())
	}
}

func TestSendrecvPairExchangesMedia(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)

	rtA, rtB := newRouter(), newRouter()
	pubA, pubB := newPublisher(t, "a"), newPublisher(t, "b")
	a := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "pair", Role: "sendrecv", VideoCodecType: "VP8", Tracks: pubA.tracks(), OnTrack: rtA.onTrack})
	pubA.start(t, 5*time.Millisecond)
	b := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "pair", Role: "sendrecv", VideoCodecType: "VP8", Tracks: pubB.tracks(), OnTrack: rtB.onTrack})
	pubB.start(t, 5*time.Millisecond)

	rtA.from(b.ConnectionID()).wait(t, ctx, "a receiving b")
	rtB.from(a.ConnectionID()).wait(t, ctx, "b receiving a")
	for name, c := range map[string]*client.Client{"a": a, "b": b} {
		if got := activeStreams(t, c.RemoteSDP())[c.ConnectionID()]; got != 0 {
			t.Errorf("%s is offered its own media (%d m-lines)", name, got)
		}
	}
}

func TestChurnKeepsSubscriberSDPBounded(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 120*time.Second)

	rt := newRouter()
	sub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "churn", Role: "recvonly", OnTrack: rt.onTrack})
	const rounds, peak = 30, 1
	maxLines := 0
	for i := range rounds {
		pub := newPublisher(t, fmt.Sprintf("p%d", i))
		p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "churn", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
		pub.start(t, 5*time.Millisecond)
		rt.from(p.ConnectionID()).wait(t, ctx, fmt.Sprintf("round %d", i))
		streams, _ := mediaSections(t, sub.RemoteSDP())
		maxLines = max(maxLines, len(streams))

		if err := p.Disconnect(ctx); err != nil {
			t.Fatalf("round %d: disconnect: %v", i, err)
		}
		pub.Halt()
		if err := sub.Wait(ctx, func() bool { return len(activeStreams(t, sub.RemoteSDP())) == 0 }); err != nil {
			t.Fatalf("round %d: publisher's m-lines still active: %v", i, err)
		}
	}
	streams, _ := mediaSections(t, sub.RemoteSDP())
	maxLines = max(maxLines, len(streams))
	if limit := 2*peak + 2; maxLines > limit {
		t.Errorf("subscriber SDP grew to %d m-lines over %d publishers, want at most %d", maxLines, rounds, limit)
	}
}

func TestNotifyConnectionCreatedAndDestroyed(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)

	pub := newPublisher(t, "a")
	a := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "n", Role: "sendrecv", ClientID: "alice", Tracks: pub.tracks()})
	self := waitCreated(t, ctx, a, a.ConnectionID())
	wantNotify(t, "a's own connection.created", self, map[string]any{
		"type": "notify", "event_type": "connection.created", "role": "sendrecv", "channel_id": "n",
		"connection_id": a.ConnectionID(), "client_id": "alice", "bundle_id": a.ConnectionID(),
		"audio": true, "video": true, "minutes": 0.0, "turn_transport_type": "udp",
		"channel_connections": 1.0, "channel_sendrecv_connections": 1.0,
		"channel_sendonly_connections": 0.0, "channel_recvonly_connections": 0.0,
		"data": []any{},
	})
	if ts, ok := self["timestamp"].(string); !ok || len(ts) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(ts, "Z") {
		t.Errorf("timestamp = %v, want RFC 3339 with milliseconds in UTC", self["timestamp"])
	}

	b := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "n", Role: "recvonly"})
	counts := map[string]any{
		"channel_connections": 2.0, "channel_sendrecv_connections": 1.0,
		"channel_sendonly_connections": 0.0, "channel_recvonly_connections": 1.0,
	}
	bSelf := waitCreated(t, ctx, b, b.ConnectionID())
	wantNotify(t, "b's own connection.created", bSelf, counts)
	wantNotify(t, "b's own connection.created", bSelf, map[string]any{
		"role": "recvonly", "client_id": b.ConnectionID(),
		"data": []any{map[string]any{"connection_id": a.ConnectionID(), "client_id": "alice"}},
	})
	aSeesB := waitCreated(t, ctx, a, b.ConnectionID())
	wantNotify(t, "a's connection.created for b", aSeesB, counts)
	if _, ok := aSeesB["data"]; ok {
		t.Errorf("connection.created for another connection carries data: %v", aSeesB["data"])
	}

	if err := b.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	if ce := b.CloseError(); ce == nil || ce.Code != 1000 {
		t.Errorf("disconnect closed with %v, want code 1000", ce)
	}
	raw, err := a.WaitNotify(ctx, func(typ string, _ json.RawMessage) bool { return typ == "connection.destroyed" })
	if err != nil {
		t.Fatal(err)
	}
	wantNotify(t, "connection.destroyed", decode(t, raw), map[string]any{
		"connection_id": b.ConnectionID(), "role": "recvonly",
		"channel_connections": 1.0, "channel_sendrecv_connections": 1.0, "channel_recvonly_connections": 0.0,
	})
	if got := len(a.Notifies()); got != 3 {
		t.Errorf("a got %d notifies, want 3 (own created, b created, b destroyed)", got)
	}
}

func waitCreated(t *testing.T, ctx context.Context, c *client.Client, connID string) map[string]any {
	t.Helper()
	raw, err := c.WaitNotify(ctx, func(typ string, raw json.RawMessage) bool {
		return typ == "connection.created" && decode(t, raw)["connection_id"] == connID
	})
	if err != nil {
		t.Fatalf("no connection.created for %s: %v", connID, err)
	}
	return decode(t, raw)
}

func decode(t *testing.T, raw json.RawMessage) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantNotify(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, v := range want {
		g, _ := json.Marshal(got[k])
		w, _ := json.Marshal(v)
		if string(g) != string(w) {
			t.Errorf("%s: %s = %s, want %s", what, k, g, w)
		}
	}
}

// kindsFrom returns the kinds of the active m-lines carrying stream.
func kindsFrom(t *testing.T, raw, stream string) []string {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range sd.MediaDescriptions {
		v, _ := m.Attribute("msid")
		_, inactive := m.Attribute("inactive")
		if strings.HasPrefix(v, stream+" ") && !inactive {
			kinds = append(kinds, m.MediaName.Media)
		}
	}
	return kinds
}

// "audio": false and "video": false leave that kind out in both
// directions: a publisher is offered no m-line to send it on, a receiver
// is offered none of the others' tracks of that kind.
func TestAudioOrVideoFalse(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 20*time.Second)

	pub := newPublisher(t, "p")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "kinds", Role: "sendonly", VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 5*time.Millisecond)

	videoOnly := newPublisher(t, "v")
	v := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "kinds", Role: "sendonly", VideoCodecType: "VP8",
		Audio: client.Bool(false), Tracks: []webrtc.TrackLocal{videoOnly.video}})
	if m := v.Offer().Mid; m.Audio != "" || m.Video == "" {
		t.Errorf("audio:false publisher's offer mid = %+v, want video only", m)
	}

	// Once a full receiver is offered both of the publisher's tracks,
	// both are published: the restricted receivers' first offers would
	// carry both too, unless the kind is filtered out.
	full := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "kinds", Role: "recvonly"})
	if err := full.Wait(ctx, func() bool { return len(kindsFrom(t, full.RemoteSDP(), p.ConnectionID())) == 2 }); err != nil {
		t.Fatalf("full receiver not offered audio and video: %v", err)
	}
	noVideo := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "kinds", Role: "recvonly", Video: client.Bool(false)})
	noAudio := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "kinds", Role: "recvonly", Audio: client.Bool(false)})
	for _, tt := range []struct {
		c    *client.Client
		want string
	}{{noVideo, "audio"}, {noAudio, "video"}} {
		if err := tt.c.Wait(ctx, func() bool { return len(kindsFrom(t, tt.c.RemoteSDP(), p.ConnectionID())) > 0 }); err != nil {
			t.Fatalf("no m-line of the publisher offered: %v", err)
		}
		if got := kindsFrom(t, tt.c.RemoteSDP(), p.ConnectionID()); len(got) != 1 || got[0] != tt.want {
			t.Errorf("offered %v of the publisher, want only %s", got, tt.want)
		}
	}
}
