package forward

import "strings"

// Key-frame detection: pure functions on an RTP payload (the bytes after
// the RTP header and before any padding). Each one looks only at the first
// packet of a frame: a down-track that waits for a key frame starts at the
// packet that reports true and forwards the rest of that frame after it.

// codecKind selects the key-frame detector of a source.
type codecKind uint8

const (
	codecOther codecKind = iota // audio, or a codec we cannot parse
	codecVP8
	codecVP9
	codecAV1
	codecH264
)

func codecKindOf(mime string) codecKind {
	switch strings.ToLower(mime) {
	case "video/vp8":
		return codecVP8
	case "video/vp9":
		return codecVP9
	case "video/av1":
		return codecAV1
	case "video/h264":
		return codecH264
	}
	return codecOther
}

// isKeyFrame reports whether payload starts a key frame of codec k.
func isKeyFrame(k codecKind, payload []byte) bool {
	switch k {
	case codecVP8:
		return IsVP8KeyFrame(payload)
	case codecVP9:
		return IsVP9KeyFrame(payload)
	case codecAV1:
		return IsAV1KeyFrame(payload)
	case codecH264:
		return IsH264KeyFrame(payload)
	}
	return false
}

// IsVP8KeyFrame reports whether an RTP payload (RFC 7741) is the first
// packet of a VP8 key frame: start of partition 0 (S=1, PID=0) and the
// P bit of the VP8 payload header clear.
func IsVP8KeyFrame(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	if b0&0x10 == 0 || b0&0x07 != 0 { // S bit, partition index
		return false
	}
	i := 1
	if b0&0x80 != 0 { // X: extension byte follows
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0 // P bit: 0 = key frame
}

// IsVP9KeyFrame reports whether an RTP payload (RFC 9628) is the first
// packet of a VP9 key frame: not inter-picture predicted (P=0), beginning
// of a frame (B=1), and the base spatial layer when layer indices are
// present. This holds in both flexible (F=1) and non-flexible mode.
func IsVP9KeyFrame(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	const (
		flagI = 0x80
		flagP = 0x40
		flagL = 0x20
		flagB = 0x08
	)
	if b0&flagP != 0 || b0&flagB == 0 {
		return false
	}
	if b0&flagL == 0 {
		return true
	}
	i := 1
	if b0&flagI != 0 {
		if len(p) <= i {
			return false
		}
		if p[i]&0x80 != 0 { // M: 15-bit picture id
			i++
		}
		i++
	}
	if len(p) <= i {
		return false
	}
	sid := (p[i] >> 1) & 0x07 // TID(3) U(1) SID(3) D(1)
	return sid == 0
}

// IsAV1KeyFrame reports whether an RTP payload (AV1 RTP specification) is
// the first packet of a key frame: the aggregation header's N bit (first
// packet of a coded video sequence), or a first OBU that starts here
// (Z=0) and is a sequence header.
func IsAV1KeyFrame(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	agg := p[0]
	if agg&0x08 != 0 { // N
		return true
	}
	if agg&0x80 != 0 { // Z: first element continues an earlier OBU
		return false
	}
	i := 1
	if (agg>>4)&0x03 != 1 { // W != 1: the first element has a LEB128 length
		// W == 0: every element has one; W >= 2: all but the last do.
		for ; i < len(p) && p[i]&0x80 != 0; i++ {
			if i >= 9 {
				return false
			}
		}
		i++
	}
	if len(p) <= i {
		return false
	}
	const obuSequenceHeader = 1
	return (p[i]>>3)&0x0f == obuSequenceHeader
}

// IsH264KeyFrame reports whether an RTP payload (RFC 6184) carries an IDR
// slice or an SPS: a single NAL unit of type 5 or 7, a STAP-A holding one,
// or the start fragment of an FU-A of such a NAL unit.
func IsH264KeyFrame(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	const (
		naluIDR   = 5
		naluSPS   = 7
		naluSTAPA = 24
		naluFUA   = 28
	)
	switch t := p[0] & 0x1f; t {
	case naluIDR, naluSPS:
		return true
	case naluSTAPA:
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if nt := p[i] & 0x1f; nt == naluIDR || nt == naluSPS {
				return true
			}
			i += size
		}
	case naluFUA:
		if len(p) < 2 || p[1]&0x80 == 0 { // S: start fragment
			return false
		}
		nt := p[1] & 0x1f
		return nt == naluIDR || nt == naluSPS
	}
	return false
}
