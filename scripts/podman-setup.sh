#!/usr/bin/env bash
# Makes a Docker-API engine available on this machine through Podman (docs/ARCHITECTURE.md, "Testing without a GPU or a Docker daemon"):
#   apt packages podman + runc + debootstrap, /etc/containers/containers.conf tuned for these machines
#   (runc instead of crun, which fails on hybrid cgroups; ulimits we are allowed to set), and
#   `podman system service` answering the Docker API on unix:///run/podman/podman.sock.
# Idempotent and quick when already done. Runs unattended (no stdin) as root on a fresh Debian 12.
# Last line of output: the DOCKER_HOST export to use.
set -euo pipefail

SOCK_DIR=/run/podman
SOCK="$SOCK_DIR/podman.sock"
CONF=/etc/containers/containers.conf
LOG="$SOCK_DIR/service.log"
PIDFILE="$SOCK_DIR/service.pid"
READY_TIMEOUT_S="${PODMAN_READY_TIMEOUT_S:-30}"

say() { echo "podman-setup: $*" >&2; }
die() {
  echo "podman-setup: error: $*" >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Two runs at once (CI steps, parallel shells) would race on apt, the config and the socket.
# The service started below must not inherit this descriptor, or it would hold the lock forever.
if is_root; then
  exec 9>"/tmp/llm-runner-podman-setup.lock"
  flock 9
fi

# --- 1. packages ---------------------------------------------------------------------------
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  if ! is_root; then
    die "missing: ${missing[*]}. Install them as root (sudo apt-get install -y ${missing[*]}) or run this script as root."
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die "missing: ${missing[*]}, and apt-get is not available. Install them with your package manager."
  export DEBIAN_FRONTEND=noninteractive
  say "installing ${missing[*]} (apt-get)"
  # Fresh images ship without package lists (they may be stored compressed: *_Packages.lz4): update
  # first, and again if an install fails on stale lists. A fresh cloud machine may hold the dpkg lock for
  # a while (unattended-upgrades): wait for it instead of failing.
  apt=(apt-get -qq -o DPkg::Lock::Timeout=300)
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    "${apt[@]}" update </dev/null
  fi
  if ! "${apt[@]}" install -y "${missing[@]}" </dev/null; then
    "${apt[@]}" update </dev/null
    "${apt[@]}" install -y "${missing[@]}" </dev/null
  fi
fi

answers() { curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

if ! is_root; then
  # The service is a root one (rootless Podman needs another socket and config); use it when it is up.
  if answers; then
    say "Docker API ready on unix://$SOCK (not root: containers.conf left as it is)"
    echo "export DOCKER_HOST=unix://$SOCK"
    exit 0
  fi
  die "run this script as root (sudo bash $0): it writes $CONF and serves $SOCK."
fi

# --- 2. containers.conf ----------------------------------------------------------------------
# set_key FILE SECTION KEY VALUE: sets KEY = VALUE inside [SECTION], replacing an existing value
# (also a multi-line array), adding the section when it is missing, leaving everything else as it is.
set_key() {
  local file="$1" section="$2" key="$3" value="$4"
  local tmp
  tmp="$(mktemp)"
  awk -v section="$section" -v key="$key" -v value="$value" '
    function flush_missing() {
      if (in_section && !done) { print key " = " value; done = 1 }
    }
    BEGIN { in_section = 0; done = 0; skipping = 0 }
    {
      if (skipping) {
        if ($0 ~ /\]/) skipping = 0
        next
      }
      if ($0 ~ /^[ \t]*\[[^\]]+\][ \t]*(#.*)?$/) {
        flush_missing()
        name = $0
        sub(/^[ \t]*\[[ \t]*/, "", name); sub(/[ \t]*\].*$/, "", name)
        in_section = (name == section)
        print
        next
      }
      if (in_section && $0 ~ "^[ \t]*" key "[ \t]*=") {
        if (!done) { print key " = " value; done = 1 }
        rest = $0; sub(/^[^=]*=[ \t]*/, "", rest)
        # A multi-line array: drop its continuation lines too.
        if (rest ~ /^\[/ && rest !~ /\]/) skipping = 1
        next
      }
      print
    }
    END {
      flush_missing()
      if (!done) { print ""; print "[" section "]"; print key " = " value }
    }
  ' "$file" >"$tmp"
  cat "$tmp" >"$file"
  rm -f "$tmp"
}

mkdir -p "$(dirname "$CONF")"
[ -f "$CONF" ] || printf '# Written by llm-runner scripts/podman-setup.sh (docs/ARCHITECTURE.md, "Testing without a GPU or a Docker daemon").\n' >"$CONF"
before="$(cat "$CONF")"
set_key "$CONF" engine runtime '"runc"'
set_key "$CONF" containers default_ulimits '["nofile=1024:1024", "nproc=1000:1000"]'
conf_changed=0
if [ "$before" != "$(cat "$CONF")" ]; then
  conf_changed=1
  say "updated $CONF"
fi

# --- 3. the Docker-API service ---------------------------------------------------------------

# A service of ours started (before this script started it from /) in a folder since deleted cannot start
# containers any more: restart it.
cwd_gone=0
if [ -f "$PIDFILE" ] && readlink "/proc/$(cat "$PIDFILE")/cwd" 2>/dev/null | grep -q ' (deleted)$'; then
  cwd_gone=1
fi

if answers && [ -f "$PIDFILE" ] && { [ "$conf_changed" = 1 ] || [ "$cwd_gone" = 1 ]; }; then
  # Our own service: restarted, so that it runs with the new containers.conf or from /.
  old="$(cat "$PIDFILE")"
  say "restarting the podman service (pid $old): $([ "$cwd_gone" = 1 ] && echo "the folder it was started in is gone" || echo "to apply $CONF")"
  kill "$old" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
elif answers && [ "$conf_changed" = 1 ]; then
  say "warning: a podman service this script did not start answers on $SOCK; restart it to apply $CONF"
fi

if ! answers; then
  mkdir -p "$SOCK_DIR"
  rm -f "$SOCK"
  say "starting podman system service on $SOCK (log: $LOG)"
  # From /: the service outlives this script, and conmon, which it forks for every container, fails ("Failed to
  # get working directory") once the folder it was started in is deleted (a CI clone removed after its run).
  setsid nohup env -C / podman system service --time=0 "unix://$SOCK" </dev/null >>"$LOG" 2>&1 9>&- &
  echo $! >"$PIDFILE"
  deadline=$((SECONDS + READY_TIMEOUT_S))
  until answers; do
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      tail -n 20 "$LOG" >&2 || true
      die "podman system service exited; see $LOG"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$LOG" >&2 || true
      die "podman system service did not answer on $SOCK within ${READY_TIMEOUT_S}s; see $LOG"
    fi
    sleep 0.2
  done
fi

say "Docker API ready on unix://$SOCK"
echo "export DOCKER_HOST=unix://$SOCK"
