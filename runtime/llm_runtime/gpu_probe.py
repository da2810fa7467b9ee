"""Counts the NVIDIA GPUs this process can use: NVML through ctypes first, `nvidia-smi -L` as the fallback."""

from __future__ import annotations

import ctypes
import subprocess
from collections.abc import Mapping


def count_with_nvml(library: str = "libnvidia-ml.so.1") -> int | None:
    """GPUs NVML reports, or None when NVML is absent or fails (no driver, no device nodes)."""
    try:
        nvml = ctypes.CDLL(library)
    except OSError:
        return None
    try:
        if nvml.nvmlInit_v2() != 0:
            return None
        count = ctypes.c_uint(0)
        try:
            if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
                return None
            return int(count.value)
        finally:
            nvml.nvmlShutdown()
    except AttributeError:
        return None


def count_with_smi(timeout_s: float = 15.0) -> int | None:
    """GPUs listed by `nvidia-smi -L` ("GPU 0: NVIDIA H100 ..."), or None when it is missing or fails."""
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return sum(1 for line in done.stdout.splitlines() if line.startswith("GPU "))


def visible_gpu_count(env: Mapping[str, str]) -> tuple[int, str]:
    """(GPUs the engine can use, how that was found). CUDA_VISIBLE_DEVICES narrows what NVML sees."""
    count = count_with_nvml()
    source = "NVML"
    if count is None:
        count = count_with_smi()
        source = "nvidia-smi"
    if count is None:
        return 0, "neither NVML (libnvidia-ml.so.1) nor nvidia-smi is available"
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        listed = [d for d in visible.split(",") if d.strip() and d.strip() != "-1"]
        count = min(count, len(listed))
        source += f", limited by CUDA_VISIBLE_DEVICES={visible!r}"
    return count, source
