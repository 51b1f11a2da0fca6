package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/sfutest"
)

// suite runs against embedded NATS servers (TestEmbeddedNATS) and
// against nats-server processes (TestExternalNATS).
var suite = []struct {
	name string
	run  func(*testing.T, clusterStarter)
}{
	{"RedirectToOwnerCarriesMedia", testRedirectToOwnerCarriesMedia},
	{"RedirectMessage", testRedirectMessage},
	{"RoutedDisconnectConnection", testRoutedDisconnectConnection},
	{"ListsGatherEveryNode", testListsGatherEveryNode},
	{"ConcurrentConnectsOneOwner", testConcurrentConnectsOneOwner},
	{"OwnerCrashChannelMovesOn", testOwnerCrashChannelMovesOn},
	{"ReleasedWhenChannelEmpties", testReleasedWhenChannelEmpties},
	{"DrainingNodeSendsNewChannelsElsewhere", testDrainingNodeSendsNewChannelsElsewhere},
	{"RefusedConnectLeavesNoClaim", testRefusedConnectLeavesNoClaim},
}

func TestEmbeddedNATS(t *testing.T) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newCluster) })
	}
}

func TestExternalNATS(t *testing.T) {
	bin := natsServerBinary(t)
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, externalCluster(bin)) })
	}
}

// publish sends VP8 packets on a track until the test ends.
func publish(t *testing.T) webrtc.TrackLocal {
	t.Helper()
	v, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for n := uint16(0); ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// 0x10 then 0x00...: the first packet of a VP8 key frame.
			_ = v.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: n, Timestamp: uint32(n) * 3000, Marker: true},
				Payload: append([]byte{0x10, 0x00, 0x9d, 0x01, 0x2a}, make([]byte, 200)...)})
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
	return v
}

func testRedirectToOwnerCarriesMedia(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 3, nil)
	a, b := nodes[0], nodes[1]
	ctx := testContext(t, 30*time.Second)
	audio := false
	a.dial(t, ctx, client.Config{ChannelID: "room", Role: "sendonly", Audio: &audio, VideoCodecType: "VP8", Tracks: []webrtc.TrackLocal{publish(t)}})

	// Node B does not own "room": the subscriber is redirected to A.
	sub := b.dial(t, ctx, client.Config{ChannelID: "room", Role: "recvonly", Audio: &audio, VideoCodecType: "VP8"})
	if n := a.connections("room"); n != 2 {
		t.Fatalf("node A has %d connections in room, want 2 (publisher and redirected subscriber)", n)
	}
	if n := b.connections("room"); n != 0 {
		t.Fatalf("node B has %d connections in room, want 0", n)
	}
	if err := sub.WaitRemoteTracks(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Packets are no event the client signals: poll.
	sfutest.Eventually(t, ctx, "media through the redirect", func() bool { return sub.RemoteTracks()[0].Packets() > 10 })
}

func testRedirectMessage(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	ctx := testContext(t, 20*time.Second)
	ws, _, err := rawConnect(ctx, a.sigURL, "owned-by-a")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	// What sora-js-sdk reads: {"type":"redirect","location":<A's URL>}.
	ws2, _, err := websocket.Dial(ctx, b.sigURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.CloseNow()
	if err := ws2.Write(ctx, websocket.MessageText, []byte(`{"type":"connect","role":"recvonly","channel_id":"owned-by-a"}`)); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws2.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["type"] != "redirect" || m["location"] != a.sigURL {
		t.Fatalf("got %s, want a redirect to %s", data, a.sigURL)
	}
}

func testRoutedDisconnectConnection(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 3, nil)
	a, c := nodes[0], nodes[2]
	ctx := testContext(t, 30*time.Second)
	audio := false
	pub := a.dial(t, ctx, client.Config{ChannelID: "talk", Role: "sendonly", Audio: &audio, VideoCodecType: "VP8", Tracks: []webrtc.TrackLocal{publish(t)}})

	body := fmt.Sprintf(`{"channel_id":"talk","connection_id":%q}`, pub.ConnectionID())
	status, answer := c.call(t, "Sora_20151104.DisconnectConnection", body)
	if status != http.StatusOK {
		t.Fatalf("DisconnectConnection on node C: %d %s", status, answer)
	}
	select {
	case <-pub.Done():
	case <-ctx.Done():
		t.Fatal("the connection on node A did not end")
	}
	// An error answer of the owner comes back unchanged.
	status, answer = c.call(t, "Sora_20151104.DisconnectConnection", `{"channel_id":"talk","connection_id":"nope"}`)
	if status == http.StatusOK {
		t.Fatalf("unknown connection: %d %s", status, answer)
	}
	var e struct {
		ErrorType string `json:"error_type"`
	}
	if err := json.Unmarshal(answer, &e); err != nil || e.ErrorType == "" {
		t.Fatalf("error answer %s", answer)
	}
}

func testListsGatherEveryNode(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 3, nil)
	ctx := testContext(t, 30*time.Second)
	for i, tn := range nodes {
		ws, _, err := rawConnect(ctx, tn.sigURL, fmt.Sprintf("ch-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		if tn.connections(fmt.Sprintf("ch-%d", i)) != 1 {
			t.Fatalf("channel ch-%d is not on %s", i, tn.name)
		}
	}
	for _, tn := range nodes {
		got := tn.channelIDs(t)
		for i := range nodes {
			if !got[fmt.Sprintf("ch-%d", i)] {
				t.Errorf("ListChannels on %s: %v lacks ch-%d", tn.name, got, i)
			}
		}
		status, body := tn.call(t, "Sora_20211215.ListClusterNodes", "")
		var list []clusterNodeJSON
		if status != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 3 {
			t.Fatalf("ListClusterNodes on %s: %d %s", tn.name, status, body)
		}
		for _, n := range list {
			if !n.Connected || n.Mode != "normal" || n.ClusterNodeName == "" || n.NodeName == "" {
				t.Errorf("node entry %+v", n)
			}
		}
	}
	// A gathered call with a bad body gets this node's error, not an
	// empty list.
	if status, body := nodes[2].call(t, "Sora_20211215.ListRtcStats", `{"local":"yes"}`); status != http.StatusBadRequest {
		t.Fatalf("ListRtcStats with a bad body: %d %s", status, body)
	}
	// GetStatsReport stays per node: it answers with this node's counters.
	if status, body := nodes[1].call(t, "Sora_20171010.GetStatsReport", ""); status != http.StatusOK {
		t.Fatalf("GetStatsReport: %d %s", status, body)
	}
}

func testConcurrentConnectsOneOwner(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 3, nil)
	ctx := testContext(t, 60*time.Second)
	const clients = 100
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	socks := make(chan *websocket.Conn, clients)
	for i := range clients {
		wg.Go(func() {
			ws, _, err := rawConnect(ctx, nodes[i%3].sigURL, "crowd")
			if err != nil {
				errs <- err
				return
			}
			socks <- ws
		})
	}
	wg.Wait()
	close(errs)
	close(socks)
	for ws := range socks {
		defer ws.CloseNow()
	}
	for err := range errs {
		t.Fatal(err)
	}
	owners := 0
	for _, tn := range nodes {
		switch n := tn.connections("crowd"); n {
		case 0:
		case clients:
			owners++
		default:
			t.Errorf("%s has %d connections in crowd: the channel is split", tn.name, n)
		}
	}
	if owners != 1 {
		t.Fatalf("%d nodes hold the channel, want exactly 1", owners)
	}
}

func testOwnerCrashChannelMovesOn(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 3, nil)
	a, b := nodes[0], nodes[1]
	ctx := testContext(t, 60*time.Second)
	ws, _, err := rawConnect(ctx, a.sigURL, "phoenix")
	if err != nil {
		t.Fatal(err)
	}
	ws.CloseNow()

	// A dies: no release, no unregistration, its server gone.
	a.node.abandon()
	a.srv.Close()
	a.nats.Shutdown()
	died := time.Now()

	// Connects for the channel fail while A's claim lives, then B takes it
	// over: within the TTL of A's last heartbeat, which came before its
	// death (a second more for the polling and the connect itself).
	within, cancel := context.WithTimeout(ctx, testTTL+time.Second)
	defer cancel()
	var served string
	sfutest.Eventually(t, within, "channel recreated on a surviving node within the TTL", func() bool {
		ws, url, err := rawConnect(ctx, b.sigURL, "phoenix")
		if err != nil {
			return false
		}
		ws.CloseNow()
		served = url
		return true
	})
	t.Logf("channel served again after %v (TTL %v) by %s", time.Since(died).Round(10*time.Millisecond), testTTL, served)
	if served == a.sigURL {
		t.Fatal("served by the dead node")
	}
}

func testReleasedWhenChannelEmpties(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	ctx := testContext(t, 30*time.Second)
	ws, _, err := rawConnect(ctx, a.sigURL, "brief")
	if err != nil {
		t.Fatal(err)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	// The claim goes with the channel: the next connect (at B) claims it
	// at B, long before the TTL.
	sfutest.Eventually(t, ctx, "claim released", func() bool {
		owner, err := b.node.owner(ctx, "brief")
		return err == nil && owner == ""
	})
	ws, url, err := rawConnect(ctx, b.sigURL, "brief")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if url != b.sigURL {
		t.Fatalf("served by %s, want B", url)
	}
}

func testDrainingNodeSendsNewChannelsElsewhere(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	ctx := testContext(t, 30*time.Second)
	dctx, cancel := contextCancelled()
	defer cancel()
	_ = a.engine.Drain(dctx) // returns at once: no channel, no wait
	a.node.heartbeat()       // publish "draining" now rather than at the next tick
	ws, url, err := rawConnect(ctx, a.sigURL, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if url != b.sigURL {
		t.Fatalf("new channel served by %s, want B (A drains)", url)
	}
}

func testRefusedConnectLeavesNoClaim(t *testing.T, newCluster clusterStarter) {
	nodes := newCluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	ctx := testContext(t, 30*time.Second)
	// The router claims the channel, then the engine refuses the connect
	// (bad role): the claim must not outlive the refusal.
	ws, _, err := websocket.Dial(ctx, a.sigURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"connect","role":"bogus","channel_id":"refused"}`)); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4490 {
		t.Fatalf("bad role: %v, want a 4490 close", err)
	}
	sfutest.Eventually(t, ctx, "claim released after the refusal", func() bool {
		owner, err := b.node.owner(ctx, "refused")
		return err == nil && owner == ""
	})
}
