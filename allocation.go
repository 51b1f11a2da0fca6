package sfu

import (
	"cmp"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/allocate"
	"github.com/gosfu/sfu/simulcast"
)

// allocatedLayers returns, with Options.BandwidthAllocation and once the
// connection has a downlink estimate, the layer each simulcast
// subscription should get within that estimate; nil otherwise. Runs in
// the run goroutine (it owns c.subs and c.alloc).
func (c *Connection) allocatedLayers() map[*publication]simulcast.Layer {
	if !c.engine.opts.BandwidthAllocation {
		return nil
	}
	d := c.downlink.snapshot()
	if d.Source == "" {
		return nil
	}
	if c.alloc == nil {
		c.alloc = allocate.New(allocate.Config{})
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
		tr := allocate.Track{ID: pub.owner.id + "/" + pub.kind.String(), Audio: pub.kind == webrtc.RTPCodecTypeAudio}
		for l, r := range pub.bitrates(now) {
			tr.Bitrates[l] = r
		}
		if pub.isSimulcast() {
			tr.Max = allocate.Layer(c.requestedLayer(pub.owner))
		}
		p := c.policy(pub.owner.id)
		if p.RID() != "" || p.Focused() {
			tr.Priority = 1 // explicitly requested, or in spotlight focus
		}
		tracks[i] = tr
	}
	res := c.alloc.Update(d.Bitrate, tracks)
	out := make(map[*publication]simulcast.Layer, len(pubs))
	for i, pub := range pubs {
		if pub.isSimulcast() {
			// Pausing is not wired yet: a video that does not fit gets r0.
			out[pub] = simulcast.Layer(max(res.Layers[i], 0))
		}
	}
	return out
}
