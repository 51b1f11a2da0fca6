#!/usr/bin/env bash
# A/B load test: the server built from REV (default HEAD~1) against the
# working tree's, in interleaved rounds of scripts/load.sh (same load
# generator, the working tree's, for both), then each run's server CPU per
# forwarded packet, the ratio of the means, and the mean of the rounds'
# ratios with its standard error. Machines are noisy: read the ratios
# within rounds, not single figures.
#
# Usage: scripts/load-ab.sh [REV] [ROUNDS (3)]; load.sh's environment
# (SUBSCRIBERS, DURATION, PIN, ...) applies to every run.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD~1}
rounds=${2:-3}

tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/base" "$rev" >/dev/null
(cd "$tmp/base" && go build -o "$tmp/sfu-base" ./cmd/sfu)
go build -o "$tmp/sfu-tree" ./cmd/sfu

# us per forwarded packet from sfu-load's summary.
cpu() { sed -n 's/.*server CPU .*, \([0-9.]*\) us per forwarded packet.*/\1/p' "$1"; }

echo "# A/B: base $(git rev-parse --short "$rev") vs working tree, $rounds rounds"
for i in $(seq "$rounds"); do
	for v in base tree; do
		SFU_BIN="$tmp/sfu-$v" scripts/load.sh >"$tmp/$v-$i.txt" 2>/dev/null
		grep -E 'loss  |server CPU' "$tmp/$v-$i.txt" | sed "s/^/round $i $v: /"
	done
done
echo "# server us per forwarded packet"
for v in base tree; do
	printf '%s:' "$v"
	for i in $(seq "$rounds"); do printf ' %s' "$(cpu "$tmp/$v-$i.txt")"; done
	echo
done
for i in $(seq "$rounds"); do cat "$tmp/base-$i.txt"; done | cpu /dev/stdin >"$tmp/b"
for i in $(seq "$rounds"); do cat "$tmp/tree-$i.txt"; done | cpu /dev/stdin >"$tmp/t"
awk 'NR==FNR { b += $1; nb++; next } { t += $1; nt++ }
	END { printf "means: base %.2f, tree %.2f, ratio %.3f\n", b/nb, t/nt, (t/nt)/(b/nb) }' "$tmp/b" "$tmp/t"
# Each round's tree/base ratio (the two runs of a round are minutes apart,
# so slow drift of the machine cancels), their mean and its standard
# error: a change smaller than about two standard errors is not resolved.
paste "$tmp/b" "$tmp/t" | awk '{ r = $2 / $1; s += r; ss += r * r; n++ }
	END { m = s / n; se = n > 1 ? sqrt((ss - n * m * m) / (n - 1) / n) : 0
		printf "per-round ratios: mean %.3f, standard error %.3f (%d rounds)\n", m, se, n }'
