package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// spotEnv is a spotlight channel "sora" (spotlight_number 1, focus r1,
// unfocus r0) with two simulcast publishers whose audio carries no level,
// so that only the API moves the focus, and a recvonly receiver that
// watches each publisher's layers and audio apart.
type spotEnv struct {
	*env
	a, b, recv *client.Client
	watch      map[string]*layerWatcher // by publisher connection id
}

func newSpotEnv(t *testing.T, ctx context.Context) *spotEnv {
	spot := map[string]any{"spotlight": true}
	e := &spotEnv{env: newEnv(t, sfu.Options{})}
	e.a = e.dialSimPublisherWith(t, ctx, client.Config{ChannelID: "sora", Extra: spot})
	e.b = e.dialSimPublisherWith(t, ctx, client.Config{ChannelID: "sora", Extra: spot})
	e.watch = map[string]*layerWatcher{e.a.ConnectionID(): newLayerWatcher(), e.b.ConnectionID(): newLayerWatcher()}
	e.recv = e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly, Extra: spot,
		OnTrack: func(rt *client.RemoteTrack) {
			if w := e.watch[rt.Track.StreamID()]; w != nil {
				w.onTrack(rt)
			}
		}})
	return e
}

// waitSpot waits for a spotlight notify of eventType about connID.
func waitSpot(t *testing.T, ctx context.Context, c *client.Client, eventType, connID string) map[string]any {
	t.Helper()
	raw, err := c.WaitNotify(ctx, func(et string, raw json.RawMessage) bool {
		var n struct {
			ConnectionID string `json:"connection_id"`
		}
		return et == eventType && json.Unmarshal(raw, &n) == nil && n.ConnectionID == connID
	})
	if err != nil {
		t.Fatalf("no %s for %s: %v", eventType, connID, err)
	}
	var n map[string]any
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The seed's four operations and the two per-receiver rid operations,
// with the seed's request shapes: each answer echoes the request, and the
// receiver's layers, audio and notifies follow.
func TestSpotlightOperations(t *testing.T) {
	ctx := testContext(t, 40*time.Second)
	e := newSpotEnv(t, ctx)
	a, b, recv := e.a.ConnectionID(), e.b.ConnectionID(), e.recv.ConnectionID()
	wa, wb := e.watch[a], e.watch[b]
	// Nobody speaks: both unfocused, at the unfocus rid, without audio.
	wa.waitLayer(t, ctx, "r0", 20)
	wb.waitLayer(t, ctx, "r0", 20)

	e.echo(t, "Sora_20200807.FocusSpotlightFixed", fmt.Sprintf(`{
    "channel_id": "sora",
    "connection_id": %q
}`, a))
	if n := waitSpot(t, ctx, e.recv, "spotlight.focused", a); n["fixed"] != true || n["audio"] != true || n["video"] != true {
		t.Errorf("spotlight.focused = %v, want fixed, audio and video true", n)
	}
	wa.waitLayer(t, ctx, "r1", 20)
	wa.waitAudio(t, ctx, 20)
	wb.waitLayer(t, ctx, "r0", 20)
	// The unfocused publisher's audio stands still while the focused
	// one's flows.
	wb.mu.Lock()
	still := wb.audio
	wb.mu.Unlock()
	wa.waitAudio(t, ctx, 30)
	wb.mu.Lock()
	if wb.audio != still {
		t.Errorf("the unfocused publisher's audio reached the receiver (%d packets)", wb.audio-still)
	}
	wb.mu.Unlock()

	body := fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q, "send_connection_id": %q, "spotlight_focus_rid": "r2"}`, recv, a)
	e.echo(t, "Sora_20211215.RequestSpotlightRid", body)
	wa.waitLayer(t, ctx, "r2", 20)
	e.echo(t, "Sora_20211215.ResetSpotlightRid", fmt.Sprintf(`{"channel_id": "sora", "recv_connection_id": %q}`, recv))
	wa.waitLayer(t, ctx, "r1", 20)

	e.echo(t, "Sora_20200807.ChangeSpotlightNumber", `{
    "channel_id": "sora",
    "spotlight_number": 2
}`)
	if n, err := e.engine.Channel("sora").SpotlightNumber(ctx); err != nil || n != 2 {
		t.Errorf("SpotlightNumber = %d, %v; want 2", n, err)
	}
	e.echo(t, "Sora_20200807.FocusSpotlight", fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, b))
	if n := waitSpot(t, ctx, e.recv, "spotlight.focused", b); n["fixed"] != false {
		t.Errorf("spotlight.focused for FocusSpotlight = %v, want fixed false", n)
	}
	wb.waitLayer(t, ctx, "r1", 20)
	wb.waitAudio(t, ctx, 20)

	e.echo(t, "Sora_20200807.UnfocusSpotlight", fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, a))
	waitSpot(t, ctx, e.recv, "spotlight.unfocused", a)
	wa.waitLayer(t, ctx, "r0", 20)
	focused, err := e.engine.Channel("sora").SpotlightFocused(ctx)
	if err != nil || len(focused) != 1 || focused[0].ConnectionID != b {
		t.Errorf("SpotlightFocused = %+v, %v; want only %s", focused, err, b)
	}

	var chans []map[string]any
	e.call(t, "Sora_20201013.ListChannels", "").ok(t, &chans)
	if len(chans) != 1 || chans[0]["spotlight"] != true {
		t.Errorf("ListChannels = %v, want sora with spotlight true", chans)
	}
}

// Bad numbers and rids, unknown ids, and a channel that is not a
// spotlight channel, each with its status and error_type.
func TestSpotlightErrors(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	e := newSpotEnv(t, ctx)
	pub := newPublisher(t)
	plain := e.dialReady(t, ctx, client.Config{ChannelID: "plain", Role: client.RoleSendonly, VideoCodecType: "VP8", Tracks: pub.tracks()})
	a, recv := e.a.ConnectionID(), e.recv.ConnectionID()
	cases := []struct {
		target, body string
		status       int
		errorType    string
	}{
		{"ChangeSpotlightNumber", `{"channel_id": "sora", "spotlight_number": 0}`, 400, "INVALID-PARAMETER"},
		{"ChangeSpotlightNumber", `{"channel_id": "sora", "spotlight_number": 9}`, 400, "INVALID-PARAMETER"},
		{"ChangeSpotlightNumber", `{"channel_id": "sora", "spotlight_number": "2"}`, 400, "INVALID-PARAMETER"},
		{"ChangeSpotlightNumber", `{"channel_id": "sora"}`, 400, "INVALID-PARAMETER"},
		{"FocusSpotlight", `{"channel_id": "sora"}`, 400, "INVALID-PARAMETER"},
		{"FocusSpotlight", `{"channel_id": "nowhere", "connection_id": "` + a + `"}`, 404, "CHANNEL-NOT-FOUND"},
		{"FocusSpotlightFixed", `{"channel_id": "sora", "connection_id": "NOSUCHCONNECTION"}`, 404, "CONNECTION-NOT-FOUND"},
		{"UnfocusSpotlight", `{"channel_id": "plain", "connection_id": "` + plain.ConnectionID() + `"}`, 400, "FEATURE-DISABLED"},
		{"ChangeSpotlightNumber", `{"channel_id": "plain", "spotlight_number": 2}`, 400, "FEATURE-DISABLED"},
	}
	// The seed: ChangeUpstreamVideoBitRate does not apply to spotlight
	// channels.
	e.call(t, "Sora_20190327.ChangeUpstreamVideoBitRate", `{"channel_id": "sora", "connection_id": "`+a+`", "bit_rate": 500}`).
		fails(t, http.StatusBadRequest, "FEATURE-DISABLED")
	for _, c := range cases {
		got := e.call(t, "Sora_20200807."+c.target, c.body)
		if msg := got.fails(t, c.status, c.errorType); msg == "" {
			t.Errorf("%s %s: empty message", c.target, c.body)
		}
	}
	rid := []struct{ body, errorType string }{
		{`{"channel_id": "sora", "recv_connection_id": "` + recv + `", "spotlight_focus_rid": "r3"}`, "INVALID-PARAMETER"},
		{`{"channel_id": "sora", "recv_connection_id": "` + recv + `", "spotlight_unfocus_rid": "high"}`, "INVALID-PARAMETER"},
		{`{"channel_id": "sora", "recv_connection_id": "` + recv + `"}`, "INVALID-PARAMETER"},
	}
	for _, c := range rid {
		e.call(t, "Sora_20211215.RequestSpotlightRid", c.body).fails(t, http.StatusBadRequest, c.errorType)
	}
	e.call(t, "Sora_20211215.ResetSpotlightRid", `{"channel_id": "sora", "recv_connection_id": "NOSUCHCONNECTION"}`).
		fails(t, http.StatusNotFound, "CONNECTION-NOT-FOUND")
}
