package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"strings"

	"github.com/pion/webrtc/v4"
)

// handleOffer applies the initial offer, attaches the tracks to publish,
// answers, and releases the candidates gathered meanwhile.
func (c *Client) handleOffer(data []byte) error {
	if c.haveOffer {
		c.log.Debug("ignoring a second offer")
		return nil
	}
	var o OfferMessage
	if err := json.Unmarshal(data, &o); err != nil {
		return fmt.Errorf("client: bad offer: %w", err)
	}
	o.Raw = json.RawMessage(data)
	conf := webrtc.Configuration{RTPHeaderEncryptionPolicy: webrtc.RTPHeaderEncryptionPolicyDisable}
	if c.cfg.Cryptex {
		conf.RTPHeaderEncryptionPolicy = webrtc.RTPHeaderEncryptionPolicyNegotiate
	}
	if c.cfg.UseOfferICEServers {
		servers, err := o.ICEServers()
		if err != nil {
			return err
		}
		conf.ICEServers = servers
	}
	pc, err := c.api.NewPeerConnection(conf)
	if err != nil {
		return fmt.Errorf("client: new PeerConnection: %w", err)
	}
	c.mu.Lock()
	c.pc = pc
	c.offer = o
	c.haveOffer = true
	c.remoteSDP = o.SDP
	c.bump()
	c.mu.Unlock()

	pc.OnICECandidate(c.onCandidate)
	pc.OnConnectionStateChange(c.onState)
	pc.OnTrack(c.onTrack)
	pc.OnDataChannel(c.onDataChannel)

	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
		return fmt.Errorf("client: SetRemoteDescription(offer): %w", err)
	}
	if c.cfg.Role != RoleRecvonly {
		if err := c.attachTracks(pc, o.Mid); err != nil {
			return err
		}
	}
	answer, err := c.answer(pc)
	if err != nil {
		return err
	}

	c.candMu.Lock()
	defer c.candMu.Unlock()
	c.ufrag, c.firstMid = iceUfragAndFirstMid(answer)
	if err := c.write(answerMessage{Type: "answer", SDP: answer}); err != nil {
		return fmt.Errorf("client: send answer: %w", err)
	}
	c.answerSent = true
	for _, m := range c.pending {
		c.sendCandidate(m)
	}
	c.pending = nil
	return nil
}

// answer creates and applies an answer and returns the SDP to send.
func (c *Client) answer(pc *webrtc.PeerConnection) (string, error) {
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("client: CreateAnswer: %w", err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("client: SetLocalDescription(answer): %w", err)
	}
	if c.simulcastMid != "" {
		return stripRecvSimulcast(answer.SDP, c.simulcastMid), nil
	}
	return answer.SDP, nil
}

// handleReOffer answers a re-offer (or a legacy "update").
func (c *Client) handleReOffer(typ, offer string) error {
	pc := c.pc // written only by this goroutine
	if pc == nil {
		c.log.Debug("ignoring re-offer before the offer")
		return nil
	}
	remote := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: inactiveAsRecvonly(offer)}
	err := pc.SetRemoteDescription(remote)
	if err != nil {
		err = fmt.Errorf("client: SetRemoteDescription(%s): %w", typ, err)
	}
	var answer string
	if err == nil {
		answer, err = c.answer(pc)
	}
	if errors.Is(err, webrtc.ErrConnectionClosed) {
		// The PeerConnection closed under the re-offer: the connection is
		// ending, and the server's close frame, read next, says why.
		c.log.Debug("re-offer after the PeerConnection closed", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	reply := "re-answer"
	if typ == "update" {
		reply = "update"
	}
	if err := c.write(answerMessage{Type: reply, SDP: answer}); err != nil {
		return fmt.Errorf("client: send %s: %w", reply, err)
	}
	c.mu.Lock()
	c.remoteSDP = offer
	c.reOffers++
	c.bump()
	c.mu.Unlock()
	if f := c.cfg.OnReOffer; f != nil {
		c.dispatch.push(func() { f(offer) })
	}
	return nil
}

// inactiveAsRecvonly rewrites the a=inactive m-lines of a re-offer as
// a=recvonly before pion applies it. Both mean "the server sends nothing
// here", and pion answers both with a=inactive when it sends nothing
// either. It works around pion v4.2.26: SetRemoteDescription stops the
// transceiver of every inactive m-line, including the fresh receiver pion
// put there after the previous stop, so an m-line that stayed inactive for
// two re-offers can never receive again when the server reuses it
// ("RTPReceiver Receive failed EOF"). Chrome has no such problem.
func inactiveAsRecvonly(sdp string) string {
	return strings.ReplaceAll(sdp, "\r\na=inactive\r\n", "\r\na=recvonly\r\n")
}

// handlePing answers a ping, with pion's statistics when asked.
func (c *Client) handlePing(withStats bool) error {
	var msg any = map[string]string{"type": "pong"}
	if withStats {
		// Keys in the SDK's order (JSON.stringify of {type, stats}),
		// which the server reads fastest.
		pong := struct {
			Type  string            `json:"type"`
			Stats []json.RawMessage `json:"stats"`
		}{Type: "pong", Stats: []json.RawMessage{}}
		if pc := c.pc; pc != nil {
			pong.Stats = statsJSON(pc.GetStats())
		}
		msg = pong
	}
	if err := c.writeWS(msg); err != nil {
		return fmt.Errorf("client: send pong: %w", err)
	}
	return nil
}

// attachTracks puts the configured tracks on the transceivers the offer
// named in mid, creating their senders by hand.
func (c *Client) attachTracks(pc *webrtc.PeerConnection, mid OfferMid) error {
	var audio webrtc.TrackLocal
	var video []webrtc.TrackLocal
	for _, t := range c.cfg.Tracks {
		switch t.Kind() {
		case webrtc.RTPCodecTypeAudio:
			if audio == nil {
				audio = t
			}
		case webrtc.RTPCodecTypeVideo:
			switch {
			case len(video) == 0:
				video = append(video, t)
			case video[0].RID() != "" && t.RID() != "" && t.ID() == video[0].ID():
				video = append(video, t)
			}
		}
	}
	if audio != nil {
		if mid.Audio == "" {
			c.log.Debug("offer has no audio mid; audio track not sent")
		} else if err := c.attach(pc, mid.Audio, []webrtc.TrackLocal{audio}); err != nil {
			return err
		}
	}
	if len(video) > 0 {
		if mid.Video == "" {
			c.log.Debug("offer has no video mid; video track not sent")
		} else {
			if err := c.attach(pc, mid.Video, video); err != nil {
				return err
			}
			if len(video) > 1 {
				c.simulcastMid = mid.Video
			}
		}
	}
	return nil
}

func (c *Client) attach(pc *webrtc.PeerConnection, mid string, tracks []webrtc.TrackLocal) error {
	var tr *webrtc.RTPTransceiver
	for _, t := range pc.GetTransceivers() {
		if t.Mid() == mid {
			tr = t
			break
		}
	}
	if tr == nil {
		return fmt.Errorf("client: offer mid %q names no m-line", mid)
	}
	if tr.Kind() != tracks[0].Kind() {
		return fmt.Errorf("client: offer mid %q is %s, not %s", mid, tr.Kind(), tracks[0].Kind())
	}
	var transport *webrtc.DTLSTransport
	if r := tr.Receiver(); r != nil {
		transport = r.Transport()
	} else {
		transport = pc.SCTP().Transport()
	}
	sender, err := c.api.NewRTPSender(tracks[0], transport)
	if err != nil {
		return fmt.Errorf("client: NewRTPSender: %w", err)
	}
	if err := tr.SetSender(sender, tracks[0]); err != nil {
		return fmt.Errorf("client: SetSender on mid %q: %w", mid, err)
	}
	for _, t := range tracks[1:] {
		if err := sender.AddEncoding(t); err != nil {
			return fmt.Errorf("client: simulcast encoding %q: %w", t.RID(), err)
		}
	}
	// Read RTCP so that the sender's buffers never fill up, and hand it
	// to the application. Each simulcast encoding has its own stream.
	for _, t := range tracks {
		read := sender.ReadRTCP
		if len(tracks) > 1 {
			rid := t.RID()
			read = func() ([]rtcp.Packet, interceptor.Attributes, error) { return sender.ReadSimulcastRTCP(rid) }
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				pkts, _, err := read()
				if err != nil {
					return
				}
				if f := c.cfg.OnSenderRTCP; f != nil {
					f(t, pkts)
				}
			}
		}()
	}
	return nil
}

// onCandidate trickles a local candidate, or keeps it until the answer is
// sent.
func (c *Client) onCandidate(cand *webrtc.ICECandidate) {
	if cand == nil {
		return
	}
	init := cand.ToJSON()
	m := candidateMessage{Type: "candidate", Candidate: init.Candidate}
	if init.SDPMid != nil {
		m.SDPMid = *init.SDPMid
	}
	if init.SDPMLineIndex != nil {
		m.SDPMLineIndex = *init.SDPMLineIndex
	}
	c.candMu.Lock()
	defer c.candMu.Unlock()
	if !c.answerSent {
		c.pending = append(c.pending, m)
		return
	}
	c.sendCandidate(m)
}

// sendCandidate fills in mid and ufrag and sends m; c.candMu must be held.
func (c *Client) sendCandidate(m candidateMessage) {
	if m.SDPMid == "" {
		m.SDPMid = c.firstMid
		m.SDPMLineIndex = 0
	}
	m.UsernameFragment = c.ufrag
	if err := c.write(m); err != nil {
		c.log.Debug("sending candidate", "err", err)
	}
}

func (c *Client) onState(s webrtc.PeerConnectionState) {
	c.log.Debug("PeerConnection state", "state", s)
	switch s {
	case webrtc.PeerConnectionStateConnected:
		c.connOnce.Do(func() { close(c.connected) })
	case webrtc.PeerConnectionStateFailed:
		c.failOnce.Do(func() { close(c.failed) })
	}
	c.mu.Lock()
	c.bump()
	c.mu.Unlock()
}

// onTrack runs in a goroutine of its own (pion starts one per track).
func (c *Client) onTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	rt := &RemoteTrack{ConnectionID: t.StreamID(), Track: t, Receiver: r}
	if pc := c.PeerConnection(); pc != nil {
		for _, tr := range pc.GetTransceivers() {
			if tr.Receiver() == r {
				rt.Mid = tr.Mid()
				break
			}
		}
	}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.tracks = append(c.tracks, rt)
	c.bump()
	f := c.cfg.OnTrack
	if f == nil {
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if f != nil {
		f(rt)
		return
	}
	defer c.wg.Done()
	rt.drain()
}

// iceUfragAndFirstMid returns the first a=ice-ufrag and a=mid of an SDP.
func iceUfragAndFirstMid(sdp string) (ufrag, mid string) {
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = v
		}
		if v, ok := strings.CutPrefix(line, "a=mid:"); ok && mid == "" {
			mid = v
		}
	}
	return ufrag, mid
}

// stripRecvSimulcast removes "a=rid:X recv" and "a=simulcast:recv" lines
// from the m-section of mid. pion copies them from the offer into its
// answer even when it sends simulcast itself (then it also writes the send
// lines), which would make the answer contradict itself.
func stripRecvSimulcast(sdp, mid string) string {
	lines := strings.SplitAfter(sdp, "\n")
	// Find the m-section of mid.
	start, end := -1, len(lines)
	cur := -1
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "m=") {
			if start >= 0 {
				end = i
				break
			}
			cur = i
		}
		if t == "a=mid:"+mid && cur >= 0 {
			start = cur
		}
	}
	if start < 0 {
		return sdp
	}
	var b strings.Builder
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if i >= start && i < end && ((strings.HasPrefix(t, "a=rid:") && strings.HasSuffix(t, " recv")) ||
			strings.HasPrefix(t, "a=simulcast:recv")) {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}
