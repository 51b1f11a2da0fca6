// Command sfu runs the gosfu engine as a standalone server: Sora
// signaling and a demo page on :5000, all peers on one UDP port.
//
// Every flag can also be set with an environment variable (shown in
// -help); a flag given on the command line wins.
//
// SIGTERM (or SIGINT) drains: new connects are refused with 4490 and a
// reason to retry, /readyz answers 503, and connections have
// -drain-timeout to end before the rest are closed with 1001. A second
// signal cuts the drain short.
//
// The management API (httpapi), GET /metrics, /healthz and /readyz listen
// on -api-listen, loopback only by default. README.md lists the flags;
// docs/api.md describes the API and the signaling.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/internal/memstats"
	"github.com/gosfu/sfu/metrics"
	"github.com/gosfu/sfu/signaling"
	"github.com/gosfu/sfu/webhook"
)

//go:embed web
var web embed.FS

type config struct {
	listen     string
	apiListen  string
	apiToken   string
	apiCORS    string
	udpPort    int
	publicIP   string
	loopback   bool
	batchSends bool
	pionSRTP   bool
	bwAlloc    bool
	logLevel   string
	logFormat  string
	iceServers string
	// Webhooks (empty URLs send none).
	authWebhookURL     string
	authWebhookTimeout time.Duration
	eventWebhookURL    string
	sessionWebhookURL  string
	// drainTimeout bounds the graceful drain after SIGTERM.
	drainTimeout time.Duration
	// stopNow, when closed, cuts a drain short (a second signal).
	stopNow <-chan struct{}
	// debugListen serves net/http/pprof when set.
	debugListen string
	// interfaceFilter, when set, gathers candidates on that interface
	// only (tests use "lo").
	interfaceFilter string
	// dataChannels are the DataChannel signaling defaults and the
	// messaging rate.
	dataChannels sfu.DataChannelOptions
	// Signaling limits (signaling.With...).
	maxSockets                 int
	connectRate, messageRate   float64
	connectBurst, messageBurst int
	// cluster: the multi-node flags (cluster.go).
	cluster clusterConfig
	// apiReady, when set, receives the management API's address once
	// listening (tests).
	apiReady chan<- net.Addr
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sfu:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("sfu", flag.ContinueOnError)
	fs.StringVar(&c.listen, "listen", env("SFU_LISTEN", ":5000"), "signaling and demo page address (SFU_LISTEN)")
	fs.StringVar(&c.apiListen, "api-listen", env("SFU_API_LISTEN", "127.0.0.1:3000"), "management API address, loopback only by default; empty disables it (SFU_API_LISTEN)")
	fs.StringVar(&c.apiToken, "api-token", env("SFU_API_TOKEN", ""), "require Authorization: Bearer <token> on the management API (SFU_API_TOKEN)")
	fs.StringVar(&c.apiCORS, "api-cors-origin", env("SFU_API_CORS_ORIGIN", ""), "origin allowed to call the management API from a browser (SFU_API_CORS_ORIGIN)")
	fs.IntVar(&c.udpPort, "udp-port", envInt("SFU_UDP_PORT", 5000), "the one UDP port for all peers (SFU_UDP_PORT)")
	fs.StringVar(&c.publicIP, "public-ip", env("SFU_PUBLIC_IP", ""), "public IP to announce when behind 1:1 NAT (SFU_PUBLIC_IP)")
	fs.BoolVar(&c.loopback, "loopback-candidates", envBool("SFU_LOOPBACK_CANDIDATES", true), "also gather loopback ICE candidates (SFU_LOOPBACK_CANDIDATES)")
	fs.BoolVar(&c.batchSends, "batch-sends", envBool("SFU_BATCH_SENDS", true), "batch UDP sends with sendmmsg(2) and UDP GSO, Linux only (SFU_BATCH_SENDS)")
	fs.BoolVar(&c.bwAlloc, "bandwidth-allocation", envBool("SFU_BANDWIDTH_ALLOCATION", false), "choose each subscriber's simulcast layers within its estimated downlink, probing before stepping up (SFU_BANDWIDTH_ALLOCATION)")
	fs.BoolVar(&c.pionSRTP, "pion-srtp", envBool("SFU_PION_SRTP", false), "leave SRTP to pion instead of the engine's own egress and ingress (SFU_PION_SRTP)")
	fs.StringVar(&c.logLevel, "log-level", env("SFU_LOG_LEVEL", "info"), "debug, info, warn or error (SFU_LOG_LEVEL)")
	fs.StringVar(&c.logFormat, "log-format", env("SFU_LOG_FORMAT", "text"), "text or json, one object per line (SFU_LOG_FORMAT)")
	fs.StringVar(&c.authWebhookURL, "auth-webhook-url", env("SFU_AUTH_WEBHOOK_URL", ""), "POST every connect here and admit it only if the answer allows it (SFU_AUTH_WEBHOOK_URL)")
	fs.DurationVar(&c.authWebhookTimeout, "auth-webhook-timeout", envDuration("SFU_AUTH_WEBHOOK_TIMEOUT", webhook.DefaultAuthTimeout), "refuse a connect whose auth webhook has not answered in this time (SFU_AUTH_WEBHOOK_TIMEOUT)")
	fs.StringVar(&c.eventWebhookURL, "event-webhook-url", env("SFU_EVENT_WEBHOOK_URL", ""), "POST connection.created/updated/destroyed here (SFU_EVENT_WEBHOOK_URL)")
	fs.StringVar(&c.sessionWebhookURL, "session-webhook-url", env("SFU_SESSION_WEBHOOK_URL", ""), "POST session.created/destroyed here (SFU_SESSION_WEBHOOK_URL)")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", envDuration("SFU_DRAIN_TIMEOUT", 30*time.Second), "on SIGTERM, refuse new connects and wait this long for connections to end before closing them (SFU_DRAIN_TIMEOUT)")
	fs.StringVar(&c.interfaceFilter, "interface", env("SFU_INTERFACE", ""), "gather ICE candidates on this network interface only (SFU_INTERFACE)")
	fs.StringVar(&c.debugListen, "debug-listen", env("SFU_DEBUG_LISTEN", ""), "serve net/http/pprof, and /debug/memstats (goroutines, heap after GC), on this address, e.g. 127.0.0.1:6060; off by default (SFU_DEBUG_LISTEN)")
	fs.StringVar(&c.iceServers, "ice-servers", env("SFU_ICE_SERVERS", ""), "comma-separated STUN/TURN URLs handed to clients (SFU_ICE_SERVERS)")
	fs.BoolVar(&c.dataChannels.Signaling, "data-channel-signaling", envBool("SFU_DATA_CHANNEL_SIGNALING", false), "data_channel_signaling for clients that do not send it (SFU_DATA_CHANNEL_SIGNALING)")
	fs.BoolVar(&c.dataChannels.IgnoreDisconnectWebSocket, "ignore-disconnect-websocket", envBool("SFU_IGNORE_DISCONNECT_WEBSOCKET", false), "ignore_disconnect_websocket for clients that do not send it (SFU_IGNORE_DISCONNECT_WEBSOCKET)")
	fs.Float64Var(&c.dataChannels.Limits.MessagesPerSecond, "message-rate", 0, "DataChannel messages per second each connection may send on # labels; 0: the engine's default, 100")
	fs.IntVar(&c.maxSockets, "max-signaling-sockets", envInt("SFU_MAX_SIGNALING_SOCKETS", signaling.DefaultMaxSockets), "signaling WebSockets open at once; one more is closed with 4490 TOO-MANY-CONNECTIONS; 0: no bound (SFU_MAX_SIGNALING_SOCKETS)")
	fs.Float64Var(&c.connectRate, "connect-rate", envFloat("SFU_CONNECT_RATE", 0), "signaling WebSockets one IP address may open per second on average; over it, 4490 CONNECT-RATE-LIMITED; 0: no bound (SFU_CONNECT_RATE)")
	fs.IntVar(&c.connectBurst, "connect-burst", envInt("SFU_CONNECT_BURST", 20), "with -connect-rate, how many an address may open at once (SFU_CONNECT_BURST)")
	fs.Float64Var(&c.messageRate, "signaling-message-rate", envFloat("SFU_SIGNALING_MESSAGE_RATE", signaling.DefaultMessageRate), "WebSocket messages per second one client may send on average; over it, 4490 MESSAGE-RATE-LIMITED; 0: no bound (SFU_SIGNALING_MESSAGE_RATE)")
	fs.IntVar(&c.messageBurst, "signaling-message-burst", envInt("SFU_SIGNALING_MESSAGE_BURST", signaling.DefaultMessageBurst), "with -signaling-message-rate, how many at once (SFU_SIGNALING_MESSAGE_BURST)")
	c.cluster.flags(fs)
	return c, fs.Parse(args)
}

func run(args []string) error { return runWith(args, os.Stderr, nil) }

// runWith is run logging to logOut; ready, when not nil, is told the
// management API's address (when it is on) and then the signaling address
// once listening (tests).
func runWith(args []string, logOut io.Writer, ready chan<- net.Addr) error {
	c, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log, err := newLogger(logOut, c.logFormat, level)
	if err != nil {
		return err
	}
	c.apiReady = ready

	// The first SIGTERM or SIGINT drains; a second one stops at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, drain := context.WithCancel(context.Background())
	defer drain()
	stopNow, done := make(chan struct{}), make(chan struct{})
	defer close(done)
	c.stopNow = stopNow
	go func() {
		select {
		case s := <-sigs:
			log.Info("signal: draining; send it again to stop at once", "signal", s.String())
			drain()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			log.Info("signal: stopping now", "signal", s.String())
			close(stopNow)
		case <-done:
		}
	}()
	return serve(ctx, c, log, ready)
}

// serve runs the server until ctx is done, then drains: new connects are
// refused (4490, retry) and /readyz answers 503 while the connections
// have c.drainTimeout to end (less if c.stopNow closes); the rest are then
// closed (clients see close code 1001). It returns once all goroutines
// ended. If ready is not nil, it receives the signaling address once
// listening.
func serve(ctx context.Context, c config, log *slog.Logger, ready chan<- net.Addr) error {
	opts := sfu.Options{
		Logger:              log,
		UDPAddr:             net.JoinHostPort("", strconv.Itoa(c.udpPort)),
		IncludeLoopback:     c.loopback,
		BatchSends:          c.batchSends,
		PionSRTP:            c.pionSRTP,
		BandwidthAllocation: c.bwAlloc,
		DataChannels:        c.dataChannels,
	}
	if c.publicIP != "" {
		opts.PublicIPs = []string{c.publicIP}
	}
	if c.iceServers != "" {
		opts.ICEServers = []sfu.ICEServer{{URLs: strings.Split(c.iceServers, ",")}}
	}
	if c.interfaceFilter != "" {
		keep := c.interfaceFilter
		opts.InterfaceFilter = func(name string) bool { return name == keep }
	}
	if c.authWebhookURL != "" {
		opts.Authenticate = webhook.NewAuthenticator(c.authWebhookURL, webhook.WithAuthTimeout(c.authWebhookTimeout)).Authenticate
	}
	engine, err := sfu.NewEngine(opts)
	if err != nil {
		return err
	}
	var notifier *webhook.Notifier
	if c.eventWebhookURL != "" || c.sessionWebhookURL != "" {
		notifier = webhook.NewNotifier(webhook.NotifierConfig{
			EventURL: c.eventWebhookURL, SessionURL: c.sessionWebhookURL, Logger: log,
		})
		engine.AddObserver(notifier)
		// Deferred, so after the engine closed: the connections' and
		// sessions' last webhooks are queued by then.
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := notifier.Close(ctx); err != nil {
				log.Warn("webhooks left unsent", "err", err)
			}
		}()
	}
	m := metrics.New(engine)

	sigOpts := []signaling.Option{signaling.WithLogger(log),
		signaling.WithMaxSockets(c.maxSockets), signaling.WithConnectRate(c.connectRate, c.connectBurst),
		signaling.WithMessageRate(c.messageRate, c.messageBurst)}
	member, err := joinCluster(ctx, c.cluster, engine, log, sigOpts, apiOptions(c, log))
	if err != nil {
		engine.Close(context.Background())
		return err
	}
	// Deferred before the engine's close below runs: leaves after it.
	defer member.leave(log)
	sig, apiHandler := signaling.NewHandler(engine, sigOpts...), httpapi.NewHandler(engine, apiOptions(c, log)...)
	if member != nil {
		sig, apiHandler = member.node.SignalingHandler(), member.node.APIHandler()
	}
	m.AddSignaling(sig)

	mux := http.NewServeMux()
	mux.Handle("/signaling", sig)
	static, err := fs.Sub(web, "web")
	if err != nil {
		return err
	}
	mux.Handle("/", http.FileServerFS(static))

	srv := &http.Server{Addr: c.listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		engine.Close(context.Background())
		return err
	}
	serveErr := make(chan error, 3)
	apiSrv, err := serveAPI(c, engine, m, apiHandler, log, serveErr)
	if err != nil {
		ln.Close()
		engine.Close(context.Background())
		return err
	}
	debugSrv, err := serveDebug(c, log, serveErr)
	if err != nil {
		ln.Close()
		engine.Close(context.Background())
		return err
	}
	log.Info("gosfu listening", "signaling", "ws://"+ln.Addr().String()+"/signaling", "udp", engine.UDPAddr())
	if ready != nil {
		ready <- ln.Addr()
	}
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		drainEngine(engine, c, log)
		log.Info("shutting down")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Closing the engine first ends every session, which lets the
	// hijacked WebSocket handlers return.
	if cerr := engine.Close(shutdownCtx); cerr != nil {
		log.Warn("engine close", "err", cerr)
	}
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	for _, s := range []*http.Server{apiSrv, debugSrv} {
		if s == nil {
			continue
		}
		if serr := s.Shutdown(shutdownCtx); serr != nil && err == nil {
			err = serr
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// serveAPI starts the management API on c.apiListen (nil server when it
// is empty); Serve's result goes to errc.
func serveAPI(c config, engine *sfu.Engine, m *metrics.Metrics, api http.Handler, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	if c.apiListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.apiListen)
	if err != nil {
		return nil, fmt.Errorf("management API: %w", err)
	}
	srv := &http.Server{Handler: apiMux(c, engine, m, api), ReadHeaderTimeout: 10 * time.Second}
	log.Info("management API listening", "addr", "http://"+ln.Addr().String()+"/", "bearer_token", c.apiToken != "")
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() && c.apiToken == "" {
		log.Warn("management API reachable beyond loopback without --api-token")
	}
	if c.apiReady != nil {
		c.apiReady <- ln.Addr()
	}
	go func() { errc <- srv.Serve(ln) }()
	return srv, nil
}

// apiOptions configures the management API handler.
func apiOptions(c config, log *slog.Logger) []httpapi.Option {
	opts := []httpapi.Option{httpapi.WithLogger(log), httpapi.WithBearerToken(c.apiToken)}
	if c.apiCORS != "" {
		opts = append(opts, httpapi.WithCORSOrigin(c.apiCORS))
	}
	return opts
}

// serveDebug serves net/http/pprof on c.debugListen (nil server when it
// is empty), for profiling a running server.
func serveDebug(c config, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	if c.debugListen == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/memstats", memstats.Handler())
	ln, err := net.Listen("tcp", c.debugListen)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	log.Info("pprof listening", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { errc <- srv.Serve(ln) }()
	return srv, nil
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envFloat(key string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(key), 64); err == nil {
		return v
	}
	return def
}

func envBool(key string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(key)); err == nil {
		return v
	}
	return def
}
