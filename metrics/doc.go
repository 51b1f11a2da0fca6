// Package metrics exposes an sfu.Engine to Prometheus.
//
// It is an adapter beside the signaling and management API handlers: it
// observes the engine's lifecycle events (sfu.Observer) for what only
// events tell (connects refused, close reasons, setup times) and, at each
// scrape, reads the counters the engine keeps anyway (Engine.Stats): RTP
// packets and bytes received from publishers and sent to subscribers,
// retransmissions answering NACKs, packets dropped by cause, RTCP feedback,
// key frames, simulcast layer switches and webhook outcomes; with
// AddSignaling, also the signaling handler's limit counters. The media path
// is not touched: no lock, allocation or atomic operation is added per
// packet.
//
// New returns a prometheus.Collector; Handler serves it together with the
// Go runtime and process collectors, for GET /metrics (cmd/sfu mounts it
// on the management API's listener). An embedder with a registry of its
// own registers the Metrics value there instead.
//
// Metrics (all prefixed sfu_):
//
//	connections{role}                      gauge: connections now, setting up included
//	channels                               gauge: channels now
//	connects_total{outcome}                accepted, invalid, denied, auth_failed, limit, draining, error
//	connections_connected_total            connections whose media connected
//	connections_closed_total{code,reason}  ended connections by close code and reason
//	connection_setup_seconds               histogram: connect → media connected
//	rtp_received_packets_total, rtp_received_bytes_total
//	rtp_sent_packets_total, rtp_sent_bytes_total (forwarded to subscribers)
//	rtp_retransmitted_packets_total        packets resent to answer NACKs
//	rtp_dropped_packets_total{cause}       srtp_rejected (failed to open), send_error
//	rtcp_feedback_received_total{type}     pli, fir, nack, transport-cc, remb (from subscribers)
//	keyframe_requests_sent_total           PLIs sent to publishers (throttled)
//	nacks_sent_total                       NACKs sent to publishers for packets they skipped
//	keyframes_received_total               key frames received from publishers
//	layer_switches_total                   simulcast layer switches
//	probe_bytes_total                      probe traffic sent to subscribers (bandwidth allocation)
//	bandwidth_pauses_total                 videos paused for lack of downlink (bandwidth allocation)
//	webhooks_total{webhook,outcome}        auth: allowed, denied, failed;
//	                                       event, session: successful, failed, ignored
//	signaling_sockets                      gauge: signaling WebSockets open now (AddSignaling)
//	signaling_refused_total{limit}         max_sockets, connect_rate, message_rate
package metrics
