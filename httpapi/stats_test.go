package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// clientStats is what the raw client reports: RTCStats as a browser sends
// them, with a float timestamp that must come back unchanged.
const clientStats = `[{"id":"RTCCodec_video_8IGSWf_Inbound_120","type":"codec","timestamp":1586417622080.464,"mimeType":"video/VP9","payloadType":120,"clockRate":90000},{"id":"RTCPeerConnection","type":"peer-connection","timestamp":1586417622080.464,"dataChannelsOpened":0}]`

func TestRemoteStatsCarryClientReportUnchanged(t *testing.T) {
	e := newEnv(t, sfu.Options{PingInterval: 50 * time.Millisecond})
	ctx := testContext(t, 30*time.Second)
	raw := dialRaw(t, ctx, e.sigURL, "sora")
	connID := raw.connectionID(t, ctx)
	select {
	case <-raw.pings:
	case <-ctx.Done():
		t.Fatal("no ping")
	}
	before := time.Now().UTC().Truncate(time.Millisecond)
	if err := raw.send(ctx, `{"type": "pong", "stats": `+clientStats+`}`); err != nil {
		t.Fatal(err)
	}

	// The seed's request for one connection.
	body := fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, connID)
	var one struct {
		ChannelID    string          `json:"channel_id"`
		ConnectionID string          `json:"connection_id"`
		Stats        json.RawMessage `json:"stats"`
		Timestamp    string          `json:"timestamp"`
	}
	for {
		e.call(t, "Sora_20200225.GetConnectionRemoteStats", body).ok(t, &one)
		if string(one.Stats) != "[]" {
			break
		}
		select { // the pong is handled asynchronously
		case <-ctx.Done():
			t.Fatal("stats never stored")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if string(one.Stats) != clientStats {
		t.Errorf("stats\n%s\nwant\n%s", one.Stats, clientStats)
	}
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", one.Timestamp)
	if err != nil || ts.Before(before) || ts.After(time.Now()) {
		t.Errorf("timestamp %q (%v), want RFC 3339 ms UTC at arrival", one.Timestamp, err)
	}
	if one.ChannelID != "sora" || one.ConnectionID != connID {
		t.Errorf("ids %+v", one)
	}

	// Lists: "remote_stats" (20200225) and "rtc_stats" (20211215).
	for _, c := range []struct{ target, body, key string }{
		{"Sora_20200225.GetAllRemoteStats", "", "remote_stats"},
		{"Sora_20200225.GetChannelRemoteStats", `{"channel_id": "sora"}`, "remote_stats"},
		{"Sora_20211215.ListRtcStats", "", "rtc_stats"},
		{"Sora_20211215.ListChannelRtcStats", `{"channel_id": "sora"}`, "rtc_stats"},
	} {
		var list []map[string]json.RawMessage
		e.call(t, c.target, c.body).ok(t, &list)
		if len(list) != 1 || string(list[0][c.key]) != clientStats || string(list[0]["timestamp"]) != `"`+one.Timestamp+`"` {
			t.Errorf("%s: %v", c.target, list)
		}
	}
	var rtc map[string]json.RawMessage
	e.call(t, "Sora_20211215.GetRtcStats", body).ok(t, &rtc)
	if string(rtc["rtc_stats"]) != clientStats {
		t.Errorf("GetRtcStats: %v", rtc)
	}

	// A report that is not an array is ignored; the last good one stays.
	if err := raw.send(ctx, `{"type": "pong", "stats": {"not": "an array"}}`); err != nil {
		t.Fatal(err)
	}
	if err := raw.send(ctx, `{"type": "pong", "stats": `+clientStats+`}`); err != nil {
		t.Fatal(err)
	}
	e.call(t, "Sora_20200225.GetConnectionRemoteStats", body).ok(t, &one)
	if string(one.Stats) != clientStats {
		t.Errorf("after a bad report: %s", one.Stats)
	}
}

func TestRemoteStatsFromClientPackage(t *testing.T) {
	e := newEnv(t, sfu.Options{PingInterval: 50 * time.Millisecond})
	ctx := testContext(t, 30*time.Second)
	c := e.dial(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	body := fmt.Sprintf(`{"channel_id": "sora", "connection_id": %q}`, c.ConnectionID())
	for {
		var one struct {
			Stats []map[string]any `json:"stats"`
		}
		e.call(t, "Sora_20200225.GetConnectionRemoteStats", body).ok(t, &one)
		for _, s := range one.Stats {
			if s["type"] == "peer-connection" {
				goto reported
			}
		}
		select { // pings come every 50 ms
		case <-ctx.Done():
			t.Fatal("no stats with a peer-connection entry")
		case <-time.After(20 * time.Millisecond):
		}
	}
reported:
	// Reports are dropped with their connection.
	if err := c.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		a := e.call(t, "Sora_20200225.GetAllRemoteStats", "")
		a.ok(t, nil)
		if string(a.body) == "[]" {
			return
		}
		select { // teardown runs after the close
		case <-ctx.Done():
			t.Fatalf("stats kept after disconnect: %s", a.body)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestStatsReportCounters: three clients send connect, two complete, one
// never answers the offer; all end.
func TestStatsReportCounters(t *testing.T) {
	destroyed := make(chan struct{}, 3)
	e := newEnv(t, sfu.Options{
		SetupTimeout:          3 * time.Second,
		OnConnectionDestroyed: func(sfu.ConnectionInfo, sfu.CloseReason) { destroyed <- struct{}{} },
	})
	ctx := testContext(t, 30*time.Second)
	start := time.Now()

	sub := e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	pub := newPublisher(t)
	p := e.dial(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: "VP8", Tracks: pub.tracks()})
	pub.start(t)
	if err := sub.WaitRemoteTracks(ctx, 2); err != nil {
		t.Fatalf("subscriber got no tracks: %v", err)
	}
	raw := dialRaw(t, ctx, e.sigURL, "sora")
	raw.connectionID(t, ctx)

	// Media flows: poll the subscriber's packet count (packets are not
	// events the client signals).
	for {
		n := uint64(0)
		for _, tr := range sub.RemoteTracks() {
			n += tr.Packets()
		}
		if n >= 20 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no media")
		case <-time.After(10 * time.Millisecond):
		}
	}

	var live map[string]any
	e.call(t, "Sora_20171010.GetStatsReport", "").ok(t, &live)
	if live["total_ongoing_connections"] != float64(3) || live["total_connection_created"] != float64(3) {
		t.Errorf("while connected: %v", live)
	}

	// The raw client never answers: SETUP-TIMEOUT closes it.
	select {
	case <-raw.closed:
	case <-ctx.Done():
		t.Fatal("raw client not closed")
	}
	if !strings.Contains(fmt.Sprint(raw.err), "SETUP-TIMEOUT") {
		t.Errorf("raw client closed with %v", raw.err)
	}
	pub.halt()
	if err := p.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case <-destroyed:
		case <-ctx.Done():
			t.Fatal("not every connection ended")
		}
	}
	elapsed := time.Since(start)

	// The seed's request: no body.
	a := e.do(t, http.MethodPost, map[string]string{"Accept": "*/*", "x-sora-target": "Sora_20171010.GetStatsReport"}, "")
	var r map[string]any
	a.ok(t, &r)
	want := map[string]float64{
		"total_connection_created":     3,
		"total_successful_connections": 2,
		"total_failed_connections":     1,
		"total_connection_destroyed":   3,
		"total_ongoing_connections":    0,
		"total_session_created":        1,
		"total_session_destroyed":      1,
		"total_turn_udp_connections":   0,
		"total_turn_tcp_connections":   0,
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %v, want %v", k, r[k], v)
		}
	}
	if u, _ := r["total_connection_updated"].(float64); u < 1 {
		t.Errorf("total_connection_updated = %v: the subscriber re-negotiated for the publisher's tracks", r["total_connection_updated"])
	}
	for _, k := range []string{"total_received_srtp", "total_received_srtp_byte_size", "total_sent_srtp", "total_sent_srtp_byte_size"} {
		if v, _ := r[k].(float64); v < 20 {
			t.Errorf("%s = %v, want at least the 20 packets seen", k, r[k])
		}
	}
	if r["total_decrypted_srtp"] != r["total_received_srtp"] {
		t.Errorf("decrypted %v != received %v", r["total_decrypted_srtp"], r["total_received_srtp"])
	}
	if v, ok := r["version"].(string); !ok || v == "" {
		t.Errorf("version %v", r["version"])
	}
	setup, _ := r["average_setup_time_msec"].(float64)
	if setup <= 0 || setup > float64(elapsed.Milliseconds()) {
		t.Errorf("average_setup_time_msec = %v, want in (0, %d]", setup, elapsed.Milliseconds())
	}
	// Durations are whole seconds in the report; the Go API has them
	// exactly.
	s := e.engine.Stats()
	if s.TotalDuration <= 0 || s.TotalDuration > 2*elapsed || s.AverageDuration() != s.TotalDuration/2 {
		t.Errorf("total duration %v, average %v, test took %v", s.TotalDuration, s.AverageDuration(), elapsed)
	}
	if r["total_duration_sec"] != float64(int64(s.TotalDuration/time.Second)) ||
		r["average_duration_sec"] != float64(int64(s.AverageDuration()/time.Second)) {
		t.Errorf("duration %v / %v vs %v", r["total_duration_sec"], r["average_duration_sec"], s.TotalDuration)
	}
}
