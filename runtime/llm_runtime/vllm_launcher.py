"""`--engine vllm`: preflight, then `vllm serve <args>` as a child whose output is relayed and read for lifecycle events."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import IO

from . import __version__, lifecycle, supervisor_watch
from .gpu_probe import visible_gpu_count
from .log_hints import ModelFacts
from .log_parser import VllmLogParser
from .model_weights import weights_gib
from .preflight import PreflightError, check_gpus, check_model
from .serve_args import UsageError, parse_int, parse_serve_args


def _relay(pipe: IO[bytes], out: IO[str], emitter: lifecycle.Emitter, parser: VllmLogParser,
           parse_lock: threading.Lock) -> None:
    """Copies the child's output line by line; tqdm redraws with \\r, so \\r also ends a line."""
    pending = b""
    fd = pipe.fileno()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            _handle(raw.decode("utf-8", "replace"), out, emitter, parser, parse_lock)
    if pending:
        _handle(pending.decode("utf-8", "replace"), out, emitter, parser, parse_lock)


def _handle(line: str, out: IO[str], emitter: lifecycle.Emitter, parser: VllmLogParser,
            parse_lock: threading.Lock) -> None:
    emitter.write_line(line, out)
    with parse_lock:
        events = parser.feed(line)
    for event in events:
        emitter.emit(event)


# vLLM drains on SIGTERM with --shutdown-timeout from 0.18 on (vllm-project/vllm#36666); older releases refuse the
# flag and abort in-flight requests on SIGTERM.
DRAIN_FLAG = "--shutdown-timeout"
DRAIN_SINCE = (0, 18)
_RUNNING = re.compile(r"^vllm:num_requests_(?:running|waiting)\{[^}]*\} ([0-9.eE+]+)$", re.M)


def installed_vllm() -> str | None:
    """The vLLM release installed beside this interpreter (the engine image's), or None when unknown."""
    try:
        return metadata.version("vllm")
    except metadata.PackageNotFoundError:
        return None


def _older_than(version: str, since: tuple[int, int]) -> bool:
    m = re.match(r"(\d+)\.(\d+)", version)
    return bool(m) and (int(m.group(1)), int(m.group(2))) < since


def _without_flag(args: Sequence[str], flag: str) -> tuple[list[str], str | None]:
    out: list[str] = []
    value: str | None = None
    it = iter(args)
    for arg in it:
        if arg == flag:
            value = next(it, None)
        elif arg.startswith(flag + "="):
            value = arg.partition("=")[2]
        else:
            out.append(arg)
    return out, value


def _requests_in_flight(port: int) -> float | None:
    """vLLM's running + waiting requests from its /metrics (open without the API key), or None if unreadable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:  # noqa: S310
            text = resp.read().decode("utf-8", "replace")
    except OSError:
        return None
    counts = _RUNNING.findall(text)
    return sum(float(c) for c in counts) if counts else None


def _drain_then_forward(child: subprocess.Popen[bytes], signum: int, port: int, seconds: float) -> None:
    """For a vLLM without --shutdown-timeout: hold SIGTERM until its requests are done or the time is up."""
    deadline = time.monotonic() + seconds
    while child.poll() is None and time.monotonic() < deadline:
        left = _requests_in_flight(port)
        if not left:
            break
        time.sleep(0.25)
    if child.poll() is None:
        child.send_signal(signum)


def _exit_code(returncode: int) -> int:
    # A child killed by a signal reports -N; shells and container runtimes say 128+N.
    return 128 - returncode if returncode < 0 else returncode


def run(
    args: Sequence[str],
    env: Mapping[str, str],
    emitter: lifecycle.Emitter | None = None,
    count_gpus: Callable[[Mapping[str, str]], tuple[int, str]] = visible_gpu_count,
    vllm_version: Callable[[], str | None] = installed_vllm,
) -> int:
    emitter = emitter or lifecycle.Emitter()
    emitter.emit(lifecycle.starting("vllm", __version__))
    sim_flags = [a for a in args if a.startswith("--sim-")]
    try:
        if sim_flags:
            raise UsageError(f"{sim_flags[0]} is a simulator flag: use --engine sim, or drop the SIM_* settings")
        parsed = parse_serve_args(args)
    except UsageError as err:
        print(f"llm_runtime: {err}", file=sys.stderr, flush=True)
        emitter.emit(lifecycle.fatal("bad_config", str(err), lifecycle.USAGE_HINT))
        return 2
    try:
        model = check_model(parsed.model)
        gpus = check_gpus(parsed, env, count_gpus)
    except (PreflightError, UsageError) as err:
        reason, detail = (err.reason, err.detail) if isinstance(err, PreflightError) else ("bad_config", str(err))
        hint = err.hint if isinstance(err, PreflightError) else None
        print(f"llm_runtime: preflight failed: {detail}", file=sys.stderr, flush=True)
        emitter.emit(lifecycle.fatal(reason, detail, hint))
        return 1
    exe = shutil.which("vllm", path=env.get("PATH"))
    if exe is None:
        detail = "the vllm executable is not on PATH"
        print(f"llm_runtime: {detail}", file=sys.stderr, flush=True)
        emitter.emit(lifecycle.fatal("engine_error", detail, "Run --engine vllm inside the vLLM image "
                                     "(Dockerfile.gpu) or a Python environment where `vllm` is installed."))
        return 1
    emitter.emit(lifecycle.loading(None, f"preflight passed: {model}, {gpus} GPU(s) visible; starting vllm serve"))

    drain_s = 0.0
    version = vllm_version()
    if version and _older_than(version, DRAIN_SINCE) and parsed.get(DRAIN_FLAG) is not None:
        args, value = _without_flag(args, DRAIN_FLAG)
        drain_s = float(parse_int(DRAIN_FLAG, value, 0, 0))
        print(f"llm_runtime: vLLM {version} has no {DRAIN_FLAG} (0.18+): on SIGTERM the runtime waits up to "
              f"{drain_s:g} s for its requests to finish before passing the signal on", file=sys.stderr, flush=True)
    port = parse_int("--port", parsed.get("--port"), 8000, 0)

    child_env = dict(env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")  # vLLM's progress must arrive as it happens
    # Own session: a terminal's Ctrl-C reaches vLLM once, through us, not twice.
    child = subprocess.Popen([exe, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=child_env, start_new_session=True)
    supervisor_watch.stop_group_with_engine(child.pid)  # its own session: a dead runner's watch must reach it
    stopping = threading.Event()

    def forward(signum: int, _frame: object) -> None:
        first = not stopping.is_set()
        stopping.set()
        if child.poll() is not None:
            return
        if first and signum == signal.SIGTERM and drain_s > 0:
            threading.Thread(target=_drain_then_forward, args=(child, signum, port, drain_s), daemon=True).start()
        else:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    tp = parse_int("--tensor-parallel-size", parsed.get("--tensor-parallel-size"), 1, 1)
    pp = parse_int("--pipeline-parallel-size", parsed.get("--pipeline-parallel-size"), 1, 1)
    parser = VllmLogParser(ModelFacts(weights_gib(parsed.model, env), tp * pp))
    parse_lock = threading.Lock()
    assert child.stdout is not None and child.stderr is not None
    relays = [
        threading.Thread(target=_relay, args=(child.stdout, sys.stdout, emitter, parser, parse_lock), daemon=True),
        threading.Thread(target=_relay, args=(child.stderr, sys.stderr, emitter, parser, parse_lock), daemon=True),
    ]
    try:
        for t in relays:
            t.start()
        returncode = child.wait()
        for t in relays:
            t.join(timeout=5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not stopping.is_set():
        with parse_lock:
            event = parser.conclude(_exit_code(returncode))
        if event:
            emitter.emit(event)
    return _exit_code(returncode)
