"""Stops the engine when the runner that supervises it is gone, so a killed runner never leaves engines holding GPUs.

The runner says how to watch it in the engine's environment:
  LLM_RUNTIME_SUPERVISOR_PID  the runner's pid (process driver): gone when the runtime's parent is no longer it
  LLM_RUNTIME_LEASE_FILE      a file the runner touches every few seconds (docker driver, bind-mounted read-only):
  LLM_RUNTIME_LEASE_TIMEOUT   gone when its mtime has not changed for this many seconds (default 15)
A daemon thread checks twice a second. When the runner is gone, the engine is stopped as on SIGTERM: the simulator
stops by its own handler; the vLLM launcher's child (in its own session) gets SIGTERM on its whole process group,
then SIGKILL after STOP_GRACE_S.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping

from .serve_args import UsageError

SUPERVISOR_PID_ENV = "LLM_RUNTIME_SUPERVISOR_PID"
LEASE_FILE_ENV = "LLM_RUNTIME_LEASE_FILE"
LEASE_TIMEOUT_ENV = "LLM_RUNTIME_LEASE_TIMEOUT"
DEFAULT_LEASE_TIMEOUT_S = 15.0
POLL_S = 0.5
STOP_GRACE_S = 10.0

# None while the runner is there; otherwise why it is considered gone.
Check = Callable[[], str | None]

# Process groups the runtime started (vLLM's own session): they are stopped with it.
_groups: set[int] = set()
_groups_lock = threading.Lock()


def stop_group_with_engine(pgid: int) -> None:
    """The launcher's child runs in its own session: when the runner is gone, its whole group is stopped too."""
    with _groups_lock:
        _groups.add(pgid)


def parent_check(pid: int, getppid: Callable[[], int] = os.getppid,
                 alive: Callable[[int], bool] | None = None) -> Check:
    """Gone when the runtime's parent is no longer `pid` (reparented on its death, so no pid-reuse race)."""
    if getppid() != pid:
        # Something sits between the runner and us (a wrapper for PYTHON): watch the runner's pid itself.
        is_alive = alive or _pid_alive
        return lambda: None if is_alive(pid) else f"the runner (pid {pid}) is gone"
    return lambda: None if getppid() == pid else f"the runner (pid {pid}) is gone"


def lease_check(path: str, timeout_s: float, mtime: Callable[[str], int | None] | None = None,
                monotonic: Callable[[], float] = time.monotonic) -> Check | None:
    """Gone when the lease's mtime has not changed for timeout_s. Measured on our own clock: the runner's may differ.
    None (no watch) when the lease cannot be read at start: a mount the host refuses (SELinux) must not stop engines."""
    read = mtime or _mtime
    last = read(path)
    if last is None:
        _say(f"llm_runtime: warning: cannot read the runner's lease {path}: the engine will not stop by itself "
             "if the runner dies")
        return None
    changed_at = monotonic()

    def check() -> str | None:
        nonlocal last, changed_at
        now_mtime = read(path)
        now = monotonic()
        if now_mtime is not None and now_mtime != last:
            last, changed_at = now_mtime, now
            return None
        if now - changed_at > timeout_s:
            return f"the runner's lease {path} was not renewed for {now - changed_at:.0f} s"
        return None

    return check


def checks_from_env(env: Mapping[str, str]) -> list[Check]:
    """The watches the runner asked for; a malformed value is a UsageError (the runner set it, so it is a bug)."""
    checks: list[Check] = []
    pid = env.get(SUPERVISOR_PID_ENV, "")
    if pid:
        if not pid.isdigit() or int(pid) <= 1:
            raise UsageError(f"{SUPERVISOR_PID_ENV}={pid!r} is not a process id")
        checks.append(parent_check(int(pid)))
    lease = env.get(LEASE_FILE_ENV, "")
    if lease:
        raw = env.get(LEASE_TIMEOUT_ENV, "")
        try:
            timeout = float(raw) if raw else DEFAULT_LEASE_TIMEOUT_S
        except ValueError:
            timeout = -1.0
        if not timeout > 0:
            raise UsageError(f"{LEASE_TIMEOUT_ENV}={raw!r} is not a positive number of seconds")
        check = lease_check(lease, timeout)
        if check is not None:
            checks.append(check)
    return checks


def start(env: Mapping[str, str], on_gone: Callable[[str], None] | None = None,
          poll_s: float = POLL_S) -> threading.Thread | None:
    """Starts the watch the environment asks for (none when it asks for none). Raises UsageError on bad values."""
    checks = checks_from_env(env)
    if not checks:
        return None
    thread = threading.Thread(target=_watch, args=(checks, on_gone or stop_engine, poll_s),
                              name="supervisor-watch", daemon=True)
    thread.start()
    return thread


def _watch(checks: list[Check], on_gone: Callable[[str], None], poll_s: float) -> None:
    while True:
        for check in checks:
            reason = check()
            if reason is not None:
                on_gone(reason)
                return
        time.sleep(poll_s)


def stop_engine(reason: str, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM for the engine (our own handler, or vLLM's group), SIGKILL for what is left after grace_s."""
    _say(f"llm_runtime: {reason}: stopping the engine")
    with _groups_lock:
        groups = list(_groups)
    if not groups:
        os.kill(os.getpid(), signal.SIGTERM)  # the simulator stops gracefully; before vLLM starts, the default ends us
        time.sleep(grace_s)
        _say(f"llm_runtime: the engine did not stop within {grace_s:g} s; exiting")
        os._exit(1)
    for pgid in groups:
        _killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_group_alive(g) for g in groups):
        time.sleep(0.1)
    for pgid in groups:
        _killpg(pgid, signal.SIGKILL)
    os._exit(1)  # nobody reads our exit code or output any more


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # the runner held the other end of stderr


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _killpg(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
