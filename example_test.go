package sfu_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/signaling"
)

// A program that embeds the engine: Sora signaling on its own mux, the
// management API on loopback, and a channel driven from Go. README.md
// shows this body as its main function (TestREADMEEmbeddingExample keeps
// the two the same); it is compiled, not run, since it serves until
// interrupted.
func Example_embedding() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	engine, err := sfu.NewEngine(sfu.Options{UDPAddr: ":5000"}) // one UDP port for every peer
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(context.Background())

	// Sora's WebSocket signaling on your mux; the management API on loopback only.
	mux := http.NewServeMux()
	mux.Handle("/signaling", signaling.NewHandler(engine))
	go func() { log.Fatal(http.ListenAndServe(":5000", mux)) }()
	go func() { log.Fatal(http.ListenAndServe("127.0.0.1:3000", httpapi.NewHandler(engine))) }()

	// Drive a channel from Go: every 10 s, list channel "sora" and push to it.
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, c := range engine.Channel("sora").ListConnections() {
			log.Println(c.ConnectionID, c.ClientID, c.Role)
		}
		err := engine.Channel("sora").Push(ctx, json.RawMessage(`{"message":"hello"}`))
		if err != nil && !errors.Is(err, sfu.ErrChannelNotFound) {
			log.Println("push:", err)
		}
	}
}

// Embedding: create an engine, mount its signaling handler on your own
// mux, and close the engine when the program ends.
func Example() {
	engine, err := sfu.NewEngine(sfu.Options{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/signaling", signaling.NewHandler(engine))
	// http.ListenAndServe(":5000", mux)

	fmt.Println("channels:", len(engine.Channels()))
	// Output: channels: 0
}

// Driving a channel from Go: a handle's methods report ErrChannelNotFound
// while the channel has no connections.
func ExampleEngine_Channel() {
	engine, err := sfu.NewEngine(sfu.Options{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(context.Background())

	ch := engine.Channel("sora")
	err = ch.Push(context.Background(), []byte(`{"message":"hello"}`))
	fmt.Println(errors.Is(err, sfu.ErrChannelNotFound))
	// Output: true
}

// Deciding who may join: Authenticate sees every connect request.
func ExampleOptions_authenticate() {
	engine, err := sfu.NewEngine(sfu.Options{
		UDPAddr: "127.0.0.1:0",
		Authenticate: func(ctx context.Context, req *sfu.ConnectRequest) (sfu.Decision, error) {
			if req.ChannelID != "sora" {
				return sfu.Decision{Allow: false, Reason: "UNKNOWN-CHANNEL"}, nil
			}
			return sfu.Decision{Allow: true}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(context.Background())

	_, _, err = engine.Connect(context.Background(), sfu.ConnectRequest{ChannelID: "other", Role: sfu.RoleRecvOnly})
	fmt.Println(errors.Is(err, sfu.ErrRejected))
	// Output: true
}
