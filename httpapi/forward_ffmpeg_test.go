package httpapi_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
)

// ffmpeg decodes what StartForwardingRtp sends, given only the SDP it
// answered: at least 30 video frames of each codec, and the Opus stream.
// The media are real encodings that ffmpeg makes for the test (a test
// pattern and a tone), published by a pion client.
func TestForwardingRtpDecodedByFFmpeg(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg is needed (Debian package ffmpeg; scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	opus := encode(t, ffmpeg, dir, "a.ogg", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3",
		"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg")
	for _, c := range []struct {
		codec string
		args  []string
	}{
		{"VP8", []string{"-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k", "-f", "ivf"}},
		// As a browser's realtime VP9: no hidden alt-ref frames packed
		// into superframes.
		{"VP9", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-auto-alt-ref", "0", "-lag-in-frames", "0", "-b:v", "300k", "-f", "ivf"}},
		{"H264", []string{"-c:v", "libx264", "-profile:v", "baseline", "-tune", "zerolatency",
			"-bsf:v", "h264_mp4toannexb", "-f", "h264"}},
	} {
		t.Run(c.codec, func(t *testing.T) {
			args := append([]string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "3", "-g", "15", "-pix_fmt", "yuv420p"}, c.args...)
			video := encode(t, ffmpeg, dir, c.codec+".bin", args...)
			decodeForwarded(t, ffmpeg, c.codec, video, opus)
		})
	}
}

// encode runs ffmpeg with args and returns the file it wrote.
func encode(t *testing.T, ffmpeg, dir, name string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command(ffmpeg, append(append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeForwarded(t *testing.T, ffmpeg, codec string, video, opus []byte) {
	ctx := testContext(t, 60*time.Second)
	e := newEnv(t, sfu.Options{})
	mime := map[string]string{"VP8": webrtc.MimeTypeVP8, "VP9": webrtc.MimeTypeVP9, "H264": webrtc.MimeTypeH264}[codec]
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "s")
	if err != nil {
		t.Fatal(err)
	}
	e.dialReady(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleSendonly, VideoCodecType: codec, Tracks: []webrtc.TrackLocal{at, vt}})
	stop := make(chan struct{})
	done := make(chan struct{}, 2)
	go func() { loopSamples(stop, vt, 33*time.Millisecond, videoFrames(t, codec, video)); done <- struct{}{} }()
	go func() { loopSamples(stop, at, 20*time.Millisecond, oggPages(t, opus)); done <- struct{}{} }()
	defer func() { close(stop); <-done; <-done }()

	aport, vport := freeUDPPort(t), freeUDPPort(t)
	sdp := e.startForwarding(t, ctx, nil,
		fmt.Sprintf(`{"channel_id": "sora", "ip_address": "127.0.0.1", "audio_port": %d, "video_port": %d}`, aport, vport))
	sdpFile := filepath.Join(t.TempDir(), "forward.sdp")
	if err := os.WriteFile(sdpFile, []byte(sdp), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-protocol_whitelist", "file,udp,rtp", "-i", sdpFile,
		"-frames:v", "30", "-f", "null", "-")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg on the SDP:\n%s\nfailed: %v\n%s", sdp, err, stderr.String())
	}
	out := stderr.String()
	if !regexp.MustCompile(`Audio: opus`).MatchString(out) {
		t.Errorf("ffmpeg saw no Opus stream:\n%s", out)
	}
	if !regexp.MustCompile(`(?i)Video: ` + map[string]string{"VP8": "vp8", "VP9": "vp9", "H264": "h264"}[codec]).MatchString(out) {
		t.Errorf("ffmpeg saw no %s stream:\n%s", codec, out)
	}
	m := regexp.MustCompile(`frame=\s*(\d+)`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatalf("ffmpeg decoded no frame:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[len(m)-1][1]); n < 30 {
		t.Errorf("ffmpeg decoded %d %s frames, want 30:\n%s", n, codec, out)
	}
}

// freeUDPPort returns a UDP port of 127.0.0.1 that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// loopSamples writes samples every interval, from the start again at the
// end, until stop.
func loopSamples(stop <-chan struct{}, tr *webrtc.TrackLocalStaticSample, interval time.Duration, samples [][]byte) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		_ = tr.WriteSample(media.Sample{Data: samples[i%len(samples)], Duration: interval})
	}
}

// videoFrames splits an IVF file (VP8, VP9) or an Annex-B stream (H264)
// into frames.
func videoFrames(t *testing.T, codec string, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	if codec == "H264" {
		r, err := h264reader.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var au []byte // SPS, PPS and SEI wait for the slice they precede
		for {
			nal, err := r.NextNAL()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			au = append(append(au, 0, 0, 0, 1), nal.Data...)
			if typ := nal.Data[0] & 0x1f; typ == 1 || typ == 5 { // a slice ends the access unit
				out = append(out, au)
				au = nil
			}
		}
		return out
	}
	r, _, err := ivfreader.NewWith(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame)
	}
	return out
}

// oggPages returns the Opus packets of an Ogg file whose pages hold one
// packet each (-page_duration 20000), without the two header pages.
func oggPages(t *testing.T, b []byte) [][]byte {
	t.Helper()
	r, _, err := oggreader.NewWith(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		page, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		out = append(out, page)
	}
	return out
}
