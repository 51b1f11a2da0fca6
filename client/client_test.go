package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/gosfu/sfu/internal/codec"
)

// The exported payload types are the ones NewAPI registers.
func TestPayloadTypeConstants(t *testing.T) {
	want := map[string][2]int{
		"VP8": {PayloadTypeVP8, PayloadTypeVP8RTX}, "VP9": {PayloadTypeVP9, PayloadTypeVP9RTX},
		"AV1": {PayloadTypeAV1, PayloadTypeAV1RTX}, "H264": {PayloadTypeH264, PayloadTypeH264RTX},
	}
	for name, pts := range want {
		s, ok := codec.VideoByName(name)
		if !ok || int(s.PT) != pts[0] || int(s.RTX) != pts[1] {
			t.Errorf("%s: registered %d/%d, constants say %d/%d", name, s.PT, s.RTX, pts[0], pts[1])
		}
	}
	if int(codec.Opus.PT) != PayloadTypeOpus {
		t.Errorf("opus: registered %d, constant says %d", codec.Opus.PT, PayloadTypeOpus)
	}
}

func TestNewAPICodecs(t *testing.T) {
	defer goleak.VerifyNone(t)
	api, err := NewAPI(APIOptions{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.GracefulClose() }()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
		"a=rtpmap:111 opus/48000/2",
		"a=fmtp:111 minptime=10;useinbandfec=1",
		"m=video 9 UDP/TLS/RTP/SAVPF 98 99 96 97 45 46 102 103\r\n",
		"a=rtpmap:96 VP8/90000", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
		"a=rtpmap:98 VP9/90000", "a=fmtp:98 profile-id=0", "a=fmtp:99 apt=98",
		"a=rtpmap:45 AV1/90000", "a=fmtp:46 apt=45",
		"a=rtpmap:102 H264/90000",
		"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		"a=fmtp:103 apt=102",
		"a=rtcp-fb:96 nack\r\n", "a=rtcp-fb:96 nack pli", "a=rtcp-fb:96 ccm fir",
		"a=rtcp-fb:98 nack pli", "a=rtcp-fb:45 nack pli", "a=rtcp-fb:102 ccm fir",
		"urn:ietf:params:rtp-hdrext:sdes:mid",
		"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
		"urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
		"urn:ietf:params:rtp-hdrext:ssrc-audio-level",
	} {
		if !strings.Contains(offer.SDP, want) {
			t.Errorf("offer lacks %q:\n%s", want, offer.SDP)
		}
	}
	// REMB is read (the engine sends it). Transport-cc is offered on what
	// the client receives, as a browser does, so that the engine can
	// estimate its downlink.
	for _, want := range []string{"a=rtcp-fb:96 goog-remb", "a=rtcp-fb:96 transport-cc", "a=rtcp-fb:111 transport-cc",
		"transport-wide-cc-extensions-01"} {
		if !strings.Contains(offer.SDP, want) {
			t.Errorf("offer lacks %q", want)
		}
	}
}

func TestConnectMessage(t *testing.T) {
	roundTrip := func(cfg Config) map[string]any {
		b, err := json.Marshal(cfg.ConnectMessage())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	got := roundTrip(Config{ChannelID: "room", Role: RoleSendrecv})
	want := map[string]any{
		"type": "connect", "role": "sendrecv", "channel_id": "room",
		"audio": true, "video": true, "sora_client": "gosfu client",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("minimal connect = %v, want %v", got, want)
	}

	got = roundTrip(Config{
		ChannelID: "room", Role: RoleSendonly, ClientID: "alice", BundleID: "b1",
		Metadata:                map[string]any{"token": "x"},
		SignalingNotifyMetadata: map[string]any{"name": "alice"},
		Audio:                   Bool(false),
		VideoCodecType:          "AV1", VideoBitRate: 1500,
		Simulcast: true, SimulcastRID: "r1",
		Extra: map[string]any{"spotlight": true, "channel_id": "override"},
	})
	want = map[string]any{
		"type": "connect", "role": "sendonly", "channel_id": "override",
		"client_id": "alice", "bundle_id": "b1",
		"metadata":                  map[string]any{"token": "x"},
		"signaling_notify_metadata": map[string]any{"name": "alice"},
		"audio":                     false,
		"video":                     map[string]any{"codec_type": "AV1", "bit_rate": float64(1500)},
		"simulcast":                 true, "simulcast_rid": "r1", "spotlight": true,
		"sora_client": "gosfu client",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("full connect = %v, want %v", got, want)
	}

	got = roundTrip(Config{Video: Bool(false), AudioCodecType: "OPUS"})
	if _, ok := got["channel_id"]; ok {
		t.Error("empty ChannelID sent")
	}
	if _, ok := got["role"]; ok {
		t.Error("empty Role sent")
	}
	if got["video"] != false || !reflect.DeepEqual(got["audio"], map[string]any{"codec_type": "OPUS"}) {
		t.Errorf("audio/video = %v/%v", got["audio"], got["video"])
	}
}

// wsServer serves handler at /signaling on 127.0.0.1 and returns its ws:// URL.
func wsServer(t *testing.T, handler func(ws *websocket.Conn)) (string, func()) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer func() { _ = ws.CloseNow() }()
		ws.SetReadLimit(1 << 20)
		handler(ws)
	}))
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/signaling", srv.Close
}

func TestDialCloseError(t *testing.T) {
	defer goleak.VerifyNone(t)
	got := make(chan map[string]any, 1)
	url, stop := wsServer(t, func(ws *websocket.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Errorf("server read: %v", err)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		got <- m
		_ = ws.Close(4490, "INVALID-ROLE")
	})
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{URL: url, ChannelID: "room", Role: "bogus"})
	if err == nil {
		_ = c.Close()
		t.Fatal("Dial succeeded")
	}
	var ce *CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("Dial error %v carries no *CloseError", err)
	}
	if ce.Code != 4490 || ce.Reason != "INVALID-ROLE" {
		t.Errorf("close = %d %q, want 4490 INVALID-ROLE", ce.Code, ce.Reason)
	}
	if m := <-got; m["type"] != "connect" || m["role"] != "bogus" {
		t.Errorf("server got %v", m)
	}
}

func TestDialContextTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	url, stop := wsServer(t, func(ws *websocket.Conn) {
		// Never answer; wait for the client to go away.
		for {
			if _, _, err := ws.Read(context.Background()); err != nil {
				return
			}
		}
	})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, Config{URL: url, ChannelID: "room", Role: RoleRecvonly})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial error = %v, want deadline exceeded", err)
	}
}

func TestStripRecvSimulcast(t *testing.T) {
	in := "v=0\r\nm=audio 9 X 111\r\na=mid:0\r\na=rid:r0 recv\r\nm=video 9 X 96\r\na=mid:1\r\n" +
		"a=rid:r0 recv\r\na=rid:r1 recv\r\na=simulcast:recv r0;r1\r\na=rid:r0 send\r\na=rid:r1 send\r\n" +
		"a=simulcast:send r0;r1\r\nm=video 9 X 96\r\na=mid:2\r\na=rid:r0 recv\r\n"
	want := "v=0\r\nm=audio 9 X 111\r\na=mid:0\r\na=rid:r0 recv\r\nm=video 9 X 96\r\na=mid:1\r\n" +
		"a=rid:r0 send\r\na=rid:r1 send\r\n" +
		"a=simulcast:send r0;r1\r\nm=video 9 X 96\r\na=mid:2\r\na=rid:r0 recv\r\n"
	if got := stripRecvSimulcast(in, "1"); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
