#!/usr/bin/env bash
# Installs, from Debian's packages, what building and testing gantry needs,
# and only what is missing. Idempotent; quiet when there is nothing to do.
set -euo pipefail
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
have_cmd busybox || [ -x /bin/busybox ] || need+=(busybox-static)
have_pkg busybox-static || need+=(busybox-static)
have_pkg libseccomp-dev || need+=(libseccomp-dev)
have_pkg pkg-config || have_pkg pkgconf || need+=(pkg-config)
have_cmd runc || need+=(runc)
have_cmd hyperfine || need+=(hyperfine)
have_cmd python3 || need+=(python3)
have_cmd gcc || need+=(gcc)
have_cmd ps || need+=(procps)
have_cmd docker-registry || need+=(docker-registry)
have_cmd skopeo || need+=(skopeo)
have_cmd curl || need+=(curl)
# networking tests and the demo look at links and rules with these
have_cmd nft || need+=(nftables)
have_cmd ip || need+=(iproute2)
# Compose and the Docker SDK for Python, run against gantry as tests
have_cmd docker-compose || need+=(docker-compose)
python3 -c 'import docker' 2>/dev/null || need+=(python3-docker)
if [ ${#need[@]} -gt 0 ]; then
  # de-duplicate
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  echo "install-deps: installing ${need[*]}" >&2
  if [ "$(id -u)" != 0 ]; then echo "install-deps: need root to install packages" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null
fi
