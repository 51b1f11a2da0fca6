package sfu_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/internal/sfutest"
)

// FuzzAnswer hands a client's SDP answer, arbitrary text, to a fresh
// connection (a real pion PeerConnection with the engine's offer). The
// engine must never panic or hang: it applies the answer or refuses it
// with an error and ends that connection, and the engine goes on
// accepting connects.
func FuzzAnswer(f *testing.F) {
	engine := sfutest.NewEngine(f, sfu.Options{})
	ctx := context.Background()
	// The engine's own offer turned into an answer is the seed closest to
	// one a browser sends.
	_, offer, err := engine.Connect(ctx, sfu.ConnectRequest{ChannelID: "seed", Role: sfu.RoleRecvOnly})
	if err != nil {
		f.Fatal(err)
	}
	answer := strings.NewReplacer("a=sendonly", "a=recvonly", "a=actpass", "a=active").Replace(offer.SDP)
	f.Add(answer)
	f.Add("v=0\r\n")
	f.Add(strings.ReplaceAll(answer, "m=audio", "m=video"))
	f.Fuzz(func(t *testing.T, sdp string) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, _, err := engine.Connect(ctx, sfu.ConnectRequest{ChannelID: "fuzz", Role: sfu.RoleSendRecv})
		if err != nil {
			t.Fatalf("connect refused: %v", err)
		}
		defer c.Close(sfu.ReasonDisconnectedAPI)
		if err := c.Answer(sdp); errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("the answer hung")
		}
	})
}
