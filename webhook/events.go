package webhook

import (
	"encoding/json"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/internal/id"
)

// eventBody is an event or session webhook, in Sora's shape: what
// happened and to whom at the top, the event's own fields in data.
type eventBody struct {
	Type          string          `json:"type"`
	ID            string          `json:"id"`
	Timestamp     string          `json:"timestamp"`
	Version       string          `json:"version"`
	Multistream   bool            `json:"multistream"`
	ChannelID     string          `json:"channel_id"`
	SessionID     string          `json:"session_id,omitempty"`
	ConnectionID  string          `json:"connection_id,omitempty"`
	ClientID      string          `json:"client_id,omitempty"`
	BundleID      string          `json:"bundle_id,omitempty"`
	Role          sfu.Role        `json:"role,omitempty"`
	Simulcast     bool            `json:"simulcast,omitempty"`
	Spotlight     bool            `json:"spotlight,omitempty"`
	EventMetadata json.RawMessage `json:"event_metadata,omitempty"`
	Data          any             `json:"data,omitempty"`
}

// connectionData is data of connection.* webhooks.
type connectionData struct {
	Audio            bool   `json:"audio"`
	Video            bool   `json:"video"`
	CreatedTime      int64  `json:"created_time"`
	CreatedTimestamp string `json:"created_timestamp"`
	// Minutes the connection has been (or was) connected, whole.
	Minutes int64 `json:"minutes"`
	// SetupTimeMsec: connect → media connected (connection.created).
	SetupTimeMsec int64 `json:"setup_time_msec,omitempty"`
	// DurationMsec: how long it has been (or was) connected.
	DurationMsec int64 `json:"duration_msec"`
	// For connection.destroyed: the close code and reason.
	DestroyedTimestamp string `json:"destroyed_timestamp,omitempty"`
	CloseCode          int    `json:"close_code,omitempty"`
	Reason             string `json:"reason,omitempty"`
}

// sessionData is data of session.* webhooks.
type sessionData struct {
	CreatedTimestamp   string `json:"created_timestamp,omitempty"`
	DestroyedTimestamp string `json:"destroyed_timestamp,omitempty"`
	DurationMsec       int64  `json:"duration_msec,omitempty"`
}

// timestamp formats t as Sora does: RFC 3339, milliseconds, UTC.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func marshalEvent(ev sfu.LifecycleEvent) ([]byte, error) {
	b := eventBody{
		Type: ev.Kind.String(), ID: id.New(), Timestamp: timestamp(ev.Time), Version: sfu.Version(),
		Multistream: true, ChannelID: ev.ChannelID, SessionID: ev.SessionID,
	}
	switch ev.Kind {
	case sfu.SessionCreated:
		b.Data = sessionData{CreatedTimestamp: timestamp(ev.Time)}
	case sfu.SessionDestroyed:
		b.Data = sessionData{
			CreatedTimestamp:   timestamp(ev.Time.Add(-ev.Duration)),
			DestroyedTimestamp: timestamp(ev.Time), DurationMsec: ev.Duration.Milliseconds(),
		}
	default:
		c := ev.Connection
		b.ConnectionID, b.ClientID, b.BundleID, b.Role = c.ConnectionID, c.ClientID, c.BundleID, c.Role
		b.Simulcast, b.Spotlight, b.EventMetadata = c.Simulcast, c.Spotlight, c.EventMetadata
		d := connectionData{
			Audio: c.Audio, Video: c.Video,
			CreatedTime: c.CreatedAt.Unix(), CreatedTimestamp: timestamp(c.CreatedAt),
			Minutes: int64(ev.Duration / time.Minute), DurationMsec: ev.Duration.Milliseconds(),
		}
		switch ev.Kind {
		case sfu.ConnectionCreated:
			d.SetupTimeMsec = ev.Setup.Milliseconds()
		case sfu.ConnectionDestroyed:
			d.DestroyedTimestamp = timestamp(ev.Time)
			d.CloseCode, d.Reason = ev.Reason.Code, ev.Reason.Reason
		}
		b.Data = d
	}
	return json.Marshal(b)
}
