package srtpkeys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/srtp/v3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestKeysMatchPion runs real DTLS handshakes on loopback and checks that
// what the Catcher derives from the hooks is byte-equal to what pion/srtp
// extracts from the server's own DTLS state.
func TestKeysMatchPion(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecCert := selfSigned(t, ecKey)
	rsaCert := selfSigned(t, rsaKey)

	cases := []struct {
		name    string
		cert    tls.Certificate
		suite   dtls.CipherSuiteID
		profile dtls.SRTPProtectionProfile
		ems     dtls.ExtendedMasterSecretType
		want    srtp.ProtectionProfile
	}{
		{"AES_128_GCM_SHA256/AEAD_AES_128_GCM", ecCert,
			dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM,
			dtls.RequestExtendedMasterSecret, srtp.ProtectionProfileAeadAes128Gcm},
		{"AES_256_GCM_SHA384/AEAD_AES_256_GCM/EMS_required", ecCert,
			dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.SRTP_AEAD_AES_256_GCM,
			dtls.RequireExtendedMasterSecret, srtp.ProtectionProfileAeadAes256Gcm},
		{"AES_256_CBC_SHA/AES128_CM_HMAC_SHA1_80", ecCert,
			dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.SRTP_AES128_CM_HMAC_SHA1_80,
			dtls.RequestExtendedMasterSecret, srtp.ProtectionProfileAes128CmHmacSha1_80},
		{"CHACHA20_POLY1305/AES128_CM_HMAC_SHA1_32/no_EMS", ecCert,
			dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, dtls.SRTP_AES128_CM_HMAC_SHA1_32,
			dtls.DisableExtendedMasterSecret, srtp.ProtectionProfileAes128CmHmacSha1_32},
		{"RSA_AES_256_GCM_SHA384/AEAD_AES_128_GCM", rsaCert,
			dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, dtls.SRTP_AEAD_AES_128_GCM,
			dtls.RequestExtendedMasterSecret, srtp.ProtectionProfileAeadAes128Gcm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var server, client Catcher
			conn := dial(t, tc.cert, &server, &client,
				dtls.WithCipherSuites(tc.suite),
				dtls.WithSRTPProtectionProfiles(tc.profile),
				dtls.WithExtendedMasterSecret(tc.ems))

			state, ok := conn.ConnectionState()
			if !ok {
				t.Fatal("server ConnectionState not available")
			}
			if state.CipherSuiteID != tc.suite {
				t.Fatalf("negotiated suite %v, want %v", state.CipherSuiteID, tc.suite)
			}
			if p, _ := conn.SelectedSRTPProtectionProfile(); p != tc.profile {
				t.Fatalf("negotiated SRTP profile %v, want %v", p, tc.profile)
			}
			want := srtp.Config{Profile: tc.want}
			if err := want.ExtractSessionKeysFromDTLS(&state, false); err != nil {
				t.Fatal(err)
			}

			got, err := server.Keys()
			if err != nil {
				t.Fatalf("Keys: %v", err)
			}
			if got.Profile != tc.want {
				t.Errorf("Profile = %v, want %v", got.Profile, tc.want)
			}
			// Compare without printing: these are live keys.
			if !bytes.Equal(got.Key, want.Keys.LocalMasterKey) {
				t.Error("Key differs from pion's server write key")
			}
			if !bytes.Equal(got.Salt, want.Keys.LocalMasterSalt) {
				t.Error("Salt differs from pion's server write salt")
			}
			if !bytes.Equal(got.RemoteKey, want.Keys.RemoteMasterKey) {
				t.Error("RemoteKey differs from pion's client write key")
			}
			if !bytes.Equal(got.RemoteSalt, want.Keys.RemoteMasterSalt) {
				t.Error("RemoteSalt differs from pion's client write salt")
			}

			// The client side sees the key log line but never the
			// ServerHello hook, so it cannot derive anything.
			if _, err := client.Keys(); !errors.Is(err, ErrIncomplete) {
				t.Errorf("client-side Keys error = %v, want ErrIncomplete", err)
			}
		})
	}
}

// dial completes a DTLS handshake between two UDP sockets on
// 127.0.0.1, with server's hooks on the server side and only client's key
// log writer on the client side, and returns the server's connection.
func dial(t *testing.T, cert tls.Certificate, server, client *Catcher, opts ...dtls.Option) *dtls.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	serverSock := listen(t)
	clientSock := listen(t)

	serverOpts := []dtls.ServerOption{
		dtls.WithCertificates(cert),
		dtls.WithKeyLogWriter(server),
		dtls.WithServerHelloMessageHook(server.ServerHello),
	}
	clientOpts := []dtls.ClientOption{
		dtls.WithCertificates(cert),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithKeyLogWriter(client),
	}
	for _, o := range opts {
		serverOpts = append(serverOpts, o)
		clientOpts = append(clientOpts, o)
	}
	sconn, err := dtls.ServerWithOptions(serverSock, clientSock.LocalAddr(), serverOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sconn.Close() })
	cconn, err := dtls.ClientWithOptions(clientSock, serverSock.LocalAddr(), clientOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cconn.Close() })

	serverDone := make(chan error, 1)
	go func() { serverDone <- sconn.HandshakeContext(ctx) }()
	clientErr := cconn.HandshakeContext(ctx)
	if clientErr != nil {
		cancel() // so the server side gives up too
	}
	if err := <-serverDone; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if clientErr != nil {
		t.Fatalf("client handshake: %v", clientErr)
	}
	return sconn
}

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func selfSigned(t *testing.T, key any) tls.Certificate {
	t.Helper()
	cert, err := selfsign.SelfSign(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// A well-formed key log line with a made-up (all 0x11) random and (all
// 0x22) master secret.
var goodLine = "CLIENT_RANDOM " + strings.Repeat("11", randomLen) + " " + strings.Repeat("22", secretLen) + "\n"

func hello(suite dtls.CipherSuiteID, profiles ...dtls.SRTPProtectionProfile) handshake.MessageServerHello {
	id := uint16(suite)
	m := handshake.MessageServerHello{CipherSuiteID: &id}
	m.Random.RandomBytes[0] = 0x33
	if profiles != nil {
		m.Extensions = append(m.Extensions, &extension.UseSRTP{ProtectionProfiles: profiles})
	}
	return m
}

func TestIncomplete(t *testing.T) {
	var c Catcher
	if _, err := c.Keys(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Keys before any hook: %v, want ErrIncomplete", err)
	}

	if _, err := c.Write([]byte(goodLine)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Keys(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Keys with only a key log line: %v, want ErrIncomplete", err)
	}

	var h Catcher
	h.ServerHello(hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM))
	if _, err := h.Keys(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Keys with only a ServerHello: %v, want ErrIncomplete", err)
	}
}

func TestWriteMalformed(t *testing.T) {
	rnd, sec := strings.Repeat("ab", randomLen), strings.Repeat("cd", secretLen)
	cases := map[string]string{
		"empty":          "",
		"newline only":   "\n",
		"no newline":     strings.TrimSuffix(goodLine, "\n"),
		"wrong label":    "SERVER_RANDOM " + rnd + " " + sec + "\n",
		"TLS 1.3 label":  "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + rnd + " " + sec + "\n",
		"short random":   "CLIENT_RANDOM " + rnd[2:] + " " + sec + "00\n",
		"short secret":   "CLIENT_RANDOM " + rnd + "00 " + sec[2:] + "\n",
		"not hex":        "CLIENT_RANDOM " + rnd[:62] + "zz " + sec + "\n",
		"tabs":           "CLIENT_RANDOM\t" + rnd + "\t" + sec + "\n",
		"extra field":    "CLIENT_RANDOM " + rnd + " " + sec[:94] + " x\n",
		"two lines":      goodLine + goodLine,
		"overlong":       goodLine + strings.Repeat("x", 1<<20),
		"crlf":           "CLIENT_RANDOM " + rnd + " " + sec[:95] + "\r\n",
		"leading space":  " CLIENT_RANDOM " + rnd + " " + sec[:95] + "\n",
		"label only":     "CLIENT_RANDOM\n",
		"missing secret": "CLIENT_RANDOM " + rnd + "\n",
	}
	for name, line := range cases {
		t.Run(name, func(t *testing.T) {
			var c Catcher
			n, err := c.Write([]byte(line))
			if err == nil {
				t.Fatal("Write accepted a malformed line")
			}
			if n != 0 {
				t.Errorf("Write returned n = %d, want 0", n)
			}
			// Nothing was recorded: with a valid ServerHello the
			// handshake is still incomplete.
			c.ServerHello(hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM))
			if _, err := c.Keys(); !errors.Is(err, ErrIncomplete) {
				t.Errorf("Keys after a malformed line: %v, want ErrIncomplete", err)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	cases := map[string]handshake.MessageServerHello{
		"PSK suite":         hello(dtls.TLS_PSK_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM),
		"unknown suite":     hello(0xfefe, dtls.SRTP_AEAD_AES_128_GCM),
		"no suite":          {Extensions: []extension.Extension{&extension.UseSRTP{ProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM}}}},
		"NULL profile":      hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_NULL_HMAC_SHA1_80),
		"AES256_CM profile": hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AES256_CM_SHA1_80),
		"no use_srtp":       hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
		"empty use_srtp":    hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, []dtls.SRTPProtectionProfile{}...),
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			var c Catcher
			if _, err := c.Write([]byte(goodLine)); err != nil {
				t.Fatal(err)
			}
			c.ServerHello(m)
			if _, err := c.Keys(); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Keys: %v, want ErrUnsupported", err)
			}
		})
	}
}

func TestServerHelloUnchanged(t *testing.T) {
	var c Catcher
	m := hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM)
	got, ok := c.ServerHello(m).(*handshake.MessageServerHello)
	if !ok {
		t.Fatalf("ServerHello returned %T, want *handshake.MessageServerHello", got)
	}
	if !reflect.DeepEqual(*got, m) {
		t.Fatal("ServerHello changed the message")
	}
}

func TestKeysReturnsCopies(t *testing.T) {
	var c Catcher
	if _, err := c.Write([]byte(goodLine)); err != nil {
		t.Fatal(err)
	}
	c.ServerHello(hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AES128_CM_HMAC_SHA1_80))
	first, err := c.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Key) != 16 || len(first.Salt) != 14 {
		t.Fatalf("key/salt lengths %d/%d, want 16/14", len(first.Key), len(first.Salt))
	}
	parts := func(k Keys) [][]byte { return [][]byte{k.Key, k.Salt, k.RemoteKey, k.RemoteSalt} }
	var saved [][]byte
	for _, p := range parts(first) {
		saved = append(saved, bytes.Clone(p))
	}
	// Appending to one part must not reach into the next, and scribbling
	// on any must not change what the next call returns.
	for i, p := range parts(first)[:3] {
		_ = append(p, 0xff)
		if next := parts(first)[i+1]; !bytes.Equal(next, saved[i+1]) {
			t.Fatalf("appending to part %d changed part %d", i, i+1)
		}
	}
	for _, p := range parts(first) {
		clear(p)
	}
	second, err := c.Keys()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range parts(second) {
		if !bytes.Equal(p, saved[i]) {
			t.Fatalf("part %d of Keys is not stable across calls or shares memory with an earlier result", i)
		}
	}
}

// TestConcurrent exercises the hooks and Keys from several goroutines; it
// is meant for -race.
func TestConcurrent(t *testing.T) {
	var c Catcher
	m := hello(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.SRTP_AEAD_AES_256_GCM)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				_, _ = c.Write([]byte(goodLine))
				c.ServerHello(m)
				if _, err := c.Keys(); err != nil && !errors.Is(err, ErrIncomplete) {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if _, err := c.Keys(); err != nil {
		t.Fatal(err)
	}
}
