#!/usr/bin/env bash
# Network benchmarks, gantry beside Docker when its daemon answers:
#   throughput  SIZE MB pushed from the host through a published TCP port on
#               127.0.0.1 to a sink in the container (busybox `nc -ll -e`
#               running dd into /dev/null, 1 MB reads), RUNS times; the median. Docker is measured as it
#               runs (by default with its userland proxy). As a reference for
#               "no proxy", each engine is also measured straight to the
#               container's address on its bridge (no DNAT, no proxy): what
#               Docker with --userland-proxy=false reaches at best.
#   dns         container-to-container lookups: a name of the user network
#               asked of 127.0.0.11 from inside a container's namespace,
#               500 queries; the median and the 90th percentile.
# Usage: bench/netperf.sh [-r RUNS] [-s SIZE_MB]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=5 size=1024
while getopts r:s: o; do
  case $o in r) runs=$OPTARG ;; s) size=$OPTARG ;; *) exit 2 ;; esac
done
. bench/daemon.sh
bench_daemon netperf

engines=("$G")
D="docker -H unix:///var/run/docker.sock"
if $D version >/dev/null 2>&1; then
  engines+=("$D")
else
  echo "Docker does not answer on /var/run/docker.sock: gantry alone (bash /work/shared/bench/peers.sh --no-debian starts it)"
fi
name=netperf$$
cleanup_peers() {
  $D rm -f "$name-sink" "$name-srv" "$name-cli" >/dev/null 2>&1
  $D network rm "$name-net" >/dev/null 2>&1
  bench_cleanup
}
trap cleanup_peers EXIT

# push HOST PORT: microseconds to write SIZE MB to HOST:PORT, or nothing when the
# sink was not listening yet (the write fails).
push() {
  local t0 t1
  t0=$(date +%s%N)
  dd if=/dev/zero bs=1M count="$size" 2>/dev/null >"/dev/tcp/$1/$2" || return 1
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000 ))"
}

# The targets: label, host, port. Runs go round them in turn, so a load
# that comes and goes on the machine weighs on each alike.
labels=() hosts=() ports=()
sink='exec nc -ll -p 5001 -e dd of=/dev/null bs=1M'
for e in "${engines[@]}"; do
  label=$(basename "${e%% *}")
  port=$((20000 + RANDOM % 20000))
  $e rm -f "$name-sink" >/dev/null 2>&1
  $e run -d --name "$name-sink" -p "127.0.0.1:$port:5001" busybox:local sh -c "$sink" >/dev/null || continue
  ip=$($e inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name-sink")
  labels+=("$label: published port 127.0.0.1:$port") hosts+=(127.0.0.1) ports+=("$port")
  labels+=("$label: container address $ip (reference)") hosts+=("$ip") ports+=(5001)
done
sleep 0.5
for _ in $(seq "$runs"); do
  for i in "${!labels[@]}"; do
    us=
    for _ in $(seq 20); do us=$(push "${hosts[$i]}" "${ports[$i]}") && break; sleep 0.2; done
    [ -n "$us" ] && echo "$i $us" >>"$tmp/throughput"
    sleep 0.3
  done
done
for i in "${!labels[@]}"; do
  awk -v i="$i" '$1 == i {print $2}' "$tmp/throughput" 2>/dev/null | sort -n | awk -v l="${labels[$i]}" -v s="$size" '
    {a[NR]=$1} END {if (!NR) {print l ": no run succeeded"; exit}
      m=a[int((NR+1)/2)]; printf "%-50s median %6.0f MB/s  (%d runs of %d MB, min %.0f, max %.0f)\n", l, s/(m/1e6), NR, s, s/(a[NR]/1e6), s/(a[1]/1e6)}'
done
for e in "${engines[@]}"; do $e rm -f "$name-sink" >/dev/null 2>&1; done

# dns: queries for a container's name from another's namespace.
dnsq='
import socket, struct, sys, time
name = sys.argv[1].encode()
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p for p in name.split(b".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect(("127.0.0.11", 53))
lat = []
for i in range(520):
    t = time.perf_counter(); s.send(q); r = s.recv(512); dt = time.perf_counter() - t
    if struct.unpack(">H", r[6:8])[0] < 1: sys.exit("no answer for " + sys.argv[1])
    if i >= 20: lat.append(dt)
lat.sort()
print("median %.3f ms, p90 %.3f ms (%d queries)" % (lat[len(lat)//2]*1e3, lat[len(lat)*9//10]*1e3, len(lat)))
'
for e in "${engines[@]}"; do
  label=$(basename "${e%% *}")
  $e network create "$name-net" >/dev/null || continue
  $e run -d --name "$name-srv" --network "$name-net" busybox:local sleep 600 >/dev/null
  $e run -d --name "$name-cli" --network "$name-net" busybox:local sleep 600 >/dev/null
  pid=$($e inspect -f '{{.State.Pid}}' "$name-cli")
  printf '%-50s %s\n' "$label: DNS lookup of a container" "$(nsenter --net=/proc/$pid/ns/net python3 -c "$dnsq" "$name-srv" 2>&1)"
  $e rm -f "$name-srv" "$name-cli" >/dev/null
  $e network rm "$name-net" >/dev/null
done
