#!/usr/bin/env bash
# Operations benchmarks:
#   stats50   stats --no-stream with 50 containers, gantry side by side with
#             Docker and Podman through the shared harness (peers that are
#             not running are reported as failed)
#   restart   how long a crashed --restart container takes to run again:
#             from its exit (the shim's clock) to its new process running
#             (the daemon's), as the daemon logs it; ten first restarts, so
#             each is after Docker's first back-off (100 ms)
# Usage: bench/ops.sh [-r RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
. bench/daemon.sh
bench_daemon ops -D

cmp=../shared/bench/compare.sh; [ -f "$cmp" ] || cmp=/work/shared/bench/compare.sh
bash "$cmp" "$@" -w stats50 "$G" docker podman

for i in $(seq 10); do
  "$G" run -d --name restart$i --restart on-failure:1 busybox:local \
    sh -c 'sleep 0.3; [ -f /ran ] && exec sleep 60; touch /ran; exit 1' >/dev/null
  sleep 1.2
done
grep -o '"since exit"=[0-9.]*ms' "$tmp/daemon.log" | cut -d= -f2 | tr -d ms | sort -n |
  awk '{a[NR]=$1} END {if (NR) printf "restart after a crash (exit to running, %d runs): median %.1f ms, min %.1f ms, max %.1f ms\n", NR, a[int((NR+1)/2)], a[1], a[NR]; else print "no restarts logged"}'
