package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
	"github.com/gosfu/sfu/internal/codec"
	"github.com/gosfu/sfu/simulcast"
	"github.com/gosfu/sfu/stats"
)

// Connection is one client's session in a channel: one PeerConnection
// that carries its own media up and every other publisher's media down.
type Connection struct {
	engine *Engine
	room   *room
	log    *slog.Logger

	id, clientID, bundleID, channelID string
	role                              Role
	audio, video                      bool
	simulcast, spotlight              bool
	metadata                          json.RawMessage
	authzMetadata, eventMetadata      json.RawMessage // from Authenticate
	createdAt                         time.Time
	videoCodec                        codec.Spec
	videoBitRate                      int          // kbps, from connect; 0 = unset
	bitRateCap                        atomic.Int64 // kbps, ChangeUpstreamVideoBitRate; 0 = none

	api                *webrtc.API // this connection's: its DTLS hooks feed egress
	pc                 *webrtc.PeerConnection
	ownAudio, ownVideo *webrtc.RTPTransceiver
	// egress seals the down-tracks' RTP once DTLS is up; nil with
	// Options.PionSRTP.
	egress *forward.Egress
	// ingress opens the published streams' SRTP in the socket reader
	// once DTLS is up; nil with Options.PionSRTP or a receive-only role.
	ingress *forward.Ingress
	// dc is the connection's DataChannels; nil without DataChannel
	// signaling.
	dc *dataChannels

	events chan Event
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	reason    CloseReason // set once, before done is closed
	runDone   chan struct{}
	done      chan struct{}

	connected   atomic.Bool
	connectedAt atomic.Int64                // unix nanoseconds
	lastPong    atomic.Int64                // unix nanoseconds
	remote      atomic.Pointer[RemoteStats] // the client's latest report
	downlink    downlink                    // its downlink estimate (subscribers)

	wake    chan struct{} // renegotiation wanted; capacity 1 coalesces
	relayer chan struct{} // simulcast layer requests changed; capacity 1

	// What this connection wants from each sender, by sender connection
	// id (see rtpstream.go).
	policyMu    sync.Mutex
	policies    map[string]*forward.Policy
	connectRID  simulcast.Layer // simulcast_rid at connect, or the default
	ridOverride string          // RequestRtpStream for all senders; "" = none
	answers     chan answerRequest
	spot        connSpotlight

	// Owned by the run goroutine (by Connect before run starts).
	alloc allocation // with Options.BandwidthAllocation; run goroutine only
	slots []*slot
	subs  map[*publication]*subscription
}

// ICECandidate is a client's trickled ICE candidate.
type ICECandidate struct {
	Candidate        string
	SDPMid           *string
	SDPMLineIndex    *uint16
	UsernameFragment *string
}

// ID returns the connection id: 26 characters of Crockford base32.
func (c *Connection) ID() string { return c.id }

// ClientID returns the client id (the connection id unless the client
// chose one).
func (c *Connection) ClientID() string { return c.clientID }

// BundleID returns the bundle id (the connection id unless the client
// chose one).
func (c *Connection) BundleID() string { return c.bundleID }

// ChannelID returns the channel the connection belongs to.
func (c *Connection) ChannelID() string { return c.channelID }

// Role returns the connection's role.
func (c *Connection) Role() Role { return c.role }

// CreatedAt returns when the connect request was accepted.
func (c *Connection) CreatedAt() time.Time { return c.createdAt }

// Info returns a snapshot of the connection.
func (c *Connection) Info() ConnectionInfo {
	return ConnectionInfo{
		ChannelID: c.channelID, ConnectionID: c.id, ClientID: c.clientID, BundleID: c.bundleID,
		Role: c.role, Audio: c.audio, Video: c.video, Simulcast: c.simulcast, Spotlight: c.spotlight,
		CreatedAt: c.createdAt, AuthzMetadata: c.authzMetadata, EventMetadata: c.eventMetadata,
	}
}

// Events returns the queue of messages to send to the client. The adapter
// must drain it; a client that lets it fill up is disconnected.
func (c *Connection) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended and released its
// resources. CloseReason then says why.
func (c *Connection) Done() <-chan struct{} { return c.done }

// CloseReason returns why the connection ended; valid once Done is closed.
func (c *Connection) CloseReason() CloseReason {
	<-c.done
	return c.reason
}

// Connected reports whether the connection's media has connected.
func (c *Connection) isConnected() bool { return c.connected.Load() }

// setConnected marks the connection connected; it reports false if it
// already was.
func (c *Connection) setConnected() bool {
	if !c.connected.CompareAndSwap(false, true) {
		return false
	}
	c.connectedAt.Store(time.Now().UnixNano())
	return true
}

// Answer applies the client's answer to the outstanding offer (initial or
// re-offer). It returns ErrNoOfferPending when no offer is outstanding. A
// bad answer ends the connection.
func (c *Connection) Answer(sdp string) error {
	req := answerRequest{sdp: sdp, result: make(chan error, 1)}
	select {
	case c.answers <- req:
	case <-c.ctx.Done():
		return ErrClosed
	}
	select {
	case err := <-req.result:
		return err
	case <-c.ctx.Done():
		return ErrClosed
	}
}

// AddICECandidate applies a client's trickled candidate. mDNS (.local)
// candidates are ignored: connectivity then comes from peer-reflexive
// candidates.
func (c *Connection) AddICECandidate(cand ICECandidate) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if len(cand.Candidate) > 1024 {
		return invalid("candidate", "longer than 1024 bytes")
	}
	if cand.Candidate == "" || isMDNSCandidate(cand.Candidate) {
		return nil
	}
	return c.pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate: cand.Candidate, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex,
		UsernameFragment: cand.UsernameFragment,
	})
}

func isMDNSCandidate(c string) bool {
	f := strings.Fields(c)
	return len(f) > 4 && strings.HasSuffix(f[4], ".local")
}

// Pong records the client's answer to a ping. report is the client's
// RTCStats report when the ping asked for it (kept while valid: a JSON
// array of at most stats.MaxRemoteStatsSize bytes).
func (c *Connection) Pong(report json.RawMessage) {
	now := time.Now()
	c.lastPong.Store(now.UnixNano())
	if stats.ValidRemoteStats(report) {
		c.remote.Store(&RemoteStats{ChannelID: c.channelID, ConnectionID: c.id,
			Stats: slices.Clone(report), Timestamp: now})
	}
}

// Push sends application data to the client.
func (c *Connection) Push(data json.RawMessage) { c.emit(Event{Kind: EventPush, Push: data}) }

// Close ends the connection. It returns at once; Done is closed when the
// connection has released everything. Only the first reason counts.
func (c *Connection) Close(reason CloseReason) {
	c.closeOnce.Do(func() {
		c.reason = reason
		c.cancel()
		c.engine.goTracked(c.teardown)
	})
}

func (c *Connection) teardown() {
	<-c.runDone
	c.room.remove(c)
	connected := c.isConnected() // final: c is out of the room
	var duration time.Duration
	if connected {
		duration = time.Since(time.Unix(0, c.connectedAt.Load()))
	}
	c.engine.observe(LifecycleEvent{Kind: ConnectionDestroyed, ChannelID: c.channelID, SessionID: c.room.sessionID,
		Connection: c.Info(), Connected: connected, Duration: duration, Reason: c.reason})
	// After the connection's last event, so that a channel's
	// SessionDestroyed is observed last.
	c.engine.dropIfEmpty(c.room)
	for _, sub := range c.subs {
		sub.dt.Detach()
		c.engine.stats.RemoveSent(sub.dt)
	}
	c.engine.stats.ConnectionDestroyed(connected, duration)
	if c.egress != nil {
		c.egress.Stop()
		c.engine.stats.RemoveSealed(c.egress)
	}
	if c.ingress != nil {
		c.ingress.Stop()
	}
	if c.dc != nil {
		c.dc.farewell(c.reason)
	}
	if err := c.pc.Close(); err != nil {
		c.log.Debug("close peer connection", "err", err)
	}
	c.log.Info("connection closed", "code", c.reason.Code, "reason", c.reason.Reason)
	if h := c.engine.opts.OnConnectionDestroyed; h != nil {
		c.connectionDestroyed(h)
	}
	close(c.done)
}

// emit queues an event for the client without blocking. A full queue
// means the client stopped reading: it is disconnected.
func (c *Connection) emit(ev Event) {
	if c.ctx.Err() != nil {
		return
	}
	select {
	case c.events <- ev:
	default:
		c.log.Warn("event queue full, disconnecting")
		c.Close(ReasonSlowConsumer)
	}
}

// renegotiate asks the run loop for a re-offer; requests coalesce.
func (c *Connection) renegotiate() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

var errNotOwnTrack = errors.New("track on a transceiver the client does not publish on")
