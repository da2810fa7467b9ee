"""Runs the simulator: lifecycle lines, the simulated model load, the HTTP server, signals."""

from __future__ import annotations

import asyncio
import math
import signal
import sys
from collections.abc import Mapping, Sequence

from .. import __version__, lifecycle
from ..log_parser import VllmLogParser
from ..serve_args import UsageError
from .app import SimApp
from .http_connection import Connection
from .options import SimOptions, parse_sim_options

# The root-cause line vLLM prints for each failure; --sim-fail-start prints it and reads it back through the same
# log parser the vLLM launcher uses, so the fatal event is what a real failure would give.
_FAIL_LINES = {
    "cuda_oom": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 448.00 MiB. GPU 0 has a total "
    "capacity of 79.19 GiB of which 301.06 MiB is free.",
    "gpu_memory_busy": "ValueError: Free memory on device (20.12/79.19 GiB) on startup is less than desired GPU "
    "memory utilization (0.97, 76.81 GiB). Decrease GPU memory utilization or reduce GPU memory used by other "
    "processes.",
    "kv_cache_oom": "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` "
    "when initializing the engine.",
    "model_access": "Access to model {model} is restricted. You must have access to it and be authenticated to "
    "access it. Please log in.",
    "model_not_found": "huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. Repository Not Found for "
    "url: https://huggingface.co/api/models/{model}",
    "bad_config": "  Value error, User-specified max_model_len ({max_model_len}) is greater than the derived "
    "max_model_len (max_position_embeddings=4096 or model_max_length=None in model's config.json). "
    "[type=value_error]",
    "no_gpu": "RuntimeError: No CUDA GPUs are available",
    "engine_error": "RuntimeError: simulated engine failure",
}
PROGRESS_INTERVAL_S = 0.25
_DRAIN_POLL_S = 0.05


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fail_start_event(opts: SimOptions) -> dict[str, object]:
    reason = opts.fail_start or "injected"
    line = _FAIL_LINES.get(reason)
    if line is None:
        return lifecycle.fatal("injected", "simulated start failure (--sim-fail-start injected)")
    line = line.format(model=opts.model, max_model_len=opts.max_model_len)
    _log(f"ERROR {line}  [simulated by --sim-fail-start {reason}]")
    parser = VllmLogParser()
    parser.feed(line)
    event = parser.conclude(1)
    if event is None or event["reason"] != reason:
        return lifecycle.fatal(reason, line)
    return event


async def _load(opts: SimOptions, emitter: lifecycle.Emitter, stop: asyncio.Event) -> bool:
    """Emits loading progress over --sim-load-seconds; with --sim-fail-start, stops halfway. False: stopped."""
    total = opts.load_seconds
    interval = min(PROGRESS_INTERVAL_S, total / 4) if total > 0 else 0.0
    steps = max(1, math.ceil(total / interval)) if interval > 0 else 1
    last = steps // 2 if opts.fail_start else steps
    for i in range(last + 1):
        progress = i / steps
        emitter.emit(lifecycle.loading(progress, f"Loading simulated weights: {round(progress * 100)}%"))
        if i < last and interval > 0:
            try:
                await asyncio.wait_for(stop.wait(), interval)
                return False
            except asyncio.TimeoutError:
                pass
        elif stop.is_set():
            return False
    return True


async def _drain(app: SimApp, seconds: int, force: asyncio.Event) -> None:
    """vLLM's --shutdown-timeout: refuse new requests (503), let the in-flight ones finish for up to `seconds`, then
    close the idle connections once their last bytes are out. A second signal ends the wait."""
    engine = app.engine
    if seconds <= 0 or engine.in_flight == 0:
        return
    app.state = "draining"
    _log(f"INFO sim: shutting down: refusing new requests, finishing {engine.in_flight} in-flight request(s) for up "
         f"to {seconds} s (--shutdown-timeout)")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while engine.in_flight and loop.time() < deadline and not force.is_set():
        try:
            await asyncio.wait_for(force.wait(), min(_DRAIN_POLL_S, max(0.0, deadline - loop.time())))
        except asyncio.TimeoutError:
            pass
    if engine.in_flight:
        _log(f"WARNING sim: shutdown timeout: aborting {engine.in_flight} request(s)")
        return
    _log("INFO sim: every in-flight request finished")
    for conn in list(app.connections):
        if not conn.busy and conn.transport is not None:
            conn.transport.close()  # sends what is buffered first
    while app.connections and loop.time() < deadline and not force.is_set():
        await asyncio.sleep(_DRAIN_POLL_S)


async def serve(opts: SimOptions, emitter: lifecycle.Emitter) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    force = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            force.set()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    app = SimApp(opts, emitter)

    def wedge() -> None:
        _log("WARNING sim: SIGUSR1: generation wedged; /health keeps answering 200")
        app.engine.wedge()

    loop.add_signal_handler(signal.SIGUSR1, wedge)
    try:
        server = await loop.create_server(lambda: Connection(app), opts.host, opts.port, backlog=2048)
    except OSError as err:
        detail = f"cannot listen on {opts.host}:{opts.port}: {err}"
        _log(f"ERROR {detail}")
        emitter.emit(lifecycle.fatal("engine_error", detail, "The port is taken or the host address is not on "
                                     "this machine: stop the process that holds the port or choose another one."))
        return 1
    port = server.sockets[0].getsockname()[1]
    _log(f"INFO sim: vLLM-compatible simulator {__version__} on http://{opts.host}:{port} serving "
         f"{', '.join(opts.served_model_names)} (max_model_len {opts.max_model_len}, max_num_seqs "
         f"{opts.max_num_seqs}, mode {opts.mode})")
    engine_task = asyncio.create_task(app.engine.run())
    try:
        if not await _load(opts, emitter, stop):
            return 0
        if opts.fail_start:
            emitter.emit(_fail_start_event(opts))
            return 1
        app.state = "ready"
        _log("INFO:     Application startup complete.")
        emitter.emit(lifecycle.ready("Application startup complete."))
        await stop.wait()
        await _drain(app, opts.shutdown_timeout, force)
        _log("INFO sim: shutting down")
        return 0
    finally:
        if app.state in ("ready", "draining"):
            app.state = "stopping"
        server.close()
        app.engine.abort_all()
        for conn in list(app.connections):
            conn.abort()
        engine_task.cancel()


def run(argv: Sequence[str], env: Mapping[str, str], emitter: lifecycle.Emitter | None = None) -> int:
    emitter = emitter or lifecycle.Emitter()
    emitter.emit(lifecycle.starting("sim", __version__))
    try:
        opts = parse_sim_options(argv, env)
    except UsageError as err:
        _log(f"llm_runtime: {err}")
        emitter.emit(lifecycle.fatal("bad_config", str(err), lifecycle.USAGE_HINT))
        return 2
    return asyncio.run(serve(opts, emitter))
