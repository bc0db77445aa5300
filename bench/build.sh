#!/usr/bin/env bash
# Builder benchmarks, gantry side by side with Docker (and Podman where the
# shared harness runs it), medians and ratios to gantry:
#   build-warm  a rebuild with nothing changed        (../shared/bench/compare.sh)
#   build-edit  a rebuild after the last COPY's input changed (compare.sh)
#   build-cold  the same app built with --no-cache (every step runs)
#   ctx20k-warm a rebuild of a 20 000 file / 200 MB context, nothing changed
#   ctx20k-edit the same after one file of it changed
# The app is compare.sh's (busybox:local; WORKDIR, COPY deps, RUN, COPY .,
# EXPOSE, CMD; 2 MB). Docker builds with its classic builder
# (DOCKER_BUILDKIT=0), as the docker CLI does against gantry.
# Needs ../shared/bench/peers.sh to have run. Usage: bench/build.sh [-r RUNS] [-x]
#   -x  only the workloads of this script (not compare.sh's)
set -uo pipefail
cd "$(dirname "$0")/.."
runs=10 only=0
while getopts "r:x" o; do case $o in r) runs=$OPTARG;; x) only=1;; *) exit 2;; esac; done
. bench/daemon.sh
bench_daemon build
cmp=../shared/bench/compare.sh; [ -f "$cmp" ] || cmp=/work/shared/bench/compare.sh
export DOCKER_BUILDKIT=0
[ $only = 1 ] || bash "$cmp" -r "$runs" -w build-warm -w build-edit "$G" docker podman

engines=("$G" docker)
work=$tmp/work; mkdir -p "$work"
app=$work/app; mkdir -p "$app"
cat > "$app/Dockerfile" <<'DF'
FROM busybox:local
WORKDIR /app
COPY deps.txt .
RUN for i in $(seq 1 200); do echo "dep $i" >> /app/installed.txt; done
COPY . .
EXPOSE 5000
CMD ["sh", "-c", "cat /app/app.sh"]
DF
echo x > "$app/deps.txt"; echo 'echo hello' > "$app/app.sh"
for i in $(seq 1 20); do head -c 100000 /dev/urandom > "$app/f$i.bin"; done

# 20 000 files of 10 kB in 200 directories.
big=$work/big; mkdir -p "$big"
python3 - "$big" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(200):
    p = os.path.join(root, f"d{d:03}")
    os.makedirs(p, exist_ok=True)
    for f in range(100):
        with open(os.path.join(p, f"f{f:03}.dat"), "wb") as fh:
            fh.write(os.urandom(10240))
PY
printf 'FROM busybox:local\nCOPY . /src\nRUN ls /src | wc -l > /count\n' > "$big/Dockerfile"

median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"] or "")' "$1" 2>/dev/null; }
row() { # name, then one hyperfine json per engine
  python3 - "$@" <<'PY'
import json, sys
meds = []
for f in sys.argv[2:]:
    try: meds.append(json.load(open(f))["results"][0]["median"])
    except Exception: meds.append(None)
base = meds[0]
cells = [("failed" if m is None else f'{m*1000:9.1f} ms' + (f' ({m/base:5.2f}x)' if base else '')) for m in meds]
print(f'{sys.argv[1]:<12}' + ''.join(f' {c:>22}' for c in cells))
PY
}
printf '%-12s' workload; for e in "${engines[@]}"; do printf ' %22s' "$(basename "${e%% *}")"; done; echo
bench() { # name, prepare, command template (@ is the engine), context
  local name=$1 prep=$2 tmpl=$3 files=()
  for i in "${!engines[@]}"; do
    local e=${engines[$i]} cmd=${tmpl//@/${engines[$i]}}
    hyperfine -N -w 1 -r "$runs" --export-json "$work/$name.$i.json" --prepare "$prep" "$cmd" >"$work/$name.$i.log" 2>&1 ||
      echo '{"results":[{"median":null}]}' > "$work/$name.$i.json"
    files+=("$work/$name.$i.json")
  done
  row "$name" "${files[@]}"
}
bench build-cold true "@ build -q --no-cache -t benchcold:1 $app"
for e in "${engines[@]}"; do $e build -q -t bench20k:1 "$big" >/dev/null 2>&1; done
bench ctx20k-warm true "@ build -q -t bench20k:1 $big"
bench ctx20k-edit "sh -c 'date +%s%N > $big/d100/f050.dat'" "@ build -q -t bench20k:1 $big"
for e in "${engines[@]}"; do $e rmi -f benchcold:1 bench20k:1 >/dev/null 2>&1; done
