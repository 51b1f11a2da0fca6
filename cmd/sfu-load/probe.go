package main

import (
	"encoding/binary"
	"time"
)

// epoch is the process-wide start time. Send times in probes are
// monotonic nanoseconds since epoch, so subscribers in the same process
// can compute one-way latency.
var epoch = time.Now()

// monoNow returns monotonic nanoseconds since epoch.
func monoNow() int64 { return int64(time.Since(epoch)) }

// Probe layout, big-endian, written into every payload right after the
// codec header:
//
//	0  2  magic "SL"
//	2  1  kind: 'v' or 'a'
//	3  1  reserved (0)
//	4  4  publisher index (global over all channels)
//	8  8  counter (per publisher and kind, starts at 0)
//	16 8  send time (monoNow)
const (
	probeLen   = 24
	probeMagic = 0x534c // "SL"
	kindVideo  = 'v'
	kindAudio  = 'a'
)

// VP8 constants (RFC 7741 payload descriptor, RFC 6386 frame tag).
const (
	vp8DescStart     = 0x10 // S bit, PID 0, X 0
	vp8KeyHeaderLen  = 10   // frame tag (3), start code (3), width, height
	vp8DeltaTagLen   = 3    // frame tag
	opusTOC          = 0xfc // config 31 (CELT FB 20 ms), mono, code 0
	opusHeaderLen    = 1
	rtpHeaderMinSize = 12
)

// putProbe writes a probe into b (at least probeLen bytes).
func putProbe(b []byte, kind byte, pub uint32, counter uint64, sent int64) {
	binary.BigEndian.PutUint16(b[0:], probeMagic)
	b[2] = kind
	b[3] = 0
	binary.BigEndian.PutUint32(b[4:], pub)
	binary.BigEndian.PutUint64(b[8:], counter)
	binary.BigEndian.PutUint64(b[16:], uint64(sent))
}

// probe is a decoded probe.
type probe struct {
	kind    byte
	pub     uint32
	counter uint64
	sent    int64
}

// readProbe decodes the probe at the start of b.
func readProbe(b []byte) (probe, bool) {
	if len(b) < probeLen || binary.BigEndian.Uint16(b) != probeMagic {
		return probe{}, false
	}
	return probe{
		kind:    b[2],
		pub:     binary.BigEndian.Uint32(b[4:]),
		counter: binary.BigEndian.Uint64(b[8:]),
		sent:    int64(binary.BigEndian.Uint64(b[16:])),
	}, true
}

// writeVP8Header writes the 1-byte payload descriptor and, on the first
// packet of a frame, the VP8 frame header (a key frame's 10 bytes or a
// delta frame's 3-byte tag). It returns the offset of the probe.
func writeVP8Header(b []byte, start, key bool, frameSize int) int {
	if !start {
		b[0] = 0
		return 1
	}
	b[0] = vp8DescStart
	first := uint32(min(frameSize, 1<<19-1)) // first_part_size, 19 bits
	tag := 1<<4 | first<<5                   // show_frame, version 0
	if !key {
		tag |= 1 // P: inter frame
	}
	b[1], b[2], b[3] = byte(tag), byte(tag>>8), byte(tag>>16)
	if !key {
		return 1 + vp8DeltaTagLen
	}
	b[4], b[5], b[6] = 0x9d, 0x01, 0x2a // start code
	binary.LittleEndian.PutUint16(b[7:], 640)
	binary.LittleEndian.PutUint16(b[9:], 360)
	return 1 + vp8KeyHeaderLen
}

// vp8ProbeOffset returns where the probe starts in a VP8 payload written
// by writeVP8Header (descriptor extensions are skipped in case a server
// adds them), and whether the packet starts a key frame.
func vp8ProbeOffset(p []byte) (off int, key, ok bool) {
	if len(p) < 1 {
		return 0, false, false
	}
	d := p[0]
	i := 1
	if d&0x80 != 0 { // X
		if len(p) < 2 {
			return 0, false, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return 0, false, false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	if d&0x10 != 0 && d&0x07 == 0 { // start of partition 0: frame header
		if len(p) <= i {
			return 0, false, false
		}
		if p[i]&1 == 0 {
			return i + vp8KeyHeaderLen, true, true
		}
		return i + vp8DeltaTagLen, false, true
	}
	return i, false, true
}

// rtpPayload returns the payload of the RTP packet b without allocating.
func rtpPayload(b []byte) ([]byte, bool) {
	if len(b) < rtpHeaderMinSize || b[0]>>6 != 2 {
		return nil, false
	}
	off := rtpHeaderMinSize + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // extension
		if len(b) < off+4 {
			return nil, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding
		if end == 0 {
			return nil, false
		}
		end -= int(b[end-1])
	}
	if off > end {
		return nil, false
	}
	return b[off:end], true
}
