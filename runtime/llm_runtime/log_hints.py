"""The fix an operator should apply for a fatal cause, with vLLM's own numbers where its message gives them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lifecycle

# Below this free fraction, lowering GPU_MEMORY_UTILIZATION cannot leave room for any real model's weights.
_TINY_FRACTION = 0.10
# Besides the weights, vLLM needs activations, CUDA graphs and a little KV cache on each GPU.
_OVERHEAD_GIB = 2.0


@dataclass(frozen=True)
class ModelFacts:
    """What the launcher knows about the model it starts (None: unknown)."""

    weights_gib: float | None = None  # all weight files together
    gpus_per_replica: int = 1  # tensor x pipeline parallel size: the weights are split over this many GPUs


def hint_for(reason: str, detail: str, facts: ModelFacts | None = None, *, bad_token: bool = False,
             repo: str | None = None) -> str:
    facts = facts or ModelFacts()
    if reason == "gpu_memory_busy":
        hint = _gpu_memory_busy(detail, facts)
        if hint:
            return hint
    if reason == "kv_cache_oom":
        hint = _kv_cache(detail)
        if hint:
            return hint
    if reason == "bad_config":
        m = re.search(r"User-specified max_model_len \((\d+)\).*?max_position_embeddings=(\d+)", detail)
        if m:
            return (
                f"MAX_MODEL_LEN={m.group(1)} is more than this model supports: set MAX_MODEL_LEN to "
                f"{m.group(2)} or less."
            )
    if reason == "model_access" and repo:
        return (
            f"{repo} is gated or private: accept its licence on https://huggingface.co/{repo} with your account and "
            f"set HF_TOKEN to a token of that account."
        )
    if reason == "model_not_found":
        name = f"MODEL_ID={repo}" if repo else "MODEL_ID"
        token = (
            " The Hub also refused the token (\"Invalid username or password\"): check HF_TOKEN."
            if bad_token
            else " A private repo needs HF_TOKEN set to a token that can read it."
        )
        return (
            f"{name} was not found: check the spelling (org/name, as on huggingface.co) or that the model folder "
            f"holds config.json and the weights.{token}"
        )
    if reason == "engine_error" and "Address already in use" in detail:
        return "The engine's port is taken: stop the process that holds it or choose another port."
    if reason == "engine_error" and "NCCL error" in detail:
        return (
            "The GPUs could not talk to each other (NCCL): give the engine a large /dev/shm (--ipc=host or "
            "--shm-size), check nvidia-smi topo -m and the driver, or try NCCL_P2P_DISABLE=1; TENSOR_PARALLEL_SIZE=1 "
            "avoids NCCL."
        )
    return lifecycle.HINTS[reason]


def died_after_ready_hint(cause_reason: str | None, detail: str) -> str:
    """The hint for an engine that served requests and then died (reported as engine_error)."""
    if cause_reason == "cuda_oom" or "CUDA out of memory" in detail:
        return (
            "vLLM ran out of GPU memory while serving: lower MAX_NUM_SEQS or MAX_NUM_BATCHED_TOKENS (less work in "
            "flight), or GPU_MEMORY_UTILIZATION to leave room for activations. The supervisor restarts the engine."
        )
    if "NCCL error" in detail:
        return hint_for("engine_error", detail)
    return (
        "vLLM died while serving (the detail holds the last error it printed; llm-runner logs --engine shows the "
        "rest). The supervisor restarts it; if it dies again under load, lower MAX_NUM_SEQS and report the log to "
        "vLLM with the request that killed it."
    )


def _gpu_memory_busy(detail: str, facts: ModelFacts) -> str | None:
    m = re.search(r"\(([\d.]+)/([\d.]+) GiB\).*?utilization \(([\d.]+), ([\d.]+) GiB\)", detail)
    if not m:
        return None
    free, total, util, want = (float(g) for g in m.groups())
    advice = int((free / total - 0.01) * 100) / 100 if total > 0 else 0.0
    head = (
        f"Only {free:g} of {total:g} GiB is free on the GPU, but GPU_MEMORY_UTILIZATION={util:g} asks for "
        f"{want:g} GiB: free the GPU (nvidia-smi shows which process holds it)"
    )
    per_gpu = facts.weights_gib / max(1, facts.gpus_per_replica) if facts.weights_gib is not None else None
    if per_gpu is not None and advice * total < per_gpu + _OVERHEAD_GIB:
        return (
            f"{head}. Lowering GPU_MEMORY_UTILIZATION will not help: {advice * total:.1f} GiB cannot hold this "
            f"model's {per_gpu:.1f} GiB of weights per GPU."
        )
    if per_gpu is None and advice < _TINY_FRACTION:
        return (
            f"{head}. Lowering GPU_MEMORY_UTILIZATION will not help: {max(advice, 0):.2f} of the GPU leaves no room "
            f"for the weights."
        )
    return f"{head} or set GPU_MEMORY_UTILIZATION={advice:.2f} or lower."


def _kv_cache(detail: str) -> str | None:
    v1 = re.search(
        r"max seq len \((\d+)\), \(([\d.]+) GiB KV cache is needed, which is larger than the available KV cache "
        r"memory \(([\d.]+) GiB\)(?:\. Based on the available memory, the estimated maximum model length is (\d+))?",
        detail,
    )
    if v1:
        length, need, avail, estimate = v1.groups()
        fix = f"set MAX_MODEL_LEN to {estimate} or less" if estimate else f"lower MAX_MODEL_LEN below {length}"
        return (
            f"MAX_MODEL_LEN={length} needs {need} GiB of KV cache for one full-length request, but only {avail} GiB "
            f"is left after the weights: {fix}, or raise GPU_MEMORY_UTILIZATION / TENSOR_PARALLEL_SIZE."
        )
    v0 = re.search(r"max seq len \((\d+)\) is larger than the maximum number of tokens that can be stored in KV "
                   r"cache \((\d+)\)", detail)
    if v0:
        return (
            f"MAX_MODEL_LEN={v0.group(1)} does not fit in the KV cache ({v0.group(2)} tokens): set MAX_MODEL_LEN to "
            f"{v0.group(2)} or less, or raise GPU_MEMORY_UTILIZATION / TENSOR_PARALLEL_SIZE."
        )
    return None
