"""vLLM's sleep mode as the simulator keeps it: the state of a sleeping engine, how long sleeping and waking take, and
the GPU and host memory it holds.

What vLLM does (sources read; the v0.33.0 tag itself was not reachable here, so index snapshots of vllm-project/vllm):
* vllm/entrypoints/openai/api_server.py (@ 0001948b, build_app): the sleep routes are registered only when
  VLLM_SERVER_DEV_MODE is set; without it /sleep, /wake_up and /is_sleeping are unknown paths (404).
* vllm/entrypoints/serve/sleep/api_router.py (@ 09cb327f) and vllm/frontend/entrypoints/serve/dev/sleep/api_router.py
  (@ 055e47c2): POST /sleep reads `level` (default 1) and `mode` (default "abort") from the query and answers 200 with
  no body once the engine sleeps; POST /wake_up reads every `tags` value (none: all) and answers 200 with no body once
  awake; GET /is_sleeping answers {"is_sleeping": bool}.
* vllm/v1/engine/core.py (@ 00080ee1, EngineCore.sleep / pause_scheduler / wake_up / is_sleeping): sleeping first
  pauses the scheduler: mode "abort" finishes every request with finish reason abort, "wait" lets the running ones
  finish, "keep" freezes them; in every mode new requests are queued, not refused, and run once the engine is fully
  awake. Level >= 1 then resets the prefix cache (preempting running requests, whose KV is lost) and puts the executor
  to sleep; level 0 only pauses. wake_up(tags) wakes those tags ("scheduling" is dropped from them) and resumes the
  scheduler only when no tag sleeps any more. is_sleeping = scheduler paused or executor sleeping. These calls run one
  at a time on the engine core's loop, so an /is_sleeping sent during a sleep is answered when the sleep is done.
* the executor (vllm/v1/executor/abstract.py, as quoted in several 2025-2026 copies): sleep when already asleep logs
  "Executor is already sleeping." and does nothing; wake_up when awake logs "Executor is not sleeping."; a tag that is
  not asleep logs "Tag %s is not in sleeping tags %s" and wakes nothing; the lines "It took %.6f seconds to fall
  asleep." and "It took %.6f seconds to wake up tags %s." report the time.
* vllm/v1/worker/gpu_worker.py (@ 0012cf69): level 1 offloads the "weights" memory to host RAM, any other level
  discards it; the KV cache is discarded at every level. After a level-2 sleep the weights come back empty: vLLM's
  docs (docs/features/sleep_mode.md @ 01181ddf) and blog have the caller run `/collective_rpc` reload_weights.
* vllm/v1/metrics/loggers.py (PrometheusStatLogger.record_sleep_state, 2026 snapshot): gauge vllm:engine_sleep_state
  with sleep_state="awake" | "weights_offloaded" | "discard_all"; AsyncLLM.sleep records (asleep, level) and
  AsyncLLM.wake_up records awake (vllm/v1/engine/async_llm.py @ 00080ee1), whatever the executor actually did.
* /health (vllm/frontend/entrypoints/serve/instrumentator/health.py @ 055e47c2) is 503 only for a dead engine: 200
  while asleep.
* Without --enable-sleep-mode the weights are not allocated from the sleep allocator (gpu_worker.load_model), and the
  online path (AsyncLLM -> EngineCore -> executor) has no check: a sleep pauses and resets the cache, frees nothing.
* A wake that fails (--sim-wake-fail): a utility call that raises in the engine core is caught there
  (vllm/v1/engine/core.py, EngineCoreProc._invoke_utility_method: logger.exception("Invocation of %s method failed")
  and failure_message "Call to {name} method failed: {e}"); the client raises Exception(failure_message)
  (vllm/v1/engine/core_client.py _process_utility_output) and the API server's catch-all answers it as a 500
  InternalServerError in the usual error shape (vllm/frontend/entrypoints/serve/exception_handling/error_response.py
  @ 055e47c2). The process lives on, /health stays 200, the executor stays asleep, and AsyncLLM.wake_up never reaches
  record_sleep_state. What fails in practice is cumem's remap: "RuntimeError: CUDA Error: out of memory at
  /workspace/csrc/cumem_allocator.cpp:62" (vllm-project/vllm#13941; raised as a Python error rather than a crash
  since vllm-project/vllm#12981), answered as
  {"error":{"message":"Call to wake_up method failed: CUDA Error: out of memory at <path>:163",
  "type":"InternalServerError","param":null,"code":500}} (llm-d-incubation/llm-d-fast-model-actuation#746, in 60 ms).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .engine import PAUSED_ALL, PAUSED_NEW, UNPAUSED, Engine
from .metrics import EngineMetrics
from .options import SimOptions
from .requests import ApiError

GIB = 1024**3
# nvidia-smi's memory.total of an H100 80GB HBM3, the GPU the simulator's other defaults model (as
# src/config/sim-kv-default.ts).
GPU_TOTAL_BYTES = 81_559 * 1024**2
# What one GPU still holds once the sleep allocator's memory is released (CUDA context, CUDA-graph pool, buffers outside
# the pool): vLLM 0.11 logged "Sleep mode freed 83.28 GiB memory, 5.82 GiB memory is still in use." for a level-1
# sleep (https://imokuri.com/blog/2025/07/vllm-sleep-mode); vLLM's own test bounds it below 7 GiB
# (tests/basic_correctness/test_cumem.py, test_end_to_end).
ASLEEP_GPU_BYTES = int(5.82 * GIB)
TAGS = ("weights", "kv_cache")
MODES = ("abort", "wait", "keep")
# The error a failed remap raises in the worker (vllm-project/vllm#13941), as the engine core reports it.
WAKE_FAILURE = "CUDA Error: out of memory at /workspace/csrc/cumem_allocator.cpp:62"

# Sleep and wake times measured by vLLM's sleep-mode blog (2025-10-26, "Zero-Reload Model Switching with vLLM Sleep
# Mode"; vllm-project/vllm-project.github.io assets/figures/2025-vllm-sleep-mode/plotly-sleep-levels-comparison.js
# @ 23c3ec02 and plotly-sleep-mode.js @ 20acc219): one A100, vLLM 0.11.0, means of the runs. Keys: the model's weights
# in GiB (bf16 parameters x 2 bytes: Qwen3-0.6B, Phi-3-vision-128k-instruct 4.15B, Qwen3-Coder-30B-A3B 30.5B). The
# level-2 wake includes reload_weights. No published run is of an 8B model on an H100; an H100's PCIe 5 host link is
# faster than the A100's, so these are on the slow side for it.
_POINTS: dict[tuple[str, int], tuple[tuple[float, float], ...]] = {
    ("sleep", 1): ((1.118, 0.093), (7.730, 0.415), (56.81, 2.780)),
    ("wake", 1): ((1.118, 0.260), (7.730, 0.823), (56.81, 2.867)),
    ("sleep", 2): ((1.118, 0.113), (7.730, 0.455)),
    ("wake", 2): ((1.118, 0.847), (7.730, 2.583)),
}


def published_seconds(kind: str, level: int, weights_gib: float) -> float:
    """The blog's time for this weight size: piecewise linear through its points, the end segments extended."""
    points = _POINTS[(kind, 2 if level >= 2 else 1)]
    (x0, y0), (x1, y1) = points[0], points[1]
    for i in range(1, len(points)):
        (x0, y0), (x1, y1) = points[i - 1], points[i]
        if weights_gib <= x1:
            break
    return max(0.0, y0 + (weights_gib - x0) * (y1 - y0) / (x1 - x0))


def sleep_seconds(opts: SimOptions, level: int) -> float:
    """How long /sleep takes once the scheduler is paused (--sim-sleep-seconds, else the published time)."""
    if opts.sleep_seconds is not None:
        return opts.sleep_seconds
    return published_seconds("sleep", level, opts.weights_gib if opts.enable_sleep_mode else 0.0)


def wake_seconds(opts: SimOptions, level: int, weights: bool) -> float:
    """How long /wake_up takes. The KV cache alone is only remapped (no cost); from level 2 the weights are remapped
    empty, which costs what unmapping them did (the level-2 sleep); the rest of the blog's level-2 wake is
    reload_weights."""
    if not weights:
        return 0.0
    if opts.wake_seconds is not None:
        return opts.wake_seconds
    gib = opts.weights_gib if opts.enable_sleep_mode else 0.0
    if level >= 2:
        return published_seconds("sleep", 2, gib)
    return published_seconds("wake", 1, gib)


def reload_seconds(opts: SimOptions) -> float:
    """reload_weights reads the weights from disk again: the blog's level-2 wake less the remap."""
    gib = opts.weights_gib
    return max(0.0, published_seconds("wake", 2, gib) - published_seconds("sleep", 2, gib))


@dataclass
class Memory:
    """What the engine holds now, per GPU and on the host (bytes)."""

    gpus: int
    gpu_total_bytes: int
    gpu_bytes: int  # on each of its GPUs
    host_bytes: int  # host RAM holding offloaded weights, all GPUs together
    weights_bytes: int  # the model's weights, all GPUs together

    def as_json(self) -> dict[str, int]:
        return {"gpus": self.gpus, "gpu_total_bytes": self.gpu_total_bytes, "gpu_bytes": self.gpu_bytes,
                "host_bytes": self.host_bytes, "weights_bytes": self.weights_bytes}


def memory(opts: SimOptions, sleeping_tags: set[str] | frozenset[str], offloaded: bool) -> Memory:
    """Awake, vLLM holds --gpu-memory-utilization of each GPU (weights, activations, KV cache). Asleep with sleep mode
    on, each GPU keeps ASLEEP_GPU_BYTES plus whatever tag is awake again; level-1 weights sit in host RAM."""
    gpus = opts.tensor_parallel_size * opts.pipeline_parallel_size
    awake = int(GPU_TOTAL_BYTES * opts.gpu_memory_utilization)
    weights = int(opts.weights_gib * GIB)
    per_gpu_weights = min(awake, weights // gpus)
    gpu = awake
    if opts.enable_sleep_mode and sleeping_tags:
        residual = min(awake, ASLEEP_GPU_BYTES)
        gpu = residual
        if "weights" not in sleeping_tags:
            gpu += per_gpu_weights
        if "kv_cache" not in sleeping_tags:
            gpu += max(0, awake - residual - per_gpu_weights)
        gpu = min(gpu, awake)
    host = weights if offloaded else 0
    return Memory(gpus, GPU_TOTAL_BYTES, gpu, host, weights)


def _vllm_log(level: str, source: str, message: str) -> None:
    """A line in vLLM's log format (level, date, [file]), so the same patterns read the simulator and vLLM."""
    stamp = time.strftime("%m-%d %H:%M:%S")
    print(f"{level} {stamp} [{source}] {message}", file=sys.stderr, flush=True)


def _tags_repr(tags: list[str] | set[str]) -> str:
    # vLLM logs a list as given, the executor's set of sleeping tags as a set.
    if isinstance(tags, set):
        return "{" + ", ".join(repr(t) for t in sorted(tags)) + "}"
    return repr(tags)


class SleepMode:
    """The engine's sleep state and the utility calls that change it, one at a time in arrival order."""

    def __init__(self, opts: SimOptions, engine: Engine, metrics: EngineMetrics,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 log: Callable[[str, str, str], None] = _vllm_log) -> None:
        self.opts = opts
        self.engine = engine
        self.metrics = metrics
        self._sleep = sleep
        self._log = log
        self._lock: asyncio.Lock | None = None
        self.sleeping_tags: set[str] = set()  # the executor's
        self.level = 0  # of the last sleep
        self.offloaded = False  # level-1 weights held in host RAM
        self.weights_valid = True  # False once level-2 weights are remapped empty, until reload_weights
        self.transition: str | None = None  # "falling_asleep" | "waking" | "reloading_weights" while one runs
        self.sleeps = 0
        self.wakes = 0
        self.wake_calls = 0  # every /wake_up, for --sim-wake-fail

    def _locked(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @property
    def is_sleeping(self) -> bool:
        return self.engine.pause != UNPAUSED or bool(self.sleeping_tags)

    def state(self) -> str:
        if self.transition is not None:
            return self.transition
        return "asleep" if self.is_sleeping else "awake"

    def memory(self) -> Memory:
        return memory(self.opts, self.sleeping_tags, self.offloaded)

    def report(self) -> dict[str, Any]:
        """GET /sim/memory: the state and the memory, for the runner (vLLM itself reports neither)."""
        return {"state": self.state(), "is_sleeping": self.is_sleeping,
                "level": self.level if self.is_sleeping else None, "sleeping_tags": sorted(self.sleeping_tags),
                "weights_valid": self.weights_valid, "sleeps": self.sleeps, "wakes": self.wakes,
                **self.memory().as_json()}

    # --- the utility calls --------------------------------------------------------------------------------------

    async def sleep(self, level: int, mode: str) -> None:
        async with self._locked():
            if mode not in MODES:
                raise ApiError(500, f"Call to sleep method failed: Invalid pause mode: {mode}")
            engine = self.engine
            if mode == "abort":
                engine.abort_requests()
            engine.pause = PAUSED_ALL if mode == "keep" else PAUSED_NEW
            engine.wake()
            if mode == "wait":
                if engine.running:
                    self._log("INFO", "core.py", "Waiting for in-flight requests to complete before sleeping...")
                while engine.running:
                    await self._sleep(0.01)
            if level >= 1:
                engine.reset_prefix_cache(reset_running_requests=True)
                self._log("INFO", "block_pool.py", "Successfully reset prefix cache")
                await self._executor_sleep(level)
            self.level = level
            self.metrics.sleep_state = (1, level)

    async def _executor_sleep(self, level: int) -> None:
        if self.sleeping_tags:
            self._log("WARNING", "abstract.py", "Executor is already sleeping.")
            return
        before = self.memory()
        duration = sleep_seconds(self.opts, level)
        self.transition = "falling_asleep"
        try:
            await self._sleep(duration)
        finally:
            self.transition = None
        self.sleeping_tags = set(TAGS)
        self.sleeps += 1
        if self.opts.enable_sleep_mode:
            self.offloaded = level == 1
            if level != 1:
                self.weights_valid = False
        after = self.memory()
        freed = (before.gpu_bytes - after.gpu_bytes) / GIB
        backed = (after.host_bytes / after.gpus) / GIB
        self._log("INFO", "cumem.py", f"CuMemAllocator: sleep freed {freed:.2f} GiB memory in total, of which "
                                      f"{backed:.2f} GiB is backed up in CPU and the rest {freed - backed:.2f} GiB is "
                                      f"discarded directly.")
        self._log("INFO", "gpu_worker.py", f"Sleep mode freed {freed:.2f} GiB memory, "
                                           f"{after.gpu_bytes / GIB:.2f} GiB memory is still in use.")
        self._log("INFO", "abstract.py", f"It took {duration:.6f} seconds to fall asleep.")

    async def wake_up(self, tags: list[str] | None) -> None:
        async with self._locked():
            self._log("INFO", "api_router.py", f"wake up the engine with tags: {tags}")
            self.wake_calls += 1
            if self.wake_calls == self.opts.wake_fail:
                self._fail_wake()
            if tags is not None and "scheduling" in tags:
                tags = [t for t in tags if t != "scheduling"]
            if tags is None or tags:
                await self._executor_wake(tags)
            if not self.sleeping_tags and self.engine.pause != UNPAUSED:
                self.engine.pause = UNPAUSED
                self.engine.wake()
            self.metrics.sleep_state = (0, 0)

    def _fail_wake(self) -> None:
        """--sim-wake-fail: this wake fails as vLLM's does when remapping the memory fails (see the module's
        docstring): the engine core logs the exception, nothing is woken, the call answers 500."""
        # logger.exception: the message, then the traceback's last frame and the exception.
        self._log("ERROR", "core.py", "\n".join((
            "Invocation of wake_up method failed",
            "Traceback (most recent call last):",
            '  File "/usr/local/lib/python3.12/dist-packages/vllm/device_allocator/cumem.py", line 75, in '
            "create_and_map",
            "    python_create_and_map(*allocation_handle)",
            f"RuntimeError: {WAKE_FAILURE}")))
        raise ApiError(500, f"Call to wake_up method failed: {WAKE_FAILURE} (--sim-wake-fail {self.opts.wake_fail})")

    async def _executor_wake(self, tags: list[str] | None) -> None:
        if not self.sleeping_tags:
            self._log("WARNING", "abstract.py", "Executor is not sleeping.")
            return
        for tag in tags or ():
            if tag not in self.sleeping_tags:
                self._log("WARNING", "abstract.py",
                          f"Tag {tag} is not in sleeping tags {_tags_repr(self.sleeping_tags)}")
                return
        waking = set(self.sleeping_tags) if tags is None else set(tags)
        duration = wake_seconds(self.opts, self.level, "weights" in waking)
        self.transition = "waking"
        try:
            await self._sleep(duration)
        finally:
            self.transition = None
        if "weights" in waking:
            self.offloaded = False
        self._log("INFO", "abstract.py", f"It took {duration:.6f} seconds to wake up tags "
                                         f"{_tags_repr(tags if tags is not None else set(self.sleeping_tags))}.")
        self.sleeping_tags -= waking
        if not self.sleeping_tags:
            self.wakes += 1

    async def query(self) -> bool:
        """GET /is_sleeping, answered after any utility call ahead of it."""
        async with self._locked():
            return self.is_sleeping

    async def reset_prefix_cache(self, reset_running_requests: bool) -> bool:
        async with self._locked():
            ok = self.engine.reset_prefix_cache(reset_running_requests)
            if ok:
                self._log("INFO", "block_pool.py", "Successfully reset prefix cache")
            else:
                self._log("WARNING", "block_pool.py", "Failed to reset prefix cache because some blocks are not "
                                                      "freed yet")
            return ok

    async def reload_weights(self) -> None:
        """collective_rpc("reload_weights"): the weights read from disk again into their (awake) memory."""
        async with self._locked():
            if "weights" in self.sleeping_tags:
                raise ApiError(500, "Call to collective_rpc method failed: the weights are asleep; wake them first "
                                    "(the simulator's stand-in for writing into unmapped memory)")
            duration = reload_seconds(self.opts)
            self.transition = "reloading_weights"
            try:
                await self._sleep(duration)
            finally:
                self.transition = None
            self.weights_valid = True
            self._log("INFO", "gpu_model_runner.py", f"Reloading weights took {duration:.2f} seconds")
