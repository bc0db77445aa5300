#!/usr/bin/env bash
# Housekeeping benchmarks (gantry alone unless a Docker daemon answers):
#   df        `system df` with 10 containers (1 MB written in each) and busybox
#   cp100     `cp` of a 100 MB directory (100 files of 1 MB) out of a running container
#   cp100in   `cp` of the same directory into a container
# Usage: bench/housekeeping.sh [-r RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=10
[ "${1:-}" = -r ] && runs=$2
. bench/daemon.sh
bench_daemon hk
for i in $(seq 10); do "$G" run -d --name c$i busybox:local sh -c 'head -c 1048576 /dev/urandom > /blob; sleep 600' >/dev/null; done
"$G" run -d --name big busybox:local sh -c 'mkdir /data; for i in $(seq 100); do head -c 1048576 /dev/urandom > /data/f$i; done; touch /done; sleep 600' >/dev/null
until "$G" exec big test -e /done 2>/dev/null; do sleep 0.2; done
"$G" cp big:/data "$tmp/src"
hyperfine -N -w 2 -r "$runs" --export-json "$tmp/df.json" "$G system df" >/dev/null
hyperfine -w 1 -r "$runs" --prepare "rm -rf $tmp/out" --export-json "$tmp/cp.json" "$G cp big:/data $tmp/out" >/dev/null
hyperfine -w 1 -r "$runs" --prepare "$G exec big rm -rf /in" --export-json "$tmp/cpin.json" "$G cp $tmp/src big:/in" >/dev/null
median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f ms (min %.1f, max %.1f)" % (r["median"]*1e3, r["min"]*1e3, r["max"]*1e3))' "$1"; }
echo "system df (11 containers, 1 image):   $(median "$tmp/df.json")"
echo "cp 100 MB directory out of a container: $(median "$tmp/cp.json")"
echo "cp 100 MB directory into a container:   $(median "$tmp/cpin.json")"
if docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
	echo "(a Docker daemon answers: compare with bench/housekeeping.sh's commands through docker)"
fi
