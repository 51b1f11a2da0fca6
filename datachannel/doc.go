// Package datachannel is the pure logic of Sora's DataChannel signaling
// and messaging: the labels, the client's data_channels entries and their
// validation, the framing of a messaging payload (zlib compression and
// the sender-connection-id header) and the per-connection limits.
//
// It sits below the root sfu package, which owns the pion DataChannels
// and the fan-out of a channel's messages, and it imports nothing of
// pion, so it is tested without a network.
//
// Guarantees: a Spec list that passes Validate has at most MaxSpecs
// entries, each a "#" label of at most MaxLabelLength bytes, a known
// direction, at most one of max_packet_life_time and max_retransmits, and
// a header of at most the sender's connection id. Decompress never
// returns more than the limit it is given, whatever the input.
package datachannel
