package sfu_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/signaling"
)

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
