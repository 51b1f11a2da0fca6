#!/usr/bin/env bash
# Runs every test of the project: go vet, the Go tests with the race
# detector, a short run of each fuzz target, and the browser tests (sora-js-sdk in
# Debian's Chromium). Installs what a fresh Debian machine lacks.
# Test traffic stays on loopback: the Go tests and the browser tests run
# inside a network namespace that has only "lo" when unshare is allowed.
set -euo pipefail
cd "$(dirname "$0")/.."

# ffmpeg decodes forwarded RTP in the Go tests (httpapi).
if ! command -v ffmpeg >/dev/null 2>&1; then
	echo "test.sh: installing ffmpeg" >&2
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y ffmpeg
fi

go mod download
go vet ./...

in_netns() {
	if unshare -n true 2>/dev/null; then
		unshare -n bash -c 'ip link set lo up && "$@"' bash "$@"
	else
		echo "test.sh: unshare -n not permitted; running on the host (pion is still restricted to loopback)" >&2
		"$@"
	fi
}

# One package at a time (-p 1): the root package's consent and timeout
# tests wait on real ICE and DTLS timers, which a concurrent package's
# load (ffmpeg encoding in httpapi's tests) can starve on two cores.
in_netns go test -race -count=1 -p 1 -timeout 15m ./...
# A few seconds of each fuzz target (go test -fuzz takes one at a time);
# docs/reliability.md gives the long runs. The budgets are execution
# counts: a -fuzztime duration trips a Go 1.26 coordinator race that fails
# a target with "context deadline exceeded" and no crasher.
for target in .:FuzzAnswer:3000 httpapi:FuzzHandler:40000 signaling:FuzzDataChannelMessage:50000 \
	signaling:FuzzSignalingMessage:50000 forward:FuzzSourcePacket:40000 \
	forward:FuzzKeyFrame:200000 forward:FuzzRTX:200000 metadata:FuzzStore:200000; do
	IFS=: read -r pkg name count <<<"$target"
	in_netns go test -run '^$' -fuzz "^$name\$" -fuzztime "${count}x" "./$pkg/"
done

bash e2e/run.sh
