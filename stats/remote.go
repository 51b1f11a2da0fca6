package stats

import (
	"bytes"
	"encoding/json"
)

// MaxRemoteStatsSize bounds one client's stored report, in bytes. A larger
// report is ignored (the previous one is kept).
const MaxRemoteStatsSize = 1 << 20

// ValidRemoteStats reports whether stats is a JSON array of at most
// MaxRemoteStatsSize bytes.
func ValidRemoteStats(stats json.RawMessage) bool {
	if len(stats) == 0 || len(stats) > MaxRemoteStatsSize {
		return false
	}
	t := bytes.TrimLeft(stats, " \t\r\n")
	return len(t) > 0 && t[0] == '[' && json.Valid(stats)
}
