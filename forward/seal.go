package forward

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// sealer seals the RTP packets of one sending stream (one SSRC) with
// SRTP.
type sealer interface {
	// seal appends the packet of header h and payload, sealed, to dst,
	// within dst's capacity.
	seal(dst []byte, h *rtp.Header, payload []byte) ([]byte, error)
}

// newSealer returns the sealer for profile: the engine's own for the AEAD
// profiles, pion's SRTP context for the others.
func newSealer(profile srtp.ProtectionProfile, key, salt []byte) (sealer, error) {
	switch profile {
	case srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm:
		return newGCMSealer(key, salt)
	}
	ctx, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		return nil, err
	}
	return &pionSealer{ctx: ctx}, nil
}

// pionSealer seals with pion's SRTP context, which parses the header it
// is given again, and looks its stream up in a map, per packet.
type pionSealer struct{ ctx *srtp.Context }

func (s *pionSealer) seal(dst []byte, h *rtp.Header, payload []byte) ([]byte, error) {
	n, err := sealHeader(dst, h, len(payload), sealSpace)
	if err != nil {
		return nil, err
	}
	plain := dst[:n+copy(dst[n:cap(dst)], payload)]
	return s.ctx.EncryptRTP(plain[:0], plain, h)
}

// gcmSealer is AEAD_AES_128_GCM or AEAD_AES_256_GCM SRTP (RFC 7714) for
// one stream (see packetIndex), straight on crypto/cipher: the header is the additional
// data, the payload is encrypted in place and the 16-byte tag follows.
type gcmSealer struct {
	aead  cipher.AEAD
	salt  [12]byte // the session salt
	nonce [12]byte
	index packetIndex
}

var errGCMKeys = errors.New("forward: AEAD SRTP needs a 16 or 32-byte master key and a 12-byte master salt")

// SRTP key derivation labels (RFC 3711 section 4.3.2).
const (
	labelEncryption = 0x00
	labelSalt       = 0x02
)

func newGCMSealer(masterKey, masterSalt []byte) (*gcmSealer, error) {
	if len(masterKey) != 16 && len(masterKey) != 32 || len(masterSalt) != 12 {
		return nil, errGCMKeys
	}
	s := &gcmSealer{}
	key := make([]byte, len(masterKey))
	if err := deriveSessionKey(key, masterKey, masterSalt, labelEncryption); err != nil {
		return nil, err
	}
	if err := deriveSessionKey(s.salt[:], masterKey, masterSalt, labelSalt); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return s, nil
}

// deriveSessionKey fills out with the session key of label: the SRTP key
// derivation function (RFC 3711 section 4.3.1, 4.3.3) with a key
// derivation rate of 0, AES in counter mode under the master key from
// the master salt with the label in its eighth byte. RFC 7714 keeps it
// for the AEAD profiles, with their 12-byte master salt.
func deriveSessionKey(out, masterKey, masterSalt []byte, label byte) error {
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return err
	}
	var iv [aes.BlockSize]byte
	copy(iv[:], masterSalt)
	iv[7] ^= label
	clear(out)
	cipher.NewCTR(block, iv[:]).XORKeyStream(out, out)
	return nil
}

// gcmTagSize is the AEAD profiles' authentication tag size (RFC 7714).
const gcmTagSize = 16

// sealSpace is the most sealing adds to a packet: the GCM tag
// (HMAC-SHA1-80 adds 10).
const sealSpace = gcmTagSize

func (s *gcmSealer) seal(dst []byte, h *rtp.Header, payload []byte) ([]byte, error) {
	hn, err := sealHeader(dst, h, len(payload), gcmTagSize)
	if err != nil {
		return nil, err
	}
	// The IV (RFC 7714 section 8.1): 0, SSRC, rollover counter and
	// sequence number, exclusive-or the session salt.
	i := s.index.next(h.SSRC, h.SequenceNumber)
	n := &s.nonce
	n[0], n[1] = 0, 0
	binary.BigEndian.PutUint32(n[2:], h.SSRC)
	binary.BigEndian.PutUint32(n[6:], uint32(i>>16))
	binary.BigEndian.PutUint16(n[10:], h.SequenceNumber)
	for j := range n {
		n[j] ^= s.salt[j]
	}
	// Straight from the source's payload, which every down-track
	// shares, into dst: no copy of the plain text per subscriber.
	sealed := s.aead.Seal(dst[hn:hn], n[:], payload, dst[:hn])
	return dst[:hn+len(sealed)], nil
}

// sealHeader writes h to dst[:cap(dst)] and returns its size, once it
// has checked that dst's capacity also holds payloadLen bytes and tagLen
// bytes of tag behind it. A sealer calls it before it advances its
// stream, so a packet that does not fit leaves the stream as it was.
func sealHeader(dst []byte, h *rtp.Header, payloadLen, tagLen int) (int, error) {
	n, err := marshalHeader(dst, h)
	if err != nil {
		return 0, err
	}
	if n+payloadLen+tagLen > cap(dst) {
		return 0, errPacketTooLarge
	}
	return n, nil
}

// marshalHeader writes h to dst[:cap(dst)] and returns its size: by hand
// for the down-tracks' headers (no CSRC, no extension), else as
// rtp.Header does.
func marshalHeader(dst []byte, h *rtp.Header) (int, error) {
	if len(h.CSRC) != 0 || h.Extension {
		return h.MarshalTo(dst[:cap(dst)])
	}
	if cap(dst) < 12 {
		return 0, errPacketTooLarge
	}
	b := dst[:12]
	b[0] = h.Version << 6
	if h.Padding {
		b[0] |= 1 << 5
	}
	b[1] = h.PayloadType & 0x7f
	if h.Marker {
		b[1] |= 1 << 7
	}
	binary.BigEndian.PutUint16(b[2:], h.SequenceNumber)
	binary.BigEndian.PutUint32(b[4:], h.Timestamp)
	binary.BigEndian.PutUint32(b[8:], h.SSRC)
	return 12, nil
}

// packetIndex is a sender's SRTP packet index (RFC 3711 section 3.3.1):
// the rollover counter and the sequence number. A sequence number is
// taken as the one nearest to the highest sent, so that a retransmission
// of an older packet gets the index it was first sent with. A down-track
// binding sends one SSRC; another SSRC starts a new stream.
type packetIndex struct {
	ssrc    uint32
	highest uint64
	started bool
}

func (x *packetIndex) next(ssrc uint32, seq uint16) uint64 {
	if !x.started || ssrc != x.ssrc {
		x.started, x.ssrc, x.highest = true, ssrc, uint64(seq)
		return x.highest
	}
	i := int64(x.highest) + int64(int16(seq-uint16(x.highest)))
	if i < 0 {
		i += 1 << 16 // before the first wrap: the rollover counter stays 0
	}
	if uint64(i) > x.highest {
		x.highest = uint64(i)
	}
	return uint64(i)
}
