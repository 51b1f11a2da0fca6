// Package srtpkeys recovers the SRTP master key and salt that the DTLS
// server side of a pion/webrtc PeerConnection sends with, so that the
// engine can seal subscriber RTP itself instead of going through pion's
// per-track SRTP write path.
//
// pion keeps a PeerConnection's DTLS-SRTP keys private: the DTLS
// connection and its keying material exporter never leave DTLSTransport.
// Two SettingEngine hooks leak just enough to redo the derivation:
// SetDTLSKeyLogWriter receives the client random and the master secret
// as an NSS key log line, and SetDTLSServerHelloMessageHook sees the
// ServerHello with the server random, the chosen cipher suite and the
// negotiated use_srtp profile. With those, [Catcher.Keys] runs the RFC 5705
// exporter the way pion/dtls does and splits its output as RFC 5764 says,
// using pion/srtp's own split.
//
// The ServerHello hook only runs when the local side is the DTLS server.
// When pion is the DTLS client the key log line arrives but the server
// random never does, so Keys reports [ErrIncomplete] and the caller keeps
// using pion's SRTP path for that PeerConnection.
//
// Both hooks are per SettingEngine, so a [Catcher] is only meaningful when
// the SettingEngine (and so the webrtc.API) it is installed in serves a
// single PeerConnection.
//
// Layering: an internal helper of the root sfu package, which gives each
// connection its own webrtc.API with a Catcher, and hands the keys to
// forward's egress and ingress. A Catcher is safe for concurrent use
// (pion calls the hooks from its handshake goroutine while the engine
// asks for the keys), and Keys returns copies.
package srtpkeys
