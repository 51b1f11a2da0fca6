// Package httpapi serves Shiguredo Sora's management API (operations
// chosen by the x-sora-target header) over an [sfu.Engine].
//
//	mux.Handle("/api/", http.StripPrefix("/api", httpapi.NewHandler(engine)))
//
// Every operation is a thin adapter over a Go method of sfu.Engine or
// sfu.Channel with the same meaning; this package holds no logic the Go
// API lacks. Operations live in a registry keyed by (version, operation):
// each feature registers its operations in one file (ops_<feature>.go).
//
// # Transport
//
// POST with the header "x-sora-target: Sora_YYYYMMDD.Operation" (header
// name case-insensitive) on any path. The body is a JSON object; an empty
// body means {} and Content-Type is not checked; unknown keys are
// ignored. Success is 200 with content-type application/json.
//
// Errors are JSON {"error_type": "...", "message": "..."}:
//
//	method other than POST/OPTIONS           405 METHOD-NOT-ALLOWED (+ Allow: POST, OPTIONS)
//	missing/malformed x-sora-target, unknown 400 INVALID-TARGET
//	body not JSON, or not an object          400 INVALID-JSON
//	key missing, wrong type, out of range    400 INVALID-PARAMETER (message names the key)
//	body larger than the limit (1 MiB)       413 PAYLOAD-TOO-LARGE
//	channel has no connections               404 CHANNEL-NOT-FOUND
//	connection not in that channel           404 CONNECTION-NOT-FOUND
//	no RTP forward for that publisher        404 FORWARDING-NOT-FOUND
//	feature not enabled there                400 FEATURE-DISABLED
//	bearer token configured and not given    401 UNAUTHORIZED (+ WWW-Authenticate)
//	anything else                            500 INTERNAL-ERROR (details logged only)
//
// # Decisions where Sora is silent
//
//   - Error status codes and error_type values are ours (Sora documents
//     none); clients only rely on a JSON body with error_type.
//   - A key whose value is null counts as absent. String keys must be
//     non-empty strings; integers may be written 3 or 3.0 but not 3.5.
//   - Target checks come before the body: an unknown operation with a bad
//     body answers INVALID-TARGET.
//   - OPTIONS is answered 200 with an empty body whether or not CORS is
//     configured; the CORS headers (Sora's four) are sent only when
//     WithCORSOrigin is set, on every answer including errors.
//     Access-Control-Allow-Headers also lists Authorization, which Sora's
//     does not, so that a browser page can send the bearer token.
//     Preflights never need the bearer token.
//   - List operations on a channel that does not exist answer 200 [].
//     Operations on one connection answer CHANNEL-NOT-FOUND first, then
//     CONNECTION-NOT-FOUND.
//   - ListChannels lists channels with at least one connection, setting
//     up or connected; "spotlight" is true when a connection joined with
//     spotlight. ListChannelConnections and ListConnections list every
//     connection, those still setting up included, in join order (channels sorted by
//     id); created_time is microseconds since the Unix epoch (as Sora's
//     example); audio/video are false or {"codec_type": ...} (no bit_rate:
//     the engine does not keep the requested one).
//   - DisconnectChannel/Connection/Client accept Sora's optional "reason"
//     and ignore it. DisconnectClient with no connection of that client_id
//     answers CONNECTION-NOT-FOUND.
//   - PushChannel reaches connected connections; PushConnection any
//     connection of the channel. Both echo the request keys including
//     data. data must be a JSON object.
//   - RequestKeyFrame sends a PLI for each video stream the connection
//     publishes; requests within the engine's key-frame interval (500 ms)
//     are coalesced into one PLI. A connection that publishes no video
//     answers FEATURE-DISABLED.
//   - Remote stats (Sora_20200225.*) and RTC stats (Sora_20211215.*) are
//     the same data: the latest "stats" array a client sent in a pong,
//     unchanged, with its arrival time as "timestamp". A report larger
//     than 1 MiB or that is not a JSON array is ignored; reports are
//     dropped when the connection ends. Lists include only connections
//     that reported; for one connection that has not reported yet the
//     answer has "stats": [] (or "rtc_stats": []) and "timestamp": null.
//     ListRtcStats accepts "local" and ignores it (one node).
//   - GetStatsReport: see stats.Report for what each counter measures.
//     Durations are whole seconds of time connected, summed over ended
//     connections; setup time is connect accepted → PeerConnection
//     connected. SRTP counters count packets after decryption. TURN
//     counters are 0 (no built-in TURN). SCTP counters count DataChannel
//     messages and their bytes. total_sent_srtp_sfu_delay_us is absent (not measured).
//   - GetLicense describes the open-source build: product_name "gosfu
//     <version>", type "open-source", empty serial_code, expired_at
//     "9999-12" (never), max_connections = MaxChannels ×
//     MaxConnectionsPerChannel.
//
// Authentication: WithBearerToken checks "Authorization: Bearer <token>";
// for anything else wrap the handler in your own middleware.
//
// docs/api.md in the repository is the reference of every operation:
// keys with their types and ranges, answers and errors.
//
// Layering: an adapter over the root sfu package's Go API; nothing below
// it knows of HTTP. Guarantees: the handler is safe for concurrent use,
// reads at most the body limit, validates every key before calling the
// engine, and answers a panic in an operation with 500 INTERNAL-ERROR
// without affecting other requests.
package httpapi
