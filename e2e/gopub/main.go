// Command gopub publishes a looped VP8 file to a gosfu channel the way
// libwebrtc packetizes it (a frame split into packets of about equal
// size, smaller ones first) but without pacing: each frame's packets
// leave back to back. The browser tests use it to check that a
// subscriber in Chromium decodes what the server forwards from such a
// bursty publisher: held in the batch, padded to equal sizes, sealed by
// the engine's SRTP egress.
//
// It prints "connected <connection id>" once it is publishing, and runs
// until SIGINT, SIGTERM or the end of its standard input.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/internal/packetsize"
)

// maxPayload is the largest RTP payload a packet carries (libwebrtc's is
// about this, below a 1200-byte packet).
const maxPayload = 1100

func main() {
	url := flag.String("url", "ws://127.0.0.1:5000/signaling", "signaling URL")
	channel := flag.String("channel", "", "channel id")
	file := flag.String("ivf", "e2e/gopub/testdata/noise-256x192.ivf", "VP8 IVF file, looped; its first frame must be a key frame")
	flag.Parse()
	if *channel == "" {
		log.Fatal("gopub: -channel is required")
	}
	frames, err := readIVF(*file)
	if err != nil {
		log.Fatalf("gopub: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { // the test closes our stdin when it is done with us
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "gopub")
	if err != nil {
		log.Fatalf("gopub: %v", err)
	}
	c, err := client.Dial(ctx, client.Config{
		URL: *url, ChannelID: *channel, Role: client.RoleSendonly,
		VideoCodecType: "VP8", Audio: client.Bool(false), Tracks: []webrtc.TrackLocal{track},
	})
	if err != nil {
		log.Fatalf("gopub: connect: %v", err)
	}
	defer c.Close()
	fmt.Printf("connected %s\n", c.ConnectionID())

	if err := publish(ctx, track, frames); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatalf("gopub: %v", err)
	}
}

func readIVF(name string) ([][]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		return nil, err
	}
	var frames [][]byte
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return nil, err
		}
		frames = append(frames, frame)
	}
}

// publish sends the frames in a loop at 30 per second, each frame's
// packets back to back.
func publish(ctx context.Context, track *webrtc.TrackLocalStaticRTP, frames [][]byte) error {
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2}}
	buf := make([]byte, maxPayload)
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		chunks := splitAboutEqually(frames[i%len(frames)], maxPayload-1)
		for j, chunk := range chunks {
			buf[0] = 0 // VP8 payload descriptor: X=0, N=0, PID=0
			if j == 0 {
				buf[0] = 0x10 // S: start of the partition
			}
			pkt.Payload = buf[:1+copy(buf[1:], chunk)]
			pkt.Marker = j == len(chunks)-1
			if err := track.WriteRTP(pkt); err != nil {
				return err
			}
			pkt.SequenceNumber++
		}
		pkt.Timestamp += 90000 / 30
	}
}

// splitAboutEqually cuts b into the fewest chunks of at most max bytes,
// sized as libwebrtc's packetizer would.
func splitAboutEqually(b []byte, max int) [][]byte {
	total := len(b)
	n := packetsize.Count(total, max)
	chunks := make([][]byte, 0, n)
	for i := range n {
		size := packetsize.AboutEqual(total, n, i)
		chunks = append(chunks, b[:size])
		b = b[size:]
	}
	return chunks
}
