#!/usr/bin/env bash
# Builds the simulator engine image localhost/llm-runner-sim:latest (npm run engine:sim-image).
# Nothing can be pulled from a container registry on our machines, so the base image
# localhost/llm-runner-base:bookworm is made locally with debootstrap from the machine's Debian mirror
# (once), and the sim image is rebuilt only when runtime/llm_runtime or the Containerfile changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIM_IMAGE="${LLM_RUNNER_SIM_IMAGE:-localhost/llm-runner-sim:latest}"
SUITE=bookworm
DEB_CACHE=/var/cache/llm-runner/debootstrap
HASH_LABEL=io.llm-runner.source-hash

say() { echo "build-sim-image: $*" >&2; }
die() {
  echo "build-sim-image: error: $*" >&2
  exit 1
}

BASE_ONLY=0
case "${1:-}" in
  "") ;;
  --base-only) BASE_ONLY=1 ;;
  *) die "unknown argument '$1' (usage: build-sim-image.sh [--base-only])" ;;
esac

# The Containerfile belongs to runtime/; LLM_RUNNER_SIM_CONTAINERFILE overrides it (development).
CONTAINERFILE="${LLM_RUNNER_SIM_CONTAINERFILE:-$ROOT/runtime/Containerfile.sim}"
if [ "$BASE_ONLY" = 0 ]; then
  [ -f "$CONTAINERFILE" ] || die "$CONTAINERFILE not found (it defines the sim image; it ships with runtime/)."
  [ -d "$ROOT/runtime/llm_runtime" ] || die "$ROOT/runtime/llm_runtime not found (the runtime package the image runs)."
fi
# The base image is whatever the Containerfile builds FROM (localhost/llm-runner-base:bookworm).
BASE_IMAGE=localhost/llm-runner-base:bookworm
if [ -f "$CONTAINERFILE" ]; then
  from="$(awk 'toupper($1) == "FROM" { print $2; exit }' "$CONTAINERFILE")"
  BASE_IMAGE="${from:-$BASE_IMAGE}"
fi
case "$BASE_IMAGE" in
  localhost/*) ;;
  *) die "$CONTAINERFILE builds FROM $BASE_IMAGE; this script only builds localhost/ base images." ;;
esac

bash "$ROOT/scripts/podman-setup.sh" >/dev/null

# Two runs at once (CI steps, parallel shells) would both build the same images.
exec 9>"/tmp/llm-runner-build-sim-image.lock"
flock 9

image_exists() { podman image exists "$1"; }

# The first "deb" source for the plain suite (not -security/-updates), from one-line .list files or
# deb822 .sources files; DEBIAN_MIRROR overrides it.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local f found=""
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    found="$(awk -v suite="$SUITE" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' "$f")"
    [ -n "$found" ] && break
  done
  if [ -z "$found" ]; then
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      # deb822: blank-line separated stanzas; take URIs of a deb stanza whose Suites name the plain suite.
      found="$(awk -v suite="$SUITE" '
        function check() {
          if (printed) return
          if (types ~ /(^|[ \t])deb([ \t]|$)/ && (" " suites " ") ~ (" " suite " ") && uris != "") {
            split(uris, u, /[ \t]+/); print u[1]; printed = 1; exit
          }
          types = ""; suites = ""; uris = ""
        }
        /^[ \t]*$/ { check(); next }
        /^[ \t]*#/ { next }
        tolower($1) == "types:" { $1 = ""; types = $0 }
        tolower($1) == "suites:" { $1 = ""; suites = $0; gsub(/^[ \t]+|[ \t]+$/, "", suites); gsub(/[ \t]+/, " ", suites) }
        tolower($1) == "uris:" { $1 = ""; uris = $0; gsub(/^[ \t]+/, "", uris) }
        END { check() }' "$f")"
      [ -n "$found" ] && break
    done
  fi
  echo "${found:-http://deb.debian.org/debian}"
}

build_base() {
  local mirror dir started
  mirror="$(debian_mirror)"
  dir="$(mktemp -d /var/tmp/llm-runner-base.XXXXXX)"
  # shellcheck disable=SC2064 # expand $dir now: the trap must remove this very folder
  trap "rm -rf '$dir'" EXIT
  started=$SECONDS
  say "building $BASE_IMAGE: debootstrap $SUITE from $mirror (about 30-60 s)"
  # Keep the downloaded packages: rebuilding the base (after `podman system reset`) then skips the download.
  mkdir -p "$DEB_CACHE"
  if ! debootstrap --variant=minbase --include=python3 --cache-dir="$DEB_CACHE" "$SUITE" "$dir" "$mirror" \
    >"$dir.log" 2>&1; then
    tail -n 30 "$dir.log" >&2
    die "debootstrap failed (full log: $dir.log). Check that $mirror is reachable, or set DEBIAN_MIRROR."
  fi
  rm -f "$dir.log"
  # Downloaded packages and lists only make the image bigger.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHONUNBUFFERED=1' \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$dir"
  trap - EXIT
  say "built $BASE_IMAGE in $((SECONDS - started)) s"
}

source_hash() {
  {
    (cd "$ROOT" && find runtime/llm_runtime -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum <"$CONTAINERFILE"
    podman image inspect --format '{{.Id}}' "$BASE_IMAGE"
  } | sha256sum | cut -c1-32
}

if image_exists "$BASE_IMAGE"; then
  say "$BASE_IMAGE present"
else
  build_base
fi
[ "$BASE_ONLY" = 1 ] && exit 0

hash="$(source_hash)"
if image_exists "$SIM_IMAGE" &&
  [ "$(podman image inspect --format "{{ index .Labels \"$HASH_LABEL\" }}" "$SIM_IMAGE")" = "$hash" ]; then
  say "$SIM_IMAGE is up to date"
  exit 0
fi

# Build from a context holding only runtime/: the repository root would send node_modules to the builder.
ctx="$(mktemp -d /var/tmp/llm-runner-sim-ctx.XXXXXX)"
# shellcheck disable=SC2064
trap "rm -rf '$ctx'" EXIT
mkdir -p "$ctx/runtime"
cp -r "$ROOT/runtime/llm_runtime" "$ctx/runtime/"
find "$ctx" -name __pycache__ -type d -prune -exec rm -rf {} +
started=$SECONDS
previous="$(podman image inspect --format '{{.Id}}' "$SIM_IMAGE" 2>/dev/null || true)"
say "building $SIM_IMAGE"
podman build --quiet --label "$HASH_LABEL=$hash" -t "$SIM_IMAGE" -f "$CONTAINERFILE" "$ctx" >/dev/null
# The replaced image is now untagged; drop it unless a container still uses it.
if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$SIM_IMAGE")" ]; then
  podman rmi "$previous" >/dev/null 2>&1 || true
fi
say "built $SIM_IMAGE in $((SECONDS - started)) s"
