package sfu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"strings"
	"sync"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/datachannel"
)

var senderIDHeader = []datachannel.HeaderField{{Type: datachannel.HeaderSenderConnectionID}}

// dcConfig is a client with DataChannel signaling and the given labels.
func dcConfig(url, channel, role string, ignoreWS bool, labels ...client.DataChannel) client.Config {
	return client.Config{
		URL: url, ChannelID: channel, Role: role,
		DataChannelSignaling: true, IgnoreDisconnectWebSocket: ignoreWS, DataChannels: labels,
	}
}

// messagingConfig is what sora-js-sdk's messaging() sends: sendonly, no
// audio, no video, DataChannel signaling.
func messagingConfig(url, channel string, labels ...client.DataChannel) client.Config {
	cfg := dcConfig(url, channel, client.RoleSendonly, true, labels...)
	cfg.Audio, cfg.Video = client.Bool(false), client.Bool(false)
	return cfg
}

// destroyed records the connections the engine ended.
type destroyed struct {
	mu   sync.Mutex
	ch   chan struct{}
	seen map[string]sfu.CloseReason
}

func newDestroyed() *destroyed {
	return &destroyed{ch: make(chan struct{}), seen: map[string]sfu.CloseReason{}}
}

func (d *destroyed) hook(info sfu.ConnectionInfo, r sfu.CloseReason) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen[info.ConnectionID] = r
	close(d.ch)
	d.ch = make(chan struct{})
}

// wait returns why connID ended, once it has.
func (d *destroyed) wait(t *testing.T, ctx context.Context, connID string) sfu.CloseReason {
	t.Helper()
	for {
		d.mu.Lock()
		r, ok := d.seen[connID]
		ch := d.ch
		d.mu.Unlock()
		if ok {
			return r
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("connection %s did not end: %v", connID, ctx.Err())
		}
	}
}

func (d *destroyed) has(connID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.seen[connID]
	return ok
}

func TestDataChannelSwitched(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 20*time.Second)
	c := dial(t, ctx, dcConfig(ts.url, "room", client.RoleRecvonly, false,
		client.DataChannel{Label: "#chat", Compress: true, Header: senderIDHeader}))

	var labels []string
	for _, d := range c.Offer().DataChannels {
		labels = append(labels, fmt.Sprintf("%s/%s/%v", d.Label, d.Direction, d.Compress))
	}
	want := "signaling/sendrecv/false notify/recvonly/false push/recvonly/false stats/sendrecv/false #chat/sendrecv/true"
	if got := strings.Join(labels, " "); got != want {
		t.Fatalf("offer data_channels = %s, want %s", got, want)
	}
	if !strings.Contains(c.RemoteSDP(), "m=application ") {
		t.Fatalf("offer has no application m-line:\n%s", c.RemoteSDP())
	}
	if err := c.WaitSwitched(ctx); err != nil {
		t.Fatalf("switched: %v", err)
	}
	if err := c.WaitDataChannelsOpen(ctx); err != nil {
		t.Fatal(err)
	}
	// Without ignore_disconnect_websocket the WebSocket stays: the switch
	// said so.
	var sw struct {
		Ignore *bool `json:"ignore_disconnect_websocket"`
	}
	if err := json.Unmarshal(c.Offer().Raw, &sw); err != nil || sw.Ignore == nil || *sw.Ignore {
		t.Fatalf("offer ignore_disconnect_websocket = %v (err %v), want false", sw.Ignore, err)
	}
}

func TestDataChannelConnectValidation(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 20*time.Second)
	for _, tc := range []struct {
		name   string
		cfg    client.Config
		reason string
	}{
		{"label without #", dcConfig(ts.url, "room", client.RoleRecvonly, true, client.DataChannel{Label: "chat"}), "INVALID-DATA-CHANNELS-LABEL"},
		{"bad direction", dcConfig(ts.url, "room", client.RoleRecvonly, true, client.DataChannel{Label: "#a", Direction: "up"}), "INVALID-DATA-CHANNELS-DIRECTION"},
		{"two reliabilities", dcConfig(ts.url, "room", client.RoleRecvonly, true, client.DataChannel{Label: "#a", MaxPacketLifeTime: new(uint16), MaxRetransmits: new(uint16)}), "INVALID-DATA-CHANNELS-MAX-PACKET-LIFE-TIME"},
		{"unknown header", dcConfig(ts.url, "room", client.RoleRecvonly, true, client.DataChannel{Label: "#a", Header: []datachannel.HeaderField{{Type: "x"}}}), "INVALID-DATA-CHANNELS-HEADER"},
		{"duplicate label", dcConfig(ts.url, "room", client.RoleRecvonly, true, client.DataChannel{Label: "#a"}, client.DataChannel{Label: "#a"}), "INVALID-DATA-CHANNELS-LABEL"},
		{"labels without DataChannel signaling", client.Config{URL: ts.url, ChannelID: "room", Role: client.RoleRecvonly, DataChannels: []client.DataChannel{{Label: "#a"}}}, "INVALID-DATA-CHANNELS"},
		{"sendonly without media or DataChannels", client.Config{URL: ts.url, ChannelID: "room", Role: client.RoleSendonly, Audio: client.Bool(false), Video: client.Bool(false)}, "INVALID-ROLE"},
		{"wrong JSON type", client.Config{URL: ts.url, ChannelID: "room", Role: client.RoleRecvonly, Extra: map[string]any{"data_channel_signaling": "yes"}}, "INVALID-DATA-CHANNEL-SIGNALING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Dial(ctx, tc.cfg)
			var ce *client.CloseError
			if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != tc.reason {
				t.Fatalf("dial: %v, want close 4490 %s", err, tc.reason)
			}
		})
	}
}

func TestDataChannelReOfferWhenPublisherJoins(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	rt := newRouter()
	cfg := dcConfig(ts.url, "room", client.RoleRecvonly, true)
	cfg.OnTrack = rt.onTrack
	sub := dial(t, ctx, cfg)
	if err := sub.WaitSwitched(ctx); err != nil {
		t.Fatal(err)
	}
	// The client closed its WebSocket on "switched"; whatever comes now
	// came over the DataChannels.
	pub := newPublisher(t, "pub")
	p := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: client.RoleSendonly, VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t, 20*time.Millisecond)
	if err := sub.WaitReOffers(ctx, 1); err != nil {
		t.Fatalf("re-offer: %v", err)
	}
	rt.from(p.ConnectionID()).wait(t, ctx, "subscriber switched to DataChannels")
	if _, err := sub.WaitNotify(ctx, func(ev string, raw json.RawMessage) bool {
		return ev == "connection.created" && bytes.Contains(raw, []byte(p.ConnectionID()))
	}); err != nil {
		t.Fatalf("notify over DataChannel: %v", err)
	}
}

func TestDataChannelPushNotifyAndStats(t *testing.T) {
	ts := newTestServer(t, sfu.Options{PingInterval: 100 * time.Millisecond})
	ctx := testContext(t, 20*time.Second)
	a := dial(t, ctx, dcConfig(ts.url, "room", client.RoleRecvonly, true))
	if err := a.WaitSwitched(ctx); err != nil {
		t.Fatal(err)
	}
	b := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "room", Role: client.RoleRecvonly})
	if _, err := a.WaitNotify(ctx, func(ev string, raw json.RawMessage) bool {
		return ev == "connection.created" && bytes.Contains(raw, []byte(b.ConnectionID()))
	}); err != nil {
		t.Fatalf("notify: %v", err)
	}
	if err := ts.engine.Channel("room").Push(ctx, json.RawMessage(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WaitPush(ctx, func(d json.RawMessage) bool { return string(d) == `{"n":1}` }); err != nil {
		t.Fatalf("push: %v", err)
	}
	// Its WebSocket gone, the client is asked for its stats on the stats
	// DataChannel; its answers keep it alive past the pong timeout.
	if err := a.Wait(ctx, func() bool {
		rs, err := ts.engine.Channel("room").ConnectionRemoteStats(ctx, a.ConnectionID())
		return err == nil && !rs.Timestamp.IsZero() && bytes.Contains(rs.Stats, []byte(`"type"`))
	}); err != nil {
		t.Fatalf("stats over DataChannel: %v", err)
	}
	seen := map[time.Time]bool{}
	if err := a.Wait(ctx, func() bool {
		if rs, err := ts.engine.Channel("room").ConnectionRemoteStats(ctx, a.ConnectionID()); err == nil {
			seen[rs.Timestamp] = true
		}
		return len(seen) > 2*3 // twice the pongs a connection may miss
	}); err != nil {
		t.Fatalf("stats over DataChannel: %v", err)
	}
	if _, err := ts.engine.Channel("room").Connection(a.ConnectionID()); err != nil {
		t.Fatalf("connection ended while answering req-stats: %v", err)
	}
}

func TestDataChannelWebSocketClose(t *testing.T) {
	gone := newDestroyed()
	ts := newTestServer(t, sfu.Options{OnConnectionDestroyed: gone.hook})
	ctx := testContext(t, 30*time.Second)

	// With ignore_disconnect_websocket the client closes its WebSocket on
	// "switched" and the connection stays.
	kept := dial(t, ctx, dcConfig(ts.url, "room", client.RoleRecvonly, true))
	// Without it, the WebSocket closing ends the connection.
	ended := dial(t, ctx, dcConfig(ts.url, "room", client.RoleRecvonly, false))
	for _, c := range []*client.Client{kept, ended} {
		if err := c.WaitSwitched(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ended.CloseWebSocket()
	if r := gone.wait(t, ctx, ended.ConnectionID()); r != sfu.ReasonTransportClosed {
		t.Fatalf("without ignore_disconnect_websocket: ended with %v, want %v", r, sfu.ReasonTransportClosed)
	}
	if err := ts.engine.Channel("room").PushConnection(ctx, kept.ConnectionID(), json.RawMessage(`{"still":"here"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.WaitPush(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// The API ends it: the close message on the signaling DataChannel
	// carries the reason.
	if err := ts.engine.Channel("room").DisconnectConnection(ctx, kept.ConnectionID()); err != nil {
		t.Fatal(err)
	}
	<-kept.Done()
	if ce := kept.CloseError(); ce == nil || ce.Code != 1000 || ce.Reason != "DISCONNECTED-API" {
		t.Fatalf("close over DataChannel: %v, want 1000 DISCONNECTED-API", ce)
	}
	// Had its WebSocket closing ended it, that would be its reason (only
	// the first counts).
	if r := gone.wait(t, ctx, kept.ConnectionID()); r != sfu.ReasonDisconnectedAPI {
		t.Fatalf("with ignore_disconnect_websocket: ended with %v, want %v", r, sfu.ReasonDisconnectedAPI)
	}
}

func TestDataChannelDisconnect(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 20*time.Second)
	c := dial(t, ctx, messagingConfig(ts.url, "room", client.DataChannel{Label: "#x"}))
	if err := c.WaitSwitched(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect over DataChannel: %v", err)
	}
	if !errors.Is(c.Err(), client.ErrDataChannelsClosed) {
		t.Fatalf("ended with %v, want the server closing the DataChannels", c.Err())
	}
}

func TestDataChannelOpenTimeoutFallsBack(t *testing.T) {
	// DataChannels cannot open within a nanosecond of connect (they need
	// ICE, DTLS and SCTP handshakes): signaling stays on the WebSocket.
	ts := newTestServer(t, sfu.Options{DataChannels: sfu.DataChannelOptions{OpenTimeout: time.Nanosecond}})
	ctx := testContext(t, 20*time.Second)
	viaWS := make(chan string, 64)
	cfg := dcConfig(ts.url, "room", client.RoleRecvonly, true)
	cfg.OnMessage = func(typ string, _ json.RawMessage) { viaWS <- typ }
	c := dial(t, ctx, cfg)
	if err := c.WaitDataChannelsOpen(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ts.engine.Channel("room").Push(ctx, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	for typ := ""; typ != "push"; {
		select {
		case typ = <-viaWS:
		case <-ctx.Done():
			t.Fatal("the push did not come on the WebSocket")
		}
	}
	if c.Switched() {
		t.Fatal("switched although the DataChannels opened after the timeout")
	}
}
