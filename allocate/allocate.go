package allocate

import "time"

// Layer is a simulcast layer index, 0 (r0, lowest) to MaxLayers-1, or
// Paused.
type Layer int8

// Paused means the track is not forwarded.
const Paused Layer = -1

// MaxLayers is the number of simulcast layers a track can have.
const MaxLayers = 3

// Track describes one down-track of the connection.
type Track struct {
	// ID names the track in results (the engine's track id).
	ID string
	// Audio tracks are always forwarded; Bitrates[0] is their bitrate.
	Audio bool
	// Priority orders video: higher is served first. The engine gives
	// spotlight-focused and explicitly requested streams a higher value.
	Priority int
	// Bitrates holds the bitrate, in bits per second, at which the
	// publisher sends each layer; 0 means the layer is not arriving. A
	// track without simulcast has only Bitrates[0].
	Bitrates [MaxLayers]int
	// Max is the highest layer the receiver allows: its RequestRtpStream
	// choice, or MaxLayers-1 for "auto".
	Max Layer
}

// lowest returns the lowest arriving layer not above Max, or Paused.
func (t *Track) lowest() Layer {
	for l := Layer(0); l <= t.Max && l < MaxLayers; l++ {
		if t.Bitrates[l] > 0 {
			return l
		}
	}
	return Paused
}

// next returns the next arriving layer above l not above Max, or Paused.
func (t *Track) next(l Layer) Layer {
	for n := l + 1; n <= t.Max && n < MaxLayers; n++ {
		if t.Bitrates[n] > 0 {
			return n
		}
	}
	return Paused
}

// rate returns the bitrate of layer l, 0 for Paused.
func (t *Track) rate(l Layer) int {
	if l < 0 || l >= MaxLayers {
		return 0
	}
	return t.Bitrates[l]
}

// Config tunes an Allocator. Zero fields take the defaults.
type Config struct {
	// Now is the clock; time.Now by default. Tests inject their own.
	Now func() time.Time
	// Utilization is the share of the estimate that a new allocation or
	// a step up may take, leaving room for retransmissions and estimate
	// error (default 0.9). What is forwarded stays while the whole
	// estimate covers it.
	Utilization float64
	// Hold is the least time between a step down (or failed probe) and the
	// next step up, and between two steps up (default 5 s).
	Hold time.Duration
	// ProbeDuration is how long a probe runs before it is judged (default
	// 1 s).
	ProbeDuration time.Duration
	// PauseAfter is how long the estimate must stay short of a video
	// track's lowest layer before the track is paused (default 2 s):
	// until then it keeps its lowest layer. A dip (a probe that
	// overfilled the queue, a burst of cross traffic) does not blank the
	// picture; a downlink that really cannot carry it does. Negative:
	// pause at once.
	PauseAfter time.Duration
}

// Defaults for Config's zero fields.
const (
	DefaultUtilization   = 0.9
	DefaultHold          = 5 * time.Second
	DefaultProbeDuration = time.Second
	DefaultPauseAfter    = 2 * time.Second
)

// Result is the allocator's answer to one Update.
type Result struct {
	// Layers holds the layer to forward for each track, in the order of
	// the tracks passed to Update. Audio gets 0.
	Layers []Layer
	// Paused and Resumed list the video tracks that were paused for lack of
	// bandwidth, or resumed, by this Update.
	Paused, Resumed []string
	// ProbeBitrate is the padding, in bits per second, the connection
	// should send (paced) until the next Update; 0 means none.
	ProbeBitrate int
}

// Allocator chooses the layers of one subscriber connection's tracks.
type Allocator struct {
	cfg      Config
	current  map[string]Layer
	lastDown time.Time
	lastUp   time.Time
	failures uint      // probes failed since the last success
	short    time.Time // since when a pause is being deferred, zero if none
	probe    probe
}

type probe struct {
	active   bool
	id       string
	to       Layer
	pad      int // padding to send
	estimate int // the estimate when it started
	started  time.Time
}

// New returns an Allocator with cfg's zero fields set to the defaults.
func New(cfg Config) *Allocator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Utilization <= 0 || cfg.Utilization > 1 {
		cfg.Utilization = DefaultUtilization
	}
	if cfg.Hold <= 0 {
		cfg.Hold = DefaultHold
	}
	if cfg.ProbeDuration <= 0 {
		cfg.ProbeDuration = DefaultProbeDuration
	}
	if cfg.PauseAfter == 0 {
		cfg.PauseAfter = DefaultPauseAfter
	}
	// A new connection starts from its estimate and probes after Hold,
	// as after a step up.
	return &Allocator{cfg: cfg, current: make(map[string]Layer), lastUp: cfg.Now()}
}
