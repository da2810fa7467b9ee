"""The simulator's settings, read from the same `vllm serve` flags as the real engine plus its own --sim-* knobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import lifecycle
from ..model_weights import weights_gib
from ..serve_args import UsageError, parse_float, parse_int, parse_serve_args

SIM_MODES = ("echo", "lorem")
DEFAULT_MODEL = "Qwen/Qwen3-0.6B"  # vLLM's own default model_tag
# Prompt tokens a second one H100 prefills for an 8B model in bf16. NVIDIA's TensorRT-LLM performance overview
# (docs/source/performance/perf-overview.md, Llama 3.1 8B FP8, one H100 SXM, ISL/OSL 2048/128) gives 3,450 output
# tokens/s: at least 3,450 x 2048/128 = 55,200 prompt tokens/s in FP8; bf16 has half FP8's tensor-core peak on H100
# (989 vs 1,979 dense TFLOPS), hence 27,600.
DEFAULT_PREFILL_TPS = 27_600.0
DEFAULT_BLOCK_SIZE = 16  # vLLM's --block-size on CUDA
# The weights of an 8B model in bf16, the size the other defaults model: vLLM logged "Loading model weights took
# 14.9888 GB" (GiB) for Llama 3.1 8B Instruct (test/fixtures/vllm/kv-calibration.json, vllm#10517).
DEFAULT_WEIGHTS_GIB = 14.9888

# The simulator's own flags; all take a value.
SIM_FLAGS: dict[str, bool] = {
    "--sim-ttft-ms": True,
    "--sim-itl-ms": True,
    "--sim-load-seconds": True,
    "--sim-crash-after": True,
    "--sim-crash-linger-seconds": True,
    "--sim-hang-after": True,
    "--sim-error-rate": True,
    "--sim-fail-start": True,
    "--sim-mode": True,
    "--sim-kv-tokens": True,
    "--sim-prefill-tps": True,
    "--sim-sleep-seconds": True,
    "--sim-wake-seconds": True,
    "--sim-weights-gib": True,
    "--sim-wake-fail": True,
}


@dataclass(frozen=True)
class SimOptions:
    model: str
    served_model_names: tuple[str, ...]
    host: str
    port: int
    api_key: str | None
    max_model_len: int
    max_num_batched_tokens: int
    max_num_seqs: int
    seed: int
    ttft_ms: float
    itl_ms: float
    load_seconds: float
    crash_after: int | None
    crash_linger_seconds: float
    hang_after: int | None
    error_rate: float
    fail_start: str | None
    mode: str
    shutdown_timeout: int = 0  # vLLM's --shutdown-timeout: seconds to finish in-flight requests on SIGTERM
    prefix_caching: bool = True  # vLLM's --enable-prefix-caching / --no-enable-prefix-caching (on by default in V1)
    block_size: int = DEFAULT_BLOCK_SIZE  # vLLM's --block-size
    kv_tokens: int = 0  # --sim-kv-tokens: KV cache size; 0 = max_model_len x max_num_seqs
    prefill_tps: float = DEFAULT_PREFILL_TPS  # --sim-prefill-tps: prompt tokens computed per second; 0 = free
    prompt_tokens_details: bool = False  # vLLM's --enable-prompt-tokens-details
    enable_sleep_mode: bool = False  # vLLM's --enable-sleep-mode
    dev_mode: bool = False  # $VLLM_SERVER_DEV_MODE: the /sleep, /wake_up, /is_sleeping, ... routes exist
    gpu_memory_utilization: float = 0.9
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    sleep_seconds: float | None = None  # --sim-sleep-seconds; None: the published time for the weights (sleep.py)
    wake_seconds: float | None = None  # --sim-wake-seconds; likewise
    weights_gib: float = DEFAULT_WEIGHTS_GIB  # --sim-weights-gib, else the weight files on disk, else an 8B model
    otlp_traces_endpoint: str | None = None  # vLLM's --otlp-traces-endpoint: the sim exports nothing, it logs traceparent
    wake_fail: int | None = None  # --sim-wake-fail N: the Nth /wake_up fails as vLLM's does (sleep.py)

    @property
    def kv_blocks(self) -> int:
        return self.kv_tokens // self.block_size

    @property
    def model_name(self) -> str:
        return self.served_model_names[0]


def parse_sim_options(argv: Sequence[str], env: Mapping[str, str]) -> SimOptions:
    """Raises UsageError (exit 2) naming the bad flag and the rule it broke."""
    args = parse_serve_args(argv, SIM_FLAGS)
    model = args.model or DEFAULT_MODEL
    names = tuple(args.get_all("--served-model-name")) or (model,)
    max_model_len = parse_int("--max-model-len", args.get("--max-model-len"), 8192, 1, human=True)
    max_num_seqs = parse_int("--max-num-seqs", args.get("--max-num-seqs"), 256, 1)
    batched = parse_int(
        "--max-num-batched-tokens", args.get("--max-num-batched-tokens"), max(max_model_len, 8192), 1, human=True
    )
    if batched < max_num_seqs:
        # vLLM's own SchedulerConfig check, with its wording.
        raise UsageError(
            f"max_num_batched_tokens ({batched}) must be greater than or equal to max_num_seqs ({max_num_seqs})."
        )
    gpu_util = parse_float("--gpu-memory-utilization", args.get("--gpu-memory-utilization"), 0.9, 0.0, 1.0)
    tp = parse_int("--tensor-parallel-size", args.get("--tensor-parallel-size"), 1, 1)
    pp = parse_int("--pipeline-parallel-size", args.get("--pipeline-parallel-size"), 1, 1)
    dev_mode_env = env.get("VLLM_SERVER_DEV_MODE", "0")
    try:
        # vLLM reads it as bool(int(value)) (vllm/envs.py) and fails on anything else.
        dev_mode = bool(int(dev_mode_env))
    except ValueError:
        raise UsageError(f"VLLM_SERVER_DEV_MODE must be an integer (0 or 1), got {dev_mode_env!r}") from None
    sleep_s = args.get("--sim-sleep-seconds")
    wake_s = args.get("--sim-wake-seconds")
    weights = args.get("--sim-weights-gib")
    if weights is not None:
        weights_size = parse_float("--sim-weights-gib", weights, 0.0, 0.0)
    else:
        weights_size = weights_gib(model, env) or DEFAULT_WEIGHTS_GIB
    crash_after = args.get("--sim-crash-after")
    wake_fail = args.get("--sim-wake-fail")
    hang_after = args.get("--sim-hang-after")
    fail_start = args.get("--sim-fail-start")
    if fail_start is not None and fail_start not in lifecycle.FATAL_REASONS:
        raise UsageError(
            f"--sim-fail-start {fail_start!r} is not a fatal reason; use one of: {', '.join(lifecycle.FATAL_REASONS)}"
        )
    mode = args.get("--sim-mode") or "echo"
    if mode not in SIM_MODES:
        raise UsageError(f"--sim-mode must be one of {', '.join(SIM_MODES)}, got {mode!r}")
    api_key = args.get("--api-key") or env.get("VLLM_API_KEY") or None
    block_size = parse_int("--block-size", args.get("--block-size"), DEFAULT_BLOCK_SIZE, 1)
    kv_tokens = parse_int("--sim-kv-tokens", args.get("--sim-kv-tokens"), max_model_len * max_num_seqs, 1,
                          human=True)
    if kv_tokens // block_size * block_size < max_model_len:
        # vLLM refuses to start when one max_model_len sequence does not fit the KV cache (kv_cache_oom).
        raise UsageError(
            f"--sim-kv-tokens {kv_tokens} holds {kv_tokens // block_size} blocks of {block_size} tokens, fewer than "
            f"one --max-model-len {max_model_len} sequence needs; vLLM would refuse to start. Raise --sim-kv-tokens "
            f"or lower --max-model-len."
        )
    return SimOptions(
        model=model,
        served_model_names=names,
        host=args.get("--host") or "127.0.0.1",
        port=parse_int("--port", args.get("--port"), 8000, 0),
        api_key=api_key,
        max_model_len=max_model_len,
        max_num_batched_tokens=batched,
        max_num_seqs=max_num_seqs,
        seed=parse_int("--seed", args.get("--seed"), 0, -(2**63)),
        ttft_ms=parse_float("--sim-ttft-ms", args.get("--sim-ttft-ms"), 0.0, 0.0),
        itl_ms=parse_float("--sim-itl-ms", args.get("--sim-itl-ms"), 0.0, 0.0),
        load_seconds=parse_float("--sim-load-seconds", args.get("--sim-load-seconds"), 0.0, 0.0),
        crash_after=None if crash_after is None else parse_int("--sim-crash-after", crash_after, 0, 1),
        crash_linger_seconds=parse_float(
            "--sim-crash-linger-seconds", args.get("--sim-crash-linger-seconds"), 0.0, 0.0
        ),
        hang_after=None if hang_after is None else parse_int("--sim-hang-after", hang_after, 0, 0),
        error_rate=parse_float("--sim-error-rate", args.get("--sim-error-rate"), 0.0, 0.0, 1.0),
        fail_start=fail_start,
        mode=mode,
        shutdown_timeout=parse_int("--shutdown-timeout", args.get("--shutdown-timeout"), 0, 0),
        prefix_caching=args.get("--enable-prefix-caching") != "false",
        block_size=block_size,
        kv_tokens=kv_tokens,
        prefill_tps=parse_float("--sim-prefill-tps", args.get("--sim-prefill-tps"), DEFAULT_PREFILL_TPS, 0.0),
        prompt_tokens_details=args.get("--enable-prompt-tokens-details") == "true",
        enable_sleep_mode=args.get("--enable-sleep-mode") == "true",
        dev_mode=dev_mode,
        gpu_memory_utilization=gpu_util,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
        sleep_seconds=None if sleep_s is None else parse_float("--sim-sleep-seconds", sleep_s, 0.0, 0.0),
        wake_seconds=None if wake_s is None else parse_float("--sim-wake-seconds", wake_s, 0.0, 0.0),
        weights_gib=weights_size,
        otlp_traces_endpoint=args.get("--otlp-traces-endpoint"),
        wake_fail=None if wake_fail is None else parse_int("--sim-wake-fail", wake_fail, 0, 1),
    )
