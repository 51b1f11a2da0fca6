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
// DataChannel signaling: a client that sends data_channel_signaling true
// (or gets it from sfu.DataChannelOptions) gets an offer with an
// application m-line and a data_channels list: the server's signaling,
// notify, push and stats DataChannels and one per "#" label it asked for.
// Once they are all open the server sends "switched" on the WebSocket;
// from then on re-offers and close go on signaling (where the client's
// re-answer, candidates and disconnect arrive), notifies on notify,
// pushes on push. Pings stay on the WebSocket while it is open; a client
// with ignore_disconnect_websocket closes it after "switched", and is then
// asked for its stats with req-stats on the stats DataChannel, whose
// answers also keep it alive. Without ignore_disconnect_websocket the
// WebSocket closing still ends the connection. The handler reads both
// transports through one session; a transport interface picks where each
// message goes, so the session does not care which carries it.
//
// Bad input (a non-JSON or binary frame, a frame over the size limit, a
// first message that is not connect, an invalid connect) closes the
// socket with code 4490 and a reason such as INVALID-ROLE or
// MISSING-CHANNEL-ID; the Reason constants list them. docs/api.md in the
// repository lists every message, connect key and close reason.
//
// Layering: an adapter over the root sfu package's session API
// (Engine.Connect, Connection.Answer, Connection.Events); the engine
// knows nothing of WebSockets, and another protocol would be another
// adapter beside this one.
//
// Guarantees: a Handler serves any number of clients concurrently, each
// with a reader goroutine besides the request's own, both ended when the
// client goes.
// Every message is bounded (WithMaxMessageSize), the wait for connect is
// bounded (WithConnectTimeout), and a bad message ends only its own
// connection.
package signaling
