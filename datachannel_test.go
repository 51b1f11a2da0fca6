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

func TestDataChannelFanOutExactlyOnce(t *testing.T) {
	const receivers = 50
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 60*time.Second)
	plain := client.DataChannel{Label: "#chat"}
	framed := client.DataChannel{Label: "#chat", Compress: true, Header: senderIDHeader}
	recv := make([]*client.Client, receivers)
	var wg sync.WaitGroup
	errs := make(chan error, receivers)
	for i := range recv {
		wg.Add(1)
		go func() {
			defer wg.Done()
			label := plain
			if i%2 == 1 {
				label = framed // half of them ask for zlib and the header
			}
			c, err := client.Dial(ctx, messagingConfig(ts.url, "room", label))
			if err == nil {
				err = c.WaitSwitched(ctx)
			}
			if err != nil {
				errs <- err
				return
			}
			recv[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for _, c := range recv {
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	for err := range errs {
		t.Fatalf("receiver: %v", err)
	}
	sender := dial(t, ctx, messagingConfig(ts.url, "room", client.DataChannel{Label: "#chat", Direction: "sendonly"}))
	if err := sender.WaitSwitched(ctx); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("fan-out "), 100)
	if err := sender.SendMessage("#chat", msg); err != nil {
		t.Fatal(err)
	}
	// A second message on the same ordered label: once it has arrived,
	// any duplicate of the first would have arrived before it.
	if err := sender.SendMessage("#chat", []byte("end")); err != nil {
		t.Fatal(err)
	}
	for i, c := range recv {
		if err := c.WaitMessages(ctx, 2); err != nil {
			t.Fatalf("receiver %d: %v", i, err)
		}
		prefix := ""
		if i%2 == 1 {
			prefix = sender.ConnectionID()
		}
		got := c.Messages()
		if len(got) != 2 || got[0].Label != "#chat" || string(got[0].Data) != prefix+string(msg) || string(got[1].Data) != prefix+"end" {
			t.Fatalf("receiver %d got %d messages, first %.40q, want the message once then \"end\" (prefix %q)", i, len(got), got[0].Data, prefix)
		}
	}
	if n := len(sender.Messages()); n != 0 {
		t.Fatalf("the sender (sendonly) got %d messages", n)
	}
	st := ts.engine.DataChannelStats()
	if st.Relayed != 2 || st.Delivered != 2*receivers {
		t.Fatalf("relayed %d, delivered %d; want 2 and %d", st.Relayed, st.Delivered, 2*receivers)
	}
	// GetStatsReport counts every DataChannel message (signaling too):
	// at least the two sent and the deliveries, the plain half of which
	// carried len(msg)+3 bytes.
	b, err := json.Marshal(ts.engine.StatsReport())
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]uint64
	_ = json.Unmarshal(b, &rep) // the version string does not decode; the counters do
	plainBytes := uint64(receivers / 2 * (len(msg) + 3))
	if rep["total_received_sctp"] < 2 || rep["total_received_sctp_byte_size"] < uint64(len(msg)+3) ||
		rep["total_sent_sctp"] < 2*receivers || rep["total_sent_sctp_byte_size"] < plainBytes {
		t.Fatalf("SCTP counters: %s", b)
	}
}

// recorder is a MessageHandler that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []sfu.Message
	ch   chan struct{}
}

func (r *recorder) HandleMessage(m sfu.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m.Data = bytes.Clone(m.Data)
	r.msgs = append(r.msgs, m)
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func TestDataChannelGoAPI(t *testing.T) {
	rec := &recorder{ch: make(chan struct{}, 1)}
	ts := newTestServer(t, sfu.Options{DataChannels: sfu.DataChannelOptions{Handler: rec}})
	ctx := testContext(t, 30*time.Second)
	label := client.DataChannel{Label: "#bot", Header: senderIDHeader}
	a := dial(t, ctx, messagingConfig(ts.url, "room", label))
	b := dial(t, ctx, messagingConfig(ts.url, "room", label, client.DataChannel{Label: "#other"}))
	for _, c := range []*client.Client{a, b} {
		if err := c.WaitSwitched(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ch := ts.engine.Channel("room")
	n, err := ch.SendMessage(ctx, "#bot", []byte("to all"))
	if err != nil || n != 2 {
		t.Fatalf("SendMessage = %d, %v; want 2 receivers", n, err)
	}
	if err := ch.SendMessageTo(ctx, b.ConnectionID(), "#bot", []byte("to b")); err != nil {
		t.Fatal(err)
	}
	if err := ch.SendMessageTo(ctx, a.ConnectionID(), "#other", []byte("x")); !errors.Is(err, sfu.ErrFeatureDisabled) {
		t.Fatalf("SendMessageTo a label a lacks: %v, want ErrFeatureDisabled", err)
	}
	if _, err := ch.SendMessage(ctx, "bot", nil); !errors.Is(err, sfu.ErrInvalidArgument) {
		t.Fatalf("SendMessage to a non-# label: %v, want ErrInvalidArgument", err)
	}
	if _, err := ts.engine.Channel("nope").SendMessage(ctx, "#bot", nil); !errors.Is(err, sfu.ErrChannelNotFound) {
		t.Fatalf("SendMessage to no channel: %v", err)
	}
	if err := b.WaitMessages(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitMessages(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := b.Messages(); string(got[0].Data) != sfu.ServerSenderID+"to all" || string(got[1].Data) != sfu.ServerSenderID+"to b" {
		t.Fatalf("b got %q %q", got[0].Data, got[1].Data)
	}

	// A participant's message reaches the handler with its sender.
	if err := a.SendMessage("#bot", []byte("hello bot")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec.ch:
	case <-ctx.Done():
		t.Fatal("the handler got nothing")
	}
	rec.mu.Lock()
	got := rec.msgs[0]
	rec.mu.Unlock()
	want := sfu.Message{ChannelID: "room", ConnectionID: a.ConnectionID(), Label: "#bot", Data: []byte("hello bot")}
	if got.ChannelID != want.ChannelID || got.ConnectionID != want.ConnectionID || got.Label != want.Label || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("handler got %+v, want %+v", got, want)
	}
	if err := b.WaitMessages(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if m := b.Messages()[2]; string(m.Data) != a.ConnectionID()+"hello bot" {
		t.Fatalf("b got %q", m.Data)
	}
}

func TestDataChannelLimits(t *testing.T) {
	ts := newTestServer(t, sfu.Options{DataChannels: sfu.DataChannelOptions{
		Limits: datachannel.Limits{MaxMessageSize: 100, MessagesPerSecond: 0.001, Burst: 2},
	}})
	ctx := testContext(t, 30*time.Second)
	a := dial(t, ctx, messagingConfig(ts.url, "room", client.DataChannel{Label: "#x"}))
	b := dial(t, ctx, messagingConfig(ts.url, "room", client.DataChannel{Label: "#x", Compress: true}, client.DataChannel{Label: "#ro", Direction: "recvonly"}))
	for _, c := range []*client.Client{a, b} {
		if err := c.WaitSwitched(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// b: a message that inflates past the limit, one on a recvonly label,
	// then one that passes. a: three within a burst of two.
	if err := b.SendMessage("#x", bytes.Repeat([]byte{'z'}, 101)); err != nil {
		t.Fatal(err)
	}
	if err := b.SendMessage("#ro", []byte("no")); err != nil {
		t.Fatal(err)
	}
	if err := b.SendMessage("#x", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"1", "2", "3"} {
		if err := a.SendMessage("#x", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.WaitMessages(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitMessages(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Each sender's messages are read in order, so once these arrived
	// the dropped ones were counted.
	if got := a.Messages(); len(got) != 1 || string(got[0].Data) != "ok" {
		t.Fatalf("a got %v", got)
	}
	if got := b.Messages(); len(got) != 2 || string(got[0].Data) != "1" || string(got[1].Data) != "2" {
		t.Fatalf("b got %v", got)
	}
	st := ts.engine.DataChannelStats()
	if st.DroppedTooLarge != 1 || st.DroppedNotAllowed != 1 {
		t.Fatalf("drops: %+v, want one too large and one on a recvonly label", st)
	}
	// a's third message is read after its second, which arrived, but
	// nothing a client sees follows its drop: poll the counter.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for ts.engine.DataChannelStats().DroppedRateLimited != 1 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("rate-limited drop not counted: %+v", ts.engine.DataChannelStats())
		}
	}
	if st := ts.engine.DataChannelStats(); st.Relayed != 3 {
		t.Fatalf("relayed %d, want 3", st.Relayed)
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
