#!/usr/bin/env bash
# Operations benchmarks:
#   stats50   stats --no-stream with 50 containers, gantry side by side with
#             Docker and Podman through the shared harness (peers that are
#             not running are reported as failed)
#   restart   how long a crashed --restart container takes to run again:
#             from its exit (the shim's clock) to its new process running
#             (the daemon's), as the daemon logs it; ten first restarts, so
#             each is after Docker's first back-off (100 ms)
#   commit    commit of a container with a 100 MB change, gantry beside
#             Docker when its daemon answers
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

# commit: a container with 100 MB written in its writable layer
engines=("$G")
docker -H unix:///var/run/docker.sock version >/dev/null 2>&1 && engines+=("docker -H unix:///var/run/docker.sock")
for e in "${engines[@]}"; do
  $e rm -f cbig >/dev/null 2>&1
  $e run -d --name cbig busybox:local sh -c 'head -c 104857600 /dev/urandom > /big; touch /done; sleep 600' >/dev/null
  until $e exec cbig test -e /done 2>/dev/null; do sleep 0.2; done
  hyperfine -N -w 1 -r 5 --prepare "sh -c '$e rmi -f cbig:1 >/dev/null 2>&1; true'" --export-json "$tmp/commit.json" "$e commit cbig cbig:1" >/dev/null 2>&1
  printf 'commit of a 100 MB change, %-8s %s\n' "$(basename "${e%% *}"):" "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("median %.1f ms (min %.1f, max %.1f)" % (r["median"]*1e3, r["min"]*1e3, r["max"]*1e3))' "$tmp/commit.json")"
  $e rm -f cbig >/dev/null 2>&1; $e rmi -f cbig:1 >/dev/null 2>&1
done
