package forward

import (
	"errors"
	"strings"
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
}

// DownTrack is one subscriber's copy of a [Source]. It implements
// webrtc.TrackLocal, so it is added to the subscriber's PeerConnection like
// any local track, and it rewrites SSRC and payload type for that
// subscriber.
type DownTrack struct {
	source *Source
	bound  atomic.Pointer[binding]

	// hdr is the outgoing header. It is owned by the DownTrack (never a
	// stack copy handed to pion) and written only by the source's
	// forwarding goroutine.
	hdr rtp.Header

	packets atomic.Uint64
	bytes   atomic.Uint64
}

// NewDownTrack returns a down-track for src. Attach it with
// src.AddDownTrack once it has been added to a PeerConnection.
func NewDownTrack(src *Source) *DownTrack {
	return &DownTrack{source: src}
}

// Source returns the source this down-track copies.
func (d *DownTrack) Source() *Source { return d.source }

// ID implements webrtc.TrackLocal: the publisher's track id.
func (d *DownTrack) ID() string { return d.source.cfg.ID }

// RID implements webrtc.TrackLocal. Down-tracks are never simulcast.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal: the publisher's connection id.
func (d *DownTrack) StreamID() string { return d.source.cfg.StreamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.source.cfg.Kind }

// Packets returns the number of packets written to the subscriber.
func (d *DownTrack) Packets() uint64 { return d.packets.Load() }

// Bytes returns the number of payload bytes written to the subscriber.
func (d *DownTrack) Bytes() uint64 { return d.bytes.Load() }

// Bind implements webrtc.TrackLocal. pion calls it when the subscriber's
// sender starts; it picks the subscriber's payload type for the publisher's
// codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.source.cfg.Codec
	for _, c := range ctx.CodecParameters() {
		if sameCodec(c.RTPCodecCapability, want.RTPCodecCapability) {
			d.bound.Store(&binding{
				ssrc:        uint32(ctx.SSRC()),
				payloadType: uint8(c.PayloadType),
				writer:      ctx.WriteStream(),
			})
			// A new subscriber needs a key frame to start decoding.
			d.source.RequestKeyFrame()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, ErrCodecNotNegotiated
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// writeRTP rewrites h for this subscriber and sends it with payload.
// Called only from the source's forwarding goroutine.
func (d *DownTrack) writeRTP(h *rtp.Header, payload []byte) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	d.hdr = *h
	d.hdr.SSRC = b.ssrc
	d.hdr.PayloadType = b.payloadType
	// Extension ids are per PeerConnection; the publisher's do not apply.
	d.hdr.Extension = false
	d.hdr.Extensions = nil
	d.hdr.ExtensionProfile = 0
	if _, err := b.writer.WriteRTP(&d.hdr, payload); err != nil {
		return
	}
	d.packets.Add(1)
	d.bytes.Add(uint64(len(payload)))
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
