package sfu_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/datachannel"
)

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

// messageRecorder is a MessageHandler that keeps what it is given.
type messageRecorder struct {
	mu   sync.Mutex
	msgs []sfu.Message
	ch   chan struct{}
}

func (r *messageRecorder) HandleMessage(m sfu.Message) {
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
	rec := &messageRecorder{ch: make(chan struct{}, 1)}
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
	// The server advertises its SCTP message bound (pion's default is
	// 1 GiB), which the client then refuses to exceed.
	if err := a.SendMessage("#x", make([]byte, 300<<10)); err == nil {
		t.Fatal("a 300 KiB message was accepted for sending")
	}
	if !strings.Contains(a.RemoteSDP(), "a=max-message-size:262144") {
		t.Fatalf("offer does not advertise 256 KiB:\n%s", a.RemoteSDP())
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
