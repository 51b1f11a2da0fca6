package forward

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// TestSealerMatchesPion: the engine's sealer writes, byte for byte, what
// pion's SRTP context writes for the same packets, across a sequence
// number wrap and for a retransmission from before it, and pion opens
// every one.
func TestSealerMatchesPion(t *testing.T) {
	for _, tc := range []struct {
		profile         srtp.ProtectionProfile
		keyLen, saltLen int
		own             bool
	}{
		{srtp.ProtectionProfileAeadAes128Gcm, 16, 12, true},
		{srtp.ProtectionProfileAeadAes256Gcm, 32, 12, true},
		{srtp.ProtectionProfileAes128CmHmacSha1_80, 16, 14, false},
	} {
		t.Run(tc.profile.String(), func(t *testing.T) {
			key, salt := make([]byte, tc.keyLen), make([]byte, tc.saltLen)
			rand.Read(key)
			rand.Read(salt)
			ours, err := newSealer(tc.profile, key, salt)
			if err != nil {
				t.Fatal(err)
			}
			if _, own := ours.(*gcmSealer); own != tc.own {
				t.Fatalf("own sealer %v, want %v", own, tc.own)
			}
			theirs, err := srtp.CreateContext(key, salt, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			opener, err := srtp.CreateContext(key, salt, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			// 65534 is retransmitted after the wrap, with its first index.
			for i, sn := range []uint16{65533, 65534, 65535, 0, 1, 65534, 2} {
				h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: sn, Timestamp: uint32(i) * 3000,
					SSRC: 0x1234, Marker: i%2 == 0}
				payload := bytes.Repeat([]byte{byte(i)}, 100+i)
				switch i % 3 {
				case 1: // a CSRC and an extension: marshalled by pion/rtp
					h.CSRC = []uint32{7}
					if err := h.SetExtension(1, []byte{0xaa, 0xbb}); err != nil {
						t.Fatal(err)
					}
				case 2: // RTP padding, as equalize adds it
					h.Padding = true
					payload = append(payload, 0, 2)
				}
				hdr, err := h.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				plain := append(hdr, payload...)
				want, err := theirs.EncryptRTP(nil, plain, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ours.seal(make([]byte, 0, len(plain)+sealSpace), &h, payload)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("packet %d (sn %d): sealed differently from pion", i, sn)
				}
				opened, err := opener.DecryptRTP(nil, got, nil)
				if err != nil || !bytes.Equal(opened, plain) {
					t.Fatalf("packet %d (sn %d): pion does not open it: %v", i, sn, err)
				}
			}
		})
	}
}

func TestSealerRejects(t *testing.T) {
	if _, err := newSealer(srtp.ProtectionProfileAeadAes128Gcm, make([]byte, 15), make([]byte, 12)); err == nil {
		t.Error("a 15-byte AEAD key was accepted")
	}
	if _, err := newSealer(srtp.ProtectionProfileAeadAes128Gcm, make([]byte, 16), make([]byte, 14)); err == nil {
		t.Error("a 14-byte AEAD salt was accepted")
	}
	// Both sealers refuse a packet with no room for its tag (the egress
	// then seals it aside), and take one with sealSpace to spare.
	for _, tc := range []struct {
		profile   srtp.ProtectionProfile
		key, salt int
	}{
		{srtp.ProtectionProfileAeadAes128Gcm, 16, 12},
		{srtp.ProtectionProfileAes128CmHmacSha1_80, 16, 14},
	} {
		s, err := newSealer(tc.profile, make([]byte, tc.key), make([]byte, tc.salt))
		if err != nil {
			t.Fatal(err)
		}
		h := rtp.Header{Version: 2, SSRC: 1}
		if _, err := s.seal(make([]byte, 0, 12+100), &h, make([]byte, 100)); !errors.Is(err, errPacketTooLarge) {
			t.Errorf("%s: no room for the tag: %v, want errPacketTooLarge", tc.profile, err)
		}
		if _, err := s.seal(make([]byte, 0, 12+100+sealSpace), &h, make([]byte, 100)); err != nil {
			t.Errorf("%s: with sealSpace to spare: %v", tc.profile, err)
		}
	}
}
