package forward

import (
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// Policy is the forwarding policy of one (receiver, sender) pair: what the
// receiving connection wants from one publishing connection. The control
// plane (pause/resume, RequestRtpStream, spotlight, simulcast, bandwidth
// allocation) writes it; the forwarding goroutines read it on every
// packet. Every field is an atomic, so neither side ever waits for the
// other. One Policy is shared by the audio and video down-tracks of the
// pair.
type Policy struct {
	// stops holds, per kind, why it is not forwarded: one bit per
	// reason, so the hot path reads one word. The reasons are kept apart
	// so that each is lifted independently (ListPauseRtpStreams lists
	// only the user's pauses).
	stops   [2]atomic.Uint32 // audio, video
	focused atomic.Bool
	rid     atomic.Pointer[string]
}

// Why a kind is not forwarded.
const (
	stopPaused   = 1 << iota // SetPaused: the user
	stopWithheld             // SetWithheld: spotlight
	stopNoVideo              // SetRID("none")
	stopSqueezed             // SetSqueezed: the downlink cannot carry it
)

func (p *Policy) stopsOf(kind webrtc.RTPCodecType) *atomic.Uint32 {
	if kind == webrtc.RTPCodecTypeAudio {
		return &p.stops[0]
	}
	return &p.stops[1]
}

func (p *Policy) set(kind webrtc.RTPCodecType, bit uint32, on bool) {
	if on {
		p.stopsOf(kind).Or(bit)
	} else {
		p.stopsOf(kind).And(^bit)
	}
}

func (p *Policy) has(kind webrtc.RTPCodecType, bit uint32) bool {
	return p.stopsOf(kind).Load()&bit != 0
}

// SetPaused pauses or resumes forwarding of kind. A paused down-track
// drops packets; on resume a video down-track waits for a key frame
// (asking for one) and the receiver sees sequence numbers continue.
func (p *Policy) SetPaused(kind webrtc.RTPCodecType, paused bool) { p.set(kind, stopPaused, paused) }

// Paused reports whether kind is paused.
func (p *Policy) Paused(kind webrtc.RTPCodecType) bool { return p.has(kind, stopPaused) }

// SetRID records the simulcast layer (rid) the receiver asked for: "r0",
// "r1", "r2", "auto" (the engine chooses within the receiver's downlink),
// "none" (no video from this sender, which SetRID applies itself), or ""
// for no preference. Acting on a layer (DownTrack.SwitchTo) is the
// simulcast controller's job.
func (p *Policy) SetRID(rid string) {
	p.rid.Store(&rid)
	p.set(webrtc.RTPCodecTypeVideo, stopNoVideo, rid == "none")
}

// RID returns the requested rid, "" if none.
func (p *Policy) RID() string {
	if r := p.rid.Load(); r != nil {
		return *r
	}
	return ""
}

// SetFocused records whether the sender is in the receiver's spotlight.
func (p *Policy) SetFocused(f bool) { p.focused.Store(f) }

// Focused reports whether the sender is in the receiver's spotlight.
func (p *Policy) Focused() bool { return p.focused.Load() }

// SetWithheld stops or restarts forwarding of kind for a reason of the
// engine's own (spotlight: an unfocused sender's audio, or its video
// when the receiver's unfocus rid is none). It acts as SetPaused does,
// independently of it: kind flows only when nothing holds it.
func (p *Policy) SetWithheld(kind webrtc.RTPCodecType, withheld bool) {
	p.set(kind, stopWithheld, withheld)
}

// Withheld reports whether kind is withheld.
func (p *Policy) Withheld(kind webrtc.RTPCodecType) bool { return p.has(kind, stopWithheld) }

// SetSqueezed stops or restarts forwarding of the sender's video because
// the receiver's downlink cannot carry even its lowest layer (bandwidth
// allocation). Like SetWithheld, independent of the other reasons.
func (p *Policy) SetSqueezed(squeezed bool) {
	p.set(webrtc.RTPCodecTypeVideo, stopSqueezed, squeezed)
}

// Squeezed reports whether the sender's video is stopped for lack of
// downlink bandwidth.
func (p *Policy) Squeezed() bool { return p.has(webrtc.RTPCodecTypeVideo, stopSqueezed) }

// Flows reports whether kind is forwarded, or would be but for the
// bandwidth allocation: what the allocator must budget for.
func (p *Policy) Flows(kind webrtc.RTPCodecType) bool {
	return p.stopsOf(kind).Load()&^stopSqueezed == 0
}

// stopped reports whether kind must not be forwarded now.
func (p *Policy) stopped(kind webrtc.RTPCodecType) bool {
	return p.stopsOf(kind).Load() != 0
}
