package forward

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// ErrCodecNotNegotiated is returned by [DownTrack.Bind] when the subscriber
// did not accept the publisher's codec.
var ErrCodecNotNegotiated = errors.New("forward: publisher codec not negotiated by subscriber")

// binding is what pion hands a DownTrack when its sender starts.
type binding struct {
	ssrc        uint32
	payloadType uint8
	writer      webrtc.TrackLocalWriter
	egress      *egressWriter // writer, when the engine's egress seals
	rtx         *rtxBinding   // nil: no RTX negotiated (or audio)
}

// segment maps one continuous run of forwarded packets: down-track
// sequence number = source sequence number + snOff (mod 2^16), same for
// timestamps. A new segment starts at every layer switch, resume or new
// binding; NACKs are mapped back through the segment they fall into.
type segment struct {
	downStart uint16
	snOff     uint16
	tsOff     uint32
	src       *Source
}

const maxSegments = 4 // older segments are past any useful NACK

// DownTrack is one subscriber's copy of a [Source]. It implements
// webrtc.TrackLocal, so it is added to the subscriber's PeerConnection like
// any local track. It rewrites SSRC, payload type, sequence numbers and
// timestamps so that the subscriber sees one continuous stream across
// layer switches ([DownTrack.SwitchTo]) and pauses ([Policy]).
type DownTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecParameters
	clockRate    uint32

	egress *Egress // set before the first Bind; nil writes through pion

	bound  atomic.Pointer[binding]
	policy atomic.Pointer[Policy]
	// cur is the source forwarded now; pending is the one SwitchTo asked
	// for, taken over at its next key frame. Written under mu, read
	// without it by the RTCP path.
	cur, pending atomic.Pointer[Source]

	// mu serialises writes: during a switch two sources' goroutines call
	// writeRTP, and NACK answers come from the RTCP goroutine. It is held
	// across the pion write (the header it passes is owned by the
	// DownTrack) and never by the control plane.
	mu          sync.Mutex
	hdr         rtp.Header
	bnd         *binding // binding the current segment was started for
	needKey     bool     // drop until a key frame (video only)
	waitSince   int64    // when needKey was set (monoNow), 0 if not yet
	resync      bool     // start a new segment at the next forwarded packet
	paused      bool     // last policy state seen by the hot path
	firstSrcSN  uint16   // source SN the current segment started at
	snOff       uint16
	tsOff       uint32
	lastSN      uint16 // highest sequence number sent
	lastTS      uint32 // its timestamp
	lastAt      int64  // its arrival (monoNow)
	segs        [maxSegments]segment
	segHead     int // index of the newest segment
	packets     uint64
	octets      uint64
	retransmits uint64
	rtxHdr      rtp.Header
	// nackBuf holds a packet being retransmitted. Allocated at the first
	// NACK: most down-tracks never see one, and 1.5 KB each would push
	// the fan-out's working set out of the cache.
	nackBuf []byte
	resends *resendRing // allocated at the first NACK, as nackBuf
}

// NewDownTrack returns a down-track for src. Attach it with
// src.AddDownTrack once it has been added to a PeerConnection.
func NewDownTrack(src *Source) *DownTrack {
	d := &DownTrack{
		id: src.cfg.ID, streamID: src.cfg.StreamID, kind: src.cfg.Kind,
		codec: src.cfg.Codec, clockRate: src.clockRate,
		needKey: src.cfg.Kind == webrtc.RTPCodecTypeVideo, resync: true,
	}
	d.cur.Store(src)
	d.policy.Store(&Policy{})
	return d
}

// SetEgress makes the down-track write through e (which seals and sends
// its packets itself once started) instead of straight to pion. Call it
// before adding the down-track to a PeerConnection.
func (d *DownTrack) SetEgress(e *Egress) { d.egress = e }

// Source returns the source this down-track forwards now.
func (d *DownTrack) Source() *Source { return d.cur.Load() }

// Policy returns the forwarding policy the down-track obeys.
func (d *DownTrack) Policy() *Policy { return d.policy.Load() }

// SetPolicy makes the down-track obey p, typically shared by the audio
// and video down-tracks of one (receiver, sender) pair.
func (d *DownTrack) SetPolicy(p *Policy) { d.policy.Store(p) }

// ID implements webrtc.TrackLocal: the publisher's track id.
func (d *DownTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal. Down-tracks are never simulcast.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal: the publisher's connection id.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.kind }

// Packets returns the number of packets written to the subscriber,
// retransmissions excluded.
func (d *DownTrack) Packets() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.packets
}

// Bytes returns the number of payload bytes written to the subscriber.
func (d *DownTrack) Bytes() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.octets
}

// Retransmits returns the number of packets resent to answer NACKs.
func (d *DownTrack) Retransmits() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.retransmits
}

// Bind implements webrtc.TrackLocal. pion calls it when the subscriber's
// sender starts; it picks the subscriber's payload type for the publisher's
// codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if sameCodec(c.RTPCodecCapability, d.codec.RTPCodecCapability) {
			b := &binding{ssrc: uint32(ctx.SSRC()), payloadType: uint8(c.PayloadType), writer: ctx.WriteStream()}
			if d.egress != nil {
				b.egress = d.egress.writer(b.writer, transportCCID(ctx.HeaderExtensions()))
				b.writer = b.egress
			}
			d.bindRTX(ctx, b)
			d.bound.Store(b)
			// A new subscriber needs a key frame to start decoding.
			d.RequestKeyFrame()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, ErrCodecNotNegotiated
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	if b := d.bound.Swap(nil); b != nil {
		if w, ok := b.writer.(*egressWriter); ok {
			w.release()
		}
		if b.rtx != nil {
			if w, ok := b.rtx.writer.(*egressWriter); ok {
				w.release()
			}
		}
	}
	return nil
}

// RequestKeyFrame asks the source being switched to, or else the current
// one, for a key frame (throttled per source).
func (d *DownTrack) RequestKeyFrame() {
	if s := d.pending.Load(); s != nil {
		s.RequestKeyFrame()
	} else if s := d.cur.Load(); s != nil {
		s.RequestKeyFrame()
	}
}

// SwitchTo makes the down-track forward target instead of its current
// source, from target's next key frame on (requested now). Until then the
// current source keeps flowing, so the subscriber never sees a gap. The
// receiver sees sequence numbers continue by one and the timestamp
// advance by the wall-clock time between the two packets. Switching to
// the current source cancels a pending switch.
func (d *DownTrack) SwitchTo(target *Source) {
	d.mu.Lock()
	cur, old := d.cur.Load(), d.pending.Load()
	if target == cur {
		d.pending.Store(nil)
	} else {
		d.pending.Store(target)
	}
	d.mu.Unlock()
	if old != nil && old != target && old != cur {
		d.detachFrom(old)
	}
	if target != cur {
		target.AddDownTrack(d)
		target.RequestKeyFrame()
	}
}

// Detach removes the down-track from every source it is attached to.
func (d *DownTrack) Detach() {
	d.mu.Lock()
	cur, pending := d.cur.Load(), d.pending.Load()
	d.pending.Store(nil)
	d.mu.Unlock()
	if cur != nil {
		cur.RemoveDownTrack(d)
	}
	if pending != nil {
		pending.RemoveDownTrack(d)
	}
}

// detachFrom removes d from s unless d forwards, or is switching to, s
// by the time s's list lock is held (a concurrent SwitchTo back to s wins).
func (d *DownTrack) detachFrom(s *Source) {
	s.removeDownTrackIf(d, func() bool { return d.cur.Load() != s && d.pending.Load() != s })
}

// writeRTP forwards p from src. Called by src's forwarding goroutine.
func (d *DownTrack) writeRTP(src *Source, p *packet) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	paused := d.policy.Load().stopped(d.kind)
	var switchedFrom *Source
	d.mu.Lock()
	if src != d.cur.Load() {
		if src != d.pending.Load() {
			d.mu.Unlock() // a source we switched away from
			return
		}
		if !p.keyFrame && d.kind == webrtc.RTPCodecTypeVideo {
			d.mu.Unlock()
			src.RequestKeyFrame() // throttled
			return
		}
		// The target's key frame: take it over from here, and leave the
		// old source's list once d.mu is released.
		switchedFrom = d.cur.Load()
		d.cur.Store(src)
		d.pending.Store(nil)
		d.needKey, d.resync = false, true
	}
	if paused {
		d.paused = true
		d.mu.Unlock()
		d.afterSwitch(switchedFrom)
		return
	}
	if d.paused || b != d.bnd {
		d.paused, d.bnd = false, b
		d.resync = true
		d.needKey, d.waitSince = d.kind == webrtc.RTPCodecTypeVideo, 0
	}
	if d.needKey {
		if d.waitSince == 0 {
			d.waitSince = p.at
		}
		if !p.keyFrame && p.at-d.waitSince < int64(src.cfg.KeyFrameWait) {
			d.mu.Unlock()
			src.RequestKeyFrame()
			return
		}
		d.needKey, d.waitSince = false, 0
	}
	if d.resync {
		d.startSegment(src, p)
	} else if age := int16(p.sn - d.firstSrcSN); age < 0 {
		d.mu.Unlock() // late packet from before the segment started
		return
	} else if age > 2*segmentReach {
		d.advanceSegment(p.sn)
	}
	sn, ts := p.sn+d.snOff, p.ts+d.tsOff
	if d.packets == 0 || int16(sn-d.lastSN) > 0 {
		d.lastSN, d.lastTS, d.lastAt = sn, ts, p.at
	}
	h := &d.hdr
	h.Version = 2
	h.Padding = p.padding > 0
	h.Marker = p.marker
	h.PayloadType = b.payloadType
	h.SequenceNumber = sn
	h.Timestamp = ts
	h.SSRC = b.ssrc
	// Header extension ids are per PeerConnection, so the publisher's do
	// not apply; CSRCs are not forwarded either.
	if b.egress != nil {
		// The packet's arrival is its send time for transport-cc, to
		// within the fan-out: one clock read per packet, not one per
		// subscriber. Writes without it (NACK answers) read the clock.
		b.egress.at = p.at
	}
	n, err := b.writer.WriteRTP(h, p.payload)
	if b.egress != nil {
		b.egress.at = 0
	}
	if err == nil && n > 0 {
		d.packets++
		d.octets += uint64(len(p.payload) - p.padding)
	} else if d.packets == 0 {
		// pion reports a write before the subscriber's SRTP is ready as
		// 0 bytes and no error, and drops it. Until something really
		// went out, start over: the first packet delivered must be a key
		// frame, or the subscriber waits for the next one.
		d.resync = true
		d.needKey, d.waitSince = d.kind == webrtc.RTPCodecTypeVideo, 0
	}
	d.mu.Unlock()
	d.afterSwitch(switchedFrom)
}

// afterSwitch detaches d from the source it just switched away from.
// Runs once per switch, not per packet (it copies a down-track list).
func (d *DownTrack) afterSwitch(old *Source) {
	if old != nil {
		d.detachFrom(old)
	}
}

// startSegment computes offsets that make p follow the last packet sent:
// sequence number +1, timestamp advanced by the arrival-time difference
// (at least one tick). The first segment keeps the source's numbering.
// Called with d.mu held.
func (d *DownTrack) startSegment(src *Source, p *packet) {
	if d.packets == 0 {
		d.snOff, d.tsOff = 0, 0
	} else {
		d.snOff = d.lastSN + 1 - p.sn
		d.tsOff = d.lastTS + max(d.ticks(p.at-d.lastAt), 1) - p.ts
	}
	d.firstSrcSN = p.sn
	d.resync = false
	if d.segs[d.segHead].src != nil {
		d.segHead = (d.segHead + 1) % maxSegments
	}
	d.segs[d.segHead] = segment{downStart: p.sn + d.snOff, snOff: d.snOff, tsOff: d.tsOff, src: src}
}

// segmentReach is how far behind the newest packet a segment's start is
// kept, at most twice that. Sequence numbers compare in a window of
// ±32767: a start left further behind would look ahead of new packets,
// and every packet would be taken for a late one (a stream stopped after
// 32,768 packets: four minutes of video). Packets and NACKs from further
// back are of no use anyway.
const segmentReach = 1 << 13

// advanceSegment moves the current segment's start to segmentReach behind
// source sequence number sn and forgets the older segments, out of reach
// now. Called with d.mu held, once every segmentReach packets.
func (d *DownTrack) advanceSegment(sn uint16) {
	d.firstSrcSN = sn - segmentReach
	cur := &d.segs[d.segHead]
	cur.downStart = d.firstSrcSN + cur.snOff
	for i := range d.segs {
		if i != d.segHead {
			d.segs[i] = segment{}
		}
	}
}

// segmentOf finds the segment down-track sequence number sn was sent in.
// Called with d.mu held.
func (d *DownTrack) segmentOf(sn uint16) (segment, bool) {
	for i := range maxSegments {
		s := d.segs[(d.segHead-i+maxSegments)%maxSegments]
		if s.src == nil {
			break
		}
		if int16(sn-s.downStart) >= 0 {
			return s, true
		}
	}
	return segment{}, false
}

// sameCodec reports whether two codec capabilities describe the same
// codec: same MIME type and, where it matters, the same profile.
func sameCodec(a, b webrtc.RTPCodecCapability) bool {
	if !strings.EqualFold(a.MimeType, b.MimeType) || a.ClockRate != b.ClockRate {
		return false
	}
	switch strings.ToLower(a.MimeType) {
	case strings.ToLower(webrtc.MimeTypeH264), strings.ToLower(webrtc.MimeTypeVP9):
		return a.SDPFmtpLine == b.SDPFmtpLine
	}
	return true
}
