package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/cluster"
	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/signaling"
)

// clusterConfig holds the multi-node flags. With none of -node-name,
// -nats-url and -nats-listen the server is a single node and runs no NATS.
type clusterConfig struct {
	nodeName          string
	signalingURL      string
	natsURL           string
	natsListen        string
	natsClusterListen string
	natsRoutes        string
	natsStoreDir      string
	ttl               time.Duration
	maxConnections    int
	joinTimeout       time.Duration
}

func (cc *clusterConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&cc.nodeName, "node-name", env("SFU_NODE_NAME", ""), "this node's name in a cluster (A-Z a-z 0-9 _ -); turns cluster mode on (SFU_NODE_NAME)")
	fs.StringVar(&cc.signalingURL, "signaling-url", env("SFU_SIGNALING_URL", ""), "how clients reach this node's signaling, e.g. wss://node1.example.com/signaling; sent in redirects (SFU_SIGNALING_URL)")
	fs.StringVar(&cc.natsURL, "nats-url", env("SFU_NATS_URL", ""), "external NATS cluster (comma-separated URLs) instead of the embedded server (SFU_NATS_URL)")
	fs.StringVar(&cc.natsListen, "nats-listen", env("SFU_NATS_LISTEN", ""), "run the embedded NATS server with its client port here, e.g. 127.0.0.1:4222 (SFU_NATS_LISTEN)")
	fs.StringVar(&cc.natsClusterListen, "nats-cluster-listen", env("SFU_NATS_CLUSTER_LISTEN", ""), "the embedded server's route port for the other nodes, e.g. 0.0.0.0:6222 (SFU_NATS_CLUSTER_LISTEN)")
	fs.StringVar(&cc.natsRoutes, "nats-routes", env("SFU_NATS_ROUTES", ""), "comma-separated route URLs of the embedded servers, e.g. nats://n1:6222,nats://n2:6222 (SFU_NATS_ROUTES)")
	fs.StringVar(&cc.natsStoreDir, "nats-store-dir", env("SFU_NATS_STORE_DIR", ""), "the embedded server's JetStream directory; default <tmp>/gosfu-nats-<node-name> (SFU_NATS_STORE_DIR)")
	fs.DurationVar(&cc.ttl, "cluster-ttl", envDuration("SFU_CLUSTER_TTL", cluster.DefaultTTL), "a dead node's channels are claimed elsewhere after this (SFU_CLUSTER_TTL)")
	fs.IntVar(&cc.maxConnections, "max-connections", envInt("SFU_MAX_CONNECTIONS", 0), "in a cluster, send new channels to another node while this one has this many connections; 0: no limit (SFU_MAX_CONNECTIONS)")
	fs.DurationVar(&cc.joinTimeout, "cluster-join-timeout", envDuration("SFU_CLUSTER_JOIN_TIMEOUT", time.Minute), "how long to wait for the NATS cluster at start (SFU_CLUSTER_JOIN_TIMEOUT)")
}

func (cc clusterConfig) enabled() bool {
	return cc.nodeName != "" || cc.natsURL != "" || cc.natsListen != ""
}

// clusterMember is a running node and its embedded NATS server (nil with
// -nats-url).
type clusterMember struct {
	node     *cluster.Node
	embedded *cluster.EmbeddedServer
}

// joinCluster starts the embedded NATS server (unless -nats-url) and the
// cluster node. It returns nil when no cluster flag is set.
func joinCluster(ctx context.Context, cc clusterConfig, engine *sfu.Engine, log *slog.Logger,
	sigOpts []signaling.Option, apiOpts []httpapi.Option) (*clusterMember, error) {
	if !cc.enabled() {
		return nil, nil
	}
	switch {
	case cc.nodeName == "" || cc.signalingURL == "":
		return nil, fmt.Errorf("cluster: -node-name and -signaling-url are both needed")
	case cc.natsURL != "" && cc.natsListen != "":
		return nil, fmt.Errorf("cluster: -nats-url (external) and -nats-listen (embedded) exclude each other")
	case cc.natsURL == "" && cc.natsListen == "":
		return nil, fmt.Errorf("cluster: give -nats-url (external NATS) or -nats-listen (embedded)")
	}
	m := &clusterMember{}
	natsURL := cc.natsURL
	if natsURL == "" {
		dir := cc.natsStoreDir
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "gosfu-nats-"+cc.nodeName)
		}
		var routes []string
		for r := range strings.SplitSeq(cc.natsRoutes, ",") {
			if r = strings.TrimSpace(r); r != "" {
				routes = append(routes, r)
			}
		}
		srv, err := cluster.StartEmbedded(cluster.EmbeddedConfig{
			Name: cc.nodeName, Listen: cc.natsListen, ClusterListen: cc.natsClusterListen,
			Routes: routes, StoreDir: dir,
		})
		if err != nil {
			return nil, err
		}
		m.embedded, natsURL = srv, srv.ClientURL()
		log.Info("embedded NATS listening", "client", natsURL, "routes", srv.RouteURL(), "store", dir)
	}
	jctx, cancel := context.WithTimeout(ctx, cc.joinTimeout)
	defer cancel()
	node, err := cluster.New(jctx, engine, cluster.Config{
		NodeName: cc.nodeName, SignalingURL: cc.signalingURL, NATSURL: natsURL,
		TTL: cc.ttl, MaxConnections: cc.maxConnections, Logger: log,
		SignalingOptions: sigOpts, APIOptions: apiOpts,
	})
	if err != nil {
		if m.embedded != nil {
			m.embedded.Shutdown()
		}
		return nil, err
	}
	m.node = node
	return m, nil
}

// leave releases the node's channels and stops the embedded server.
// Called after the engine closed.
func (m *clusterMember) leave(log *slog.Logger) {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.node.Close(ctx); err != nil {
		log.Warn("leaving the cluster", "err", err)
	}
	if m.embedded != nil {
		m.embedded.Shutdown()
	}
}
