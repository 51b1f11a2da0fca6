package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/signaling"
)

// maxAPIInFlight bounds the routed API calls a node serves at once; more
// are answered 503 at once.
const maxAPIInFlight = 64

// Node is one engine's membership in a cluster.
type Node struct {
	cfg    Config
	engine *sfu.Engine
	log    *slog.Logger

	nc       *nats.Conn
	channels jetstream.KeyValue // ChannelsBucket
	nodes    jetstream.KeyValue // NodesBucket
	sub      *nats.Subscription
	local    http.Handler // this node's API, serving routed calls
	apiSem   chan struct{}

	own ownership // ownership.go

	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// nodeRecord is a node's entry in NodesBucket.
type nodeRecord struct {
	Name           string `json:"name"`
	SignalingURL   string `json:"signaling_url"`
	Connections    int    `json:"connections"`
	MaxConnections int    `json:"max_connections,omitempty"`
	Draining       bool   `json:"draining"`
}

// New joins engine to the cluster: it connects to NATS, creates the
// buckets if needed, registers the node and starts its heartbeats. Call
// it before serving clients; ctx bounds the setup (JetStream may need a
// few seconds to elect a leader after the servers start). Close leaves.
func New(ctx context.Context, engine *sfu.Engine, cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, engine: engine, log: cfg.Logger.With("node", cfg.NodeName),
		apiSem: make(chan struct{}, maxAPIInFlight),
		own:    newOwnership(),
		quit:   make(chan struct{}),
	}
	opts := append([]nats.Option{
		nats.Name("gosfu " + cfg.NodeName),
		nats.MaxReconnects(-1),
	}, cfg.NATSOptions...)
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS %s: %w", cfg.NATSURL, err)
	}
	n.nc = nc
	if err := n.openBuckets(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	n.local = httpapi.NewHandler(engine, cfg.APIOptions...)
	if err := n.register(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	n.sub, err = nc.Subscribe(apiSubject+cfg.NodeName, n.serveAPI)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	engine.AddObserver(observer{n})
	n.wg.Add(1)
	go n.ownerLoop()
	n.log.Info("joined the cluster", "nats", nc.ConnectedUrlRedacted(), "signaling_url", cfg.SignalingURL)
	return n, nil
}

// openBuckets creates (or opens) both buckets, retrying while JetStream
// is not ready yet.
func (n *Node) openBuckets(ctx context.Context) error {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	replicas := n.cfg.Replicas
	if replicas == 0 {
		replicas = 1
		if len(n.nc.Servers()) >= 3 {
			replicas = 3
		}
	}
	open := func(bucket string) (jetstream.KeyValue, error) {
		for {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			kv, err := js.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{
				Bucket: bucket, TTL: n.cfg.TTL, Replicas: replicas, History: 1,
			})
			cancel()
			if err == nil {
				return kv, nil
			}
			n.log.Info("opening bucket", "bucket", bucket, "err", err)
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("cluster: bucket %s: %w (last error: %w)", bucket, ctx.Err(), err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if n.channels, err = open(ChannelsBucket); err != nil {
		return err
	}
	n.nodes, err = open(NodesBucket)
	return err
}

// SignalingHandler returns the engine's signaling handler with routing:
// connects for channels owned elsewhere are redirected.
func (n *Node) SignalingHandler() *signaling.Handler {
	return signaling.NewHandler(n.engine, append(n.cfg.SignalingOptions, signaling.WithRouter(n))...)
}

// APIHandler returns the management API handler that works against the
// whole cluster.
func (n *Node) APIHandler() http.Handler {
	return httpapi.NewHandler(n.engine, append(n.cfg.APIOptions, httpapi.WithRouter(n))...)
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// Close leaves the cluster: it releases the channels this node owns and
// its registration (so that they are claimed again at once, without
// waiting for the TTL) and closes the NATS connection. Close the engine
// (or drain it) first, so no channel is left. ctx bounds the release.
func (n *Node) Close(ctx context.Context) error {
	var err error
	n.closeOnce.Do(func() {
		close(n.quit)
		n.wg.Wait()
		for ch, rev := range n.own.takeAll() {
			e := retryTransient(ctx, func() error {
				return n.channels.Delete(ctx, channelKey(ch), jetstream.LastRevision(rev))
			})
			if e != nil && !isWrongRevision(e) {
				err = errors.Join(err, fmt.Errorf("cluster: release %q: %w", ch, e))
			}
		}
		if e := retryTransient(ctx, func() error { return n.nodes.Delete(ctx, n.cfg.NodeName) }); e != nil {
			err = errors.Join(err, fmt.Errorf("cluster: unregister: %w", e))
		}
		if e := n.nc.Drain(); e != nil {
			n.nc.Close()
		}
		n.waitClosed(ctx)
	})
	return err
}

// retryTransient runs f until it does not fail for want of a stream
// leader (JetStream elects a new one after a server left) or ctx ends.
func retryTransient(ctx context.Context, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, jetstream.ErrNoStreamResponse) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// abandon stops the node the way a crash does: no release, no
// unregistration; its keys expire after the TTL.
func (n *Node) abandon() {
	n.closeOnce.Do(func() {
		close(n.quit)
		n.wg.Wait()
		n.nc.Close()
		n.waitClosed(context.Background())
	})
}

// waitClosed waits for the connection's goroutines and the API calls
// in flight to end.
func (n *Node) waitClosed(ctx context.Context) {
	for !n.nc.IsClosed() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	for range maxAPIInFlight {
		select {
		case n.apiSem <- struct{}{}:
		case <-ctx.Done():
			return
		}
	}
}

// register writes this node's record.
func (n *Node) register(ctx context.Context) error {
	rec := nodeRecord{
		Name: n.cfg.NodeName, SignalingURL: n.cfg.SignalingURL,
		Connections: n.own.connections(), MaxConnections: n.cfg.MaxConnections,
		Draining: n.engine.Draining(),
	}
	b, _ := json.Marshal(rec)
	if _, err := n.nodes.Put(ctx, n.cfg.NodeName, b); err != nil {
		return fmt.Errorf("cluster: register node: %w", err)
	}
	return nil
}

// liveNodes reads every registered node (those whose record has not
// expired).
func (n *Node) liveNodes(ctx context.Context) ([]nodeRecord, error) {
	lister, err := n.nodes.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: list nodes: %w", err)
	}
	var out []nodeRecord
	for k := range lister.Keys() {
		rec, err := n.node(ctx, k)
		if err != nil {
			continue // expired or deleted since listed
		}
		out = append(out, rec)
	}
	return out, nil
}

// node reads one node's record; jetstream.ErrKeyNotFound when it is gone.
// A record not rewritten for a TTL counts as gone: the node missed three
// heartbeats. JetStream removes an expired key only some time after its
// age passes the TTL (seconds late at times), and a channel of a dead
// node should move on at the TTL.
func (n *Node) node(ctx context.Context, name string) (nodeRecord, error) {
	e, err := n.nodes.Get(ctx, name)
	if err != nil {
		return nodeRecord{}, err
	}
	if time.Since(e.Created()) > n.cfg.TTL {
		return nodeRecord{}, jetstream.ErrKeyNotFound
	}
	var rec nodeRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nodeRecord{}, fmt.Errorf("cluster: node %q record: %w", name, err)
	}
	return rec, nil
}
