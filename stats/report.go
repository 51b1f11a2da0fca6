package stats

import "time"

// Report is the body of Sora's GetStatsReport: the eleven counters Sora
// documents plus those monitoring tools built for Sora read. Every value
// is measured; see the field comments for what exactly.
type Report struct {
	// Version is the engine's version.
	Version string `json:"version"`

	TotalConnectionCreated     int64 `json:"total_connection_created"`
	TotalConnectionUpdated     int64 `json:"total_connection_updated"`
	TotalConnectionDestroyed   int64 `json:"total_connection_destroyed"`
	TotalSuccessfulConnections int64 `json:"total_successful_connections"`
	TotalOngoingConnections    int64 `json:"total_ongoing_connections"`
	TotalFailedConnections     int64 `json:"total_failed_connections"`
	// TotalDurationSec sums, in whole seconds, how long ended
	// connections stayed connected.
	TotalDurationSec int64 `json:"total_duration_sec"`
	// TURN counters: the engine has no TURN server of its own, so no
	// connection ever goes through one of ours.
	TotalTURNUDPConnections int64 `json:"total_turn_udp_connections"`
	TotalTURNTCPConnections int64 `json:"total_turn_tcp_connections"`
	// AverageDurationSec is TotalDurationSec over the ended connections
	// that had connected.
	AverageDurationSec int64 `json:"average_duration_sec"`
	// AverageSetupTimeMsec is the mean time from connect to
	// PeerConnection connected, over successful connections.
	AverageSetupTimeMsec int64 `json:"average_setup_time_msec"`

	TotalSessionCreated   int64 `json:"total_session_created"`
	TotalSessionDestroyed int64 `json:"total_session_destroyed"`

	// Authentication hook (Options.Authenticate) outcomes. A hook that
	// returned a decision counts as successful; allowed and denied split
	// those by the decision.
	TotalAuthWebhookAllowed    int64 `json:"total_auth_webhook_allowed"`
	TotalAuthWebhookDenied     int64 `json:"total_auth_webhook_denied"`
	TotalSuccessfulAuthWebhook int64 `json:"total_successful_auth_webhook"`
	TotalFailedAuthWebhook     int64 `json:"total_failed_auth_webhook"`

	// Event and session webhooks: delivered (a 2xx answer), failed
	// (every retry failed) and ignored (dropped because the delivery
	// queue was full).
	TotalSuccessfulEventWebhook   int64 `json:"total_successful_event_webhook"`
	TotalFailedEventWebhook       int64 `json:"total_failed_event_webhook"`
	TotalIgnoredEventWebhook      int64 `json:"total_ignored_event_webhook"`
	TotalSuccessfulSessionWebhook int64 `json:"total_successful_session_webhook"`
	TotalFailedSessionWebhook     int64 `json:"total_failed_session_webhook"`
	TotalIgnoredSessionWebhook    int64 `json:"total_ignored_session_webhook"`

	// SRTP: packets are counted after decryption (pion hands the engine
	// only packets that decrypted), so received and decrypted are the
	// same measurement. Sent counts packets written to subscribers.
	TotalReceivedSRTP          uint64 `json:"total_received_srtp"`
	TotalReceivedSRTPByteSize  uint64 `json:"total_received_srtp_byte_size"`
	TotalDecryptedSRTP         uint64 `json:"total_decrypted_srtp"`
	TotalDecryptedSRTPByteSize uint64 `json:"total_decrypted_srtp_byte_size"`
	TotalSentSRTP              uint64 `json:"total_sent_srtp"`
	TotalSentSRTPByteSize      uint64 `json:"total_sent_srtp_byte_size"`

	// SCTP: DataChannel messages (SCTP user messages) and their payload
	// bytes, every label, from clients and to clients.
	TotalReceivedSCTP         uint64 `json:"total_received_sctp"`
	TotalReceivedSCTPByteSize uint64 `json:"total_received_sctp_byte_size"`
	TotalSentSCTP             uint64 `json:"total_sent_sctp"`
	TotalSentSCTPByteSize     uint64 `json:"total_sent_sctp_byte_size"`
}

// Report shapes s as GetStatsReport's body.
func (s Snapshot) Report(version string) Report {
	return Report{
		Version:                       version,
		TotalConnectionCreated:        s.ConnectionsCreated,
		TotalConnectionUpdated:        s.ConnectionsUpdated,
		TotalConnectionDestroyed:      s.ConnectionsDestroyed,
		TotalSuccessfulConnections:    s.ConnectionsSuccessful,
		TotalOngoingConnections:       s.ConnectionsOngoing,
		TotalFailedConnections:        s.ConnectionsFailed,
		TotalDurationSec:              int64(s.TotalDuration / time.Second),
		AverageDurationSec:            int64(s.AverageDuration() / time.Second),
		AverageSetupTimeMsec:          int64(s.AverageSetup() / time.Millisecond),
		TotalSessionCreated:           s.SessionsCreated,
		TotalSessionDestroyed:         s.SessionsDestroyed,
		TotalAuthWebhookAllowed:       s.AuthAllowed,
		TotalAuthWebhookDenied:        s.AuthDenied,
		TotalSuccessfulAuthWebhook:    s.AuthAllowed + s.AuthDenied,
		TotalFailedAuthWebhook:        s.AuthFailed,
		TotalSuccessfulEventWebhook:   s.EventWebhookSuccessful,
		TotalFailedEventWebhook:       s.EventWebhookFailed,
		TotalIgnoredEventWebhook:      s.EventWebhookIgnored,
		TotalSuccessfulSessionWebhook: s.SessionWebhookSuccessful,
		TotalFailedSessionWebhook:     s.SessionWebhookFailed,
		TotalIgnoredSessionWebhook:    s.SessionWebhookIgnored,
		TotalReceivedSRTP:             s.ReceivedPackets,
		TotalReceivedSRTPByteSize:     s.ReceivedBytes,
		TotalDecryptedSRTP:            s.ReceivedPackets,
		TotalDecryptedSRTPByteSize:    s.ReceivedBytes,
		TotalSentSRTP:                 s.SentPackets,
		TotalSentSRTPByteSize:         s.SentBytes,
		TotalReceivedSCTP:             s.SCTPReceivedMessages,
		TotalReceivedSCTPByteSize:     s.SCTPReceivedBytes,
		TotalSentSCTP:                 s.SCTPSentMessages,
		TotalSentSCTPByteSize:         s.SCTPSentBytes,
	}
}
