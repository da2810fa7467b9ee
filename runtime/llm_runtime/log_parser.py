"""Turns vLLM server output into lifecycle events: weight-loading progress, start-up milestones, ready, fatal causes.

Lines may carry a process prefix ("(EngineCore_0 pid=42) ", "(Worker_TP0 pid=7) ", "(APIServer pid=1) ") and a log
header ("INFO 11-02 09:14:02 [core.py:74] "); tqdm bars arrive as bare lines. A fatal start prints the root cause
first and a summary ("Engine core initialization failed. See root cause above.") last, so causes are ranked and the
best one is reported when the summary line appears or the process exits.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import lifecycle

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PREFIX = re.compile(r"^\((?:[^()]*\bpid=\d+[^()]*)\)\s?")
_HEADER = re.compile(
    r"^(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s+\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?\s+\[?[^\]\s]*\]\s*"
)
_UVICORN = re.compile(r"^(?:INFO|WARNING|ERROR|DEBUG|CRITICAL):\s+")
_SHARDS = re.compile(
    r"^(?:Loading \w+ checkpoint shards|Multi-thread loading shards):\s*(\d+)% Completed\s*\|\s*(\d+)/(\d+)"
)
_CUDA_GRAPHS = re.compile(r"^(Capturing CUDA graphs[^:]*):\s*100%.*?(\d+)/(\d+)")
_MILESTONES = (
    re.compile(r"^Starting to load model .*"),
    re.compile(r"^Loading weights took .*"),
    re.compile(r"^Model loading took .*"),
    re.compile(r"^Available KV cache memory: .*"),
    re.compile(r"^GPU KV cache size: .*"),
    re.compile(r"^Graph capturing finished .*"),
    re.compile(r"^init engine .* took .*"),
)
_READY = re.compile(r"^(?:Application startup complete\.|Starting vLLM server on \S+)")
# The summary line after a failed engine start; the real cause was printed above it.
_FAILED_SUMMARY = re.compile(r"Engine core initialization failed")
_MAX_DETAIL = 600


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    reason: str
    rank: int  # higher = closer to the root cause; ties go to the earliest line
    detail: Callable[[re.Match[str], str], str] | None = None


def _whole(_m: re.Match[str], message: str) -> str:
    return message.strip()


def _group1(m: re.Match[str], _message: str) -> str:
    return m.group(1).strip()


_RULES: tuple[_Rule, ...] = (
    _Rule(re.compile(r"^(?:[\w.]+\.)?OutOfMemoryError: "), "cuda_oom", 3),
    _Rule(re.compile(r"Free memory on device .* is less than desired GPU memory utilization"), "gpu_memory_busy", 3),
    _Rule(re.compile(r"No available memory for the cache blocks"), "kv_cache_oom", 3),
    _Rule(re.compile(r"larger than the maximum number of tokens that can be stored in KV cache"), "kv_cache_oom", 3),
    _Rule(re.compile(r"Access to model \S+ is restricted"), "model_access", 3),
    _Rule(re.compile(r"Value error, (.*?)(?: \[type=|$)"), "bad_config", 3, _group1),
    _Rule(re.compile(r"must be divisible by (?:tensor|pipeline) parallel size"), "bad_config", 3),
    _Rule(re.compile(r"max_num_batched_tokens \(\d+\) must be greater than or equal to"), "bad_config", 3),
    _Rule(re.compile(r"is greater than the derived max_model_len"), "bad_config", 3),
    _Rule(re.compile(r"World size \(\d+\) is (?:larger|greater) than"), "bad_config", 3),
    _Rule(re.compile(r"error: (?:unrecognized arguments|argument \S+: )"), "bad_config", 3),
    _Rule(
        re.compile(
            r"RepositoryNotFoundError|Repository Not Found|is not a local folder and is not a valid model identifier"
            r"|does not appear to have a file named config\.json|Invalid repository ID or local directory"
            r"|No such file or directory: .*config\.json"
        ),
        "model_not_found",
        3,
    ),
    _Rule(
        re.compile(
            r"No CUDA GPUs are available|Found no NVIDIA driver|Failed to infer device type"
            r"|CUDA driver initialization failed|no CUDA-capable device is detected"
        ),
        "no_gpu",
        3,
    ),
    _Rule(re.compile(r"Address already in use"), "engine_error", 3),
    _Rule(
        re.compile(r"GatedRepoError|Cannot access gated repo|40[13] Client Error|Invalid user token|gated repo"),
        "model_access",
        2,
    ),
    _Rule(re.compile(r"CUDA out of memory"), "cuda_oom", 2),
    _Rule(re.compile(r"ValidationError: \d+ validation errors? for \w+"), "bad_config", 2),
    _Rule(re.compile(r"^\s*(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception): .+"), "engine_error", 1),
)


def strip_line(raw: str) -> str:
    """The message of one output line, without colour codes, process prefixes and the log header."""
    line = _ANSI.sub("", raw).rstrip("\r\n")
    while True:
        m = _PREFIX.match(line)
        if not m:
            break
        line = line[m.end() :]
    line = _HEADER.sub("", line, count=1)
    return _UVICORN.sub("", line, count=1)


def _hint(reason: str, detail: str) -> str:
    """The fix for this failure, with the numbers from vLLM's own message where it gives them."""
    if reason == "gpu_memory_busy":
        m = re.search(r"\(([\d.]+)/([\d.]+) GiB\).*?utilization \(([\d.]+), ([\d.]+) GiB\)", detail)
        if m:
            free, total, util, want = (float(g) for g in m.groups())
            advice = int((free / total - 0.01) * 100) / 100 if total > 0 else 0
            fix = (
                f"set GPU_MEMORY_UTILIZATION={advice:.2f} or lower"
                if advice > 0
                else "no memory is free for this engine"
            )
            return (
                f"Only {free:g} of {total:g} GiB is free on the GPU, but GPU_MEMORY_UTILIZATION={util:g} asks for "
                f"{want:g} GiB: free the GPU (nvidia-smi shows which process holds it) or {fix}."
            )
    if reason == "bad_config":
        m = re.search(r"User-specified max_model_len \((\d+)\).*?max_position_embeddings=(\d+)", detail)
        if m:
            return (
                f"MAX_MODEL_LEN={m.group(1)} is more than this model supports: set MAX_MODEL_LEN to "
                f"{m.group(2)} or less."
            )
    if reason == "engine_error" and "Address already in use" in detail:
        return "The engine's port is taken: stop the process that holds it or choose another port."
    return lifecycle.HINTS[reason]


class VllmLogParser:
    """Feed it every output line; it returns the lifecycle events each line implies."""

    def __init__(self) -> None:
        self.progress: float | None = None
        self.ready = False
        self.fatal_emitted = False
        self._last_detail: str | None = None
        self._best: tuple[int, str, str] | None = None  # (rank, reason, detail)
        self._recent: deque[str] = deque(maxlen=5)

    def feed(self, raw: str) -> list[dict[str, Any]]:
        message = strip_line(raw)
        if not message.strip():
            return []
        self._recent.append(message.strip())
        events: list[dict[str, Any]] = []
        if not self.ready:
            events.extend(self._loading(message))
            if _READY.match(message):
                self.ready = True
                self._best = None  # causes seen before a good start are not why it dies later
                events.append(lifecycle.ready(message.strip()))
                return events
        self._rank_cause(message)
        if _FAILED_SUMMARY.search(message) and not self.ready:
            fatal = self._fatal_event(message.strip())
            if fatal:
                events.append(fatal)
        return events

    def conclude(self, exit_code: int | None) -> dict[str, Any] | None:
        """The fatal event for an engine that exited with exit_code (None: unknown), unless one was already given."""
        if self.fatal_emitted or exit_code == 0:
            return None
        last = self._recent[-1] if self._recent else "(no output)"
        return self._fatal_event(f"vllm serve exited with code {exit_code}; last output: {last}")

    def _fatal_event(self, fallback_detail: str) -> dict[str, Any] | None:
        if self.fatal_emitted:
            return None
        self.fatal_emitted = True
        reason, detail = ("engine_error", fallback_detail) if self._best is None else self._best[1:]
        detail = detail[:_MAX_DETAIL]
        return lifecycle.fatal(reason, detail, _hint(reason, detail))

    def _rank_cause(self, message: str) -> None:
        if _FAILED_SUMMARY.search(message):
            return
        for rule in _RULES:
            m = rule.pattern.search(message)
            if not m:
                continue
            if self._best is None or rule.rank > self._best[0]:
                detail = (rule.detail or _whole)(m, message)
                self._best = (rule.rank, rule.reason, detail)
            return

    def _loading(self, message: str) -> list[dict[str, Any]]:
        text = message.strip()
        m = _SHARDS.match(text)
        if m:
            done, total = int(m.group(2)), int(m.group(3))
            progress = done / total if total > 0 else None
            return self._progress_event(progress, f"Loading safetensors checkpoint shards: {done}/{total}")
        m = _CUDA_GRAPHS.match(text)
        if m:
            return self._progress_event(self.progress, f"{m.group(1)}: {m.group(2)}/{m.group(3)}")
        for pattern in _MILESTONES:
            if pattern.match(text):
                return self._progress_event(self.progress, text)
        return []

    def _progress_event(self, progress: float | None, detail: str) -> list[dict[str, Any]]:
        # tqdm prints 100% twice (last update + close); report each state once.
        if detail == self._last_detail:
            return []
        self._last_detail = detail
        if progress is not None:
            self.progress = progress
        return [lifecycle.loading(self.progress, detail)]
