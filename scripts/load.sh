#!/usr/bin/env bash
# End-to-end loopback load test (docs/performance.md has the method): builds
# cmd/sfu and cmd/sfu-load, starts the server inside a network namespace
# that has only "lo" (unshare -n), drives it with sfu-load and prints the
# summary on stdout (progress on stderr).
#
# Environment: PUBLISHERS (1), SUBSCRIBERS (100), DURATION (30s),
# WARMUP (10s), PIN=1 to pin the server to CPU 1 with GOMAXPROCS=1 and the
# generator to CPU 0 (default: both float), SFU_BIN to run that server
# binary instead of building cmd/sfu (scripts/load-ab.sh does). Further
# arguments go to sfu-load, e.g. scripts/load.sh -json or
# scripts/load.sh -audio=false. The server's management API listens on
# 127.0.0.1:3000 and its debug listener on 127.0.0.1:6060 (for -churn's
# -api-url and -debug-url).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! unshare -n true 2>/dev/null; then
	echo "load.sh: unshare -n is not permitted here; refusing to run off loopback-only namespace" >&2
	exit 1
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
if [ -n "${SFU_BIN:-}" ]; then
	cp "$SFU_BIN" "$bin/sfu"
else
	go build -o "$bin/sfu" ./cmd/sfu
fi
go build -o "$bin/sfu-load" ./cmd/sfu-load

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3-)"
echo "# loadavg before: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these CPUs)"
echo "# load: publishers=${PUBLISHERS:-1} subscribers=${SUBSCRIBERS:-100} duration=${DURATION:-30s} warmup=${WARMUP:-10s} pin=${PIN:-0} args=$*"

# shellcheck disable=SC2016 # expanded by the inner shell
unshare -n bash -c '
	set -euo pipefail
	bin=$1; shift
	ip link set lo up
	server=("$bin/sfu") load=("$bin/sfu-load")
	if [ "${PIN:-0}" = 1 ]; then
		server=(env GOMAXPROCS=1 taskset -c 1 "$bin/sfu")
		load=(taskset -c 0 "$bin/sfu-load")
	fi
	"${server[@]}" --listen 127.0.0.1:5000 --udp-port 5000 --interface lo --log-level warn \
		--api-listen 127.0.0.1:3000 --debug-listen 127.0.0.1:6060 &
	pid=$!
	trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null || true" EXIT
	for _ in $(seq 100); do
		if (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; then break; fi
		sleep 0.1
	done
	"${load[@]}" -url ws://127.0.0.1:5000/signaling \
		-publishers "${PUBLISHERS:-1}" -subscribers "${SUBSCRIBERS:-100}" \
		-duration "${DURATION:-30s}" -warmup "${WARMUP:-10s}" \
		-server-pid "$pid" "$@"
' bash "$bin" "$@"
echo "# loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"
