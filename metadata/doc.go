// Package metadata keeps the signaling-notify metadata of a channel's
// connections: the per-participant state (a name, a muted microphone, a
// raised hand) that clients set at connect with signaling_notify_metadata
// and that the management API reads and changes.
//
// A Store is pure logic: it knows nothing of WebRTC. The engine seeds it
// at connect, shows its values in notifies, and builds the push messages
// with [PushData] when an API change asks for one.
//
// Layering: a feature package below the root sfu package; it imports
// nothing of gosfu or pion. Guarantees: a Store is safe for concurrent
// use, bounds each connection's metadata to the size given to
// [NewStore].
package metadata
