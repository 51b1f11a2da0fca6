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
	audioPaused atomic.Bool
	videoPaused atomic.Bool
	focused     atomic.Bool
	rid         atomic.Pointer[string]
}

// SetPaused pauses or resumes forwarding of kind. A paused down-track
// drops packets; on resume a video down-track waits for a key frame
// (asking for one) and the receiver sees sequence numbers continue.
func (p *Policy) SetPaused(kind webrtc.RTPCodecType, paused bool) {
	if kind == webrtc.RTPCodecTypeAudio {
		p.audioPaused.Store(paused)
	} else {
		p.videoPaused.Store(paused)
	}
}

// Paused reports whether kind is paused.
func (p *Policy) Paused(kind webrtc.RTPCodecType) bool {
	if kind == webrtc.RTPCodecTypeAudio {
		return p.audioPaused.Load()
	}
	return p.videoPaused.Load()
}

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
