package srtpkeys

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"sync"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/srtp/v3"
)

var (
	// ErrIncomplete means the key log line or the ServerHello is missing,
	// as it always is when the local side was the DTLS client.
	ErrIncomplete = errors.New("srtpkeys: handshake not observed")
	// ErrUnsupported means the handshake chose a cipher suite whose PRF
	// hash or an SRTP profile this package does not know.
	ErrUnsupported = errors.New("srtpkeys: unsupported cipher suite or SRTP profile")

	errMalformed = errors.New("srtpkeys: malformed key log line")
	errContext   = errors.New("srtpkeys: exporter context not supported")
)

const (
	keyLogLabel = "CLIENT_RANDOM" // the only NSS key log label pion/dtls writes
	randomLen   = 32              // RFC 5246 section 7.4.1.2
	secretLen   = 48              // RFC 5246 section 8.1; RFC 7627 keeps the length
	// maxLine is the length of the one line pion writes per handshake.
	// Write accepts exactly that, which also bounds what it parses.
	maxLine = len(keyLogLabel) + 1 + 2*randomLen + 1 + 2*secretLen + 1
)

// Keys are the SRTP master keys and salts of one DTLS handshake, seen from
// its server side: Key and Salt protect what the server sends, RemoteKey
// and RemoteSalt what the client sends.
type Keys struct {
	Profile               srtp.ProtectionProfile
	Key, Salt             []byte
	RemoteKey, RemoteSalt []byte
}

// Catcher observes one DTLS handshake (one PeerConnection's) through
// pion's hooks. Safe for concurrent use. The zero value is ready to use.
type Catcher struct {
	mu sync.Mutex
	s  seen
}

// seen is what the hooks recorded. Keys copies it so the PRF runs unlocked.
type seen struct {
	haveLog, haveHello         bool
	clientRandom, serverRandom [randomLen]byte
	secret                     [secretLen]byte
	suite                      dtls.CipherSuiteID
	profile                    dtls.SRTPProtectionProfile
}

// Write is the key log writer for SettingEngine.SetDTLSKeyLogWriter. It
// expects one whole "CLIENT_RANDOM <hex> <hex>\n" line per call, which is
// how pion/dtls writes it (a single Fprintf). Anything else is rejected
// and leaves the Catcher unchanged.
func (c *Catcher) Write(p []byte) (int, error) {
	if len(p) != maxLine || p[len(p)-1] != '\n' {
		return 0, errMalformed
	}
	fields := bytes.Split(p[:len(p)-1], []byte(" "))
	if len(fields) != 3 || string(fields[0]) != keyLogLabel ||
		len(fields[1]) != 2*randomLen || len(fields[2]) != 2*secretLen {
		return 0, errMalformed
	}
	var random [randomLen]byte
	var secret [secretLen]byte
	if _, err := hex.Decode(random[:], fields[1]); err != nil {
		return 0, errMalformed
	} else if _, err := hex.Decode(secret[:], fields[2]); err != nil {
		return 0, errMalformed
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.clientRandom, c.s.secret, c.s.haveLog = random, secret, true
	return len(p), nil
}

// ServerHello is the hook for SettingEngine.SetDTLSServerHelloMessageHook.
// It records the server random, the cipher suite and the first use_srtp
// profile, and returns the message unchanged so pion sends what it built.
func (c *Catcher) ServerHello(m handshake.MessageServerHello) handshake.Message {
	var suite dtls.CipherSuiteID
	if m.CipherSuiteID != nil {
		suite = dtls.CipherSuiteID(*m.CipherSuiteID)
	}
	var profile dtls.SRTPProtectionProfile
	for _, e := range m.Extensions {
		if u, ok := e.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) > 0 {
			profile = u.ProtectionProfiles[0]
			break
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.serverRandom = m.Random.MarshalFixed()
	c.s.suite, c.s.profile, c.s.haveHello = suite, profile, true
	return &m
}

// Keys returns the server's (local, isClient=false) SRTP master key and
// salt, and the client's (remote) ones. It returns ErrIncomplete until both hooks have fired, and
// ErrUnsupported when the ServerHello chose a cipher suite or SRTP profile
// (or no use_srtp at all) that this package does not know.
func (c *Catcher) Keys() (Keys, error) {
	c.mu.Lock()
	s := c.s
	c.mu.Unlock()
	if !s.haveLog || !s.haveHello {
		return Keys{}, ErrIncomplete
	}
	h, okHash := prfHash[s.suite]
	profile, okProfile := srtpProfiles[s.profile]
	if !okHash || !okProfile {
		return Keys{}, ErrUnsupported
	}

	x := &exporter{hash: h, secret: s.secret[:]}
	x.randoms = append(append(x.randoms, s.clientRandom[:]...), s.serverRandom[:]...)
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(x, false); err != nil {
		return Keys{}, err
	}
	// Clone each: pion's keys and salts share one backing array.
	k := &cfg.Keys
	return Keys{
		Profile:    profile,
		Key:        bytes.Clone(k.LocalMasterKey),
		Salt:       bytes.Clone(k.LocalMasterSalt),
		RemoteKey:  bytes.Clone(k.RemoteMasterKey),
		RemoteSalt: bytes.Clone(k.RemoteMasterSalt),
	}, nil
}

// exporter is RFC 5705's keying material exporter computed as pion/dtls's
// State.ExportKeyingMaterial does, from the pieces the hooks saw.
type exporter struct {
	hash    func() hash.Hash
	secret  []byte
	randoms []byte // client random then server random
}

func (x *exporter) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if len(context) != 0 {
		return nil, errContext // pion/dtls does not support one either
	}
	seed := append([]byte(label), x.randoms...)
	return prf.PHash(x.secret, seed, length, x.hash)
}

// prfHash is the TLS 1.2 PRF hash of each certificate cipher suite
// pion/dtls v3 implements (internal/ciphersuite HashFunc). PSK suites are
// left out: webrtc never negotiates them.
var prfHash = map[dtls.CipherSuiteID]func() hash.Hash{
	dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       sha512.New384,
	dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         sha512.New384,
	dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       sha256.New,
	dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         sha256.New,
	dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          sha256.New, // the TLS 1.2 PRF, not SHA-1
	dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            sha256.New,
	dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM:              sha256.New,
	dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8:            sha256.New,
	dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: sha256.New,
	dtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   sha256.New,
}

// srtpProfiles maps each use_srtp profile this package handles to pion/srtp's.
var srtpProfiles = map[dtls.SRTPProtectionProfile]srtp.ProtectionProfile{
	dtls.SRTP_AEAD_AES_128_GCM:       srtp.ProtectionProfileAeadAes128Gcm,
	dtls.SRTP_AEAD_AES_256_GCM:       srtp.ProtectionProfileAeadAes256Gcm,
	dtls.SRTP_AES128_CM_HMAC_SHA1_80: srtp.ProtectionProfileAes128CmHmacSha1_80,
	dtls.SRTP_AES128_CM_HMAC_SHA1_32: srtp.ProtectionProfileAes128CmHmacSha1_32,
}
