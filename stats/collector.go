package stats

import (
	"sync"
	"sync/atomic"
	"time"
)

// Meter is a live packet counter: a published stream or a forwarded one.
// Its values only grow.
type Meter interface {
	Packets() uint64
	Bytes() uint64
}

// Collector holds an engine's counters. The zero value is not ready; use
// NewCollector. It is safe for concurrent use.
type Collector struct {
	created, updated, destroyed atomic.Int64
	successful, failed          atomic.Int64
	setupNanos, durationNanos   atomic.Int64
	ended                       atomic.Int64 // destroyed after having connected
	sessionsCreated             atomic.Int64
	sessionsDestroyed           atomic.Int64
	authAllowed, authDenied     atomic.Int64
	authFailed                  atomic.Int64
	hookPanics                  atomic.Int64

	// RTCP and layer counters, counted per RTCP packet or switch (never
	// per RTP packet).
	keyFrameRequests, nacksSent, plis, firs, nacks, layerSwitches atomic.Uint64
	transportCCs, rembs                                           atomic.Uint64
	probeBytes, bandwidthPauses                                   atomic.Uint64

	received, sent, sealed meterSet
}

// NewCollector returns a collector with every counter at zero.
func NewCollector() *Collector {
	c := &Collector{}
	c.received.extra = func(m Meter) uint64 {
		if k, ok := m.(interface{ KeyFrames() uint64 }); ok {
			return k.KeyFrames()
		}
		return 0
	}
	c.sent.extra = func(m Meter) uint64 {
		if r, ok := m.(interface{ Retransmits() uint64 }); ok {
			return r.Retransmits()
		}
		return 0
	}
	return c
}

// KeyFrameRequested counts a key-frame request (PLI) sent to a publisher.
func (c *Collector) KeyFrameRequested() { c.keyFrameRequests.Add(1) }

// NACKSent counts a generic NACK sent to a publisher for packets it
// skipped.
func (c *Collector) NACKSent() { c.nacksSent.Add(1) }

// PLIReceived counts a picture loss indication from a subscriber.
func (c *Collector) PLIReceived() { c.plis.Add(1) }

// FIRReceived counts a full intra request from a subscriber.
func (c *Collector) FIRReceived() { c.firs.Add(1) }

// NACKReceived counts a generic NACK packet from a subscriber.
func (c *Collector) NACKReceived() { c.nacks.Add(1) }

// TransportCCReceived counts a subscriber's transport-cc feedback.
func (c *Collector) TransportCCReceived() { c.transportCCs.Add(1) }

// ProbeSent counts n bytes of probe traffic sent to a subscriber
// (bandwidth allocation).
func (c *Collector) ProbeSent(n int) { c.probeBytes.Add(uint64(n)) }

// BandwidthPaused counts a video paused to a subscriber whose downlink
// cannot carry it (bandwidth allocation).
func (c *Collector) BandwidthPaused() { c.bandwidthPauses.Add(1) }

// REMBReceived counts a subscriber's REMB.
func (c *Collector) REMBReceived() { c.rembs.Add(1) }

// LayerSwitched counts a simulcast layer switch a down-track was asked
// to make.
func (c *Collector) LayerSwitched() { c.layerSwitches.Add(1) }

// ConnectionCreated counts a connect request the engine accepted.
func (c *Collector) ConnectionCreated() { c.created.Add(1) }

// ConnectionConnected counts a connection whose PeerConnection reached
// "connected"; setup is the time from connect to then.
func (c *Collector) ConnectionConnected(setup time.Duration) {
	c.successful.Add(1)
	c.setupNanos.Add(int64(max(setup, 0)))
}

// ConnectionUpdated counts a completed re-negotiation (a re-offer whose
// answer was applied).
func (c *Collector) ConnectionUpdated() { c.updated.Add(1) }

// ConnectionDestroyed counts a created connection that ended. connected
// says whether it ever connected; if so, duration is how long it was
// connected. A connection that never connected counts as failed.
func (c *Collector) ConnectionDestroyed(connected bool, duration time.Duration) {
	if connected {
		c.ended.Add(1)
		c.durationNanos.Add(int64(max(duration, 0)))
	} else {
		c.failed.Add(1)
	}
	c.destroyed.Add(1)
}

// SessionCreated counts a channel that came into existence (its first
// connection joined).
func (c *Collector) SessionCreated() { c.sessionsCreated.Add(1) }

// SessionDestroyed counts a channel that ended (its last connection left).
func (c *Collector) SessionDestroyed() { c.sessionsDestroyed.Add(1) }

// HookPanicked counts a panic recovered from an embedder's hook.
func (c *Collector) HookPanicked() { c.hookPanics.Add(1) }

// AuthResult counts one call of the authentication hook: allowed, denied,
// or failed (the hook returned an error).
func (c *Collector) AuthResult(allowed bool, err error) {
	switch {
	case err != nil:
		c.authFailed.Add(1)
	case allowed:
		c.authAllowed.Add(1)
	default:
		c.authDenied.Add(1)
	}
}

// AddReceived registers a meter of packets received from a publisher.
func (c *Collector) AddReceived(m Meter) { c.received.add(m) }

// RemoveReceived retires a received meter; its final values stay in the
// totals.
func (c *Collector) RemoveReceived(m Meter) { c.received.remove(m) }

// AddSent registers a meter of packets sent to a subscriber.
func (c *Collector) AddSent(m Meter) { c.sent.add(m) }

// RemoveSent retires a sent meter; its final values stay in the totals.
func (c *Collector) RemoveSent(m Meter) { c.sent.remove(m) }

// AddSealed registers a meter of the packets a connection's SRTP egress
// sealed and sent itself (instead of pion).
func (c *Collector) AddSealed(m Meter) { c.sealed.add(m) }

// RemoveSealed retires a sealed meter; its final values stay in the
// totals.
func (c *Collector) RemoveSealed(m Meter) { c.sealed.remove(m) }

// Snapshot is the collector's state at one moment.
type Snapshot struct {
	ConnectionsCreated    int64
	ConnectionsUpdated    int64
	ConnectionsDestroyed  int64
	ConnectionsSuccessful int64
	ConnectionsFailed     int64
	// ConnectionsOngoing is created minus destroyed.
	ConnectionsOngoing int64
	// TotalDuration sums how long ended connections stayed connected;
	// EndedConnected counts them.
	TotalDuration  time.Duration
	EndedConnected int64
	// TotalSetup sums connect → connected over successful connections.
	TotalSetup        time.Duration
	SessionsCreated   int64
	SessionsDestroyed int64
	AuthAllowed       int64
	AuthDenied        int64
	AuthFailed        int64
	// HookPanics counts panics recovered from the embedder's hooks
	// (each ended only the connection concerned).
	HookPanics int64
	// Packets and bytes received from publishers and sent to
	// subscribers, ended streams included.
	ReceivedPackets, ReceivedBytes uint64
	SentPackets, SentBytes         uint64
	// Of the sent packets, those the engine sealed with SRTP and wrote
	// to the socket itself; the others went through pion's SRTP session.
	SealedPackets, SealedBytes uint64
	// Of the received packets, those the engine opened (SRTP) in its
	// socket reader; the others came through pion's SRTP session.
	// OpenRejects are packets of streams the engine had taken over that
	// failed to open (forged, replayed, corrupted) and were dropped.
	OpenedPackets, OpenRejects uint64
	// Batched UDP sends (the engine's BatchSends; zero without): system
	// calls that sent packets, UDP GSO messages and the packets they
	// carried, and packets dropped on a send error (a batched write
	// cannot report its error to the writer, so this is where it shows).
	SendCalls, GSOMessages, GSOPackets, SendDrops uint64

	// KeyFrames counts the key frames received from publishers (a
	// meter's KeyFrames, where it has one); Retransmits the packets
	// resent to subscribers to answer their NACKs (a sent meter's
	// Retransmits).
	KeyFrames, Retransmits uint64
	// RTCP from subscribers (PLIs, FIRs, NACK packets); key-frame
	// requests (PLIs) and NACK packets sent to publishers; simulcast
	// layer switches asked of down-tracks.
	PLIsReceived, FIRsReceived, NACKsReceived uint64
	// TransportCCsReceived and REMBsReceived count subscribers' bandwidth
	// feedback (transport-cc feedback packets, REMBs).
	TransportCCsReceived, REMBsReceived        uint64
	KeyFrameRequests, NACKsSent, LayerSwitches uint64
	// ProbeBytes is the probe traffic sent to subscribers, and
	// BandwidthPauses the videos paused for lack of downlink, by
	// bandwidth allocation.
	ProbeBytes, BandwidthPauses uint64

	// Webhook deliveries (filled in by the webhook senders): delivered,
	// failed after every retry, and dropped without trying because the
	// queue was full.
	EventWebhookSuccessful, EventWebhookFailed, EventWebhookIgnored       int64
	SessionWebhookSuccessful, SessionWebhookFailed, SessionWebhookIgnored int64

	// DataChannel messages and their bytes, from and to clients (filled
	// by the engine).
	SCTPReceivedMessages, SCTPReceivedBytes uint64
	SCTPSentMessages, SCTPSentBytes         uint64
}

// AverageDuration is TotalDuration over the ended connections that had
// connected (0 when none).
func (s Snapshot) AverageDuration() time.Duration {
	if s.EndedConnected == 0 {
		return 0
	}
	return s.TotalDuration / time.Duration(s.EndedConnected)
}

// AverageSetup is TotalSetup over the successful connections (0 when
// none).
func (s Snapshot) AverageSetup() time.Duration {
	if s.ConnectionsSuccessful == 0 {
		return 0
	}
	return s.TotalSetup / time.Duration(s.ConnectionsSuccessful)
}

// Snapshot reads every counter.
func (c *Collector) Snapshot() Snapshot {
	s := Snapshot{
		ConnectionsCreated:    c.created.Load(),
		ConnectionsUpdated:    c.updated.Load(),
		ConnectionsDestroyed:  c.destroyed.Load(),
		ConnectionsSuccessful: c.successful.Load(),
		ConnectionsFailed:     c.failed.Load(),
		TotalDuration:         time.Duration(c.durationNanos.Load()),
		EndedConnected:        c.ended.Load(),
		TotalSetup:            time.Duration(c.setupNanos.Load()),
		SessionsCreated:       c.sessionsCreated.Load(),
		SessionsDestroyed:     c.sessionsDestroyed.Load(),
		AuthAllowed:           c.authAllowed.Load(),
		AuthDenied:            c.authDenied.Load(),
		AuthFailed:            c.authFailed.Load(),
		HookPanics:            c.hookPanics.Load(),
	}
	// Destroyed is read after created, so ongoing is never negative.
	s.ConnectionsOngoing = max(s.ConnectionsCreated-s.ConnectionsDestroyed, 0)
	s.ReceivedPackets, s.ReceivedBytes, s.KeyFrames = c.received.totals()
	s.SentPackets, s.SentBytes, s.Retransmits = c.sent.totals()
	s.SealedPackets, s.SealedBytes, _ = c.sealed.totals()
	s.PLIsReceived, s.FIRsReceived, s.NACKsReceived = c.plis.Load(), c.firs.Load(), c.nacks.Load()
	s.TransportCCsReceived, s.REMBsReceived = c.transportCCs.Load(), c.rembs.Load()
	s.KeyFrameRequests, s.NACKsSent, s.LayerSwitches = c.keyFrameRequests.Load(), c.nacksSent.Load(), c.layerSwitches.Load()
	s.ProbeBytes, s.BandwidthPauses = c.probeBytes.Load(), c.bandwidthPauses.Load()
	return s
}

// meterSet sums live meters and the final values of retired ones.
type meterSet struct {
	mu                    sync.Mutex
	live                  map[Meter]struct{}
	packets, bytes, other uint64 // of retired meters
	// extra reads a third counter of a meter (key frames, retransmits);
	// nil for none.
	extra func(Meter) uint64
}

func (s *meterSet) extraOf(m Meter) uint64 {
	if s.extra == nil {
		return 0
	}
	return s.extra(m)
}

func (s *meterSet) add(m Meter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		s.live = map[Meter]struct{}{}
	}
	s.live[m] = struct{}{}
}

func (s *meterSet) remove(m Meter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.live[m]; !ok {
		return
	}
	delete(s.live, m)
	s.packets += m.Packets()
	s.bytes += m.Bytes()
	s.other += s.extraOf(m)
}

func (s *meterSet) totals() (packets, bytes, other uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	packets, bytes, other = s.packets, s.bytes, s.other
	for m := range s.live {
		packets += m.Packets()
		bytes += m.Bytes()
		other += s.extraOf(m)
	}
	return packets, bytes, other
}
