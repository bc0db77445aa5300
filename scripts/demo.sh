#!/usr/bin/env bash
# make demo: gantry end to end on this machine. A busybox bundle is made from
# the host's static busybox, then a container shows what proves its isolation
# and limits, and the runc-style lifecycle runs on a second one. Then the
# engine: a daemon on the demo's own roots, an image made offline, pushed to
# and pulled from a registry on loopback, containers run, inspected and
# removed through gantry's CLI and the real docker CLI.
# Exits non-zero if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GANTRY:-$PWD/bin/gantry}
work=$(mktemp -d /var/tmp/gantry-demo.XXXXXX)
root=$work/state
cleanup() {
  "$G" runtime --root "$root" delete --force demo-svc >/dev/null 2>&1 || true
  [ -n "${regpid:-}" ] && kill "$regpid" 2>/dev/null
  if [ -n "${daemonpid:-}" ]; then kill "$daemonpid" 2>/dev/null; wait "$daemonpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
rt() { "$G" runtime --root "$root" "$@"; }

step "a busybox bundle from the host's static busybox"
bundle=$work/bundle
mkdir -p "$bundle/rootfs"/{bin,etc,tmp,proc,sys,dev,root}
cp "$(command -v busybox || echo /bin/busybox)" "$bundle/rootfs/bin/busybox"
for a in $("$bundle/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$bundle/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$bundle/rootfs/etc/passwd"
echo 'root:x:0:' > "$bundle/rootfs/etc/group"
cat > "$bundle/rootfs/show.sh" <<'SH'
echo "hostname:      $(hostname)"
echo "id:            $(id)"
echo "pid 1 is:      $(cat /proc/1/cmdline | tr '\0' ' ')"
if [ -f /sys/fs/cgroup/memory.max ]; then
  mem=$(cat /sys/fs/cgroup/memory.max); pids=$(cat /sys/fs/cgroup/pids.max); cpu=$(cat /sys/fs/cgroup/cpu.max)
else
  mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); pids=$(cat /sys/fs/cgroup/pids/pids.max)
  cpu="$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
fi
echo "memory limit:  $mem bytes"
echo "pids limit:    $pids"
echo "cpu quota:     $cpu"
echo "processes it can see:"; ps
echo "capabilities:  $(grep CapEff /proc/self/status)"
if unshare -n true 2>/dev/null; then echo "unshare:       ALLOWED (seccomp not applied!)"; exit 1
else echo "unshare:       denied by Docker's default seccomp profile"; fi
SH
rt spec --bundle "$bundle" --seccomp-default
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["hostname"] = "gantry-demo"
c["root"]["readonly"] = False
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "/show.sh"]
c["linux"]["resources"] = {
    "memory": {"limit": 64 << 20, "swap": 64 << 20},
    "pids": {"limit": 32},
    "cpu": {"quota": 50000, "period": 100000},
}
json.dump(c, open(path, "w"), indent=2)
PY
echo "bundle: $bundle (config.json + rootfs/)"

step "gantry runtime run: a container with 64 MiB, 32 pids, half a CPU and Docker's seccomp profile"
rt run --bundle "$bundle" demo-run

step "the runc lifecycle: create, start, state, exec, events --stats, kill, delete"
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["args"] = ["sleep", "600"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
rt create --bundle "$bundle" demo-svc </dev/null >/dev/null 2>&1
rt list
rt start demo-svc
rt state demo-svc; echo
rt exec demo-svc sh -c 'echo "exec sees: $(ps | wc -l) lines of ps, hostname $(hostname)"'
rt events --stats demo-svc | python3 -c '
import json, sys
e = json.load(sys.stdin)["data"]
print("events --stats: cpu %.1f ms, memory %d KiB of %d MiB, %d pids" % (
    e["cpu"]["usage"]["total"] / 1e6, e["memory"]["usage"]["usage"] // 1024,
    e["memory"]["usage"]["limit"] >> 20, e["pids"]["current"]))'
rt kill demo-svc KILL
for _ in $(seq 50); do rt state demo-svc | grep -q '"stopped"' && break; sleep 0.05; done
rt delete demo-svc
rt list
step "images: a busybox image made offline from the host's static busybox"
# The image commands are clients of a daemon: one on the demo's own roots.
"$G" daemon --data-root "$work/data" --exec-root "$work/run" -H "unix://$work/run/gantry.sock" \
  --cgroup-parent /gantry-demo >"$work/daemon.log" 2>&1 & daemonpid=$!
for _ in $(seq 200); do [ -S "$work/run/gantry.sock" ] && break; sleep 0.05; done
gi() { "$G" -H "unix://$work/run/gantry.sock" "$@"; }
gi image busybox >/dev/null
gi images
gi history busybox

step "push to and pull from a registry on loopback (Debian's docker-registry)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' "$work/registry/data" "$port" > "$work/registry/config.yml"
docker-registry serve "$work/registry/config.yml" >/dev/null 2>&1 & regpid=$!
for _ in $(seq 40); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
gi tag busybox "127.0.0.1:$port/demo/busybox:1"
gi push "127.0.0.1:$port/demo/busybox:1"
gi rmi busybox "127.0.0.1:$port/demo/busybox:1"
gi pull "127.0.0.1:$port/demo/busybox:1"
gi images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}'

step "containers: run, ps, logs, exec, stop, rm (and the real docker CLI against gantry)"
img="127.0.0.1:$port/demo/busybox:1"
gi run --rm "$img" sh -c 'echo "hello from $(hostname), pid $$"'
gi run -d --name web "$img" sh -c 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done' >/dev/null
gi run -d --name worker --memory 64m --cpus 0.5 "$img" sleep 600 >/dev/null
sleep 0.5
gi ps
gi logs --tail 2 web
gi exec worker sh -c 'echo "exec in $(hostname): memory limit $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"'
if command -v docker >/dev/null; then
  DOCKER_HOST="unix://$work/run/gantry.sock" docker ps --format 'docker ps sees: {{.Names}} ({{.Status}})'
  DOCKER_HOST="unix://$work/run/gantry.sock" docker run --rm "$img" echo "docker run through gantry"
fi
gi stop -t 1 web worker >/dev/null
gi ps -a --format 'table {{.Names}}\t{{.Status}}'
gi rm web worker >/dev/null
gi save -o "$work/images.tar" "127.0.0.1:$port/demo/busybox:1" && echo "saved: $(du -h "$work/images.tar" | cut -f1) in Docker's archive format"
gi image prune -af
"$G" system check --data-root "$work/data"

step "done: the demo left nothing behind"
