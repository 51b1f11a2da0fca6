package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosfu/sfu/internal/sfutest"
)

// natsServerBinary is nats-server from $SFU_TEST_NATS_SERVER, else from
// PATH, else built from the module this package already depends on (the
// same version as the embedded server), so the external suite always runs.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SFU_TEST_NATS_SERVER"); p != "" {
		return p
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput()
	if err != nil {
		t.Fatalf("building nats-server: %v\n%s", err, out)
	}
	return bin
}

// process is one nats-server process.
type process struct {
	cmd    *exec.Cmd
	client string
	done   chan struct{}
}

func (p *process) ClientURL() string { return "nats://" + p.client }

func (p *process) Shutdown() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// externalCluster starts n nats-server processes routed together on
// 127.0.0.1, then a node on each.
func externalCluster(bin string) clusterStarter {
	return func(t testing.TB, n int, edit func(*Config)) []*testNode {
		t.Helper()
		clients, routes := freeAddrs(t, n), freeAddrs(t, n)
		var urls []string
		for _, r := range routes {
			urls = append(urls, "nats://"+r)
		}
		var procs []*process
		for i := range n {
			args := []string{"-a", "127.0.0.1", "-p", port(clients[i]), "-js", "-sd", t.TempDir(),
				"-n", fmt.Sprintf("ext%d", i)}
			if n > 1 {
				args = append(args, "--cluster_name", "ext", "--cluster", "nats://"+routes[i], "--routes", strings.Join(urls, ","))
			}
			cmd := exec.Command(bin, args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			p := &process{cmd: cmd, client: clients[i], done: make(chan struct{})}
			go func() { _ = cmd.Wait(); close(p.done) }()
			t.Cleanup(p.Shutdown)
			procs = append(procs, p)
		}
		ctx := testContext(t, 20*time.Second)
		for _, p := range procs {
			sfutest.Eventually(t, ctx, "nats-server accepting clients", func() bool {
				c, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", p.client)
				if err == nil {
					c.Close()
				}
				return err == nil
			})
		}
		return nodesOn(t, procs, edit)
	}
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
