#!/usr/bin/env bash
# Browser end-to-end tests: builds cmd/sfu, starts it, and runs
# e2e/tests/*.test.mjs (sora-js-sdk 2026.1.0 and the demo page in Debian's
# headless Chromium) against it.
#
# Works on a fresh Debian machine as root: installs chromium when missing and
# the npm packages from e2e/package-lock.json. The server and the browser then
# run in a network namespace that has only "lo" (when unshare is permitted),
# so no test traffic leaves the machine.
#
# Env: E2E_KEEP_TMP=1 keeps the temporary directory (server binary and log);
# E2E_TESTS names the test files to run (default: all of e2e/tests/).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# iproute2 brings "ip" (lo up in the namespace) and "tc" (the shaped
# downlink in tests/shaped.test.mjs); minimal Debian images lack it.
pkgs=()
[ -x /usr/bin/chromium ] || pkgs+=(chromium)
command -v tc >/dev/null 2>&1 || [ -x /usr/sbin/tc ] || pkgs+=(iproute2)
if [ "${#pkgs[@]}" != 0 ]; then
	echo "e2e: installing ${pkgs[*]}" >&2
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}"
fi

# Network is needed for this, so it happens before entering the namespace.
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)

tmp="$(mktemp -d)"
if [ "${E2E_KEEP_TMP:-}" != 1 ]; then
	trap 'rm -rf "$tmp"' EXIT
fi
echo "e2e: building cmd/sfu" >&2
go build -o "$tmp/sfu" ./cmd/sfu
go build -o "$tmp/gopub" ./e2e/gopub

# Runs inside the namespace: start the server, wait for it, run the tests,
# stop the server, print its log on failure, exit with the test status.
inner='
set -u
ip link set lo up 2>/dev/null || true
log="$tmp/sfu.log"
"$tmp/sfu" --listen 127.0.0.1:5000 --api-listen 127.0.0.1:3000 --udp-port 5000 --log-level debug --drain-timeout 2s >"$log" 2>&1 &
pid=$!
# A second server whose connects go through an auth webhook (and whose
# events go to an event webhook): the webhook endpoint on 127.0.0.1:5098 is
# served by e2e/tests/webhook.test.mjs itself.
authlog="$tmp/sfu-auth.log"
"$tmp/sfu" --listen 127.0.0.1:5001 --api-listen "" --udp-port 5001 --log-level debug --log-format json \
	--auth-webhook-url http://127.0.0.1:5098/auth --auth-webhook-timeout 5s \
	--event-webhook-url http://127.0.0.1:5098/event --drain-timeout 0 >"$authlog" 2>&1 &
authpid=$!
# A server with -bandwidth-allocation: e2e/tests/shaped.test.mjs shapes the
# downlink of one subscriber of it with tc and expects a lower layer.
bwalog="$tmp/sfu-bwa.log"
"$tmp/sfu" --listen 127.0.0.1:5002 --api-listen 127.0.0.1:3002 --udp-port 5002 --log-level debug \
	--bandwidth-allocation --drain-timeout 0 >"$bwalog" 2>&1 &
bwapid=$!
# Two cluster nodes, each with its embedded NATS server, routed to each
# other: e2e/tests/cluster.test.mjs connects to the one that does not own
# its channel and follows the redirect.
clusterpids=()
for i in 1 2; do
	"$tmp/sfu" --listen 127.0.0.1:501$i --api-listen 127.0.0.1:301$i --udp-port 501$i --log-level debug \
		--node-name "e2e$i" --signaling-url ws://127.0.0.1:501$i/signaling \
		--nats-listen 127.0.0.1:421$i --nats-cluster-listen 127.0.0.1:621$i \
		--nats-routes nats://127.0.0.1:6211,nats://127.0.0.1:6212 --nats-store-dir "$tmp/nats$i" \
		--drain-timeout 0 >"$tmp/sfu-cluster$i.log" 2>&1 &
	clusterpids+=($!)
done

stop_server() {
	kill -TERM "$authpid" 2>/dev/null && wait "$authpid" 2>/dev/null
	kill -TERM "$bwapid" 2>/dev/null && wait "$bwapid" 2>/dev/null
	for p in "${clusterpids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${clusterpids[@]}"; do wait "$p" 2>/dev/null; done
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "e2e: server did not stop within 10 s after SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
		return 1
	fi
	wait "$pid" 2>/dev/null || echo "e2e: server exited with status $? after SIGTERM" >&2
}

up=0
for _ in $(seq 1 150); do
	if ! kill -0 "$pid" 2>/dev/null; then break; fi
	if node -e "Promise.all(process.argv.slice(1).map((u) => fetch(u))).then(() => process.exit(0), () => process.exit(1))" \
		"http://127.0.0.1:5000/" "http://127.0.0.1:5001/" "http://127.0.0.1:5002/" "http://127.0.0.1:5011/" "http://127.0.0.1:5012/" 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.2
done
if [ "$up" != 1 ]; then
	echo "e2e: the server exited or did not answer on http://127.0.0.1:5000/ within 30 s" >&2
	stop_server || true
	echo "----- server log -----" >&2
	cat "$log" >&2
	exit 1
fi

status=0
SFU_SIGNALING_URL=ws://127.0.0.1:5000/signaling SFU_HTTP_URL=http://127.0.0.1:5000/ GOPUB="$tmp/gopub" \
	SFU_AUTH_SIGNALING_URL=ws://127.0.0.1:5001/signaling SFU_WEBHOOK_PORT=5098 \
	SFU_BWA_SIGNALING_URL=ws://127.0.0.1:5002/signaling SFU_BWA_UDP_PORT=5002 E2E_NETNS="$netns" \
	SFU_CLUSTER_SIGNALING_URLS=ws://127.0.0.1:5011/signaling,ws://127.0.0.1:5012/signaling \
	SFU_CLUSTER_API_URLS=http://127.0.0.1:3011/,http://127.0.0.1:3012/ \
	timeout -k 10 900 node --test --test-concurrency=1 ${E2E_TESTS:-e2e/tests/} || status=$?
stop_server || true
# Chromium takes the DTLS client role, so the engine must have sealed
# every connection'"'"'s RTP itself, and opened every publisher'"'"'s: a
# connection left on pion'"'"'s paths would still pass the tests above, only
# slower.
if [ "$status" = 0 ]; then
	for dir in egress ingress; do
		on=$(cat "$log" "$bwalog" "$tmp"/sfu-cluster*.log | grep -c "srtp $dir on" || true)
		off=$(cat "$log" "$bwalog" "$tmp"/sfu-cluster*.log | grep -c "srtp $dir off" || true)
		if [ "$on" = 0 ] || [ "$off" != 0 ]; then
			echo "e2e: SRTP $dir started on $on connections and stayed off on $off; want all on" >&2
			status=1
		fi
	done
fi
if [ "$status" != 0 ]; then
	echo "----- server log (exit status $status) -----" >&2
	cat "$log" >&2
	echo "----- auth webhook server log -----" >&2
	cat "$authlog" >&2
	echo "----- bandwidth allocation server log -----" >&2
	cat "$bwalog" >&2
	for i in 1 2; do
		echo "----- cluster node $i log -----" >&2
		cat "$tmp/sfu-cluster$i.log" >&2
	done
fi
exit "$status"
'

export tmp
status=0
# netns=1 tells the tests that lo is the namespace's own, so they may
# change its queueing (tc); on the host they must not.
if unshare -n true 2>/dev/null; then
	netns=1 unshare -n bash -c "$inner" || status=$?
else
	echo "e2e: unshare -n not permitted; running on the host's loopback" >&2
	netns=0 bash -c "$inner" || status=$?
fi
if [ "$status" != 0 ] && [ "${E2E_KEEP_TMP:-}" = 1 ]; then
	echo "e2e: kept $tmp" >&2
fi
exit "$status"
