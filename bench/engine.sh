#!/usr/bin/env bash
# Engine benchmarks, gantry side by side with Docker and Podman in one run,
# through the shared harness (../shared/bench/compare.sh):
#   run      run --rm busybox:local true
#   detach   run -d busybox:local sleep 60, then rm -f
#   exec     exec into a running container
#   ps50     ps -a with 50 containers
#   publish  run -d -p 18080:80 busybox httpd (+ rm -f), beside the same
#            without -p: the cost of a published port (gantry and Docker)
# then gantry's own memory: the daemon idle, and one shim per running
# container (RSS, and the private memory each one adds).
# Needs ../shared/bench/peers.sh to have run (docker, podman, busybox.tar).
# Usage: bench/engine.sh [-r RUNS] [-w WORKLOAD]...   (default: -w run -w detach -w exec -w ps50)
set -uo pipefail
cd "$(dirname "$0")/.."
args=("$@")
# this issue's workloads unless some are named
case " $* " in *" -w "*) ;; *) args+=(-w run -w detach -w exec -w ps50);; esac
. bench/daemon.sh
bench_daemon engine

# publish is measured here (the shared harness does not know it).
publish=0 rest=()
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[i]}" = -w ] && [ "${args[i+1]:-}" = publish ]; then publish=1; i=$((i + 1)); else rest+=("${args[i]}"); fi
done
case " ${rest[*]} " in *" -w "*) bash ../shared/bench/compare.sh "${rest[@]}" "$G" docker podman;; esac
if [ $publish = 1 ]; then
  engines=("$G")
  docker -H unix:///var/run/docker.sock version >/dev/null 2>&1 && engines+=("docker -H unix:///var/run/docker.sock")
  printf '%-22s %14s %14s\n' engine "run -d (ms)" "run -d -p (ms)"
  for e in "${engines[@]}"; do
    med=()
    for p in "" "-p 18080:80"; do
      hyperfine -N -w 2 -r 15 --export-json "$tmp/pub.json" \
        "sh -c '$e run -d --name pub $p busybox:local httpd -f -p 80 >/dev/null && $e rm -f pub >/dev/null'" >/dev/null 2>&1
      med+=("$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$tmp/pub.json")")
    done
    printf '%-22s %14s %14s\n' "$(basename "${e%% *}")" "${med[0]}" "${med[1]}"
  done
fi

# Memory: the daemon with nothing running, then 10 containers' shims.
rss() { awk '/^Rss:/ {print $2}' /proc/$1/smaps_rollup; }
private() { awk '/^(Private_Clean|Private_Dirty):/ {s+=$2} END {print s}' /proc/$1/smaps_rollup; }
pss() { awk '/^Pss:/ {print $2}' /proc/$1/smaps_rollup; }
echo
# Idle: the daemon hands freed heap back 3 s after the last request.
sleep 5
echo "daemon idle: RSS $(rss $daemon) kB (file-backed $(awk '/^Rss:/{r=$2} /^Anonymous:/{a=$2} END{print r-a}' /proc/$daemon/smaps_rollup) kB, anonymous $(awk '/^Anonymous:/{print $2}' /proc/$daemon/smaps_rollup) kB)"
for i in $(seq 10); do "$G" run -d --name mem$i busybox:local sleep 600 >/dev/null; done
# A shim settles a second after its container starts (it gives back what
# the start took); measure the steady state.
sleep 3
tot_rss=0; tot_priv=0; tot_pss=0; n=0
for s in $(pgrep -f "shim --standby $exec_root"); do [ "$(cat /proc/$s/comm)" = shim-standby ] && continue
  tot_rss=$((tot_rss + $(rss $s))); tot_priv=$((tot_priv + $(private $s))); tot_pss=$((tot_pss + $(pss $s))); n=$((n + 1))
done
[ $n -gt 0 ] && echo "shim ($n running): RSS $((tot_rss / n)) kB each; PSS (shared pages divided among their users) $((tot_pss / n)) kB; private (not shared with other gantry processes) $((tot_priv / n)) kB"
"$G" rm -f $("$G" ps -aq) >/dev/null
