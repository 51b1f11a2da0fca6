package sfu_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/sdp/v3"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// Spotlight tests: simulcast publishers whose audio packets carry the
// RFC 6464 level the test sets, and receivers that check, per sender,
// which layer they get and whether audio flows.

// spotOptions shorten speaker detection so that a test runs in seconds;
// the rules are those of the defaults.
var spotOptions = sfu.Options{Spotlight: sfu.SpotlightOptions{Lead: 300 * time.Millisecond, Hold: 600 * time.Millisecond}}

// extmapID returns the negotiated id of the header extension uri on the
// m-line mid.
func extmapID(t *testing.T, raw, mid, uri string) uint8 {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatalf("parse sdp: %v", err)
	}
	for _, m := range sd.MediaDescriptions {
		if v, _ := m.Attribute("mid"); v != mid {
			continue
		}
		for _, a := range m.Attributes {
			var e sdp.ExtMap
			if a.Key == "extmap" && e.Unmarshal("extmap:"+a.Value) == nil && e.URI.String() == uri {
				return uint8(e.Value)
			}
		}
	}
	t.Fatalf("no extmap %s on m-line %q", uri, mid)
	return 0
}

// dialSpotPublisher connects a spotlight publisher of three simulcast
// layers, silent (level 127) until the test sets its level.
func dialSpotPublisher(t *testing.T, ctx context.Context, ts *testServer, channel string) (*client.Client, *simPublisher) {
	t.Helper()
	p := newSimPublisher(t)
	p.level.Store(127)
	c := dial(t, ctx, client.Config{URL: ts.url, ChannelID: channel, Role: client.RoleSendonly,
		VideoCodecType: "VP8", Tracks: p.tracks(), OnSenderRTCP: p.onRTCP, Extra: map[string]any{"spotlight": true}})
	p.mid = c.Offer().Mid.Video
	p.midID, p.ridID = extmapIDs(t, c.LocalSDP(), p.mid)
	p.levelID = extmapID(t, c.LocalSDP(), c.Offer().Mid.Audio, sdp.AudioLevelURI)
	p.start(t)
	return c, p
}

// spotReceiver is a receiving client's view of each sender.
type spotReceiver struct {
	mu sync.Mutex
	by map[string]*simReceiver // by sender connection id
}

func (s *spotReceiver) of(id string) *simReceiver {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[string]*simReceiver{}
	}
	if s.by[id] == nil {
		s.by[id] = &simReceiver{}
	}
	return s.by[id]
}

func (s *spotReceiver) onTrack(t *client.RemoteTrack) { s.of(t.Track.StreamID()).onTrack(t) }

func dialSpotReceiver(t *testing.T, ctx context.Context, ts *testServer, channel string, extra map[string]any) (*client.Client, *spotReceiver) {
	t.Helper()
	r := &spotReceiver{}
	keys := map[string]any{"spotlight": true}
	for k, v := range extra {
		keys[k] = v
	}
	c := dial(t, ctx, client.Config{URL: ts.url, ChannelID: channel, Role: client.RoleRecvonly, OnTrack: r.onTrack, Extra: keys})
	return c, r
}

// spotNotify is a spotlight.* notify as received.
type spotNotify struct {
	EventType    string  `json:"event_type"`
	SpotlightID  *string `json:"spotlight_id"`
	ConnectionID *string `json:"connection_id"`
	ClientID     *string `json:"client_id"`
	Fixed        *bool   `json:"fixed"`
	Audio        *bool   `json:"audio"`
	Video        *bool   `json:"video"`
}

func (n spotNotify) String() string {
	id := "null"
	if n.ConnectionID != nil {
		id = *n.ConnectionID
	}
	return n.EventType + " " + id
}

// spotNotifies returns the spotlight notifies c got, in order, checking
// that each has the SDK's keys.
func spotNotifies(t *testing.T, c *client.Client) []spotNotify {
	t.Helper()
	var out []spotNotify
	for _, n := range c.Notifies() {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(n.Raw, &keys); err != nil {
			t.Fatal(err)
		}
		want := []string{"audio", "client_id", "connection_id", "event_type", "fixed", "type", "video"}
		switch n.EventType {
		case "spotlight.changed":
			want = append(want, "spotlight_id")
		case "spotlight.focused", "spotlight.unfocused":
		default:
			continue
		}
		var got []string
		for k := range keys {
			got = append(got, k)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s has keys %v, want %v", n.EventType, got, want)
		}
		var sn spotNotify
		if err := json.Unmarshal(n.Raw, &sn); err != nil {
			t.Fatal(err)
		}
		out = append(out, sn)
	}
	return out
}

func waitSpotNotify(t *testing.T, ctx context.Context, c *client.Client, eventType, connID string) spotNotify {
	t.Helper()
	raw, err := c.WaitNotify(ctx, func(et string, raw json.RawMessage) bool {
		var n spotNotify
		return et == eventType && json.Unmarshal(raw, &n) == nil && n.ConnectionID != nil && *n.ConnectionID == connID
	})
	if err != nil {
		t.Fatalf("no %s for %s: %v", eventType, connID, err)
	}
	var n spotNotify
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// audioStandsStill checks that r's audio does not move while busy gets
// 50 more audio packets, after letting packets in flight land.
func audioStandsStill(t *testing.T, ctx context.Context, what string, r, busy *simReceiver) {
	t.Helper()
	_, b := busy.snapshot()
	busy.wait(t, ctx, what+": in flight", func(_ []vpkt, audio int) bool { return audio >= b+30 })
	_, still := r.snapshot()
	_, b = busy.snapshot()
	busy.wait(t, ctx, what, func(_ []vpkt, audio int) bool { return audio >= b+50 })
	if _, now := r.snapshot(); now != still {
		t.Errorf("%s: %d audio packets arrived", what, now-still)
	}
}

// The receiver's forwarded layers and audio follow the focus that the
// senders' audio levels decide: silent senders at r0 without audio; a
// speaker at r1 with audio; when another speaker takes the slot, the
// first goes back to r0 without audio. Every change of layer starts at a
// key frame with sequence numbers continuing by one.
func TestSpotlightForwardingFollowsSpeaker(t *testing.T) {
	ts := newTestServer(t, spotOptions)
	ctx := testContext(t, 60*time.Second)
	a, pa := dialSpotPublisher(t, ctx, ts, "spot")
	b, pb := dialSpotPublisher(t, ctx, ts, "spot")
	rc, r := dialSpotReceiver(t, ctx, ts, "spot", nil)
	ra, rb := r.of(a.ConnectionID()), r.of(b.ConnectionID())

	ra.wait(t, ctx, "a, silent", func(video []vpkt, _ int) bool { return countLayer(video, 0, 0) >= 30 })
	rb.wait(t, ctx, "b, silent", func(video []vpkt, _ int) bool { return countLayer(video, 0, 0) >= 30 })
	if _, au := ra.snapshot(); au != 0 {
		t.Errorf("a's audio forwarded (%d packets) before any focus", au)
	}

	pa.level.Store(20)
	n := waitSpotNotify(t, ctx, rc, "spotlight.focused", a.ConnectionID())
	if *n.Fixed || !*n.Audio || !*n.Video || *n.ClientID != a.ClientID() {
		t.Errorf("spotlight.focused for a speaker: %+v", n)
	}
	ra.waitLayer(t, ctx, "a speaking: r1", 1)
	ra.wait(t, ctx, "a speaking: audio", func(_ []vpkt, audio int) bool { return audio >= 30 })
	if _, au := rb.snapshot(); au != 0 {
		t.Errorf("b's audio forwarded (%d packets) while not in focus", au)
	}
	focused, err := ts.engine.Channel("spot").SpotlightFocused(ctx)
	if err != nil || len(focused) != 1 || focused[0].ConnectionID != a.ConnectionID() || focused[0].Fixed {
		t.Errorf("SpotlightFocused = %+v, %v; want a, not fixed", focused, err)
	}

	pa.level.Store(127)
	pb.level.Store(15)
	waitSpotNotify(t, ctx, rc, "spotlight.focused", b.ConnectionID())
	rb.waitLayer(t, ctx, "b speaking: r1", 1)
	ra.waitLayer(t, ctx, "a silent: r0", 0)
	audioStandsStill(t, ctx, "a's audio once b took the focus", ra, rb)

	ra.wantRuns(t, "a", "r0 r1 r0")
	rb.wantRuns(t, "b", "r0 r1")

	// The focus events, in order; each focus names its slot next.
	var seq []string
	ns := spotNotifies(t, rc)
	for i, n := range ns {
		if n.EventType == "spotlight.changed" {
			continue
		}
		seq = append(seq, n.String())
		if n.EventType == "spotlight.focused" {
			if i+1 >= len(ns) || ns[i+1].EventType != "spotlight.changed" || *ns[i+1].SpotlightID != "0" || ns[i+1].String() != "spotlight.changed "+*n.ConnectionID {
				t.Errorf("%v not followed by its spotlight.changed (slot 0): %v", n, ns[i+1:])
			}
		}
	}
	want := []string{"spotlight.focused " + a.ConnectionID(), "spotlight.unfocused " + a.ConnectionID(), "spotlight.focused " + b.ConnectionID()}
	if !slices.Equal(seq, want) {
		t.Errorf("focus notifies %v, want %v", seq, want)
	}
}

// A receiver's RequestSpotlightRid sets the layers it gets from one
// sender ("none" stops the video); ResetSpotlightRid returns to its
// connect-time layers. An operator's pin holds against a speaker.
func TestSpotlightRidAndPin(t *testing.T) {
	ts := newTestServer(t, spotOptions)
	ctx := testContext(t, 60*time.Second)
	a, pa := dialSpotPublisher(t, ctx, ts, "spot")
	b, _ := dialSpotPublisher(t, ctx, ts, "spot")
	rc, r := dialSpotReceiver(t, ctx, ts, "spot", map[string]any{"spotlight_focus_rid": "r2", "spotlight_number": 1})
	ra, rb := r.of(a.ConnectionID()), r.of(b.ConnectionID())
	ch := ts.engine.Channel("spot")

	rb.wait(t, ctx, "b, silent", func(video []vpkt, _ int) bool { return countLayer(video, 0, 0) >= 30 })
	if err := ch.FocusSpotlightFixed(ctx, b.ConnectionID()); err != nil {
		t.Fatal(err)
	}
	if n := waitSpotNotify(t, ctx, rc, "spotlight.focused", b.ConnectionID()); !*n.Fixed {
		t.Errorf("FocusSpotlightFixed: notify %+v, want fixed", n)
	}
	rb.waitLayer(t, ctx, "b pinned: r2 (the receiver's focus rid)", 2)
	pa.level.Store(10) // a speaks: the pin holds
	ra.waitLayer(t, ctx, "a unfocused: r0", 0)

	if err := ch.RequestSpotlightRid(ctx, rc.ConnectionID(), a.ConnectionID(), "", "none"); err != nil {
		t.Fatal(err)
	}
	// a's video stops: it stands still while b's goes on.
	bv, _ := rb.snapshot()
	rb.wait(t, ctx, "b, in flight", func(video []vpkt, _ int) bool { return len(video) >= len(bv)+30 })
	stopped, _ := ra.snapshot()
	bv, _ = rb.snapshot()
	rb.wait(t, ctx, "b while a's video is none", func(video []vpkt, _ int) bool { return len(video) >= len(bv)+50 })
	if got, _ := ra.snapshot(); len(got) != len(stopped) {
		t.Errorf("a's video went on (%d packets) with unfocus rid none", len(got)-len(stopped))
	}
	if err := ch.ResetSpotlightRid(ctx, rc.ConnectionID(), ""); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, ctx, "a after reset", func(video []vpkt, _ int) bool { return len(video) >= len(stopped)+30 })
	if got, _ := ra.snapshot(); !got[len(stopped)].key {
		t.Errorf("a's video resumed at %v, not a key frame", got[len(stopped)])
	}
	// Unpinned, b gives way to a, who is speaking.
	if err := ch.UnfocusSpotlight(ctx, b.ConnectionID()); err != nil {
		t.Fatal(err)
	}
	waitSpotNotify(t, ctx, rc, "spotlight.unfocused", b.ConnectionID())
	waitSpotNotify(t, ctx, rc, "spotlight.focused", a.ConnectionID())
	ra.waitLayer(t, ctx, "a focused: r2", 2)

	ra.wantRuns(t, "a", "r0 r2")
	rb.wantRuns(t, "b", "r0 r2 r0")
}

// A channel's spotlight mode is set by its first connection: a connect
// that disagrees is refused with 4490 naming the key; spotlight senders
// are offered simulcast with r2 inactive; listings report spotlight.
func TestSpotlightConnect(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	p := newSimPublisher(t)
	pub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "spot", Role: client.RoleSendonly, VideoCodecType: "VP8",
		Tracks: p.tracks(), Extra: map[string]any{"spotlight": true, "spotlight_number": 2}})
	o := pub.Offer()
	if !o.Spotlight || !o.Simulcast {
		t.Errorf("offer spotlight %v, simulcast %v; want both true", o.Spotlight, o.Simulcast)
	}
	var encs []string
	for _, e := range o.Encodings {
		encs = append(encs, fmt.Sprintf("%s:%v", e.RID, e.Active != nil && *e.Active))
	}
	if want := "[r0:true r1:true r2:false]"; fmt.Sprint(encs) != want {
		t.Errorf("offer encodings %v, want %s", encs, want)
	}
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "plain", Role: client.RoleRecvonly})

	refused := []struct {
		channel string
		extra   map[string]any
		reason  string
	}{
		{"spot", nil, "INVALID-SPOTLIGHT"},
		{"plain", map[string]any{"spotlight": true}, "INVALID-SPOTLIGHT"},
		{"spot", map[string]any{"spotlight": true, "spotlight_number": 3}, "INVALID-SPOTLIGHT-NUMBER"},
		{"spot", map[string]any{"spotlight": true, "spotlight_number": 9}, "INVALID-SPOTLIGHT-NUMBER"},
		{"spot", map[string]any{"spotlight": true, "spotlight_number": 0}, "INVALID-SPOTLIGHT-NUMBER"},
		{"spot", map[string]any{"spotlight": true, "spotlight_focus_rid": "r5"}, "INVALID-SPOTLIGHT-FOCUS-RID"},
		{"spot", map[string]any{"spotlight": true, "spotlight_unfocus_rid": "high"}, "INVALID-SPOTLIGHT-UNFOCUS-RID"},
		{"plain", map[string]any{"spotlight_focus_rid": "r1"}, "INVALID-SPOTLIGHT-FOCUS-RID"},
		{"plain", map[string]any{"spotlight_number": 1}, "INVALID-SPOTLIGHT-NUMBER"},
	}
	for _, tc := range refused {
		c, err := client.Dial(ctx, client.Config{URL: ts.url, ChannelID: tc.channel, Role: client.RoleRecvonly, Extra: tc.extra})
		if err == nil {
			c.Close()
			t.Errorf("connect %s %v succeeded", tc.channel, tc.extra)
			continue
		}
		var ce *client.CloseError
		if !errors.As(err, &ce) || ce.Code != 4490 || ce.Reason != tc.reason {
			t.Errorf("connect %s %v: %v, want close 4490 %s", tc.channel, tc.extra, err, tc.reason)
		}
	}
	// A number change applies to later connects.
	if err := ts.engine.Channel("spot").ChangeSpotlightNumber(ctx, 4); err != nil {
		t.Fatal(err)
	}
	dial(t, ctx, client.Config{URL: ts.url, ChannelID: "spot", Role: client.RoleRecvonly, Extra: map[string]any{"spotlight": true, "spotlight_number": 4}})

	for _, c := range ts.engine.ListChannels() {
		if c.Spotlight != (c.ChannelID == "spot") {
			t.Errorf("ListChannels: %+v", c)
		}
	}
	for _, c := range ts.engine.Channel("spot").ListConnections() {
		if !c.Spotlight {
			t.Errorf("ListConnections: %s spotlight false", c.ConnectionID)
		}
	}
}

func TestSpotlightAPIErrors(t *testing.T) {
	ts := newTestServer(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	p := newSimPublisher(t)
	pub := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "spot", Role: client.RoleSendonly, VideoCodecType: "VP8",
		Tracks: p.tracks(), Extra: map[string]any{"spotlight": true}})
	viewer := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "spot", Role: client.RoleRecvonly, Extra: map[string]any{"spotlight": true}})
	plain := dial(t, ctx, client.Config{URL: ts.url, ChannelID: "plain", Role: client.RoleRecvonly})
	ch, s, v := ts.engine.Channel("spot"), pub.ConnectionID(), viewer.ConnectionID()
	nope := ts.engine.Channel("nope")
	flat := ts.engine.Channel("plain")
	calls := []struct {
		name string
		err  error
		want error
	}{
		{"focus, unknown channel", nope.FocusSpotlight(ctx, s), sfu.ErrChannelNotFound},
		{"focus, not spotlight", flat.FocusSpotlight(ctx, plain.ConnectionID()), sfu.ErrFeatureDisabled},
		{"focus, unknown connection", ch.FocusSpotlight(ctx, "NOPE"), sfu.ErrConnectionNotFound},
		{"focus, receiver only", ch.FocusSpotlightFixed(ctx, v), sfu.ErrFeatureDisabled},
		{"unfocus, unknown connection", ch.UnfocusSpotlight(ctx, "NOPE"), sfu.ErrConnectionNotFound},
		{"number 0", ch.ChangeSpotlightNumber(ctx, 0), sfu.ErrInvalidArgument},
		{"number 9", ch.ChangeSpotlightNumber(ctx, 9), sfu.ErrInvalidArgument},
		{"number, not spotlight", flat.ChangeSpotlightNumber(ctx, 2), sfu.ErrFeatureDisabled},
		{"number, unknown channel", nope.ChangeSpotlightNumber(ctx, 2), sfu.ErrChannelNotFound},
		{"rid, bad", ch.RequestSpotlightRid(ctx, v, s, "r3", "r0"), sfu.ErrInvalidArgument},
		{"rid, none given", ch.RequestSpotlightRid(ctx, v, s, "", ""), sfu.ErrInvalidArgument},
		{"rid, unknown receiver", ch.RequestSpotlightRid(ctx, "NOPE", s, "r1", "r0"), sfu.ErrConnectionNotFound},
		{"rid, not spotlight", flat.RequestSpotlightRid(ctx, plain.ConnectionID(), "", "r1", "r0"), sfu.ErrFeatureDisabled},
		{"reset, unknown sender", ch.ResetSpotlightRid(ctx, v, "NOPE"), sfu.ErrConnectionNotFound},
		{"unfocus, not focused", ch.UnfocusSpotlight(ctx, s), nil},
	}
	for _, c := range calls {
		if !errors.Is(c.err, c.want) || (c.want == nil) != (c.err == nil) {
			t.Errorf("%s: error %v, want %v", c.name, c.err, c.want)
		}
	}
	if _, err := flat.SpotlightFocused(ctx); !errors.Is(err, sfu.ErrFeatureDisabled) {
		t.Errorf("SpotlightFocused, not spotlight: %v", err)
	}
	if got, err := ch.SpotlightFocused(ctx); err != nil || len(got) != 0 {
		t.Errorf("SpotlightFocused before any focus = %v, %v; want []", got, err)
	}
}
