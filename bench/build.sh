#!/usr/bin/env bash
# Builder benchmarks, gantry side by side with Docker and Podman in one run,
# through the shared harness (../shared/bench/compare.sh): a small app on
# busybox:local (WORKDIR, COPY deps, RUN, COPY ., EXPOSE, CMD; 2 MB of files)
#   build-warm  a rebuild with nothing changed
#   build-edit  a rebuild after the last COPY's input changed
# Needs ../shared/bench/peers.sh to have run. Usage: bench/build.sh [-r RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
. bench/daemon.sh
bench_daemon build
cmp=../shared/bench/compare.sh; [ -f "$cmp" ] || cmp=/work/shared/bench/compare.sh
DOCKER_BUILDKIT=0 bash "$cmp" "$@" -w build-warm -w build-edit "$G" docker podman
