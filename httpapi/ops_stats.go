package httpapi

import (
	"context"
	"encoding/json"
	"time"

	sfu "github.com/gosfu/sfu"
)

// Statistics and license operations.
func init() {
	register(map[target]opFunc{
		op("20171010", "GetStatsReport"):           getStatsReport,
		op("20171218", "GetLicense"):               getLicense,
		op("20200225", "GetAllRemoteStats"):        getAllRemoteStats,
		op("20200225", "GetChannelRemoteStats"):    getChannelRemoteStats,
		op("20200225", "GetConnectionRemoteStats"): getConnectionRemoteStats,
		op("20211215", "ListRtcStats"):             listRtcStats,
		op("20211215", "ListChannelRtcStats"):      listChannelRtcStats,
		op("20211215", "GetRtcStats"):              getRtcStats,
	})
}

func getStatsReport(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	return e.StatsReport(), nil
}

type licenseJSON struct {
	ProductName    string `json:"product_name"`
	Type           string `json:"type"`
	SerialCode     string `json:"serial_code"`
	ExpiredAt      string `json:"expired_at"`
	MaxConnections int    `json:"max_connections"`
}

func getLicense(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	l := e.License()
	return licenseJSON{ProductName: l.ProductName, Type: l.Type, SerialCode: l.SerialCode,
		ExpiredAt: l.ExpiredAt, MaxConnections: l.MaxConnections}, nil
}

// timestampJSON formats a report's arrival time as Sora does (RFC 3339,
// milliseconds, UTC); null for a connection that has not reported yet.
func timestampJSON(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000Z")
	return &s
}

// remoteStatsJSON is one entry of the 20200225 remote-stats lists.
type remoteStatsJSON struct {
	ChannelID    string          `json:"channel_id"`
	ConnectionID string          `json:"connection_id"`
	RemoteStats  json.RawMessage `json:"remote_stats"`
	Timestamp    *string         `json:"timestamp"`
}

// connectionStatsJSON is GetConnectionRemoteStats' answer (its key is
// "stats", not "remote_stats").
type connectionStatsJSON struct {
	ChannelID    string          `json:"channel_id"`
	ConnectionID string          `json:"connection_id"`
	Stats        json.RawMessage `json:"stats"`
	Timestamp    *string         `json:"timestamp"`
}

// rtcStatsJSON is one entry of the 20211215 RTC-stats operations.
type rtcStatsJSON struct {
	ChannelID    string          `json:"channel_id"`
	ConnectionID string          `json:"connection_id"`
	Timestamp    *string         `json:"timestamp"`
	RTCStats     json.RawMessage `json:"rtc_stats"`
}

func remoteList(list []sfu.RemoteStats) []remoteStatsJSON {
	out := make([]remoteStatsJSON, len(list))
	for i, r := range list {
		out[i] = remoteStatsJSON{r.ChannelID, r.ConnectionID, r.Stats, timestampJSON(r.Timestamp)}
	}
	return out
}

func rtcList(list []sfu.RemoteStats) []rtcStatsJSON {
	out := make([]rtcStatsJSON, len(list))
	for i, r := range list {
		out[i] = rtcStatsJSON{r.ChannelID, r.ConnectionID, timestampJSON(r.Timestamp), r.Stats}
	}
	return out
}

func getAllRemoteStats(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	return remoteList(e.RemoteStats()), nil
}

func getChannelRemoteStats(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	list, err := channelStats(e, p)
	if err != nil {
		return nil, err
	}
	return remoteList(list), nil
}

func getConnectionRemoteStats(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	r, err := connectionStats(ctx, e, p)
	if err != nil {
		return nil, err
	}
	return connectionStatsJSON{r.ChannelID, r.ConnectionID, r.Stats, timestampJSON(r.Timestamp)}, nil
}

// listRtcStats accepts Sora's optional "local" key (cluster: this node
// only); with one node every answer is local.
func listRtcStats(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	p.optBool("local")
	if p.err != nil {
		return nil, p.err
	}
	return rtcList(e.RemoteStats()), nil
}

func listChannelRtcStats(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	list, err := channelStats(e, p)
	if err != nil {
		return nil, err
	}
	return rtcList(list), nil
}

func getRtcStats(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	r, err := connectionStats(ctx, e, p)
	if err != nil {
		return nil, err
	}
	return rtcStatsJSON{r.ChannelID, r.ConnectionID, timestampJSON(r.Timestamp), r.Stats}, nil
}

// channelStats is the reports of the channel_id channel's connections:
// the 2020 and the 2021 operations answer the same data in two shapes.
func channelStats(e *sfu.Engine, p *params) ([]sfu.RemoteStats, error) {
	ch := p.str("channel_id")
	if p.err != nil {
		return nil, p.err
	}
	return e.Channel(ch).RemoteStats(), nil
}

// connectionStats is the report of the connection_id connection.
func connectionStats(ctx context.Context, e *sfu.Engine, p *params) (sfu.RemoteStats, error) {
	ch, conn := p.str("channel_id"), p.str("connection_id")
	if p.err != nil {
		return sfu.RemoteStats{}, p.err
	}
	return e.Channel(ch).ConnectionRemoteStats(ctx, conn)
}
