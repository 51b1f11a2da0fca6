package client

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/gosfu/sfu/internal/codec"
)

const (
	testConnID      = "0123456789ABCDEFGHJKMNPQRS"
	testPublisherID = "PUBLISHER0123456789ABCDEFG"
)

// fakeSFU plays the server side of one session with pion, the way gosfu
// does: own m-lines first (recvonly), inline candidates, then a notify, a
// push, a ping with stats, one re-offer adding a forwarded VP8 track, and a
// close with 1000 on disconnect.
type fakeSFU struct {
	t           *testing.T
	serverTrack chan string          // "<mid> <kind>" of the client's tracks
	pong        chan json.RawMessage // the pong to the stats ping
	msgs        []string             // types received, in order
	mu          sync.Mutex
}

func (f *fakeSFU) serve(ws *websocket.Conn) {
	t := f.t
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	send := func(v any) {
		b, _ := json.Marshal(v)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Errorf("server write: %v", err)
		}
	}
	if _, data, err := ws.Read(ctx); err != nil || !strings.Contains(string(data), `"connect"`) {
		t.Errorf("server: first message %s, %v", data, err)
		return
	}

	api, err := NewAPI(APIOptions{LoopbackOnly: true})
	if err != nil {
		t.Error(err)
		return
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Error(err)
		return
	}
	defer func() { _ = pc.GracefulClose() }()
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		for _, x := range pc.GetTransceivers() {
			if x.Receiver() == r {
				f.serverTrack <- x.Mid() + " " + tr.Kind().String()
			}
		}
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	recvonly := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, recvonly); err != nil {
		t.Error(err)
		return
	}
	vt, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, recvonly)
	if err != nil {
		t.Error(err)
		return
	}
	vp8, _ := codec.VideoByName("VP8")
	if err := vt.SetCodecPreferences(vp8.Preferences(webrtc.RTPCodecTypeVideo)); err != nil {
		t.Error(err)
		return
	}
	offer := func() string {
		o, err := pc.CreateOffer(nil)
		if err != nil {
			t.Error(err)
			return ""
		}
		gathered := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(o); err != nil {
			t.Error(err)
			return ""
		}
		<-gathered
		return pc.LocalDescription().SDP
	}
	send(map[string]any{
		"type": "offer", "sdp": offer(), "connection_id": testConnID, "client_id": "cid",
		"bundle_id": testConnID, "channel_id": "room", "simulcast": false, "spotlight": false,
		"mid": map[string]string{"audio": "0", "video": "1"},
	})

	// Pump: candidates are applied here, everything else goes to msgs.
	msgs := make(chan map[string]any, 16)
	go func() {
		defer close(msgs)
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			f.mu.Lock()
			f.msgs = append(f.msgs, m["type"].(string))
			f.mu.Unlock()
			if m["type"] == "answer" || m["type"] == "re-answer" {
				// Applied here so that the candidates after it find it.
				if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m["sdp"].(string)}); err != nil {
					t.Errorf("SetRemoteDescription(%s): %v", m["type"], err)
				}
			}
			if m["type"] == "candidate" {
				mid, _ := m["sdpMid"].(string)
				idx := uint16(0)
				if m["usernameFragment"] == "" || mid == "" {
					t.Errorf("candidate without mid or ufrag: %v", m)
				}
				if err := pc.AddICECandidate(webrtc.ICECandidateInit{
					Candidate: m["candidate"].(string), SDPMid: &mid, SDPMLineIndex: &idx,
				}); err != nil {
					t.Errorf("AddICECandidate: %v", err)
				}
				continue
			}
			msgs <- m
		}
	}()
	next := func(want string) map[string]any {
		m, ok := <-msgs
		if !ok || m["type"] != want {
			t.Errorf("server: got %v, want %s", m, want)
			return nil
		}
		return m
	}
	answer := next("answer")
	if answer == nil {
		return
	}
	if sdp := answer["sdp"].(string); !strings.Contains(sdp, "a=setup:active") || strings.Contains(sdp, "a=cryptex") || strings.Count(sdp, "a=sendonly") != 2 {
		t.Errorf("answer SDP:\n%s", sdp)
	}
	select {
	case <-connected:
	case <-ctx.Done():
		t.Error("server never connected")
		return
	}
	send(map[string]any{"type": "notify", "event_type": "connection.created", "connection_id": testConnID})
	send(map[string]any{"type": "push", "data": map[string]any{"hello": "world"}})
	send(map[string]any{"type": "ping", "stats": true})
	if m := next("pong"); m != nil {
		b, _ := json.Marshal(m["stats"])
		f.pong <- b
	}

	// Re-offer with one forwarded track of another publisher.
	fwd, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", testPublisherID)
	if err != nil {
		t.Error(err)
		return
	}
	ft, err := pc.AddTransceiverFromTrack(fwd, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Error(err)
		return
	}
	_ = ft.SetCodecPreferences(vp8.Preferences(webrtc.RTPCodecTypeVideo))
	send(map[string]any{"type": "re-offer", "sdp": offer()})
	if next("re-answer") == nil {
		return
	}
	// Send packets until the client disconnects.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = fwd.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, Payload: []byte{0x10, 1, 2, 3}})
		}
	}()
	next("disconnect")
	close(stop)
	wg.Wait()
	_ = ws.Close(websocket.StatusNormalClosure, "")
	for range msgs {
	}
}

func TestSession(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := &fakeSFU{t: t, serverTrack: make(chan string, 4), pong: make(chan json.RawMessage, 1)}
	url, stopServer := wsServer(t, f.serve)
	defer stopServer()

	audio, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "me")
	video, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "me")
	var notified, pushed, reOffered sync.WaitGroup
	notified.Add(1)
	pushed.Add(1)
	reOffered.Add(1)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, Config{
		URL: url, ChannelID: "room", Role: RoleSendrecv, VideoCodecType: "VP8",
		Tracks:    []webrtc.TrackLocal{video, audio},
		OnNotify:  func(string, json.RawMessage) { notified.Done() },
		OnPush:    func(json.RawMessage) { pushed.Done() },
		OnReOffer: func(string) { reOffered.Done() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("connected in %v", time.Since(start))
	if c.ConnectionID() != testConnID || c.ClientID() != "cid" || c.Offer().Mid.Video != "1" {
		t.Errorf("offer = %+v", c.Offer())
	}

	// Publish: both tracks land on the server's own m-lines.
	stopMedia := make(chan struct{})
	mediaDone := make(chan struct{})
	go func() {
		defer close(mediaDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stopMedia:
				return
			case <-tick.C:
			}
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{0x10, 1, 2}}
			_ = audio.WriteRTP(p)
			_ = video.WriteRTP(p)
		}
	}()
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case s := <-f.serverTrack:
			got[s] = true
		case <-ctx.Done():
			t.Fatalf("server got tracks %v", got)
		}
	}
	close(stopMedia)
	<-mediaDone
	if !got["0 audio"] || !got["1 video"] {
		t.Errorf("server got tracks %v, want 0 audio and 1 video", got)
	}

	raw, err := c.WaitNotify(ctx, func(ev string, _ json.RawMessage) bool { return ev == "connection.created" })
	if err != nil || !strings.Contains(string(raw), testConnID) {
		t.Errorf("WaitNotify = %s, %v", raw, err)
	}
	if data, err := c.WaitPush(ctx, nil); err != nil || string(data) != `{"hello":"world"}` {
		t.Errorf("WaitPush = %s, %v", data, err)
	}
	var stats []map[string]any
	if err := json.Unmarshal(<-f.pong, &stats); err != nil || len(stats) == 0 {
		t.Errorf("pong stats: %v %v", stats, err)
	}
	for _, s := range stats {
		if s["id"] == nil || s["type"] == nil || s["timestamp"] == nil {
			t.Errorf("stats entry without id/type/timestamp: %v", s)
		}
	}
	if err := c.WaitReOffers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(c.RemoteSDP(), "m=video"); n != 2 {
		t.Errorf("remote SDP has %d video m-lines", n)
	}
	if err := c.WaitRemoteTracks(ctx, 1); err != nil {
		t.Fatal(err)
	}
	rt := c.RemoteTracks()[0]
	if rt.ConnectionID != testPublisherID || rt.Mid != "2" || rt.MimeType() != webrtc.MimeTypeVP8 {
		t.Errorf("remote track %s mid %s %s", rt.ConnectionID, rt.Mid, rt.MimeType())
	}
	for rt.Packets() < 3 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // packets do not wake Wait
	}
	if rt.Packets() < 3 {
		t.Errorf("drained %d packets", rt.Packets())
	}
	notified.Wait()
	pushed.Wait()
	reOffered.Wait()

	if err := c.Disconnect(ctx); err != nil {
		t.Errorf("Disconnect: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after Disconnect")
	}
	if ce := c.CloseError(); ce == nil || ce.Code != 1000 {
		t.Errorf("CloseError = %v", ce)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.msgs[0] != "answer" {
		t.Errorf("server got %v first, want answer before candidates", f.msgs)
	}
}
