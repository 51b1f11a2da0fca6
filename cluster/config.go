package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/signaling"
)

// Defaults for Config.
const (
	DefaultTTL            = 10 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	// Bucket and subject names, shared by every node of a cluster.
	ChannelsBucket = "gosfu_channels"
	NodesBucket    = "gosfu_nodes"
	apiSubject     = "gosfu.api."
)

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("cluster: invalid configuration")

var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Config describes one node.
type Config struct {
	// NodeName names the node in the cluster: 1 to 64 of A-Z a-z 0-9 _ -.
	NodeName string
	// SignalingURL is how clients reach this node's signaling endpoint,
	// e.g. "wss://node1.example.com/signaling"; redirects send it.
	SignalingURL string
	// NATSURL is the NATS server (or comma-separated servers) to use:
	// an external cluster, or an EmbeddedServer's ClientURL.
	NATSURL string
	// NATSOptions are added to the connection's (credentials, TLS).
	NATSOptions []nats.Option
	// TTL is how long a node and its channels outlive its last heartbeat
	// (default 10 s); heartbeats go every TTL/3.
	TTL time.Duration
	// MaxConnections makes this node send new channels elsewhere while it
	// has this many connections (0: no limit).
	MaxConnections int
	// Replicas of the buckets: 0 chooses 3 when the NATS cluster has 3 or
	// more servers, else 1.
	Replicas int
	// RequestTimeout bounds a management API call routed to another node
	// (default 5 s).
	RequestTimeout time.Duration
	// APIOptions and SignalingOptions configure the handlers the node
	// builds (token, CORS, limits).
	APIOptions       []httpapi.Option
	SignalingOptions []signaling.Option
	// Logger (default: discard).
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if !nodeNameRE.MatchString(c.NodeName) {
		return fmt.Errorf("%w: node name %q: want 1 to 64 of A-Z a-z 0-9 _ -", ErrConfig, c.NodeName)
	}
	if c.SignalingURL == "" {
		return fmt.Errorf("%w: no signaling URL", ErrConfig)
	}
	if c.NATSURL == "" {
		return fmt.Errorf("%w: no NATS URL", ErrConfig)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.TTL < time.Second {
		return fmt.Errorf("%w: TTL %v below 1s", ErrConfig, c.TTL)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("%w: replicas %d: want 0 to 5", ErrConfig, c.Replicas)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
