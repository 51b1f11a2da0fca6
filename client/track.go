package client

import (
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// RemoteTrack is a track another publisher sends through the server.
type RemoteTrack struct {
	// ConnectionID is the publisher's connection id (the msid stream id).
	ConnectionID string
	// Track is pion's remote track; read it with ReadRTP or Read.
	Track *webrtc.TrackRemote
	// Receiver is the RTPReceiver the track arrived on.
	Receiver *webrtc.RTPReceiver
	// Mid is the mid of the m-line the track arrived on.
	Mid string

	packets atomic.Uint64
	bytes   atomic.Uint64
}

// Kind is the track's kind (audio or video).
func (t *RemoteTrack) Kind() webrtc.RTPCodecType { return t.Track.Kind() }

// MimeType is the negotiated codec's MIME type, e.g. "video/VP9".
func (t *RemoteTrack) MimeType() string { return t.Track.Codec().MimeType }

// Packets is the number of RTP packets the client drained from the track
// itself. It counts only when Config.OnTrack is nil.
func (t *RemoteTrack) Packets() uint64 { return t.packets.Load() }

// Bytes is the number of bytes (RTP header and payload) the client drained
// from the track itself. It counts only when Config.OnTrack is nil.
func (t *RemoteTrack) Bytes() uint64 { return t.bytes.Load() }

// drain reads the track until it fails, counting what arrives.
func (t *RemoteTrack) drain() {
	buf := make([]byte, 1500)
	for {
		n, _, err := t.Track.Read(buf)
		if err != nil {
			return
		}
		t.packets.Add(1)
		t.bytes.Add(uint64(n))
	}
}
