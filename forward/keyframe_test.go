package forward

import "testing"

func TestKeyFrameDetection(t *testing.T) {
	tests := []struct {
		name  string
		codec codecKind
		p     []byte
		want  bool
	}{
		// VP8 (RFC 7741): descriptor, then the payload header whose bit 0
		// is P (0 = key frame).
		{"vp8 key, minimal descriptor", codecVP8, []byte{0x10, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a}, true},
		{"vp8 inter frame", codecVP8, []byte{0x10, 0x51, 0x01}, false},
		{"vp8 key, not start of partition", codecVP8, []byte{0x00, 0x50}, false},
		{"vp8 key, partition 1", codecVP8, []byte{0x11, 0x50}, false},
		{"vp8 key, X with 15-bit picture id, L, T/K", codecVP8, []byte{0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x50, 0x9d}, true},
		{"vp8 inter, X with 7-bit picture id", codecVP8, []byte{0x90, 0x80, 0x12, 0x31}, false},
		{"vp8 key, X with 7-bit picture id", codecVP8, []byte{0x90, 0x80, 0x12, 0x30}, true},
		{"vp8 truncated", codecVP8, []byte{0x90, 0x80}, false},
		{"vp8 empty", codecVP8, nil, false},
		// VP9 (RFC 9628): I P L F B E V Z.
		{"vp9 key, non-flexible with layers, sid 0", codecVP9, []byte{0xaa, 0x80, 0x01, 0x00, 0x12}, true},
		{"vp9 key, flexible mode, I+L", codecVP9, []byte{0xb8, 0x05, 0x00}, true},
		{"vp9 spatial layer 1 of key picture", codecVP9, []byte{0xb8, 0x05, 0x02}, false},
		{"vp9 inter (P set)", codecVP9, []byte{0xc8, 0x05}, false},
		{"vp9 key, not beginning of frame", codecVP9, []byte{0x84, 0x05}, false},
		{"vp9 key, no layer indices", codecVP9, []byte{0x8e, 0x05}, true},
		{"vp9 truncated layers", codecVP9, []byte{0xa8, 0x85}, false},
		// AV1: aggregation header Z Y W(2) N rsv(3); OBU header type in bits 6..3.
		{"av1 N bit", codecAV1, []byte{0x18, 0x0a, 0x0b}, true},
		{"av1 sequence header, W=1", codecAV1, []byte{0x10, 0x08, 0x00}, true},
		{"av1 sequence header, W=0 with length", codecAV1, []byte{0x00, 0x05, 0x08, 0, 0, 0, 0}, true},
		{"av1 sequence header, W=2, 2-byte length", codecAV1, []byte{0x20, 0x81, 0x01, 0x08}, true},
		{"av1 frame OBU only", codecAV1, []byte{0x10, 0x30, 0x00}, false},
		{"av1 continuation (Z)", codecAV1, []byte{0x90, 0x08}, false},
		// H264 (RFC 6184).
		{"h264 IDR", codecH264, []byte{0x65, 0x88}, true},
		{"h264 SPS", codecH264, []byte{0x67, 0x42}, true},
		{"h264 non-IDR slice", codecH264, []byte{0x41, 0x9a}, false},
		{"h264 STAP-A SPS+PPS", codecH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 STAP-A SEI only", codecH264, []byte{0x78, 0x00, 0x02, 0x06, 0x05}, false},
		{"h264 STAP-A bad size", codecH264, []byte{0x78, 0x00, 0x09, 0x67}, false},
		{"h264 FU-A start of IDR", codecH264, []byte{0x7c, 0x85, 0xb8}, true},
		{"h264 FU-A middle of IDR", codecH264, []byte{0x7c, 0x05, 0xb8}, false},
		{"h264 FU-A start of non-IDR", codecH264, []byte{0x5c, 0x81, 0x9a}, false},
		{"opus never", codecOther, []byte{0xfc, 0xff}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isKeyFrame(tt.codec, tt.p); got != tt.want {
				t.Errorf("isKeyFrame(%x) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestCodecKindOf(t *testing.T) {
	for mime, want := range map[string]codecKind{
		"video/VP8": codecVP8, "video/vp9": codecVP9, "video/AV1": codecAV1, "video/H264": codecH264, "audio/opus": codecOther,
	} {
		if got := codecKindOf(mime); got != want {
			t.Errorf("codecKindOf(%q) = %v, want %v", mime, got, want)
		}
	}
}
