#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or older than package-lock.json (fresh clone, new deps).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm dependencies (npm ci; better-sqlite3 may compile, ~2 min)" >&2
  npm ci --no-audit --no-fund >&2
fi
