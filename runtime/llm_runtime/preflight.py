"""Checks made before launching vLLM, so the common mistakes fail in a second with a clear reason, not after minutes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping

from .serve_args import ServeArgs, parse_int


class PreflightError(Exception):
    def __init__(self, reason: str, detail: str, hint: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.hint = hint


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or os.path.isdir(model)


def check_model(model: str | None) -> str:
    """Returns a short description of the model; a folder must exist and hold a readable config.json."""
    if not model:
        raise PreflightError("bad_config", "no model given: the first argument must be a model id or folder",
                             "Set MODEL_ID to a Hugging Face repo id (org/name) or a model folder.")
    if not _looks_like_path(model):
        return f"model {model} (fetched from the Hugging Face Hub or its cache by vLLM)"
    folder = os.path.expanduser(model)
    if not os.path.isdir(folder):
        raise PreflightError("model_not_found", f"model folder {folder} does not exist",
                             "Check MODEL_ID and that the model folder is mounted into the engine (container).")
    config_path = os.path.join(folder, "config.json")
    try:
        with open(config_path, encoding="utf-8") as f:
            json.load(f)
    except FileNotFoundError:
        raise PreflightError("model_not_found", f"model folder {folder} has no config.json",
                             "Point MODEL_ID at the folder that holds config.json and the weights "
                             "(a Hugging Face snapshot folder).") from None
    except (OSError, ValueError) as err:
        raise PreflightError("bad_config", f"cannot read {config_path}: {err}",
                             "Fix or re-download the model's config.json.") from None
    return f"model folder {folder}"


def check_gpus(args: ServeArgs, env: Mapping[str, str], count_gpus: Callable[[Mapping[str, str]], tuple[int, str]]
               ) -> int:
    """Returns the visible GPU count; fails when there are none or fewer than TP x PP on one node."""
    count, source = count_gpus(env)
    if count == 0:
        raise PreflightError("no_gpu", f"no NVIDIA GPU is visible ({source})")
    tp = parse_int("--tensor-parallel-size", args.get("--tensor-parallel-size"), 1, 1)
    pp = parse_int("--pipeline-parallel-size", args.get("--pipeline-parallel-size"), 1, 1)
    multi_node = args.get("--distributed-executor-backend") == "ray"
    if tp * pp > count and not multi_node:
        raise PreflightError(
            "bad_config",
            f"tensor parallel size {tp} x pipeline parallel size {pp} needs {tp * pp} GPUs but {count} "
            f"{'is' if count == 1 else 'are'} visible ({source})",
            "Lower TENSOR_PARALLEL_SIZE / PIPELINE_PARALLEL_SIZE to fit the GPUs given to the engine, give it more "
            "GPUs, or use a multi-node Ray backend.",
        )
    return count
