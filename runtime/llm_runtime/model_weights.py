"""How big a model's weights are on disk, when the files are on this machine: a local folder, or a snapshot in the
Hugging Face cache. The gpu_memory_busy hint needs it to tell "lower GPU_MEMORY_UTILIZATION" from "free the GPU"."""

from __future__ import annotations

import os
from collections.abc import Mapping

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_GIB = 1024**3


def _hub_cache(env: Mapping[str, str]) -> str:
    # huggingface_hub's order: HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache/huggingface/hub.
    if env.get("HF_HUB_CACHE"):
        return env["HF_HUB_CACHE"]
    home = env.get("HF_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(home, "hub")


def _folder_weights(folder: str) -> int:
    total = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        if name.endswith(_WEIGHT_SUFFIXES) and not name.startswith("training_args"):
            try:
                total += os.path.getsize(os.path.join(folder, name))  # follows the cache's symlinks to blobs
            except OSError:
                continue
    return total


def _snapshot_folders(model: str, env: Mapping[str, str]) -> list[str]:
    if "/" not in model or model.startswith(("/", ".", "~")):
        return []
    snapshots = os.path.join(_hub_cache(env), "models--" + model.replace("/", "--"), "snapshots")
    try:
        return [os.path.join(snapshots, s) for s in sorted(os.listdir(snapshots))]
    except OSError:
        return []


def weights_gib(model: str | None, env: Mapping[str, str]) -> float | None:
    """The size of the model's weight files in GiB, or None when they are not on this machine."""
    if not model:
        return None
    folder = os.path.expanduser(model)
    candidates = [folder] if os.path.isdir(folder) else _snapshot_folders(model, env)
    sizes = [size for size in (_folder_weights(c) for c in candidates) if size > 0]
    return max(sizes) / _GIB if sizes else None
