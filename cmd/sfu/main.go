// Command sfu runs the gosfu engine as a standalone server: Sora
// signaling and a demo page on :5000, all peers on one UDP port.
//
// Every flag can also be set with an environment variable (shown in
// -help); a flag given on the command line wins.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
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
	"github.com/gosfu/sfu/signaling"
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
	logLevel   string
	iceServers string
	// debugListen serves net/http/pprof when set.
	debugListen string
	// interfaceFilter, when set, gathers candidates on that interface
	// only (tests use "lo").
	interfaceFilter string
	// dataChannels are the DataChannel signaling defaults and the
	// messaging rate.
	dataChannels sfu.DataChannelOptions
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
	fs.BoolVar(&c.pionSRTP, "pion-srtp", envBool("SFU_PION_SRTP", false), "leave SRTP to pion instead of the engine's own egress and ingress (SFU_PION_SRTP)")
	fs.StringVar(&c.logLevel, "log-level", env("SFU_LOG_LEVEL", "info"), "debug, info, warn or error (SFU_LOG_LEVEL)")
	fs.StringVar(&c.interfaceFilter, "interface", env("SFU_INTERFACE", ""), "gather ICE candidates on this network interface only (SFU_INTERFACE)")
	fs.StringVar(&c.debugListen, "debug-listen", env("SFU_DEBUG_LISTEN", ""), "serve net/http/pprof on this address, e.g. 127.0.0.1:6060; off by default (SFU_DEBUG_LISTEN)")
	fs.StringVar(&c.iceServers, "ice-servers", env("SFU_ICE_SERVERS", ""), "comma-separated STUN/TURN URLs handed to clients (SFU_ICE_SERVERS)")
	fs.BoolVar(&c.dataChannels.Signaling, "data-channel-signaling", envBool("SFU_DATA_CHANNEL_SIGNALING", false), "data_channel_signaling for clients that do not send it (SFU_DATA_CHANNEL_SIGNALING)")
	fs.BoolVar(&c.dataChannels.IgnoreDisconnectWebSocket, "ignore-disconnect-websocket", envBool("SFU_IGNORE_DISCONNECT_WEBSOCKET", false), "ignore_disconnect_websocket for clients that do not send it (SFU_IGNORE_DISCONNECT_WEBSOCKET)")
	fs.Float64Var(&c.dataChannels.Limits.MessagesPerSecond, "message-rate", 0, "DataChannel messages per second each connection may send on # labels; 0: the engine's default, 100")
	return c, fs.Parse(args)
}

func run(args []string) error {
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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, c, log, nil)
}

// serve runs the server until ctx is done, then closes every connection
// (clients see close code 1001) and returns once all goroutines ended. If
// ready is not nil, it receives the signaling address once listening.
func serve(ctx context.Context, c config, log *slog.Logger, ready chan<- net.Addr) error {
	opts := sfu.Options{
		Logger:          log,
		UDPAddr:         net.JoinHostPort("", strconv.Itoa(c.udpPort)),
		IncludeLoopback: c.loopback,
		BatchSends:      c.batchSends,
		PionSRTP:        c.pionSRTP,
		DataChannels:    c.dataChannels,
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
	engine, err := sfu.NewEngine(opts)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/signaling", signaling.NewHandler(engine, signaling.WithLogger(log)))
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
	apiSrv, err := serveAPI(c, engine, log, serveErr)
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
func serveAPI(c config, engine *sfu.Engine, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	if c.apiListen == "" {
		return nil, nil
	}
	opts := []httpapi.Option{httpapi.WithLogger(log), httpapi.WithBearerToken(c.apiToken)}
	if c.apiCORS != "" {
		opts = append(opts, httpapi.WithCORSOrigin(c.apiCORS))
	}
	ln, err := net.Listen("tcp", c.apiListen)
	if err != nil {
		return nil, fmt.Errorf("management API: %w", err)
	}
	srv := &http.Server{Handler: httpapi.NewHandler(engine, opts...), ReadHeaderTimeout: 10 * time.Second}
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

func envBool(key string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(key)); err == nil {
		return v
	}
	return def
}
