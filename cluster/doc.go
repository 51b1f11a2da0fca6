// Package cluster spreads channels over several gosfu nodes, with NATS as
// the distributed engine: embedded in the process (StartEmbedded, nodes
// joined by routes) or an existing NATS cluster (Config.NATSURL).
//
// Each channel lives on one node, its owner. Ownership is a JetStream
// key-value bucket (channel → node name) claimed with create-if-absent by
// the first node that gets a connect for the channel, released when the
// channel empties and kept alive by the owner's heartbeats, so that a
// crashed owner's channels expire after Config.TTL and the next connect
// claims them elsewhere. Nodes register themselves (signaling URL, load,
// draining) in a second bucket with the same TTL.
//
// A Node adapts one sfu.Engine. Its SignalingHandler answers a connect for
// a channel owned by another node with Sora's redirect message (the
// client re-sends connect there with "redirect": true); a new channel is
// claimed here unless this node is draining or over Config.MaxConnections,
// then the client is sent to the least-loaded live node. Its APIHandler
// serves Sora's management API against any node: channel-scoped calls
// are answered by the owner over NATS request/reply (status and body
// unchanged), ListChannels, ListConnections and GetAllRemoteStats gather
// every live node's answer, GetStatsReport stays per node, and
// Sora_20211215.ListClusterNodes lists the nodes.
//
// Anything that can publish on the NATS subjects gosfu.api.<node> can
// call the management API of that node: NATS is the trust boundary, so
// give an external NATS cluster the protection of an internal network
// (or NATS accounts and credentials through Config.NATSOptions).
//
// A channel spanning nodes (each node serving its own subscribers, fed by
// a relay) is not done yet; ownership is per channel so that step can
// replace one owner by a set of nodes.
package cluster
