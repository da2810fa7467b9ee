#!/usr/bin/env bash
# The whole test suite, set-up included: this is `npm test`, and CI's .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

bash scripts/ensure-deps.sh
if ! command -v python3 >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing python3 (the engine runtime and its tests need it)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
  else
    echo "python3 3.10+ is required: sudo apt-get install python3" >&2
    exit 1
  fi
fi

step "lint (biome)"
npx biome check .
step "layers (each src/ folder imports only downward)"
node scripts/check-layers.mjs
step "typecheck (tsc)"
npx tsc -p tsconfig.test.json
step "build"
npm run build --silent

step "python runtime tests (unittest)"
python3 -m unittest discover -s runtime/tests -t runtime
step "bench helpers' own tests (node --test)"
npm run test:bench-lib --silent

step "Docker-API engine (Podman), the simulator engine image and the runner image"
bash scripts/build-sim-image.sh
bash scripts/build-runner-image.sh
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/podman/podman.sock}"

step "Prometheus (the dashboard's queries run through a real one)"
bash scripts/prometheus-setup.sh

step "unit tests (vitest)"
npx vitest run --config vitest.unit.ts
step "end-to-end tests (vitest)"
npx vitest run --config vitest.e2e.ts
