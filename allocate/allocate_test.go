package allocate

import (
	"slices"
	"testing"
	"time"
)

// clock is a manual clock for the allocator.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestAllocator() (*Allocator, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	return New(Config{Now: c.now, Utilization: 1, PauseAfter: -1}), c
}

// simulcast returns a video track sending r0/r1/r2 at 150k/500k/1500k.
func simulcast(id string, prio int) Track {
	return Track{ID: id, Priority: prio, Bitrates: [MaxLayers]int{150_000, 500_000, 1_500_000}, Max: 2}
}

func audio(id string) Track {
	return Track{ID: id, Audio: true, Bitrates: [MaxLayers]int{50_000}}
}

func TestFirstAllocation(t *testing.T) {
	capped := simulcast("capped", 0)
	capped.Max = 1
	noR1 := simulcast("nor1", 0)
	noR1.Bitrates[1] = 0
	single := Track{ID: "single", Bitrates: [MaxLayers]int{800_000}}
	tests := []struct {
		name     string
		estimate int
		tracks   []Track
		want     []Layer
		paused   []string
	}{
		{"ample: everyone gets the top", 10_000_000,
			[]Track{audio("a"), simulcast("v1", 0), simulcast("v2", 0)}, []Layer{0, 2, 2}, nil},
		{"audio first, then lowest layers, then raises by priority", 900_000,
			[]Track{audio("a"), simulcast("low", 0), simulcast("high", 1)}, []Layer{0, 0, 1}, nil},
		{"the important track takes the top when it fits", 1_900_000,
			[]Track{simulcast("low", 0), simulcast("high", 5)}, []Layer{0, 2}, nil},
		{"least important video pauses when lowest layers do not fit", 300_000,
			[]Track{audio("a"), simulcast("low", 0), simulcast("high", 1)}, []Layer{0, Paused, 0}, []string{"low"}},
		{"audio kept even when nothing fits", 10_000,
			[]Track{audio("a"), simulcast("v", 0)}, []Layer{0, Paused}, []string{"v"}},
		{"the receiver's cap bounds the layer", 10_000_000,
			[]Track{capped}, []Layer{1}, nil},
		{"a layer not arriving is skipped", 10_000_000 / 5,
			[]Track{noR1}, []Layer{2}, nil},
		{"a layer not arriving is skipped when the next does not fit", 1_000_000,
			[]Track{noR1}, []Layer{0}, nil},
		{"non-simulcast video: on or paused", 700_000,
			[]Track{single, simulcast("v", 0)}, []Layer{Paused, 1}, []string{"single"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestAllocator()
			res := a.Update(tt.estimate, tt.tracks)
			if !slices.Equal(res.Layers, tt.want) {
				t.Errorf("layers = %v, want %v", res.Layers, tt.want)
			}
			if !slices.Equal(res.Paused, tt.paused) {
				t.Errorf("paused = %v, want %v", res.Paused, tt.paused)
			}
		})
	}
}
