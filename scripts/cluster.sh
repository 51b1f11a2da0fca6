#!/usr/bin/env bash
# Starts a three-node gosfu cluster on this machine, each node with its
# embedded NATS server, the three servers joined by routes:
#
#   node  signaling + demo        management API   UDP    NATS client  NATS routes
#   n1    ws://127.0.0.1:5001     127.0.0.1:3001   5001   4221         6221
#   n2    ws://127.0.0.1:5002     127.0.0.1:3002   5002   4222         6222
#   n3    ws://127.0.0.1:5003     127.0.0.1:3003   5003   4223         6223
#
# Connect to any node: a connect for a channel another node owns is
# redirected there. The management API of any node sees the whole cluster.
# Ctrl-C (or SIGTERM) drains and stops all three. Logs go to
# $CLUSTER_DIR (default: a temporary directory, printed at start).
#
# Env: CLUSTER_HOST (default 127.0.0.1) is the address in the signaling
# URLs handed out in redirects: set it to the machine's address to reach
# the cluster from other hosts. Extra arguments are passed to every node.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
host="${CLUSTER_HOST:-127.0.0.1}"
dir="${CLUSTER_DIR:-$(mktemp -d)}"
mkdir -p "$dir"
echo "cluster: building cmd/sfu into $dir" >&2
(cd "$root" && go build -o "$dir/sfu" ./cmd/sfu)

routes="nats://127.0.0.1:6221,nats://127.0.0.1:6222,nats://127.0.0.1:6223"
pids=()
stop() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT INT TERM

for i in 1 2 3; do
	"$dir/sfu" --node-name "n$i" \
		--listen "0.0.0.0:500$i" --udp-port "500$i" --api-listen "127.0.0.1:300$i" \
		--signaling-url "ws://$host:500$i/signaling" \
		--nats-listen "127.0.0.1:422$i" --nats-cluster-listen "127.0.0.1:622$i" \
		--nats-routes "$routes" --nats-store-dir "$dir/nats-n$i" \
		"$@" >"$dir/n$i.log" 2>&1 &
	pids+=($!)
	echo "cluster: n$i  signaling ws://$host:500$i/signaling  API http://127.0.0.1:300$i/  log $dir/n$i.log" >&2
done
echo "cluster: try  curl -s -H 'x-sora-target: Sora_20211215.ListClusterNodes' -X POST http://127.0.0.1:3001/" >&2
wait -n "${pids[@]}" || true
echo "cluster: stopping" >&2
