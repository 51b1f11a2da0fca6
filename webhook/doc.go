// Package webhook sends Sora-compatible webhooks for an sfu.Engine: the
// auth webhook, which decides whether a connect is accepted, and the event
// and session webhooks, which tell an operator's service what happened.
//
// It is an adapter: it sits beside the signaling and management API
// handlers, over the engine's Authenticate hook and its Observer
// interface, and the engine knows nothing of HTTP.
//
// # Auth webhook
//
// Authenticator.Authenticate is an sfu.Options.Authenticate: for every
// connect it POSTs the request's fields as JSON (channel_id, client_id,
// bundle_id, connection_id, role, metadata, simulcast, spotlight, audio,
// video, sora_client, the client's address) and reads
//
//	{"allowed": true, "authz_metadata": {...}, "event_metadata": {...}}
//	{"allowed": false, "reason": "..."}
//
// Allowed: the client's offer carries authz_metadata as "metadata" and
// the channel's notifies carry it as "authz_metadata" ("metadata", Sora's
// older name, is read when authz_metadata is absent); event_metadata is
// attached to the connection's event webhooks. Denied: the connect is
// refused with 4490 and the reason. An answer other than 200, a body that
// is not that JSON object, or no answer within the timeout refuses the
// connect too, with AUTH-WEBHOOK-ERROR, AUTH-WEBHOOK-INVALID-RESPONSE or
// AUTH-WEBHOOK-TIMEOUT, and counts as a failed auth webhook in
// GetStatsReport.
//
// # Event and session webhooks
//
// A Notifier observes the engine (Engine.AddObserver) and POSTs
// connection.created, connection.updated (every minute a connection stays
// connected), connection.destroyed to the event webhook URL and
// session.created and session.destroyed to the session webhook URL, each a
// JSON object in Sora's shape (type, id, timestamp, channel_id,
// session_id, connection_id, client_id, role, ..., data). Observing only
// queues: deliveries leave from a bounded queue on one worker goroutine,
// in the order they happened, each retried with exponential backoff. The
// signaling and media paths never wait for a webhook: an endpoint that
// hangs or is down delays only the queue, and when the queue is full a
// webhook is dropped and counted as ignored
// (total_{successful,failed,ignored}_{event,session}_webhook).
package webhook
