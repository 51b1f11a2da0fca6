package benchmarks

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/srtpkeys"
	"github.com/gosfu/sfu/internal/udpbatch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestForwardZeroAllocsGCM: in steady state a packet goes from
// Source.WritePacket through 10 down-tracks into pion TrackLocalWriters
// that seal it with AES-128-GCM, without one heap allocation.
func TestForwardZeroAllocsGCM(t *testing.T) {
	src, dts := gosfuFanout(t, 10, true)
	s := newStream(42, 30)
	src.WritePacket(s.next())
	allocs := testing.AllocsPerRun(1000, func() { src.WritePacket(s.next()) })
	if allocs != 0 {
		t.Errorf("%v allocations per forwarded packet, want 0", allocs)
	}
	for i, d := range dts {
		if d.Packets() != 1002 || d.Bytes() != 1002*payloadSize {
			t.Errorf("down-track %d: %d packets, %d bytes; want 1002, %d", i, d.Packets(), d.Bytes(), 1002*payloadSize)
		}
	}
}

// loopbackAPI is a pion API like the engine's: no interceptors,
// AES-128-GCM first, 127.0.0.1 only.
func loopbackAPI(t *testing.T) *webrtc.API {
	t.Helper()
	return newLoopbackAPI(t, webrtc.SettingEngine{})
}

// batchedLoopbackAPI is loopbackAPI over one UDP socket with batched
// sends, as the engine runs with Options.BatchSends, and that socket.
// With keys, the DTLS handshake reports its SRTP keys there, as the
// engine's do for its SRTP egress.
func batchedLoopbackAPI(t *testing.T, keys *srtpkeys.Catcher) (*webrtc.API, *udpbatch.Conn) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("udpbatch batches on Linux only")
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn := udpbatch.NewConn(udp, udpbatch.Config{})
	batch, ok := conn.(*udpbatch.Conn)
	if !ok {
		_ = conn.Close()
		t.Fatalf("udpbatch.NewConn returned %T, not a batch", conn)
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	var se webrtc.SettingEngine
	se.SetICEUDPMux(mux)
	if keys != nil {
		se.SetDTLSKeyLogWriter(keys)
		se.SetDTLSServerHelloMessageHook(keys.ServerHello)
	}
	return newLoopbackAPI(t, se), batch
}

func newLoopbackAPI(t *testing.T, se webrtc.SettingEngine) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(vp8, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

// TestForwardZeroAllocsRealPeerConnection measures a DownTrack bound in a
// real pion PeerConnection (SRTP AES-128-GCM, ICE on 127.0.0.1) sending
// to a second PeerConnection, with one sendto per packet and with the
// engine's batched sends (a UDP mux over internal/udpbatch; the source
// brackets each fan-out and holds queued bursts). AllocsPerRun counts the
// whole process, so this includes pion's send path, the batch's flushes
// and timer, and the receiver reading the packets.
func TestForwardZeroAllocsRealPeerConnection(t *testing.T) {
	t.Run("sendto", func(t *testing.T) { forwardZeroAllocs(t, loopbackAPI(t), nil, nil) })
	t.Run("batched", func(t *testing.T) {
		api, batch := batchedLoopbackAPI(t, nil)
		forwardZeroAllocs(t, api, batch, nil)
		batch.Flush() // the last frame may still wait in the batch
		if st := batch.Stats(); st.Packets < 1000 {
			t.Errorf("the batch sent %d packets, want the 1000-odd forwarded ones", st.Packets)
		}
	})
	// As the engine runs by default: batched, and sealed by its egress.
	t.Run("batched+egress", func(t *testing.T) {
		keys := &srtpkeys.Catcher{}
		api, batch := batchedLoopbackAPI(t, keys)
		egress := forward.NewEgress(batch)
		forwardZeroAllocs(t, api, batch, &egressSetup{egress: egress, keys: keys})
		if egress.Packets() < 1000 {
			t.Errorf("the egress sealed %d packets, want the 1000-odd forwarded ones", egress.Packets())
		}
	})
}

// egressSetup is a sender's SRTP egress and the keys it starts with.
type egressSetup struct {
	egress *forward.Egress
	keys   *srtpkeys.Catcher
}

func forwardZeroAllocs(t *testing.T, senderAPI *webrtc.API, batch forward.Batch, eg *egressSetup) {
	sender, err := senderAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	receiver, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		sender.Close()
		t.Fatal(err)
	}
	// Closing both ends stops every reader goroutine; then wait for them.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer receiver.Close()
	defer sender.Close()

	src := forward.NewSource(forward.SourceConfig{ID: "v", StreamID: "pub", Codec: vp8, Kind: webrtc.RTPCodecTypeVideo,
		RequestKeyFrame: func() {}, RequestRetransmit: func([]rtcp.NackPair) {}, Batch: batch})
	dt := forward.NewDownTrack(src)
	if eg != nil {
		dt.SetEgress(eg.egress)
		forward.Attach(sender, func() (forward.SessionKeys, error) {
			k, err := eg.keys.Keys()
			return forward.SessionKeys{Profile: k.Profile, LocalKey: k.Key, LocalSalt: k.Salt}, err
		}, eg.egress, nil, nil)
	}
	rtpSender, err := sender.AddTrack(dt)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { // drain the subscriber's RTCP, as the engine does
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := rtpSender.Read(buf); err != nil {
				return
			}
		}
	}()

	var got atomic.Int64
	var lastGood atomic.Bool
	trackReady := make(chan struct{})
	receiver.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		wg.Add(1) // before trackReady: the test waits for it
		defer wg.Done()
		close(trackReady)
		buf := make([]byte, 1500)
		want := newStream(0, 0).buf[12:] // payload bytes except the VP8 P bit
		for {
			n, _, err := tr.Read(buf) // Read, not ReadRTP: no allocation
			if err != nil {
				return
			}
			got.Add(1)
			lastGood.Store(n == 12+payloadSize && bytes.Equal(buf[14:n], want[2:]) && buf[12] == want[0])
		}
	})
	connect(t, sender, receiver)

	s := newStream(42, 30)
	src.AddDownTrack(dt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for ready := false; !ready; { // until pion bound the track and the receiver sees packets
		select {
		case <-trackReady:
			ready = true
		case <-tick.C:
			src.WritePacket(s.next())
		case <-ctx.Done():
			t.Fatal("no packet reached the receiver")
		}
	}
	for range 100 { // warm up pools and buffers on both sides
		src.WritePacket(s.next())
	}
	allocs := testing.AllocsPerRun(1000, func() { src.WritePacket(s.next()) })
	if allocs != 0 {
		t.Errorf("%v allocations per forwarded packet through a real PeerConnection, want 0", allocs)
	}
	sentBefore := dt.Packets()
	src.WritePacket(s.next())
	for got.Load() == 0 || !lastGood.Load() || dt.Packets() == sentBefore {
		select {
		case <-tick.C:
			src.WritePacket(s.next())
		case <-ctx.Done():
			t.Fatalf("receiver got %d packets, last intact: %v", got.Load(), lastGood.Load())
		}
	}
	t.Logf("sent %d packets, receiver read %d (loopback drops bursts)", dt.Packets(), got.Load())
}

// connect runs offer/answer between two PeerConnections (candidates
// inline) and waits until both are connected.
func connect(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
	t.Helper()
	connected := make(chan struct{}, 2)
	for _, pc := range []*webrtc.PeerConnection{offerer, answerer} {
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				connected <- struct{}{}
			}
		})
	}
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for range 2 {
		select {
		case <-connected:
		case <-timeout:
			t.Fatal("peer connections did not connect")
		}
	}
}
