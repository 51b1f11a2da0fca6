package main

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosfu/sfu/internal/packetsize"
)

// Synthetic media parameters.
const (
	videoClockRate     = 90000
	audioClockRate     = 48000
	audioPacketTime    = 20 * time.Millisecond
	audioPayloadSize   = 100
	videoPacketMin     = 1100 // payload bytes
	videoPacketMax     = 1200
	maxPacketsPerFrame = 256
)

var (
	vp8Capability  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: videoClockRate}
	opusCapability = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: audioClockRate, Channels: 2}
)

// publisher sends synthetic VP8 frames and Opus packets, each carrying a
// probe. Its counters are read by the summary while it runs.
type publisher struct {
	index        uint32
	video, audio *webrtc.TrackLocalStaticRTP // nil when disabled
	frameBytes   float64                     // video bytes per frame
	fps          int
	keyEvery     int // frames between periodic key frames
	rng          *rand.Rand

	keyRequested atomic.Bool
	videoSent    atomic.Uint64
	audioSent    atomic.Uint64
	keyFrames    atomic.Uint64
	pliReceived  atomic.Uint64
	writeErrors  atomic.Uint64
}

func newPublisher(index uint32, cfg *Config, seed uint64) (*publisher, error) {
	p := &publisher{
		index: index,
		fps:   cfg.FPS,
		rng:   rand.New(rand.NewPCG(seed, uint64(index))),
	}
	id := "sfu-load-" + strconv.Itoa(int(index))
	var err error
	if cfg.VideoKbps > 0 {
		p.frameBytes = float64(cfg.VideoKbps) * 1000 / 8 / float64(cfg.FPS)
		p.keyEvery = max(1, int(cfg.KeyFrameInterval.Seconds()*float64(cfg.FPS)))
		if p.video, err = webrtc.NewTrackLocalStaticRTP(vp8Capability, id+"-video", id); err != nil {
			return nil, err
		}
	}
	if cfg.Audio {
		if p.audio, err = webrtc.NewTrackLocalStaticRTP(opusCapability, id+"-audio", id); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// tracks returns the local tracks to publish.
func (p *publisher) tracks() []webrtc.TrackLocal {
	var t []webrtc.TrackLocal
	if p.audio != nil {
		t = append(t, p.audio)
	}
	if p.video != nil {
		t = append(t, p.video)
	}
	return t
}

// requestKeyFrame makes the next video frame a key frame.
func (p *publisher) requestKeyFrame() {
	p.pliReceived.Add(1)
	p.keyRequested.Store(true)
}

// run sends media until stop is closed or ctx ends. The first frame is a
// key frame; later ones every keyEvery frames and after a PLI or FIR.
func (p *publisher) run(ctx context.Context, stop <-chan struct{}) {
	// Start at a random phase so that publishers do not send in lockstep.
	phase := time.NewTimer(time.Duration(p.rng.Int64N(int64(audioPacketTime))))
	select {
	case <-phase.C:
	case <-stop:
		phase.Stop()
		return
	case <-ctx.Done():
		phase.Stop()
		return
	}
	var videoC, audioC <-chan time.Time
	if p.video != nil {
		t := time.NewTicker(time.Second / time.Duration(p.fps))
		defer t.Stop()
		videoC = t.C
	}
	if p.audio != nil {
		t := time.NewTicker(audioPacketTime)
		defer t.Stop()
		audioC = t.C
	}
	var (
		vpkt, apkt    rtp.Packet
		vbuf          = make([]byte, videoPacketMax)
		abuf          = make([]byte, audioPayloadSize)
		frames        uint64
		vctr, actr    uint64
		budget        float64
		videoSN       = uint16(p.rng.Uint32())
		audioSN       = uint16(p.rng.Uint32())
		videoTS       = p.rng.Uint32()
		audioTS       = p.rng.Uint32()
		frameDuration = uint32(videoClockRate / p.fps)
		audioDuration = uint32(audioClockRate * audioPacketTime / time.Second)
	)
	for i := range vbuf {
		vbuf[i] = byte(i * 7)
	}
	for i := range abuf {
		abuf[i] = byte(i * 13)
	}
	abuf[0] = opusTOC
	vpkt.Version, apkt.Version = 2, 2
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-audioC:
			apkt.SequenceNumber, apkt.Timestamp = audioSN, audioTS
			putProbe(abuf[opusHeaderLen:], kindAudio, p.index, actr, monoNow())
			apkt.Payload = abuf
			if err := p.audio.WriteRTP(&apkt); err != nil {
				p.writeErrors.Add(1)
			}
			p.audioSent.Add(1)
			actr++
			audioSN++
			audioTS += audioDuration
		case <-videoC:
			key := frames == 0 || frames%uint64(p.keyEvery) == 0 || p.keyRequested.Swap(false)
			if key {
				p.keyFrames.Add(1)
			}
			budget += p.frameBytes
			mid := float64(videoPacketMin+videoPacketMax) / 2
			n := min(max(1, int(budget/mid+0.5)), maxPacketsPerFrame)
			total := 0
			for range n {
				total += videoPacketMin + p.rng.IntN(videoPacketMax-videoPacketMin+1)
			}
			budget -= float64(total)
			for i := range n {
				size := packetsize.AboutEqual(total, n, i)
				off := writeVP8Header(vbuf, i == 0, key, int(p.frameBytes))
				putProbe(vbuf[off:], kindVideo, p.index, vctr, monoNow())
				vpkt.SequenceNumber, vpkt.Timestamp = videoSN, videoTS
				vpkt.Marker = i == n-1
				vpkt.Payload = vbuf[:size]
				if err := p.video.WriteRTP(&vpkt); err != nil {
					p.writeErrors.Add(1)
				}
				p.videoSent.Add(1)
				vctr++
				videoSN++
			}
			frames++
			videoTS += frameDuration
		}
	}
}

// onRTCP is the publishing client's OnSenderRTCP: PLI and FIR for the
// video track make the next frame a key frame.
func (p *publisher) onRTCP(track webrtc.TrackLocal, pkts []rtcp.Packet) {
	if p.video == nil || track != webrtc.TrackLocal(p.video) {
		return
	}
	for _, pkt := range pkts {
		switch pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			p.requestKeyFrame()
		}
	}
}

// publishers runs a set of publishers and stops them together.
type publishers struct {
	list []*publisher
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func (ps *publishers) start(ctx context.Context, p *publisher) {
	ps.wg.Add(1)
	go func() {
		defer ps.wg.Done()
		p.run(ctx, ps.stop)
	}()
}

func (ps *publishers) halt() {
	ps.once.Do(func() { close(ps.stop) })
	ps.wg.Wait()
}

// sent returns the packets sent so far by all publishers.
func (ps *publishers) sent() (video, audio, keys, plis, errs uint64) {
	for _, p := range ps.list {
		video += p.videoSent.Load()
		audio += p.audioSent.Load()
		keys += p.keyFrames.Load()
		plis += p.pliReceived.Load()
		errs += p.writeErrors.Load()
	}
	return
}
