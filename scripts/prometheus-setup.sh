#!/usr/bin/env bash
# Makes Debian's Prometheus (apt package `prometheus`, 2.42 on Debian 12) available to the dashboard test
# (test/dashboard-prometheus.test.ts), which starts its own server on 127.0.0.1 with its own config and data.
# Idempotent and quick when `prometheus` is already on PATH. Runs unattended (no stdin) as root on a fresh Debian 12.
set -euo pipefail

say() { echo "prometheus-setup: $*" >&2; }
die() {
  echo "prometheus-setup: error: $*" >&2
  exit 1
}

command -v prometheus >/dev/null 2>&1 && exit 0

INSTALL="apt-get install -y --no-install-recommends prometheus"
[ "$(id -u)" -eq 0 ] || die "prometheus is missing. Install it as root: sudo $INSTALL"
command -v apt-get >/dev/null 2>&1 || die "prometheus is missing, and apt-get is not available: install Prometheus 2.x with your package manager."

# Two runs at once (CI steps, parallel shells) would race on apt.
exec 9>"/tmp/llm-runner-prometheus-setup.lock"
flock 9
command -v prometheus >/dev/null 2>&1 && exit 0

# The package would start its own server on :9090 (init script or systemd unit); the test needs only the binary.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# Written by llm-runner scripts/prometheus-setup.sh for the install only.\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  trap 'rm -f "$POLICY"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
say "installing prometheus (apt-get, recommends left out)"
# Fresh images ship without package lists (they may be stored compressed: *_Packages.lz4): update first, and
# again if the install fails on stale lists. A fresh machine may hold the dpkg lock a while: wait for it.
apt=(apt-get -qq -o DPkg::Lock::Timeout=300)
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
  "${apt[@]}" update </dev/null
fi
if ! "${apt[@]}" install -y --no-install-recommends prometheus </dev/null >/dev/null; then
  "${apt[@]}" update </dev/null
  "${apt[@]}" install -y --no-install-recommends prometheus </dev/null >/dev/null
fi
command -v prometheus >/dev/null 2>&1 || die "apt-get installed prometheus, but it is not on PATH"
say "$(prometheus --version 2>&1 | head -n 1)"
