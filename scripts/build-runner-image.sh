#!/usr/bin/env bash
# Builds localhost/llm-runner:test, the runner image as CI can build it (test/fixtures/runner-image/Containerfile),
# from the built dist/ (run `npm run build` first), the production node_modules and the host's node binary, on the
# locally made Debian base. Rebuilt only when what goes into it changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${LLM_RUNNER_TEST_IMAGE:-localhost/llm-runner:test}"
CONTAINERFILE="$ROOT/test/fixtures/runner-image/Containerfile"
HASH_LABEL=io.llm-runner.source-hash

say() { echo "build-runner-image: $*" >&2; }
die() {
  echo "build-runner-image: error: $*" >&2
  exit 1
}

[ -f "$ROOT/dist/cli/main.js" ] || die "$ROOT/dist is not built: run 'npm run build' first."
NODE_BIN="$(command -v node)" || die "node is not on PATH."
bash "$ROOT/scripts/build-sim-image.sh" --base-only

# The production dependencies only: what `npm prune --omit=dev` keeps in the real image.
mapfile -t PACKAGES < <(cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null | grep '/node_modules/' | sed "s#^$ROOT/##" | LC_ALL=C sort -u)
[ "${#PACKAGES[@]}" -gt 0 ] || die "npm ls found no production packages: run 'npm ci' first."

exec 9>"/tmp/llm-runner-build-runner-image.lock"
flock 9

hash="$(
  {
    (cd "$ROOT" && find dist runtime/llm_runtime package.json -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -name '*.map' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
    printf '%s\n' "${PACKAGES[@]}"
    sha256sum <"$CONTAINERFILE" "$NODE_BIN"
    podman image inspect --format '{{.Id}}' localhost/llm-runner-base:bookworm
  } | sha256sum | cut -c1-32
)"
if podman image exists "$IMAGE" &&
  [ "$(podman image inspect --format "{{ index .Labels \"$HASH_LABEL\" }}" "$IMAGE")" = "$hash" ]; then
  say "$IMAGE is up to date"
  exit 0
fi

ctx="$(mktemp -d /var/tmp/llm-runner-image-ctx.XXXXXX)"
# shellcheck disable=SC2064 # expand $ctx now: the trap must remove this very folder
trap "rm -rf '$ctx'" EXIT
started=$SECONDS
cp "$NODE_BIN" "$ctx/node"
cp "$ROOT/package.json" "$ctx/"
cp -r "$ROOT/dist" "$ctx/dist"
find "$ctx/dist" -name '*.map' -delete
mkdir -p "$ctx/runtime" "$ctx/node_modules"
cp -r "$ROOT/runtime/llm_runtime" "$ctx/runtime/"
find "$ctx" -name __pycache__ -type d -prune -exec rm -rf {} +
# Each package without its own nested node_modules (those are listed and copied on their own).
for pkg in "${PACKAGES[@]}"; do
  mkdir -p "$ctx/$pkg"
  (cd "$ROOT/$pkg" && find . -mindepth 1 -maxdepth 1 ! -name node_modules -exec cp -r {} "$ctx/$pkg/" \;)
done
previous="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
say "building $IMAGE (${#PACKAGES[@]} production packages)"
podman build --quiet --label "$HASH_LABEL=$hash" -t "$IMAGE" -f "$CONTAINERFILE" "$ctx" >/dev/null
if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]; then
  podman rmi "$previous" >/dev/null 2>&1 || true
fi
say "built $IMAGE in $((SECONDS - started)) s"
