// Package memstats serves what a leak check reads of a process: its
// goroutines and its heap right after garbage collection, as JSON. The
// server's -debug-listen mounts it at /debug/memstats; sfu-load's churn
// soak reads it before and after the churn.
//
// net/http/pprof's heap profile can tell the same, but writing the profile
// allocates in proportion to the allocation sites recorded, which grow as
// the process runs new code: read after it, the heap looks as if it leaked.
package memstats

import (
	"encoding/json"
	"net/http"
	"runtime"
)

// Sample is the answer.
type Sample struct {
	Goroutines int `json:"goroutines"`
	// HeapAlloc is the heap in use after two collections (the first
	// moves sync.Pool contents aside, the second frees them).
	HeapAlloc   uint64 `json:"heap_alloc"`
	HeapObjects uint64 `json:"heap_objects"`
}

// Take collects garbage and reads the sample.
func Take() Sample {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return Sample{Goroutines: runtime.NumGoroutine(), HeapAlloc: m.HeapAlloc, HeapObjects: m.HeapObjects}
}

// Handler answers every request with Take's sample. It stops the world
// twice for a collection: mount it on a debug listener only.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Take())
	})
}
