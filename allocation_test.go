package sfu_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// sendREMB sends c's REMB of bps for every track it receives, every
// 100 ms, until the test ends.
func sendREMB(t *testing.T, c *client.Client, bps float32) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ssrcs []uint32
			for _, r := range c.PeerConnection().GetReceivers() {
				if tr := r.Track(); tr != nil {
					ssrcs = append(ssrcs, uint32(tr.SSRC()))
				}
			}
			if len(ssrcs) > 0 {
				_ = c.PeerConnection().WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: bps, SSRCs: ssrcs}})
			}
		}
	}()
}

// TestBandwidthAllocationFollowsREMB: with Options.BandwidthAllocation a
// receiver that asked for r2 but whose REMB says its downlink carries
// less than a layer gets r0, while one without a downlink estimate keeps
// r2.
func TestBandwidthAllocationFollowsREMB(t *testing.T) {
	ts := newTestServer(t, sfu.Options{BandwidthAllocation: true})
	ctx := testContext(t, 30*time.Second)
	dialSimPublisher(t, ctx, ts, "sim")

	_, free := dialSimReceiver(t, ctx, ts, "sim", "r2")
	limitedConn, limited := dialSimReceiver(t, ctx, ts, "sim", "r2")
	limited.waitLayer(t, ctx, "limited receiver before its REMB", 2)
	sendREMB(t, limitedConn, 100_000) // audio alone is 64 kbit/s, a layer 96
	limited.waitLayer(t, ctx, "limited receiver after its REMB", 0)
	free.waitLayer(t, ctx, "receiver without an estimate", 2)

	d, err := ts.engine.Channel("sim").ConnectionDownlink(ctx, limitedConn.ConnectionID())
	if err != nil || d.Source != "remb" || d.Bitrate != 100_000 {
		t.Errorf("limited receiver's downlink %+v, %v; want 100000 from remb", d, err)
	}
	limited.check(t, "limited receiver")
	free.check(t, "free receiver")
}
