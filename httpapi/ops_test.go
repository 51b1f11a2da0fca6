package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

func TestListChannelsSeedExample(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	e.dial(t, ctx, client.Config{ChannelID: "akane", Role: client.RoleRecvonly})

	// The seed's request: no body, Content-Length 0, no Content-Type.
	a := e.do(t, http.MethodPost, map[string]string{
		"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": "HTTPie/2.2.0",
		"x-sora-target": "Sora_20201013.ListChannels",
	}, "")
	a.ok(t, nil)
	jsonEqual(t, a.body, `[
		{"channel_id": "akane", "multistream": true, "spotlight": false},
		{"channel_id": "sora", "multistream": true, "spotlight": false}]`)
}

func TestListChannelConnections(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	before := time.Now()
	a := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly, ClientID: "alice", Audio: client.Bool(false)})
	b := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly, VideoCodecType: "VP8", BundleID: "bundle-b"})
	o := e.dial(t, ctx, client.Config{ChannelID: "other", Role: client.RoleRecvonly})
	after := time.Now()

	type conn struct {
		ChannelID, ConnectionID, ClientID, BundleID, Role string
		Multistream, Simulcast, Spotlight                 bool
		CreatedTime                                       int64
		Audio, Video                                      json.RawMessage
	}
	decode := func(raw []byte) []conn {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		out := make([]conn, len(list))
		for i, m := range list {
			for _, k := range []string{"channel_id", "connection_id", "client_id", "bundle_id", "role", "multistream", "simulcast", "spotlight", "created_time", "audio", "video"} {
				if _, ok := m[k]; !ok {
					t.Errorf("entry %d lacks %s", i, k)
				}
			}
			b, _ := json.Marshal(m)
			dec := json.NewDecoder(strings.NewReader(strings.NewReplacer("_id", "id", "created_time", "createdtime").Replace(string(b))))
			if err := dec.Decode(&out[i]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}

	var got []conn
	r := e.call(t, "Sora_20201013.ListChannelConnections", `{"channel_id": "sora"}`)
	r.ok(t, nil)
	got = decode(r.body)
	if len(got) != 2 {
		t.Fatalf("%d connections: %s", len(got), r.body)
	}
	ga, gb := got[0], got[1]
	if ga.ConnectionID != a.ConnectionID() || ga.ClientID != "alice" || ga.BundleID != a.ConnectionID() || ga.Role != "recvonly" ||
		!ga.Multistream || ga.Simulcast || ga.Spotlight || string(ga.Audio) != "false" || string(ga.Video) != `{"codec_type":"VP9"}` {
		t.Errorf("first entry %+v (audio %s video %s)", ga, ga.Audio, ga.Video)
	}
	if gb.ConnectionID != b.ConnectionID() || gb.ClientID != b.ConnectionID() || gb.BundleID != "bundle-b" ||
		string(gb.Audio) != `{"codec_type":"OPUS"}` || string(gb.Video) != `{"codec_type":"VP8"}` {
		t.Errorf("second entry %+v (audio %s video %s)", gb, gb.Audio, gb.Video)
	}
	for _, c := range got {
		if c.CreatedTime < before.UnixMicro() || c.CreatedTime > after.UnixMicro() {
			t.Errorf("created_time %d not in [%d, %d] (microseconds)", c.CreatedTime, before.UnixMicro(), after.UnixMicro())
		}
	}

	r = e.call(t, "Sora_20201013.ListConnections", "")
	r.ok(t, nil)
	all := decode(r.body)
	if len(all) != 3 || all[0].ConnectionID != o.ConnectionID() || all[0].ChannelID != "other" {
		t.Errorf("ListConnections: %s", r.body)
	}
}

func TestDisconnectConnection(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	a := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	b := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})

	body := fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, a.ConnectionID())
	e.echo(t, "Sora_20151104.DisconnectConnection", body)
	waitClosedByAPI(t, a)
	if _, err := b.WaitNotify(ctx, destroyedOf(a)); err != nil {
		t.Fatalf("no connection.destroyed for the disconnected one: %v", err)
	}
	if b.CloseError() != nil {
		t.Errorf("the other connection was closed: %v", b.CloseError())
	}
}

func TestDisconnectChannel(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	a := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	b := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	c := e.dial(t, ctx, client.Config{ChannelID: "other", Role: client.RoleRecvonly})

	r := e.call(t, "Sora_20151104.DisconnectChannel", `{"channel_id": "sora"}`)
	r.ok(t, nil)
	jsonEqual(t, r.body, `{"channel_id": "sora"}`)
	waitClosedByAPI(t, a)
	waitClosedByAPI(t, b)
	if c.CloseError() != nil {
		t.Errorf("a connection of another channel was closed: %v", c.CloseError())
	}
}

func TestDisconnectClient(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	a1 := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly, ClientID: "alice"})
	a2 := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly, ClientID: "alice"})
	bob := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly, ClientID: "bob"})

	r := e.call(t, "Sora_20151104.DisconnectClient", `{"channel_id": "sora", "client_id": "alice"}`)
	r.ok(t, nil)
	jsonEqual(t, r.body, `{"channel_id": "sora", "client_id": "alice"}`)
	waitClosedByAPI(t, a1)
	waitClosedByAPI(t, a2)
	for _, a := range []*client.Client{a1, a2} {
		if _, err := bob.WaitNotify(ctx, destroyedOf(a)); err != nil {
			t.Fatalf("bob saw no connection.destroyed: %v", err)
		}
	}
	if bob.CloseError() != nil {
		t.Errorf("bob was closed: %v", bob.CloseError())
	}
}

func TestPushChannelAndConnection(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	a := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	b := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})

	body := `{"channel_id": "sora", "data": {"msg": "to all", "n": 1}}`
	e.echo(t, "Sora_20160711.PushChannel", body)
	for _, c := range []*client.Client{a, b} {
		data, err := c.WaitPush(ctx, func(d json.RawMessage) bool { return strings.Contains(string(d), "to all") })
		if err != nil {
			t.Fatalf("push not received: %v", err)
		}
		jsonEqual(t, data, `{"msg": "to all", "n": 1}`)
	}

	body = fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q, "data": {"msg": "to b"}}`, b.ConnectionID())
	e.echo(t, "Sora_20160711.PushConnection", body)
	if _, err := b.WaitPush(ctx, func(d json.RawMessage) bool { return strings.Contains(string(d), "to b") }); err != nil {
		t.Fatalf("push not received: %v", err)
	}
	// Order is kept per connection: a marker pushed to everyone after the
	// targeted push arrives at a with the targeted one absent.
	e.call(t, "Sora_20160711.PushChannel", `{"channel_id": "sora", "data": {"msg": "marker"}}`).ok(t, nil)
	if _, err := a.WaitPush(ctx, func(d json.RawMessage) bool { return strings.Contains(string(d), "marker") }); err != nil {
		t.Fatal(err)
	}
	for _, d := range a.Pushes() {
		if strings.Contains(string(d), "to b") {
			t.Errorf("a received b's push %s", d)
		}
	}
}

// TestRequestKeyFrame checks that each request sends the publisher
// exactly one PLI for its video (with no subscriber the engine sends none
// of its own), and that requests closer together than the engine's 500 ms
// key-frame throttle are merged.
func TestRequestKeyFrame(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 30*time.Second)
	var mu sync.Mutex
	plis := 0
	changed := make(chan struct{}, 1)
	onRTCP := func(track webrtc.TrackLocal, pkts []rtcp.Packet) {
		for _, pkt := range pkts {
			if _, ok := pkt.(*rtcp.PictureLossIndication); ok && track.Kind() == webrtc.RTPCodecTypeVideo {
				mu.Lock()
				plis++
				mu.Unlock()
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return plis
	}
	waitPLIs := func(n int) {
		t.Helper()
		for count() < n {
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatalf("publisher got %d PLIs, want %d", count(), n)
			}
		}
	}
	pub := newPublisher(t)
	p := e.dial(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: "VP8",
		Tracks: pub.tracks(), OnSenderRTCP: onRTCP})
	pub.start(t)

	body := fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, p.ConnectionID())
	// FEATURE-DISABLED until the engine has read the first video packets
	// and published the track: retried every 20 ms until then.
	for {
		r := e.call(t, "Sora_20241218.RequestKeyFrame", body)
		if r.status == http.StatusOK {
			jsonEqual(t, r.body, body)
			break
		}
		r.fails(t, http.StatusBadRequest, "FEATURE-DISABLED")
		select {
		case <-ctx.Done():
			t.Fatal("video never published")
		case <-time.After(20 * time.Millisecond):
		}
	}
	waitPLIs(1)
	// Within the throttle: answered, but no second PLI.
	e.call(t, "Sora_20241218.RequestKeyFrame", body).ok(t, nil)
	// Past the 500 ms throttle (an engine interval: nothing to wait on),
	// the next request sends exactly one more.
	time.Sleep(600 * time.Millisecond)
	e.call(t, "Sora_20241218.RequestKeyFrame", body).ok(t, nil)
	waitPLIs(2)
	// RTCP arrives in order: a PLI from the throttled request would have
	// come before the last one.
	if got := count(); got != 2 {
		t.Errorf("publisher got %d PLIs for three requests (one throttled), want 2", got)
	}
}

func TestGetLicense(t *testing.T) {
	e := newEnv(t, sfu.Options{MaxChannels: 10, MaxConnectionsPerChannel: 20})
	var l map[string]any
	e.do(t, http.MethodPost, map[string]string{"x-sora-target": "Sora_20171218.GetLicense"}, "").ok(t, &l)
	if l["type"] != "open-source" || l["max_connections"] != float64(200) || l["expired_at"] != "9999-12" ||
		!strings.HasPrefix(l["product_name"].(string), "gosfu") {
		t.Errorf("license %v", l)
	}
	if _, ok := l["serial_code"].(string); !ok {
		t.Errorf("serial_code missing: %v", l)
	}
}

func waitClosedByAPI(t *testing.T, c *client.Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("client not closed")
	}
	if ce := c.CloseError(); ce == nil || ce.Code != 1000 || ce.Reason != "DISCONNECTED-API" {
		t.Fatalf("close %v, want 1000 DISCONNECTED-API", ce)
	}
}

func destroyedOf(c *client.Client) func(string, json.RawMessage) bool {
	return func(typ string, raw json.RawMessage) bool {
		return typ == "connection.destroyed" && strings.Contains(string(raw), c.ConnectionID())
	}
}
