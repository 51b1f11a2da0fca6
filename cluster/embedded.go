package cluster

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig describes a NATS server run inside the process.
type EmbeddedConfig struct {
	// Name names the server (the node name is a good choice).
	Name string
	// Listen is the client address, host:port ("127.0.0.1:4222"; port 0
	// or -1 picks a free one).
	Listen string
	// ClusterListen is the route address other servers connect to; empty
	// runs a lone server.
	ClusterListen string
	// Routes are the other servers' route URLs ("nats://host:6222").
	Routes []string
	// ClusterName is shared by the servers of one cluster (default "gosfu").
	ClusterName string
	// StoreDir holds JetStream's data.
	StoreDir string
	// ReadyTimeout bounds the start (default 10 s).
	ReadyTimeout time.Duration
}

// EmbeddedServer is a NATS server with JetStream running in this process.
type EmbeddedServer struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream and waits until it
// accepts clients.
func StartEmbedded(cfg EmbeddedConfig) (*EmbeddedServer, error) {
	host, port, err := splitListen(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen: %w", ErrConfig, err)
	}
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("%w: embedded NATS needs a store directory", ErrConfig)
	}
	opts := &server.Options{
		ServerName: cfg.Name, Host: host, Port: port,
		JetStream: true, StoreDir: cfg.StoreDir,
		NoSigs: true, NoLog: true,
	}
	if cfg.ClusterListen != "" {
		chost, cport, err := splitListen(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("%w: cluster listen: %w", ErrConfig, err)
		}
		name := cfg.ClusterName
		if name == "" {
			name = "gosfu"
		}
		opts.Cluster = server.ClusterOpts{Name: name, Host: chost, Port: cport}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("%w: route %q", ErrConfig, r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	go srv.Start()
	wait := cfg.ReadyTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("cluster: embedded NATS not ready after %v", wait)
	}
	return &EmbeddedServer{srv: srv}, nil
}

// ClientURL is the URL nodes connect to (Config.NATSURL).
func (e *EmbeddedServer) ClientURL() string { return e.srv.ClientURL() }

// RouteURL is the URL other servers list in EmbeddedConfig.Routes; ""
// for a lone server.
func (e *EmbeddedServer) RouteURL() string {
	a := e.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats://" + a.String()
}

// Routes is the number of servers this one is routed to.
func (e *EmbeddedServer) Routes() int { return e.srv.NumRoutes() }

// Shutdown stops the server and waits until it stopped.
func (e *EmbeddedServer) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// splitListen parses host:port; port 0 becomes -1 (random) for NATS.
func splitListen(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}
