package forward

import (
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// Policy is the forwarding policy of one (receiver, sender) pair: what the
// receiving connection wants from one publishing connection. The control
// plane (pause/resume, RequestRtpStream, spotlight, simulcast) writes it;
// the forwarding goroutines read it on every packet. Every field is an
// atomic, so neither side ever waits for the other. One Policy is shared
// by the audio and video down-tracks of the pair.
type Policy struct {
	paused  kindFlag
	focused atomic.Bool
	rid     atomic.Pointer[string]
	// Withheld by spotlight rather than paused by the user: kept apart
	// so that ListPauseRtpStreams lists only the user's pauses.
	withheld kindFlag
}

// kindFlag is a flag for audio and one for video.
type kindFlag struct{ audio, video atomic.Bool }

func (f *kindFlag) of(kind webrtc.RTPCodecType) *atomic.Bool {
	if kind == webrtc.RTPCodecTypeAudio {
		return &f.audio
	}
	return &f.video
}

// SetPaused pauses or resumes forwarding of kind. A paused down-track
// drops packets; on resume a video down-track waits for a key frame
// (asking for one) and the receiver sees sequence numbers continue.
func (p *Policy) SetPaused(kind webrtc.RTPCodecType, paused bool) { p.paused.of(kind).Store(paused) }

// Paused reports whether kind is paused.
func (p *Policy) Paused(kind webrtc.RTPCodecType) bool { return p.paused.of(kind).Load() }

// SetRID records the simulcast layer (rid) the receiver asked for; ""
// means no preference. Acting on it (DownTrack.SwitchTo) is the simulcast
// controller's job.
func (p *Policy) SetRID(rid string) { p.rid.Store(&rid) }

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
// independently of it: kind flows only when neither holds it.
func (p *Policy) SetWithheld(kind webrtc.RTPCodecType, withheld bool) {
	p.withheld.of(kind).Store(withheld)
}

// Withheld reports whether kind is withheld.
func (p *Policy) Withheld(kind webrtc.RTPCodecType) bool { return p.withheld.of(kind).Load() }

// stopped reports whether kind must not be forwarded now.
func (p *Policy) stopped(kind webrtc.RTPCodecType) bool {
	return p.paused.of(kind).Load() || p.withheld.of(kind).Load()
}
