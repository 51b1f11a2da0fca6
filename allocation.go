package sfu

import (
	"cmp"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/allocate"
	"github.com/gosfu/sfu/simulcast"
)

// With Options.BandwidthAllocation the run loop re-allocates every
// allocationInterval, and while the allocator probes it sends probe
// traffic every probeInterval.
const (
	allocationInterval = 100 * time.Millisecond
	probeInterval      = 10 * time.Millisecond
)

// SwitchedNotify is a simulcast.switched notify: bandwidth allocation
// changed the layer a receiver gets from one sender, or paused the
// sender's video to it (current_rid "none") because its downlink cannot
// carry even the lowest layer, or resumed it.
type SwitchedNotify struct {
	EventType          string `json:"event_type"` // "simulcast.switched"
	Timestamp          string `json:"timestamp"`
	SenderConnectionID string `json:"sender_connection_id"`
	// Trigger is "receiver": the receiver's downlink estimate drove it.
	Trigger string `json:"trigger"`
	// RequestRID is what the receiver allows: "r0" to "r2" (its
	// RequestRtpStream or connect-time choice) or "auto".
	RequestRID string `json:"request_rid"`
	// CurrentRID and PreviousRID are the layers forwarded after and
	// before: "r0" to "r2", "none" while paused, "" for video without
	// simulcast.
	CurrentRID  string `json:"current_rid"`
	PreviousRID string `json:"previous_rid"`
}

// allocation is a connection's bandwidth allocation state, owned by its
// run goroutine.
type allocation struct {
	alloc *allocate.Allocator
	// probe is the padding bitrate the allocator wants; credit the bytes
	// due and not yet sent, probedAt when it was last topped up; pacer
	// ticks every probeInterval while probe > 0, and is nil otherwise.
	probe    int
	credit   float64
	probedAt time.Time
	pacer    *time.Ticker
}

// allocatedLayers returns, with Options.BandwidthAllocation and once the
// connection has a downlink estimate, the layer each simulcast
// subscription should get within that estimate; nil otherwise. It also
// pauses and resumes video that does not fit (telling the receiver) and
// records how much probing the allocator wants. Runs in the run
// goroutine (it owns c.subs and c.alloc).
func (c *Connection) allocatedLayers() map[*publication]simulcast.Layer {
	if !c.engine.opts.BandwidthAllocation {
		return nil
	}
	d := c.downlink.snapshot()
	if d.Source == "" {
		return nil
	}
	if c.alloc.alloc == nil {
		c.alloc.alloc = allocate.New(allocate.Config{})
	}
	pubs := make([]*publication, 0, len(c.subs))
	for pub := range c.subs {
		pubs = append(pubs, pub)
	}
	// A stable order: the allocator serves equal priorities in it.
	slices.SortFunc(pubs, func(a, b *publication) int {
		return cmp.Or(cmp.Compare(a.owner.id, b.owner.id), cmp.Compare(a.kind, b.kind))
	})
	now := time.Now()
	tracks := make([]allocate.Track, len(pubs))
	for i, pub := range pubs {
		tracks[i] = c.allocTrack(pub, now)
	}
	res := c.alloc.alloc.Update(d.Bitrate, tracks)
	c.setProbe(res.ProbeBitrate, now)
	if len(res.Paused) > 0 || len(res.Resumed) > 0 {
		c.log.Debug("bandwidth allocation", "paused", res.Paused, "resumed", res.Resumed,
			"estimate", d.Bitrate, "queuing_delay", d.QueuingDelay, "loss", d.Loss)
	}
	out := make(map[*publication]simulcast.Layer, len(pubs))
	for i, pub := range pubs {
		if tracks[i].Audio {
			continue
		}
		l := res.Layers[i]
		// Paused with nothing arriving (not measured yet, or stopped
		// for another reason) is no pause of the allocation's.
		c.policy(pub.owner.id).SetSqueezed(l == allocate.Paused && tracks[i].Bitrates != [allocate.MaxLayers]int{})
		if l != allocate.Paused && pub.isSimulcast() {
			out[pub] = simulcast.Layer(l)
		}
	}
	c.notifyPauses(pubs, tracks, res)
	return out
}

// allocTrack describes pub's subscription to the allocator.
func (c *Connection) allocTrack(pub *publication, now time.Time) allocate.Track {
	p := c.policy(pub.owner.id)
	tr := allocate.Track{ID: pub.owner.id + "/" + pub.kind.String(), Audio: pub.kind == webrtc.RTPCodecTypeAudio}
	if !p.Flows(pub.kind) {
		tr.Max = allocate.Paused // stopped for another reason: costs nothing
		return tr
	}
	for l, r := range pub.bitrates(now) {
		tr.Bitrates[l] = r
	}
	if pub.isSimulcast() {
		tr.Max = allocate.Layer(c.requestedLayer(pub.owner))
		if p.RID() == "auto" {
			tr.Max = allocate.MaxLayers - 1
		}
	}
	if _, err := simulcast.ParseRID(p.RID()); err == nil || p.Focused() {
		tr.Priority = 1 // explicitly requested, or in spotlight focus
	}
	return tr
}

// notifyPauses tells the receiver which senders' video the allocator
// paused or resumed.
func (c *Connection) notifyPauses(pubs []*publication, tracks []allocate.Track, res allocate.Result) {
	for i, pub := range pubs {
		switch id := tracks[i].ID; {
		case slices.Contains(res.Paused, id):
			c.engine.stats.BandwidthPaused()
			c.notifySwitched(pub, c.subs[pub].target.RID(), "none")
		case slices.Contains(res.Resumed, id):
			c.notifySwitched(pub, "none", layerRID(pub, res.Layers[i]))
		}
	}
}

// layerRID names layer l of pub for a notify.
func layerRID(pub *publication, l allocate.Layer) string {
	if !pub.isSimulcast() {
		return ""
	}
	return simulcast.Layer(l).RID()
}

// notifySwitched sends the receiver a simulcast.switched notify for pub.
func (c *Connection) notifySwitched(pub *publication, previous, current string) {
	req := c.policy(pub.owner.id).RID()
	switch {
	case !pub.isSimulcast():
		req = ""
	case req != "auto":
		req = c.requestedLayer(pub.owner).RID()
	}
	c.emit(Event{Kind: EventNotify, Switched: &SwitchedNotify{
		EventType: "simulcast.switched", Timestamp: timestamp(time.Now()),
		SenderConnectionID: pub.owner.id, Trigger: "receiver",
		RequestRID: req, CurrentRID: current, PreviousRID: previous,
	}})
}

// setProbe records the padding bitrate the allocator wants.
func (c *Connection) setProbe(bps int, now time.Time) {
	if bps > 0 && c.alloc.probe == 0 {
		c.alloc.credit, c.alloc.probedAt = 0, now
	}
	c.alloc.probe = bps
}

// pace starts or stops the probe pacer as the allocator wants probing,
// and returns its ticks: nil while not probing. The run loop calls it
// after each allocation, and with a zero probe when it ends.
func (a *allocation) pace() <-chan time.Time {
	switch {
	case a.probe > 0 && a.pacer == nil:
		a.pacer = time.NewTicker(probeInterval)
	case a.probe == 0 && a.pacer != nil:
		a.pacer.Stop()
		a.pacer = nil
	}
	if a.pacer == nil {
		return nil
	}
	return a.pacer.C
}

// sendProbe sends the probe traffic due since the last call, paced by the
// run loop's probeInterval, as copies of recent video packets
// (DownTrack.Probe). At most three intervals' worth goes at once, so a
// late tick does not become a burst.
func (c *Connection) sendProbe(now time.Time) {
	a := &c.alloc
	due := float64(a.probe) / 8 * now.Sub(a.probedAt).Seconds()
	a.credit = min(a.credit+due, float64(a.probe)/8*(3*probeInterval).Seconds())
	a.probedAt = now
	for _, sub := range c.subs {
		if a.credit < 1 {
			return
		}
		if sub.dt.Kind() == webrtc.RTPCodecTypeVideo {
			n := sub.dt.Probe(int(a.credit))
			a.credit -= float64(n)
			c.downlink.probed.Add(uint64(n))
			c.engine.stats.ProbeSent(n)
		}
	}
}
