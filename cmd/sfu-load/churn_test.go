package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/internal/memstats"
	"github.com/gosfu/sfu/internal/sfutest"
	"github.com/gosfu/sfu/signaling"
)

// childServerEnv makes the test binary run as the server of
// TestRunChurn (see TestMain): a process of its own, so that what the
// soak samples of it is the server's alone.
const childServerEnv = "SFU_LOAD_TEST_SERVER"

// runChildServer serves signaling, the management API and memstats on
// 127.0.0.1, prints its base URL and serves until its stdin closes.
func runChildServer() int {
	engine, err := sfu.NewEngine(sfutest.LoopbackOptions(sfu.Options{}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/signaling", signaling.NewHandler(engine))
	mux.Handle("/api", httpapi.NewHandler(engine))
	mux.Handle("/debug/memstats", memstats.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // EOF when the test ends
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = engine.Close(ctx)
	return 0
}

// startChildServer runs the test binary as a server and returns its base
// URL and pid; it ends with the test.
func startChildServer(t *testing.T) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the server process did not end when asked")
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server process: %v", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid
}

// TestRunChurn is the short churn soak: churn clients join and leave the
// steady channel and channels of their own while it forwards; afterwards
// the server process is back to its goroutines, heap and open files, the
// stats report adds up, and the steady streams lost nothing.
func TestRunChurn(t *testing.T) {
	base, pid := startChildServer(t)
	cfg := DefaultConfig()
	cfg.URL = "ws" + strings.TrimPrefix(base, "http") + "/signaling"
	cfg.Subscribers, cfg.VideoKbps = 2, 300
	cfg.Warmup, cfg.Duration, cfg.Progress = 500*time.Millisecond, 6*time.Second, 2*time.Second
	cfg.ServerPID = pid
	cfg.Churn = ChurnConfig{Clients: 6, Channels: 2, Hold: 200 * time.Millisecond,
		APIURL: base + "/api", DebugURL: base, Settle: 30 * time.Second}
	s, text := runForTest(t, cfg)

	c := s.Churn
	if c == nil {
		t.Fatal("no churn summary")
	}
	if c.Cycles < 8 || c.DialErrors > 0 {
		t.Errorf("%d churn cycles, %d failed; want at least 8, none failed", c.Cycles, c.DialErrors)
	}
	if len(c.Problems) > 0 || !c.CountersAddUp || c.Ongoing != 3 {
		t.Errorf("soak problems %q, counters add up %v, %d connections left (want the 3 steady ones)", c.Problems, c.CountersAddUp, c.Ongoing)
	}
	if c.Before.Goroutines == 0 || c.Before.HeapBytes == 0 || c.Before.OpenFiles == 0 {
		t.Errorf("server not sampled: %+v", c.Before)
	}
	if s.Lost != 0 || s.SilentStreams != 0 {
		t.Errorf("the steady channel lost %d packets (%d silent streams) during the churn", s.Lost, s.SilentStreams)
	}
	if !strings.Contains(text, "soak          passed") {
		t.Errorf("summary text:\n%s", text)
	}
}
