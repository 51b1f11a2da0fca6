package cluster_test

import (
	"context"
	"log"
	"net/http"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/cluster"
)

// A node of a cluster whose NATS is external: mount its handlers where a
// single node mounts signaling.NewHandler and httpapi.NewHandler.
func Example() {
	ctx := context.Background()
	engine, err := sfu.NewEngine(sfu.Options{})
	if err != nil {
		log.Fatal(err)
	}
	node, err := cluster.New(ctx, engine, cluster.Config{
		NodeName:     "n1",
		SignalingURL: "wss://n1.example.com/signaling",
		NATSURL:      "nats://nats1:4222,nats://nats2:4222,nats://nats3:4222",
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/signaling", node.SignalingHandler())
	mux.Handle("/api", node.APIHandler())
	_ = http.ListenAndServe(":5000", mux)

	// On the way out: the engine first, then leave the cluster.
	_ = engine.Close(ctx)
	_ = node.Close(ctx)
}
