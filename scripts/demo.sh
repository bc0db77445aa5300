#!/usr/bin/env bash
# make demo: the workflow of a Docker tutorial, with gantry, on this machine.
# A daemon on the demo's own roots; a base image made offline from the host's
# static busybox; examples/webapp built from its Dockerfile; three copies of it
# on ports 8081-8083 answering curl; exec, commit, history, stats, logs; a push
# to and a pull from a registry on loopback; a rebuild after a code edit that
# reuses the cached steps; the real docker CLI against the same daemon; and a
# prune that leaves the machine as it was. Exits non-zero if any step fails.
# DEMO_ENGINE=docker runs the same workflow through the docker CLI against
# dockerd (after ../shared/bench/peers.sh), to compare the two.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GANTRY:-$PWD/bin/gantry}
work=$(mktemp -d /var/tmp/gantry-demo.XXXXXX)
sock=$work/run/gantry.sock
cleanup() {
  [ -n "${regpid:-}" ] && kill "$regpid" 2>/dev/null
  [ "${DEMO_ENGINE:-gantry}" = docker ] && docker -H unix:///var/run/docker.sock rm -f web1 web2 web3 web4 >/dev/null 2>&1
  if [ -n "${daemonpid:-}" ]; then
    "$G" -H "unix://$sock" rm -f web1 web2 web3 >/dev/null 2>&1 || true
    kill "$daemonpid" 2>/dev/null; wait "$daemonpid" 2>/dev/null || true
  fi
  rm -rf "$work"
  # The bridge and its rules outlive a daemon, as Docker's do: the demo's own go with it.
  nft delete table ip gantry-gantry-demo 2>/dev/null || true
  for h in $(nft -a list chain ip filter FORWARD 2>/dev/null | awk '/gantry bridge gantry-demo/ {print $NF}'); do nft delete rule ip filter FORWARD handle "$h"; done
  ip link del gantry-demo 2>/dev/null || true
  rmdir /sys/fs/cgroup/*/gantry-demo /sys/fs/cgroup/gantry-demo 2>/dev/null || true
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; }
engine=${DEMO_ENGINE:-gantry}
# gantry, shown as the user would type it (the daemon's address is the demo's own).
if [ "$engine" = docker ]; then
  gantry() { show "docker $*"; DOCKER_BUILDKIT=0 docker -H unix:///var/run/docker.sock "$@"; }
else
  gantry() { show "gantry $*"; "$G" -H "unix://$sock" "$@"; }
fi
start=$(date +%s.%N)

if [ "$engine" = docker ]; then
  step "dockerd (started by ../shared/bench/peers.sh)"
  gantry version --format 'docker {{.Server.Version}}, Engine API {{.Server.APIVersion}}'
  step "a base image, from the same static busybox"
  gantry import -c 'CMD ["sh"]' /var/tmp/gantry-peers/busybox.tar busybox
else
  step "the daemon, on the demo's own data root and socket"
  "$G" daemon --data-root "$work/data" --exec-root "$work/run" -H "unix://$sock" \
    --cgroup-parent /gantry-demo --bridge gantry-demo >"$work/daemon.log" 2>&1 & daemonpid=$!
  for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
  gantry version --format 'gantry {{.Server.Version}}, Engine API {{.Server.APIVersion}}'
  step "a base image, made offline from this host's static busybox"
  gantry image busybox
fi

step "build examples/webapp from its Dockerfile"
app=$work/webapp
cp -r examples/webapp "$app"
cat "$app/Dockerfile" | sed -n '/^FROM/,$p'
gantry build -t webapp:1.0 "$app"
gantry images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}'

step "three copies on ports 8081-8083"
for i in 1 2 3; do gantry run -d --name web$i -p 808$i:3000 -e GREETING="hello from copy $i" webapp:1.0 >/dev/null; done
gantry ps --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}\t{{.Ports}}'
for i in 1 2 3; do
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:808$i/" >/dev/null 2>&1 && break; sleep 0.1; done
  show "curl http://localhost:808$i/cgi-bin/hello"; curl -fsS "http://localhost:808$i/cgi-bin/hello"
done

step "exec a change into one, commit it as webapp:2.0, run that"
gantry exec web1 sh -c 'echo "<p>changed by exec</p>" >> /srv/www/index.html'
gantry commit -m "a change made by exec" -c 'ENV GREETING="hello from 2.0"' web1 webapp:2.0
gantry history webapp:2.0
gantry run -d --name web4 -p 8084:3000 webapp:2.0 >/dev/null
for _ in $(seq 50); do curl -fsS http://127.0.0.1:8084/ >/dev/null 2>&1 && break; sleep 0.1; done
show "curl http://localhost:8084/"; curl -fsS http://localhost:8084/ | grep changed
show "curl http://localhost:8084/cgi-bin/hello"; curl -fsS http://localhost:8084/cgi-bin/hello
gantry rm -f web4 >/dev/null

step "stats and logs"
gantry stats --no-stream
gantry logs --tail 3 web1

step "push to and pull from a registry on loopback (Debian's docker-registry)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' "$work/registry/data" "$port" > "$work/registry/config.yml"
docker-registry serve "$work/registry/config.yml" >/dev/null 2>&1 & regpid=$!
for _ in $(seq 40); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
gantry tag webapp:2.0 "127.0.0.1:$port/demo/webapp:2.0"
gantry push "127.0.0.1:$port/demo/webapp:2.0"
gantry rmi webapp:2.0 "127.0.0.1:$port/demo/webapp:2.0" >/dev/null
gantry pull "127.0.0.1:$port/demo/webapp:2.0"

step "edit the code and rebuild: every step above the edit is cached"
echo "<p>edited at $(date -u +%T)</p>" >> "$app/site/index.html"
if [ "$engine" = docker ]; then gantry build -t webapp:1.1 "$app"; else gantry build --progress=plain -t webapp:1.1 "$app"; fi
gantry rm -f web3 >/dev/null
gantry run -d --name web3 -p 8083:3000 webapp:1.1 >/dev/null
for _ in $(seq 50); do curl -fsS http://127.0.0.1:8083/ 2>/dev/null | grep -q edited && break; sleep 0.1; done
show "curl http://localhost:8083/"; curl -fsS http://localhost:8083/ | grep edited

if [ "$engine" = gantry ] && command -v docker >/dev/null; then
  step "the real docker CLI against the same daemon"
  show "DOCKER_HOST=unix://$sock docker ps"
  DOCKER_HOST="unix://$sock" docker ps --format 'table {{.Names}}\t{{.Status}}\t{{.Ports}}'
  DOCKER_HOST="unix://$sock" docker exec web2 sh -c 'echo "docker exec into $(hostname)"'
fi

step "clean up: stop, remove, prune"
gantry rm -f web1 web2 web3
gantry system prune -af
gantry system df
if find /sys/fs/cgroup/*/gantry-demo /sys/fs/cgroup/gantry-demo -mindepth 1 -type d 2>/dev/null | grep -q .; then echo "cgroups left behind" >&2; exit 1; fi
if ip -o link 2>/dev/null | grep -q 'master gantry-demo'; then echo "veths left behind" >&2; exit 1; fi

step "done in $(python3 -c "import time; print('%.1f' % (time.time() - $start))") s: the demo left nothing behind"
