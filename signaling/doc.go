// Package signaling serves Sora's WebSocket signaling over an
// [sfu.Engine]: mount [NewHandler] on a mux and the official Sora SDKs
// (sora-js-sdk and others) connect, publish and subscribe through it.
//
// The protocol: the client sends connect; the server answers with an offer
// carrying every server ICE candidate inline; the client answers and
// trickles its candidates; the server re-offers when publishers join or
// leave (one negotiation at a time), pings every few seconds, and sends
// notify and push messages. A client's disconnect message closes the
// socket at once with code 1000.
//
// Bad input (a non-JSON or binary frame, a frame over the size limit, a
// first message that is not connect, an invalid connect) closes the
// socket with code 4490 and a reason such as INVALID-ROLE or
// MISSING-CHANNEL-ID; the Reason constants list them.
package signaling
