package sfu_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

func TestMetadataInNotifies(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)

	a := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "m", Role: "recvonly", SignalingNotifyMetadata: map[string]any{"name": "alice"}})
	wantNotify(t, "a's own created", waitCreated(t, ctx, a, a.ConnectionID()), map[string]any{"metadata": map[string]any{"name": "alice"}})

	b := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "m", Role: "recvonly", SignalingNotifyMetadata: map[string]any{"name": "bob"}})
	wantNotify(t, "b's own created", waitCreated(t, ctx, b, b.ConnectionID()), map[string]any{
		"metadata": map[string]any{"name": "bob"},
		"data":     []any{map[string]any{"connection_id": a.ConnectionID(), "client_id": a.ConnectionID(), "metadata": map[string]any{"name": "alice"}}},
	})
	wantNotify(t, "a's created for b", waitCreated(t, ctx, a, b.ConnectionID()), map[string]any{"metadata": map[string]any{"name": "bob"}})

	ch := ts.engine.Channel("m")
	if _, err := ch.PutMetadataItem(ctx, b.ConnectionID(), "hand", json.RawMessage(`true`), false); err != nil {
		t.Fatal(err)
	}
	list, err := ch.ListMetadata(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListMetadata = %v, %v; want 2 entries", list, err)
	}
	if err := b.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := a.WaitNotify(ctx, func(typ string, _ json.RawMessage) bool { return typ == "connection.destroyed" })
	if err != nil {
		t.Fatal(err)
	}
	wantNotify(t, "destroyed", decode(t, raw), map[string]any{"metadata": map[string]any{"name": "bob", "hand": true}})
	if list, _ := ch.ListMetadata(ctx); len(list) != 1 || list[0].ConnectionID != a.ConnectionID() {
		t.Errorf("after b left, ListMetadata = %v, want only a", list)
	}
}

func TestMetadataPush(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	a := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "p", Role: "recvonly"})
	b := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "p", Role: "recvonly"})
	ch := ts.engine.Channel("p")
	id := a.ConnectionID()

	// Without push nobody hears of it; the first push anyone gets is the
	// one that asked for it.
	if got, err := ch.PutMetadata(ctx, id, json.RawMessage(`{"abc":"x"}`), false); err != nil || string(got) != `{"abc":"x"}` {
		t.Fatalf("PutMetadata = %s, %v", got, err)
	}
	got, err := ch.PutMetadataItem(ctx, id, "abc", json.RawMessage(`"efg"`), true)
	if err != nil || string(got) != `{"abc":"efg"}` {
		t.Fatalf("PutMetadataItem = %s, %v", got, err)
	}
	want := fmt.Sprintf(`{"type":"signaling_notify_metadata_ext","action":"PutMetadataItem","connection_id":%q,"key":"abc","value":"efg"}`, id)
	for name, c := range map[string]*client.Client{"target": a, "other": b} {
		first, err := c.WaitPush(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(first) != want {
			t.Errorf("%s got push %s, want %s", name, first, want)
		}
	}

	steps := []struct {
		do   func() (json.RawMessage, error)
		want string // the call's result
		push string // the push's data
	}{
		{func() (json.RawMessage, error) { return ch.DeleteMetadataItem(ctx, id, "abc", true) }, `{}`,
			`{"type":"signaling_notify_metadata_ext","action":"DeleteMetadataItem","connection_id":%q,"key":"abc"}`},
		{func() (json.RawMessage, error) { return ch.PutMetadata(ctx, id, json.RawMessage(`{"n":1}`), true) }, `{"n":1}`,
			`{"type":"signaling_notify_metadata_ext","action":"PutMetadata","connection_id":%q,"metadata":{"n":1}}`},
		{func() (json.RawMessage, error) { return ch.DeleteMetadata(ctx, id, true) }, `{"n":1}`,
			`{"type":"signaling_notify_metadata_ext","action":"DeleteMetadata","connection_id":%q}`},
	}
	for i, st := range steps {
		got, err := st.do()
		if err != nil || string(got) != st.want {
			t.Errorf("step %d: got %s, %v; want %s", i, got, err, st.want)
		}
		if err := b.Wait(ctx, func() bool { return len(b.Pushes()) >= i+2 }); err != nil {
			t.Fatal(err)
		}
		if p := b.Pushes()[i+1]; string(p) != fmt.Sprintf(st.push, id) {
			t.Errorf("step %d: push %s, want %s", i, p, fmt.Sprintf(st.push, id))
		}
	}
}

func TestMetadataPushOrder(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	a := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "o", Role: "recvonly"})
	b := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "o", Role: "recvonly"})
	ch := ts.engine.Channel("o")
	const n = 100
	for i := range n {
		if _, err := ch.PutMetadataItem(ctx, a.ConnectionID(), "n", json.RawMessage(fmt.Sprint(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*client.Client{"a": a, "b": b} {
		if err := c.Wait(ctx, func() bool { return len(c.Pushes()) >= n }); err != nil {
			t.Fatalf("%s: %d pushes: %v", name, len(c.Pushes()), err)
		}
		for i, p := range c.Pushes() {
			var d struct{ Value int }
			if err := json.Unmarshal(p, &d); err != nil || d.Value != i {
				t.Fatalf("%s: push %d carries %s, want value %d", name, i, p, i)
			}
		}
	}
}

func TestMetadataErrors(t *testing.T) {
	ts := newTestServer(t, sfu.Options{MaxMetadataSize: 100})
	ctx := testContext(t, 30*time.Second)

	_, err := client.Dial(ctx, client.Config{URL: ts.url, ChannelID: "e", Role: "recvonly",
		SignalingNotifyMetadata: map[string]string{"x": strings.Repeat("a", 200)}})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != "INVALID-SIGNALING-NOTIFY-METADATA" {
		t.Errorf("oversize metadata at connect: %v, want close 4490 INVALID-SIGNALING-NOTIFY-METADATA", err)
	}

	a := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "e", Role: "recvonly"})
	ch := ts.engine.Channel("e")
	var ia *sfu.InvalidArgumentError
	if _, err := ch.PutMetadata(ctx, a.ConnectionID(), json.RawMessage(`[1]`), false); !errors.As(err, &ia) || ia.Key != "metadata" {
		t.Errorf("PutMetadata of an array: %v, want invalid metadata", err)
	}
	if _, err := ch.PutMetadataItem(ctx, a.ConnectionID(), "", json.RawMessage(`1`), false); !errors.As(err, &ia) || ia.Key != "key" {
		t.Errorf("PutMetadataItem with empty key: %v, want invalid key", err)
	}
	if _, err := ch.PutMetadataItem(ctx, a.ConnectionID(), "k", json.RawMessage(`"`+strings.Repeat("a", 200)+`"`), false); !errors.Is(err, sfu.ErrInvalidArgument) {
		t.Errorf("oversize item: %v, want ErrInvalidArgument", err)
	}
	if _, err := ch.GetMetadata(ctx, "NOPE"); !errors.Is(err, sfu.ErrConnectionNotFound) {
		t.Errorf("unknown connection: %v", err)
	}
	if _, err := ts.engine.Channel("none").GetMetadata(ctx, a.ConnectionID()); !errors.Is(err, sfu.ErrChannelNotFound) {
		t.Errorf("unknown channel: %v", err)
	}
	if got, err := ch.GetMetadata(ctx, a.ConnectionID()); err != nil || string(got) != `{}` {
		t.Errorf("GetMetadata of none = %s, %v; want {}", got, err)
	}
}
