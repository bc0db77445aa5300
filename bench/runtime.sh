#!/usr/bin/env bash
# Runtime benchmarks: the same bundles run by `gantry runtime` and by runc
# (Debian's), side by side in one run; prints medians and gantry/runc ratios.
# Usage: bench/runtime.sh [-r RUNS] [-i] [-w WORKLOAD]...
#   workloads: run (busybox `true`), run-limits (memory+pids+cpu limits and
#   Docker's default seccomp profile), exec (into a running container),
#   stats (`events --stats`)
#   -i interleaves: gantry and runc alternate run by run instead of hyperfine
#   timing each in a block, so the drift of a noisy machine hits both alike
set -euo pipefail
cd "$(dirname "$0")/.."
runs=30; sel=(); interleave=0
while getopts "r:w:i" o; do case $o in r) runs=$OPTARG;; w) sel+=("$OPTARG");; i) interleave=1;; *) exit 2;; esac; done
[ ${#sel[@]} -gt 0 ] || sel=(run run-limits exec stats)
G=${GANTRY:-$PWD/bin/gantry}
RUNC=${RUNC:-$(command -v runc)}
for t in hyperfine python3; do command -v $t >/dev/null || { echo "bench: needs $t (make deps)" >&2; exit 1; }; done
[ -x "$RUNC" ] || { echo "bench: needs runc (make deps)" >&2; exit 1; }

tmp=$(mktemp -d /var/tmp/gantry-bench.XXXXXX)
groot=$tmp/gantry-state; rroot=$tmp/runc-state
cleanup() {
  for id in bx-g bx-r; do "$G" runtime --root "$groot" delete -f $id >/dev/null 2>&1 || true; "$RUNC" --root "$rroot" delete -f $id >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# one bundle per configuration, shared by both runtimes
mkbundle() { # dir args-json resources-json seccomp(0|1)
  local b=$1; mkdir -p "$b/rootfs"/{bin,etc,tmp,proc,sys,dev}
  cp "$(command -v busybox || echo /bin/busybox)" "$b/rootfs/bin/busybox"
  for a in $("$b/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$b/rootfs/bin/$a"; done
  if [ "$4" = 1 ]; then "$G" runtime spec -b "$b" --seccomp-default; else "$G" runtime spec -b "$b"; fi
  python3 - "$b/config.json" "$2" "$3" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = json.loads(sys.argv[2])
res = json.loads(sys.argv[3])
if res: c["linux"]["resources"] = res
json.dump(c, open(sys.argv[1], "w"))
PY
}
limits='{"memory":{"limit":134217728,"swap":134217728},"pids":{"limit":100},"cpu":{"quota":100000,"period":100000,"shares":512}}'
mkbundle "$tmp/true" '["true"]' '{}' 0
mkbundle "$tmp/limits" '["true"]' "$limits" 1
mkbundle "$tmp/sleep" '["sleep","3600"]' "$limits" 1

median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }
row() { # name gantry-cmd runc-cmd [prepare-g prepare-r]
  local name=$1 gc=$2 rc=$3 pg=${4:-true} pr=${5:-true}
  if [ $interleave = 1 ]; then
    python3 - "$name" "$runs" "$gc" "$rc" <<'PY'
import shlex, statistics, subprocess, sys, time
name, runs, cmds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times = [[], []]
for i in range(runs + 3):  # the first three warm up
    for k, c in enumerate(cmds):
        t = time.perf_counter()
        r = subprocess.run(shlex.split(c), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        d = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"{name}: {c} failed: {r.stderr.decode()[-300:]}")
        if i >= 3:
            times[k].append(d)
g, r = (statistics.median(t) for t in times)
print(f"{name:<14} {g*1000:9.2f} ms {r*1000:9.2f} ms   {g/r:5.2f}x")
PY
    return
  fi
  hyperfine -N -w 3 -r "$runs" --prepare "$pg" --export-json "$tmp/g.json" "$gc" >/dev/null 2>"$tmp/g.err" || { echo "$name: gantry failed: $(tail -3 "$tmp/g.err")"; return; }
  hyperfine -N -w 3 -r "$runs" --prepare "$pr" --export-json "$tmp/r.json" "$rc" >/dev/null 2>"$tmp/r.err" || { echo "$name: runc failed: $(tail -3 "$tmp/r.err")"; return; }
  python3 - "$name" "$(median "$tmp/g.json")" "$(median "$tmp/r.json")" <<'PY'
import sys
n, g, r = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print(f"{n:<14} {g*1000:9.2f} ms {r*1000:9.2f} ms   {g/r:5.2f}x")
PY
}

echo "runs per cell: $runs$([ $interleave = 1 ] && echo ', interleaved'); medians; ratio = gantry / runc (lower is faster)"
printf '%-14s %12s %12s   %s\n' workload gantry runc ratio
for w in "${sel[@]}"; do
  case $w in
    run) row run "$G runtime --root $groot run -b $tmp/true bx-g" "$RUNC --root $rroot run -b $tmp/true bx-r";;
    run-limits) row run-limits "$G runtime --root $groot run -b $tmp/limits bx-g" "$RUNC --root $rroot run -b $tmp/limits bx-r";;
    exec)
      "$G" runtime --root "$groot" run -d -b "$tmp/sleep" bx-g </dev/null >/dev/null 2>&1
      "$RUNC" --root "$rroot" run -d -b "$tmp/sleep" bx-r </dev/null >/dev/null 2>&1
      row exec "$G runtime --root $groot exec bx-g true" "$RUNC --root $rroot exec bx-r true"
      "$G" runtime --root "$groot" delete -f bx-g; "$RUNC" --root "$rroot" delete -f bx-r;;
    stats)
      "$G" runtime --root "$groot" run -d -b "$tmp/sleep" bx-g </dev/null >/dev/null 2>&1
      "$RUNC" --root "$rroot" run -d -b "$tmp/sleep" bx-r </dev/null >/dev/null 2>&1
      row "events-stats" "$G runtime --root $groot events --stats bx-g" "$RUNC --root $rroot events --stats bx-r"
      "$G" runtime --root "$groot" delete -f bx-g; "$RUNC" --root "$rroot" delete -f bx-r;;
    *) echo "unknown workload $w" >&2; exit 2;;
  esac
done
echo
echo "one usage sample in-process (go test -bench ReadUsage):"
GANTRY_BIN=$G go test -tags seccomp -run '^$' -bench 'BenchmarkReadUsage' -benchtime 2000x ./internal/runtime/ 2>/dev/null | grep -E '^Benchmark' || echo "  (benchmark failed)"
