package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/gosfu/sfu/internal/memstats"
)

// ServerState is what the churn soak samples of the server; a zero field
// was not sampled.
type ServerState struct {
	// Goroutines and HeapBytes (HeapAlloc after forced GCs) come from the
	// server's /debug/memstats (-debug-url).
	Goroutines int64 `json:"goroutines"`
	HeapBytes  int64 `json:"heap_bytes"`
	// OpenFiles counts /proc/<pid>/fd (-server-pid).
	OpenFiles int64 `json:"open_files"`
	// Stats are GetStatsReport's connection counters (-api-url).
	Stats *ConnectionCounters `json:"stats,omitempty"`
}

// ConnectionCounters are GetStatsReport's connection totals.
type ConnectionCounters struct {
	Created   int64 `json:"total_connection_created"`
	Destroyed int64 `json:"total_connection_destroyed"`
	Ongoing   int64 `json:"total_ongoing_connections"`
}

func (s ServerState) String() string {
	out := fmt.Sprintf("%d goroutines, heap %.1f MiB, %d open files", s.Goroutines, float64(s.HeapBytes)/(1<<20), s.OpenFiles)
	if s.Stats != nil {
		out += fmt.Sprintf(", %d connections", s.Stats.Ongoing)
	}
	return out
}

// settled reports whether the server is back where it was before the
// churn: the steady connections only, no more goroutines and open files
// (the heap is judged, not waited for). Connections still closing hold
// goroutines, and their memory.
func (s ServerState) settled(before ServerState, steady int64) bool {
	within := func(a, b int64) bool { return a == 0 || b <= a }
	return (s.Stats == nil || s.Stats.Ongoing == steady) &&
		within(before.Goroutines, s.Goroutines) && within(before.OpenFiles, s.OpenFiles)
}

// server samples the server under test.
type server struct {
	pid              int
	apiURL, debugURL string
}

// loopbackHTTP never uses a proxy: the server is on loopback.
// Without keep-alive, so that no connection of its own stays open
// between samples (an open file of the server's).
var loopbackHTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

func (s server) sample(ctx context.Context) (ServerState, error) {
	var st ServerState
	if s.debugURL != "" {
		b, err := s.get(ctx, "/debug/memstats")
		if err != nil {
			return st, err
		}
		var m memstats.Sample
		if err := json.Unmarshal(b, &m); err != nil {
			return st, fmt.Errorf("/debug/memstats: %w", err)
		}
		st.Goroutines, st.HeapBytes = int64(m.Goroutines), int64(m.HeapAlloc)
	}
	if s.apiURL != "" {
		var c ConnectionCounters
		if err := s.stats(ctx, &c); err != nil {
			return st, err
		}
		st.Stats = &c
	}
	if s.pid > 0 {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
		if err != nil {
			return st, err
		}
		st.OpenFiles = int64(len(fds))
	}
	return st, nil
}

func (s server) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.debugURL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	return do(req)
}

func (s server) stats(ctx context.Context, out *ConnectionCounters) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("x-sora-target", "Sora_20171010.GetStatsReport")
	req.Header.Set("Content-Type", "application/json")
	body, err := do(req)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, out)
}

func do(req *http.Request) ([]byte, error) {
	resp, err := loopbackHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s", req.Method, req.URL, resp.Status)
	}
	return body, nil
}
