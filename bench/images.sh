#!/usr/bin/env bash
# Image benchmarks, gantry side by side with Docker and Podman in one run:
#   pull      cold pull of 127.0.0.1:5000/bench/pyapp:1 (~250 MB) after removing it
#   repull    pull of the same image when it is present
#   push      push of that image to an empty registry (a second one, wiped before each run)
#   images    `images` with 100 images present
# Needs ../shared/bench/peers.sh to have run (docker, podman, the registry on
# 127.0.0.1:5000 holding bench/pyapp:1). Usage: bench/images.sh [-r RUNS] [-w WORKLOAD]... [ENGINE...]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=10; sel=()
while getopts "r:w:" o; do case $o in r) runs=$OPTARG;; w) sel+=("$OPTARG");; *) exit 2;; esac; done
shift $((OPTIND-1))
[ ${#sel[@]} -gt 0 ] || sel=(pull repull push images)
engines=("$@"); [ ${#engines[@]} -gt 0 ] || engines=("$PWD/bin/gantry" docker podman)
img=127.0.0.1:5000/bench/pyapp:1
tmp=$(mktemp -d /var/tmp/gantry-bench-img.XXXXXX)
W=${PEERS_DIR:-/var/tmp/gantry-peers}
trap 'kill $(cat "$tmp/reg2.pid" 2>/dev/null) 2>/dev/null; rm -rf "$tmp"' EXIT

# a second, throw-away registry for pushes
mkdir -p "$tmp/reg2"
cat > "$tmp/reg2/config.yml" <<CONF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $tmp/reg2/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:5001}
CONF
setsid docker-registry serve "$tmp/reg2/config.yml" >/dev/null 2>&1 & echo $! > "$tmp/reg2.pid"
for _ in $(seq 40); do curl -fsS http://127.0.0.1:5001/v2/ >/dev/null 2>&1 && break; sleep 0.25; done
# podman needs the second registry marked insecure too
printf '[[registry]]\nlocation = "127.0.0.1:5001"\ninsecure = true\n' > /etc/containers/registries.conf.d/gantry-bench.conf 2>/dev/null || true

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"] if r.get("exit_codes") is None or not any(r["exit_codes"]) else "nan")' "$1"; }
printf '%-10s' workload; for e in "${engines[@]}"; do printf ' %20s' "$(basename "${e%% *}")"; done; echo
for w in "${sel[@]}"; do
  meds=()
  for e in "${engines[@]}"; do
    case $w in
      pull)   prep="sh -c '$e rmi -f $img >/dev/null 2>&1; $e image prune -af >/dev/null 2>&1; true'"; cmd="$e pull -q $img";;
      repull) $e pull -q $img >/dev/null 2>&1; prep=true; cmd="$e pull -q $img";;
      push)   $e pull -q $img >/dev/null 2>&1; $e tag $img 127.0.0.1:5001/bench/push:1
              prep="sh -c 'kill \$(cat $tmp/reg2.pid); rm -rf $tmp/reg2/data; setsid docker-registry serve $tmp/reg2/config.yml >/dev/null 2>&1 & echo \$! > $tmp/reg2.pid; for i in \$(seq 40); do curl -fsS http://127.0.0.1:5001/v2/ >/dev/null 2>&1 && break; sleep 0.1; done'"
              cmd="$e push -q 127.0.0.1:5001/bench/push:1";;
      images) n=$($e images -q 2>/dev/null | wc -l)
              for i in $(seq $((n+1)) 100); do
                $e import -c "LABEL n=$i" "$W/busybox.tar" bench/many:$i >/dev/null 2>&1 || break
              done
              prep=true; cmd="$e images";;
      *) echo "unknown workload $w" >&2; exit 2;;
    esac
    if hyperfine -N -w 1 -r "$runs" --prepare "$prep" --export-json "$tmp/r.json" "$cmd" >"$tmp/log" 2>&1; then
      meds+=("$(median "$tmp/r.json")")
    else
      meds+=(nan); tail -3 "$tmp/log" >&2
    fi
  done
  python3 - "$w" "${meds[@]}" <<'PY'
import sys, math
name, meds = sys.argv[1], [float(m) for m in sys.argv[2:]]
base = meds[0]
cells = []
for m in meds:
    if math.isnan(m): cells.append("failed"); continue
    cells.append(f"{m*1000:8.1f} ms" + ("" if math.isnan(base) else f" ({m/base:4.2f}x)"))
print(f"{name:<10}" + "".join(f" {c:>20}" for c in cells))
PY
done
