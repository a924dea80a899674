#!/usr/bin/env bash
# Installs everything chatd needs to build, run and test on Debian 12, then the test clients from
# npm (tests/package-lock.json). Idempotent and quick when all is there already: apt-get runs only
# when a package is missing, npm only when the lock file changed since the last install.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

packages=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev  # libFuzzer for tests/fuzz (tests/run-all.sh's fuzz phase)
  libuv1-dev libhiredis-dev libboost-dev libboost-system-dev libfmt-dev libyaml-cpp-dev
  doctest-dev libmsgpack-cxx-dev libsimdjson-dev libsystemd-dev
  libjwt-dev libssl-dev  # auth: JWT signatures (libjwt 1.10), PEM and JWKS keys (libcrypto)
  redis-server redis-tools
  iproute2  # ip netns, veth and bridges: the namespaced hosts of it_cluster_hosts and bench/cluster-hosts
  systemd   # systemd-analyze, to check the unit file
  dpkg-dev file  # dpkg-shlibdeps (and the file(1) CPack runs first): the .deb's Depends (it_pkg_deb)
  gnuplot-nox  # bench/plot's PNG (bench/compare --plot), checked by it_bench_plot
  python3
  chromium  # the demo page's browser test (driven by playwright-core from npm)
)
# Node: Debian's only when there is none. A machine may have another node (e.g. NodeSource's,
# which bundles npm): Debian's npm package conflicts with it, so npm comes from apt only when
# there is no npm at all.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: not root and no sudo: cannot install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "install-deps: Debian packages already installed"
fi

# promtool, from Debian's prometheus package, checks GET /metrics in it_process_metrics. Only that
# one binary is taken out of the package (installed, the package would run a Prometheus server).
# Not fatal: without it the test checks the exposition format itself and says so.
tools="$here/.tools"
if ! command -v promtool >/dev/null 2>&1 && [[ ! -x "$tools/promtool" ]]; then
  work=$(mktemp -d)
  if (cd "$work" && apt-get download prometheus >/dev/null 2>&1 && dpkg-deb -x prometheus_*.deb x &&
      mkdir -p "$tools" && cp x/usr/bin/promtool "$tools/promtool"); then
    echo "install-deps: promtool taken from Debian's prometheus package into $tools"
  else
    echo "install-deps: warning: could not take promtool from Debian's prometheus package; it_process_metrics checks the format itself"
  fi
  rm -rf "$work"
fi

# The test clients (socket.io-client, socket.io, @socket.io/redis-adapter, redis), exactly as locked.
stamp="$here/node_modules/.chatd-lock.sha256"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d "$here/node_modules/socket.io-client" ]]; then
  echo "install-deps: npm packages up to date"
else
  npm ci --prefix "$here" --no-audit --no-fund
  echo "$want" > "$stamp"
fi
