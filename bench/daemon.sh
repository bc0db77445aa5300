# Sourced by the benchmarks: `bench_daemon NAME [DAEMON FLAGS...]` starts a
# gantry daemon of their own (data root, exec root, socket, cgroup parent
# and bridge named after NAME), gives it busybox:local, and removes it with
# everything it made when the script exits. Sets G, tmp, data, exec_root,
# sock, daemon and GANTRY_HOST.
W=${PEERS_DIR:-/var/tmp/gantry-peers}

bench_daemon() {
  local name=$1; shift
  G=$PWD/bin/gantry
  [ -x "$G" ] || make build >/dev/null
  tmp=$(mktemp -d "/var/tmp/gantry-bench-$name.XXXXXX")
  data=$tmp/data exec_root=$tmp/run sock=$tmp/run/gantry.sock
  bench_bridge=gtb-$name bench_cgroup=/gantry-bench-$name
  mkdir -p "$data" "$exec_root"
  "$G" daemon --data-root "$data" --exec-root "$exec_root" -H "unix://$sock" \
    --bridge "$bench_bridge" --cgroup-parent "$bench_cgroup" "$@" >"$tmp/daemon.log" 2>&1 &
  daemon=$!
  trap bench_cleanup EXIT
  for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
  export GANTRY_HOST=unix://$sock
  "$G" import "$W/busybox.tar" busybox:local >/dev/null 2>&1 ||
    { "$G" image busybox >/dev/null && "$G" tag busybox busybox:local; }
}

bench_cleanup() {
  local ids
  ids=$("$G" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$G" rm -f $ids >/dev/null 2>&1
  kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null
  for s in $(pgrep -f "shim --standby $exec_root"); do kill -9 "$s"; done
  umount -R "$exec_root"/containers/*/rootfs 2>/dev/null
  rm -rf "$tmp"
  # The bridge and its rules outlive a daemon, as Docker's do: a benchmark's go with it.
  nft delete table ip "gantry-$bench_bridge" 2>/dev/null
  for h in $(nft -a list chain ip filter FORWARD 2>/dev/null | awk "/gantry bridge $bench_bridge\"/ {print \$NF}"); do
    nft delete rule ip filter FORWARD handle "$h"
  done
  ip link del "$bench_bridge" 2>/dev/null
  rmdir /sys/fs/cgroup/*"$bench_cgroup" /sys/fs/cgroup"$bench_cgroup" 2>/dev/null
  return 0
}
