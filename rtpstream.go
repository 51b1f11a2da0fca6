package sfu

import (
	"context"
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/simulcast"
)

// PausedStream is one (receiver, sender) pair whose video is paused.
type PausedStream struct {
	ChannelID        string `json:"channel_id"`
	RecvConnectionID string `json:"recv_connection_id"`
	Role             Role   `json:"role"` // the receiver's
	SendConnectionID string `json:"send_connection_id"`
}

// policy returns what c wants from the sender with that connection id,
// creating it on first use. One policy is shared by the audio and video
// down-tracks of the pair.
func (c *Connection) policy(senderID string) *forward.Policy {
	c.policyMu.Lock()
	defer c.policyMu.Unlock()
	p := c.policies[senderID]
	if p == nil {
		p = &forward.Policy{}
		if c.ridOverride != "" {
			p.SetRID(c.ridOverride)
		}
		if c.room != nil && c.room.spot != nil {
			// Until its focus changes: what the channel's focus is now.
			f := (*c.room.spot.focused.Load())[senderID]
			p.SetFocused(f)
			p.SetWithheld(webrtc.RTPCodecTypeAudio, !f)
			p.SetWithheld(webrtc.RTPCodecTypeVideo, c.spotRIDsLocked(senderID).pick(f) == "none")
		}
		c.policies[senderID] = p
	}
	return p
}

// forgetSender drops what c wanted from a sender that left.
func (c *Connection) forgetSender(senderID string) {
	c.policyMu.Lock()
	defer c.policyMu.Unlock()
	delete(c.policies, senderID)
}

// requestedLayer is the simulcast layer c wants from owner: what
// RequestRtpStream asked for, else in a spotlight channel the layer for
// owner's focus, else the connect-time choice.
func (c *Connection) requestedLayer(owner *Connection) simulcast.Layer {
	p := c.policy(owner.id)
	if l, err := simulcast.ParseRID(p.RID()); err == nil {
		return l
	}
	if c.room.spot != nil {
		return c.spotLayer(owner.id, p.Focused())
	}
	return c.connectRID
}

// relayerSoon asks the run loop to apply changed layer requests.
func (c *Connection) relayerSoon() {
	select {
	case c.relayer <- struct{}{}:
	default:
	}
}

// sendEncodings are the simulcast layers c is told to send.
func (c *Connection) sendEncodings() []Encoding {
	if c.spotlight {
		return c.engine.opts.Spotlight.Encodings
	}
	return c.engine.opts.SimulcastEncodings
}

// sendsSimulcast reports whether c publishes simulcast video.
func (c *Connection) sendsSimulcast() bool { return c.simulcast && c.role.Sends() && c.video }

// streamPair looks up a receiver and, if sendID is not empty, a sender of
// the channel.
func (ch *Channel) streamPair(recvID, sendID string) (recv, send *Connection, err error) {
	if recv, err = ch.Connection(recvID); err != nil {
		return nil, nil, err
	}
	if !recv.role.Receives() {
		return nil, nil, fmt.Errorf("%w: connection %q does not receive (role %s)", ErrFeatureDisabled, recvID, recv.role)
	}
	if sendID != "" {
		if send, err = ch.Connection(sendID); err != nil {
			return nil, nil, err
		}
		if !send.role.Sends() {
			return nil, nil, fmt.Errorf("%w: connection %q does not send (role %s)", ErrFeatureDisabled, sendID, send.role)
		}
	}
	return recv, send, nil
}

// RequestRtpStream makes the receiver get simulcast layer rid ("r0",
// "r1", "r2") from one sender, or from every sender when sendID is empty.
// The switch happens at the layer's next key frame, which is requested.
func (ch *Channel) RequestRtpStream(ctx context.Context, recvID, sendID, rid string) error {
	if _, err := simulcast.ParseRID(rid); err != nil {
		return invalid("rid", "%q is not r0, r1 or r2", rid)
	}
	return ch.setRID(recvID, sendID, rid)
}

// RequestSimulcastRid sets what the receiver gets from one sender's
// simulcast video, or from every sender's when sendID is empty: "r0",
// "r1" or "r2" as RequestRtpStream does (with Options.BandwidthAllocation,
// the highest layer the engine may give); "none", no video from that
// sender; "auto", whatever layer the receiver's downlink carries, which
// needs Options.BandwidthAllocation.
func (ch *Channel) RequestSimulcastRid(ctx context.Context, recvID, sendID, rid string) error {
	switch rid {
	case "none", "r0", "r1", "r2":
	case "auto":
		if !ch.engine.opts.BandwidthAllocation {
			return fmt.Errorf("%w: rid auto needs bandwidth allocation (Options.BandwidthAllocation)", ErrFeatureDisabled)
		}
	default:
		return invalid("rid", "%q is not none, r0, r1, r2 or auto", rid)
	}
	return ch.setRID(recvID, sendID, rid)
}

// ResetRtpStream returns the receiver to its connect-time layer choice
// for one sender, or for every sender when sendID is empty.
func (ch *Channel) ResetRtpStream(ctx context.Context, recvID, sendID string) error {
	return ch.setRID(recvID, sendID, "")
}

func (ch *Channel) setRID(recvID, sendID, rid string) error {
	recv, send, err := ch.streamPair(recvID, sendID)
	if err != nil {
		return err
	}
	if send != nil {
		if !send.sendsSimulcast() {
			return fmt.Errorf("%w: connection %q does not publish simulcast", ErrFeatureDisabled, sendID)
		}
		recv.policy(sendID).SetRID(rid)
		recv.relayerSoon()
		return nil
	}
	simulcastSenders := 0
	for _, o := range recv.room.all() {
		if o != recv && o.sendsSimulcast() {
			simulcastSenders++
		}
	}
	if simulcastSenders == 0 {
		return fmt.Errorf("%w: no simulcast publisher in channel %q", ErrFeatureDisabled, ch.id)
	}
	recv.policyMu.Lock()
	recv.ridOverride = rid
	for _, p := range recv.policies {
		p.SetRID(rid)
	}
	recv.policyMu.Unlock()
	recv.relayerSoon()
	return nil
}

// PauseRtpStream stops forwarding the sender's video to the receiver
// (audio goes on).
func (ch *Channel) PauseRtpStream(ctx context.Context, recvID, sendID string) error {
	return ch.setPaused(recvID, sendID, true)
}

// ResumeRtpStream resumes forwarding the sender's video to the receiver;
// a key frame is requested so the picture returns at once.
func (ch *Channel) ResumeRtpStream(ctx context.Context, recvID, sendID string) error {
	return ch.setPaused(recvID, sendID, false)
}

func (ch *Channel) setPaused(recvID, sendID string, paused bool) error {
	if sendID == "" {
		return missing("send_connection_id")
	}
	recv, _, err := ch.streamPair(recvID, sendID)
	if err != nil {
		return err
	}
	recv.policy(sendID).SetPaused(webrtc.RTPCodecTypeVideo, paused)
	return nil
}

// ListPauseRtpStreams lists the paused (receiver, sender) pairs of the
// channel; it is empty for a channel that does not exist.
func (ch *Channel) ListPauseRtpStreams(ctx context.Context) []PausedStream {
	out := []PausedStream{}
	r := ch.engine.room(ch.id)
	if r == nil {
		return out
	}
	conns := r.all()
	present := map[string]bool{}
	for _, c := range conns {
		present[c.id] = true
	}
	for _, c := range conns {
		c.policyMu.Lock()
		for sendID, p := range c.policies {
			if present[sendID] && p.Paused(webrtc.RTPCodecTypeVideo) {
				out = append(out, PausedStream{ChannelID: ch.id, RecvConnectionID: c.id, Role: c.role, SendConnectionID: sendID})
			}
		}
		c.policyMu.Unlock()
	}
	return out
}
