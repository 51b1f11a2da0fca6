package sfu

import (
	"context"
	"errors"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/codec"
)

// renegotiationDelay lets changes that arrive together (a publisher's
// audio and video tracks start a few milliseconds apart) share one
// re-offer.
const renegotiationDelay = 20 * time.Millisecond

type answerRequest struct {
	sdp    string
	result chan error
}

// slot is one m-line a connection receives a publisher's track on. When
// the publisher leaves, the slot is freed; once the client has answered
// the offer that stopped it, a later publisher of the same kind reuses
// it, so the SDP does not grow with churn.
type slot struct {
	tr       *webrtc.RTPTransceiver
	kind     webrtc.RTPCodecType
	sub      *subscription
	reusable bool
}

// subscription is one forwarded publication: a down-track on a slot.
type subscription struct {
	slot   *slot
	dt     *forward.DownTrack
	sender *webrtc.RTPSender
	target *forward.Source // the layer last asked for (simulcast)
}

// initialOffer subscribes to the channel's current tracks and creates the
// first offer.
func (c *Connection) initialOffer(ctx context.Context) (Offer, error) {
	if _, err := c.syncSubscriptions(); err != nil {
		return Offer{}, err
	}
	if len(c.pc.GetTransceivers()) == 0 && c.dc == nil {
		// An offer without m-lines cannot carry ICE; a recvonly
		// placeholder keeps the transport up until tracks arrive.
		recvonly := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
		if _, err := c.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, recvonly); err != nil {
			return Offer{}, err
		}
	}
	sdp, err := c.createOffer(ctx)
	if err != nil {
		return Offer{}, err
	}
	o := Offer{
		SDP: sdp, ConnectionID: c.id, ClientID: c.clientID, BundleID: c.bundleID, ChannelID: c.channelID,
		Simulcast: c.simulcast, Spotlight: c.spotlight, ICEServers: c.engine.opts.ICEServers,
	}
	if c.ownAudio != nil {
		o.AudioMid = c.ownAudio.Mid()
	}
	if c.ownVideo != nil {
		o.VideoMid = c.ownVideo.Mid()
	}
	if c.dc != nil {
		o.DataChannelSignaling, o.IgnoreDisconnectWebSocket = true, c.dc.ignoreWS
		o.DataChannels = c.dc.offerSpecs()
	}
	if c.simulcast && c.ownVideo != nil {
		o.Encodings = c.sendEncodings()
		o.SDP = addRecvSimulcast(o.SDP, o.VideoMid, o.Encodings)
	}
	return o, nil
}

// createOffer creates an offer with every server candidate inline.
func (c *Connection) createOffer(ctx context.Context) (string, error) {
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return c.pc.LocalDescription().SDP, nil
}

// run is the connection's control loop: one offer outstanding at a time,
// renegotiation requests coalesced, pings, and the setup and answer
// deadlines.
func (c *Connection) run() {
	defer close(c.runDone)
	opts := c.engine.opts
	// The first ping waits a whole interval, as a ticker's would: a
	// client asked for stats right after connecting has none to report.
	ping := time.NewTimer(opts.PingInterval + untilAligned(time.Now(), opts.PingInterval))
	defer ping.Stop()
	setup := time.NewTimer(opts.SetupTimeout)
	defer setup.Stop()
	reports := time.NewTimer(untilAligned(time.Now(), rtcpReportInterval))
	defer reports.Stop()
	// With bandwidth allocation: re-allocate every allocationInterval,
	// and send probe traffic every probeInterval while probing.
	var allocTick, probeTick <-chan time.Time
	if opts.BandwidthAllocation {
		t := time.NewTicker(allocationInterval)
		defer t.Stop()
		allocTick = t.C
		defer func() { c.alloc.probe = 0; c.alloc.pace() }()
	}
	var answerDeadline, debounce <-chan time.Time
	var dcOpen <-chan struct{}
	var dcTimeout <-chan time.Time
	if c.dc != nil {
		dcOpen = c.dc.allOpen
		t := time.NewTimer(opts.DataChannels.OpenTimeout)
		defer t.Stop()
		dcTimeout = t.C
	}

	pending, dirty := true, false // the initial offer awaits its answer
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-setup.C:
			if !c.isConnected() {
				c.Close(ReasonSetupTimeout)
			}
		case <-dcOpen:
			dcOpen, dcTimeout = nil, nil
			c.switchSignaling()
		case <-dcTimeout:
			dcOpen, dcTimeout = nil, nil
			c.dataChannelsTimedOut()
		case <-reports.C:
			reports.Reset(untilAligned(time.Now(), rtcpReportInterval))
			c.sendSenderReports()
			// A layer that stopped arriving is dropped, one that came
			// back is taken again.
			c.updateLayers()
		case <-c.relayer:
			c.updateLayers()
		case <-allocTick:
			c.updateLayers()
			probeTick = c.alloc.pace()
		case now := <-probeTick:
			c.sendProbe(now)
		case <-ping.C:
			ping.Reset(untilAligned(time.Now(), opts.PingInterval))
			if time.Since(time.Unix(0, c.lastPong.Load())) > pongMissesBeforeClose*opts.PingInterval {
				c.Close(ReasonPongTimeout)
				continue
			}
			c.emit(Event{Kind: EventPing, PingStats: true})
		case <-answerDeadline:
			c.Close(ReasonAnswerTimeout)
		case req := <-c.answers:
			if !pending {
				req.result <- ErrNoOfferPending
				continue
			}
			if err := c.applyAnswer(req.sdp); err != nil {
				req.result <- invalid("sdp", "%v", err)
				c.Close(ReasonNegotiationFailed)
				continue
			}
			req.result <- nil
			pending, answerDeadline = false, nil
			if dirty {
				dirty = false
				pending = c.reoffer()
			}
		case <-c.wake:
			if pending {
				dirty = true
			} else if debounce == nil {
				debounce = time.After(renegotiationDelay)
			}
		case <-debounce:
			debounce = nil
			if pending {
				dirty = true
				continue
			}
			pending = c.reoffer()
		}
		if pending && answerDeadline == nil && c.isConnected() {
			answerDeadline = time.After(opts.AnswerTimeout)
		}
	}
}

func (c *Connection) applyAnswer(sdp string) error {
	reanswer := c.pc.CurrentRemoteDescription() != nil
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return err
	}
	if reanswer {
		c.engine.stats.ConnectionUpdated()
		c.engine.observe(LifecycleEvent{Kind: ConnectionUpdated, ChannelID: c.channelID, SessionID: c.room.sessionID,
			Connection: c.Info()})
	}
	// Slots stopped in the offer just answered are now free to reuse.
	for _, s := range c.slots {
		if s.sub == nil {
			s.reusable = true
		}
	}
	return nil
}

// negotiationFailed ends the connection after a failed re-negotiation
// step; if the PeerConnection was closed under it (the client left
// meanwhile), that is no failure to report.
func (c *Connection) negotiationFailed(step string, err error) {
	if errors.Is(err, webrtc.ErrConnectionClosed) || c.ctx.Err() != nil {
		c.log.Debug(step+": connection closing", "err", err)
		return
	}
	c.log.Error(step, "err", err)
	c.Close(ReasonNegotiationFailed)
}

// reoffer brings the subscriptions up to date and, if anything changed,
// sends a re-offer. It reports whether an offer is now outstanding.
func (c *Connection) reoffer() bool {
	changed, err := c.syncSubscriptions()
	if err != nil {
		c.negotiationFailed("update subscriptions", err)
		return false
	}
	if !changed {
		return false
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.engine.opts.AnswerTimeout)
	defer cancel()
	sdp, err := c.createOffer(ctx)
	if err != nil {
		c.negotiationFailed("create re-offer", err)
		return false
	}
	c.emit(Event{Kind: EventReOffer, SDP: sdp})
	return true
}

// syncSubscriptions makes the connection's down-tracks match the
// channel's publications, and each simulcast one forward the layer the
// receiver should get. It reports whether the SDP must change.
func (c *Connection) syncSubscriptions() (bool, error) {
	if !c.role.Receives() {
		return false, nil
	}
	want := map[*publication]bool{}
	for _, p := range c.room.publicationsFor(c) {
		if (p.kind == webrtc.RTPCodecTypeAudio && c.audio) || (p.kind == webrtc.RTPCodecTypeVideo && c.video) {
			want[p] = true
		}
	}
	changed := false
	for pub, sub := range c.subs {
		if !want[pub] {
			if err := c.unsubscribe(pub, sub); err != nil {
				return changed, err
			}
			changed = true
		}
	}
	for pub := range want {
		if c.subs[pub] == nil {
			ok, err := c.subscribe(pub)
			if err != nil {
				return changed, err
			}
			changed = changed || ok
		}
	}
	c.updateLayers()
	return changed, nil
}

// updateLayers switches every simulcast subscription to the layer the
// receiver should get now (its request, or with bandwidth allocation what
// its downlink carries within it; else the nearest layer arriving).
// The switch happens at the new layer's next key frame.
func (c *Connection) updateLayers() {
	allocated := c.allocatedLayers()
	for pub, sub := range c.subs {
		if !pub.isSimulcast() {
			continue
		}
		want := c.requestedLayer(pub.owner)
		if l, ok := allocated[pub]; ok {
			want = l
		} else if allocated != nil {
			continue // paused by the allocation: stays where it is
		}
		if target := pub.choose(want); target != nil && target != sub.target {
			c.log.Debug("simulcast layer switch", "sender", pub.owner.id, "from", sub.target.RID(), "to", target.RID())
			sub.target = target
			sub.dt.SwitchTo(target)
			c.engine.stats.LayerSwitched()
		}
	}
}

// subscribe adds a down-track for pub on a free m-line (or a new one). It
// reports false when pub has no source (it is being torn down).
func (c *Connection) subscribe(pub *publication) (bool, error) {
	src := pub.choose(c.requestedLayer(pub.owner))
	if src == nil {
		return false, nil
	}
	dt := forward.NewDownTrack(src)
	dt.SetPolicy(c.policy(pub.owner.id))
	dt.SetEgress(c.egress)
	s := c.reusableSlot(src.Kind())
	var sender *webrtc.RTPSender
	if s != nil {
		var err error
		if sender, err = c.api.NewRTPSender(dt, c.pc.SCTP().Transport()); err != nil {
			return false, err
		}
		if err := s.tr.SetSender(sender, dt); err != nil {
			return false, err
		}
	} else {
		tr, err := c.pc.AddTransceiverFromTrack(dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return false, err
		}
		s = &slot{tr: tr, kind: src.Kind()}
		c.slots = append(c.slots, s)
		sender = tr.Sender()
	}
	if spec, ok := codec.ForMime(src.Codec().MimeType); ok {
		if err := s.tr.SetCodecPreferences(spec.Preferences(src.Kind())); err != nil {
			return false, err
		}
	}
	sub := &subscription{slot: s, dt: dt, sender: sender, target: src}
	s.sub, s.reusable = sub, false
	c.subs[pub] = sub
	src.AddDownTrack(dt)
	c.engine.stats.AddSent(dt)
	c.engine.goTracked(func() { c.readSenderRTCP(sender, dt) })
	return true, nil
}

func (c *Connection) unsubscribe(pub *publication, sub *subscription) error {
	sub.dt.Detach()
	c.engine.stats.RemoveSent(sub.dt)
	delete(c.subs, pub)
	sub.slot.sub = nil
	return c.pc.RemoveTrack(sub.sender)
}

func (c *Connection) reusableSlot(kind webrtc.RTPCodecType) *slot {
	for _, s := range c.slots {
		if s.kind == kind && s.sub == nil && s.reusable {
			return s
		}
	}
	return nil
}

// readSenderRTCP turns a subscriber's PLI and FIR into a key-frame request
// to the publisher (throttled per source), answers its NACKs from the
// source history and feeds its transport-cc feedback and REMB to the
// connection's downlink estimate, until the sender stops.
func (c *Connection) readSenderRTCP(sender *webrtc.RTPSender, dt *forward.DownTrack) {
	st := c.engine.stats
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication:
				st.PLIReceived()
				dt.RequestKeyFrame()
			case *rtcp.FullIntraRequest:
				st.FIRReceived()
				dt.RequestKeyFrame()
			case *rtcp.TransportLayerNack:
				st.NACKReceived()
				dt.HandleNACK(p)
			case *rtcp.TransportLayerCC:
				// Once the ingress runs it takes the feedback itself
				// (feedbackTap); with PionSRTP nothing is numbered.
				if c.egress != nil && (c.ingress == nil || !c.ingress.Active()) {
					st.TransportCCReceived()
					c.downlink.onTransportCC(p, c.egress)
				}
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				st.REMBReceived()
				c.downlink.onREMB(p.Bitrate)
			}
		}
	}
}

// rtcpReportInterval is how often sender reports go to subscribers and
// receiver reports to publishers.
const rtcpReportInterval = time.Second

// untilAligned returns how long from now to the next multiple of d on the
// wall clock. Every connection's reports (and pings) fall due at the same
// instants, so that an engine with many connections wakes once per
// interval for all of them, and their writes leave in one batch, rather
// than once per connection at scattered times.
func untilAligned(now time.Time, d time.Duration) time.Duration {
	return now.Truncate(d).Add(d).Sub(now)
}

// sendSenderReports sends one compound RTCP packet with a sender report
// for every down-track that has sent media. Runs in the run goroutine,
// which owns c.subs.
func (c *Connection) sendSenderReports() {
	now := time.Now()
	var pkts []rtcp.Packet
	for _, sub := range c.subs {
		if sr, ok := sub.dt.SenderReport(now); ok {
			pkts = append(pkts, sr)
		}
	}
	if len(pkts) > 0 {
		_ = c.pc.WriteRTCP(pkts)
	}
}
