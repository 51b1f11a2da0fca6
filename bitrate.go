package sfu

import (
	"context"
	"fmt"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// MaxUpstreamVideoBitRate bounds ChangeUpstreamVideoBitRate, in kbps.
const MaxUpstreamVideoBitRate = 30000

// ChangeUpstreamVideoBitRate caps a publisher's video at kbps (1 to
// 30000; for a simulcast publisher, the sum of its layers) with REMB:
// sent at once and then with every receiver report, about once a second,
// until changed, in place of the engine's own bit rate. Not for spotlight
// channels, whose senders' layers the engine chooses (ErrFeatureDisabled),
// nor for a connection that sends no video.
func (ch *Channel) ChangeUpstreamVideoBitRate(ctx context.Context, connID string, kbps int) error {
	if kbps < 1 || kbps > MaxUpstreamVideoBitRate {
		return invalid("bit_rate", "%d is not 1 to %d", kbps, MaxUpstreamVideoBitRate)
	}
	c, err := ch.Connection(connID)
	if err != nil {
		return err
	}
	switch {
	case c.spotlight:
		return fmt.Errorf("%w: channel %q is a spotlight channel", ErrFeatureDisabled, ch.id)
	case !c.role.Sends() || !c.video:
		return fmt.Errorf("%w: connection %q sends no video", ErrFeatureDisabled, connID)
	}
	c.bitRateCap.Store(int64(kbps))
	c.sendREMB()
	return nil
}

// sendREMB tells the publisher its bit rate now, for every video stream
// it sends.
func (c *Connection) sendREMB() {
	var ssrcs []uint32
	for _, r := range c.pc.GetReceivers() {
		for _, t := range r.Tracks() {
			if t.Kind() == webrtc.RTPCodecTypeVideo && t.SSRC() != 0 {
				ssrcs = append(ssrcs, uint32(t.SSRC()))
			}
		}
	}
	if len(ssrcs) > 0 {
		_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(c.upstreamBitrate()), SSRCs: ssrcs}})
	}
}
