package stats

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// MaxRemoteStatsSize bounds one client's stored report, in bytes. A larger
// report is ignored (the previous one is kept).
const MaxRemoteStatsSize = 1 << 20

// Remote is the latest statistics report one client sent.
type Remote struct {
	ChannelID    string
	ConnectionID string
	// Stats is the client's JSON array of RTCStats objects, as it was
	// sent.
	Stats json.RawMessage
	// Received is when the report arrived.
	Received time.Time
}

// RemoteStore keeps the latest report of every connection. The zero value
// is ready to use and safe for concurrent use.
type RemoteStore struct {
	mu     sync.Mutex
	byConn map[string]Remote // by connection id
}

// Put stores stats as the latest report of the connection, received at
// at. It reports whether it was stored: stats must be a JSON array of at
// most MaxRemoteStatsSize bytes.
func (s *RemoteStore) Put(channelID, connID string, stats json.RawMessage, at time.Time) bool {
	if !ValidRemoteStats(stats) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byConn == nil {
		s.byConn = map[string]Remote{}
	}
	s.byConn[connID] = Remote{ChannelID: channelID, ConnectionID: connID, Stats: slices.Clone(stats), Received: at}
	return true
}

// ValidRemoteStats reports whether stats is a JSON array of at most
// MaxRemoteStatsSize bytes.
func ValidRemoteStats(stats json.RawMessage) bool {
	if len(stats) == 0 || len(stats) > MaxRemoteStatsSize {
		return false
	}
	t := bytes.TrimLeft(stats, " \t\r\n")
	return len(t) > 0 && t[0] == '[' && json.Valid(stats)
}

// Get returns the connection's latest report.
func (s *RemoteStore) Get(connID string) (Remote, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byConn[connID]
	return r, ok
}

// Delete forgets the connection's report.
func (s *RemoteStore) Delete(connID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byConn, connID)
}

// Len returns the number of stored reports.
func (s *RemoteStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byConn)
}
