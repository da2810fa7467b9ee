"""The lifecycle line protocol between this runtime and the supervisor (src/protocol/lifecycle.ts is the other side).

One JSON object per line on stdout under the key "llm_runtime", flushed at once:
  {"llm_runtime":{"event":"starting","engine":"sim","version":"0.1.0","pid":123}}
  {"llm_runtime":{"event":"loading","progress":0.5,"detail":"Loading safetensors checkpoint shards: 2/4"}}
  {"llm_runtime":{"event":"ready","detail":"Application startup complete."}}
  {"llm_runtime":{"event":"fatal","reason":"cuda_oom","detail":"torch.OutOfMemoryError: ...","hint":"..."}}
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import IO, Any

LIFECYCLE_KEY = "llm_runtime"

# Why an engine could not start (or died). Same list and order as FATAL_REASONS in src/protocol/lifecycle.ts.
FATAL_REASONS: tuple[str, ...] = (
    "cuda_oom",  # CUDA out of memory while loading weights
    "gpu_memory_busy",  # free GPU memory below GPU_MEMORY_UTILIZATION x total (another process holds memory)
    "kv_cache_oom",  # weights fit but nothing left for the KV cache
    "model_access",  # gated/private model, missing or wrong HF_TOKEN
    "model_not_found",  # model folder / repo not found
    "bad_config",  # vLLM rejected the configuration (e.g. max_model_len too large)
    "no_gpu",  # no GPU visible
    "engine_error",  # any other fatal engine error
    "injected",  # the simulator's --sim-fail-start
)

# What an operator should do about each reason; a fatal event carries one of these as its hint.
HINTS: dict[str, str] = {
    "cuda_oom": "The model does not fit in GPU memory: spread it over more GPUs (TENSOR_PARALLEL_SIZE or "
    "PIPELINE_PARALLEL_SIZE), quantize it (USE_8BIT=true), pick a smaller model, or free the GPU (see nvidia-smi).",
    "gpu_memory_busy": "Another process holds GPU memory: free the GPU (see nvidia-smi) or lower "
    "GPU_MEMORY_UTILIZATION below the free fraction.",
    "kv_cache_oom": "The weights fit but no memory is left for the KV cache: raise GPU_MEMORY_UTILIZATION, lower "
    "MAX_MODEL_LEN or MAX_NUM_SEQS, add GPUs (TENSOR_PARALLEL_SIZE), or quantize (USE_8BIT=true).",
    "model_access": "The model is gated or private: accept its licence on huggingface.co with your account and set "
    "HF_TOKEN to a token of that account.",
    "model_not_found": "Check MODEL_ID: it must be a Hugging Face repo id (org/name) or a folder that holds the "
    "model's config.json and weights.",
    "bad_config": "vLLM rejected the configuration: change the setting named in the detail (llm-runner flags shows "
    "the command line) and start again.",
    "no_gpu": "No NVIDIA GPU is visible: check the driver (nvidia-smi), the container's GPU access (--gpus, NVIDIA "
    "Container Toolkit) and CUDA_VISIBLE_DEVICES.",
    "engine_error": "The engine stopped with an error: read the engine log lines above the fatal line for the cause.",
    "injected": "This failure was injected by the simulator (--sim-fail-start / SIM_FAIL_START); unset it to start "
    "normally.",
}


# The hint for a bad command line (reported as bad_config): the runtime refused it before any engine started.
USAGE_HINT = ("The engine command line is wrong: fix the flag or setting named in the detail (llm-runner flags shows "
              "the command line it builds) and start again.")


def _clamp_progress(progress: float | None) -> float | None:
    if progress is None:
        return None
    return min(1.0, max(0.0, float(progress)))


def starting(engine: str, version: str, pid: int | None = None) -> dict[str, Any]:
    return {"event": "starting", "engine": engine, "version": version, "pid": os.getpid() if pid is None else pid}


def loading(progress: float | None, detail: str) -> dict[str, Any]:
    return {"event": "loading", "progress": _clamp_progress(progress), "detail": detail}


def ready(detail: str) -> dict[str, Any]:
    return {"event": "ready", "detail": detail}


def fatal(reason: str, detail: str, hint: str | None = None) -> dict[str, Any]:
    if reason not in FATAL_REASONS:
        raise ValueError(f"unknown fatal reason {reason!r}; use one of: {', '.join(FATAL_REASONS)}")
    return {"event": "fatal", "reason": reason, "detail": detail, "hint": hint or HINTS[reason]}


def encode(event: dict[str, Any]) -> str:
    """The line (without newline) that carries this event."""
    return json.dumps({LIFECYCLE_KEY: event}, separators=(",", ":"), ensure_ascii=False)


def decode(line: str) -> dict[str, Any] | None:
    """The event on an output line, or None for ordinary log output (mirrors parseLifecycleLine)."""
    start = line.find('{"' + LIFECYCLE_KEY + '"')
    if start < 0:
        return None
    try:
        parsed = json.loads(line[start:])
    except ValueError:
        return None
    body = parsed.get(LIFECYCLE_KEY) if isinstance(parsed, dict) else None
    return body if isinstance(body, dict) and isinstance(body.get("event"), str) else None


class Emitter:
    """Writes lifecycle lines; safe to call from the relay threads of the vLLM launcher."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.fatal_sent = False
        self.ready_sent = False

    def emit(self, event: dict[str, Any]) -> None:
        if event["event"] == "fatal":
            if self.fatal_sent:
                return
            self.fatal_sent = True
        elif event["event"] == "ready":
            self.ready_sent = True
        self.write_line(encode(event))

    def write_line(self, line: str, stream: IO[str] | None = None) -> None:
        """Writes one line and flushes it, so a supervisor sees it at once and lines never interleave."""
        out = stream or self._stream or sys.stdout
        with self._lock:
            out.write(line + "\n")
            out.flush()
