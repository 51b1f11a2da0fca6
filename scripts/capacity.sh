#!/usr/bin/env bash
# Steps a load up until it no longer holds, one scripts/load.sh run per
# step, and prints a row per step: what was forwarded, the loss, the p99
# latency of a video frame (its last packet), the server's and the load
# generator's CPU. docs/reliability.md gives the figures and how to read
# them.
#
#   scripts/capacity.sh fanout 100 200 300      # 1 publisher -> N subscribers
#   scripts/capacity.sh meeting 5 10 15         # N channels x 10 publishers all-to-all
#
# Environment: DURATION (20s), WARMUP (5s), MEETING_SIZE (10), and
# load.sh's. A step holds with loss < 0.1 % and frame p99 < 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?fanout or meeting}
shift
export DURATION=${DURATION:-20s} WARMUP=${WARMUP:-5s}
printf '%-8s %10s %9s %12s %11s %12s %s\n' step "fwd pkt/s" "loss %" "frame p99 ms" "server CPU" "loadgen CPU" verdict
for n in "$@"; do
	case $mode in
	fanout) out=$(PUBLISHERS=1 SUBSCRIBERS=$n scripts/load.sh -json 2>/dev/null) ;;
	meeting) out=$(PUBLISHERS=${MEETING_SIZE:-10} SUBSCRIBERS=0 scripts/load.sh -json -all-to-all -channels "$n" 2>/dev/null) ;;
	*) echo "capacity.sh: mode $mode is not fanout or meeting" >&2; exit 2 ;;
	esac
	python3 -c '
import json, sys
s = json.loads("".join(l for l in sys.stdin if not l.startswith("#")))
n = sys.argv[1]
fp99 = s["video_stats"]["frame_latency_p99_us"] / 1000
ok = s["loss_percent"] < 0.1 and fp99 < 50
print("%-8s %10.0f %9.4f %12.1f %10.0f%% %11.0f%% %s" % (n, s["forwarded_per_second"], s["loss_percent"], fp99,
      s["server"]["cpu_percent"], s["loadgen"]["cpu_percent"], "holds" if ok else "BREAKS"))
' "$n" <<<"$out"
done
