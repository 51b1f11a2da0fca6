package sfu

import (
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/forward"
)

// repairStream hands a published stream's RTX (RFC 4588) to the
// engine's ingress, which owns the media stream, once pion knows its
// SSRC: from the SDP at once, or, for simulcast layers announced by rid
// only, from the first RTX packet, which pion reads. pion would never
// return RTX packets of a stream it no longer reads.
type repairStream struct {
	track *webrtc.TrackRemote
	ssrc  uint32
	src   *forward.Source
	in    *forward.Ingress // nil: pion reads everything

	mu    sync.Mutex
	added uint32
}

// learn adds the RTX stream to the ingress if pion knows it by now.
func (r *repairStream) learn() {
	if r.in == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.added != 0 {
		return // learnt once; the RTX stream keeps its SSRC
	}
	if rtx := uint32(r.track.RtxSSRC()); rtx != 0 {
		r.in.AddRepair(rtx, r.ssrc, r.src)
		r.added = rtx
	}
}

func (r *repairStream) remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.added != 0 {
		r.in.Remove(r.added, r.src)
	}
}
