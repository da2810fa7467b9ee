"""The flags `vllm serve` accepts, so the simulator can take (and ignore) every real vLLM flag and still reject a typo.

Copied from test/fixtures/vllm/serve-flags.txt (extracted from vLLM's argument parsers); a test keeps the two equal.
"""

# Long flags of `vllm serve` (v0.10/v0.11 era), in the order of the source list.
SERVE_FLAGS: frozenset[str] = frozenset(
    (
        "--headless", "--api-server-count", "--config", "--model",
        "--runner", "--convert", "--task", "--tokenizer",
        "--tokenizer-mode", "--trust-remote-code", "--dtype", "--seed",
        "--hf-config-path", "--allowed-local-media-path", "--allowed-media-domains", "--revision",
        "--code-revision", "--rope-scaling", "--rope-theta", "--tokenizer-revision",
        "--max-model-len", "--quantization", "--enforce-eager", "--max-logprobs",
        "--logprobs-mode", "--disable-sliding-window", "--disable-cascade-attn", "--skip-tokenizer-init",
        "--enable-prompt-embeds", "--served-model-name", "--config-format", "--hf-token",
        "--hf-overrides", "--pooler-config", "--override-pooler-config", "--logits-processor-pattern",
        "--generation-config", "--override-generation-config", "--enable-sleep-mode", "--model-impl",
        "--override-attention-dtype", "--logits-processors", "--io-processor-plugin", "--load-format",
        "--download-dir", "--safetensors-load-strategy", "--model-loader-extra-config", "--ignore-patterns",
        "--use-tqdm-on-load", "--pt-load-map-location", "--reasoning-parser", "--guided-decoding-backend",
        "--guided-decoding-disable-fallback", "--guided-decoding-disable-any-whitespace", "--guided-decoding-disable-additional-properties", "--distributed-executor-backend",
        "--pipeline-parallel-size", "--tensor-parallel-size", "--decode-context-parallel-size", "--data-parallel-size",
        "--data-parallel-rank", "--data-parallel-start-rank", "--data-parallel-size-local", "--data-parallel-address",
        "--data-parallel-rpc-port", "--data-parallel-backend", "--data-parallel-hybrid-lb", "--enable-expert-parallel",
        "--all2all-backend", "--enable-dbo", "--dbo-decode-token-threshold", "--dbo-prefill-token-threshold",
        "--disable-nccl-for-dp-synchronization", "--enable-eplb", "--eplb-config", "--expert-placement-strategy",
        "--num-redundant-experts", "--eplb-window-size", "--eplb-step-interval", "--eplb-log-balancedness",
        "--max-parallel-loading-workers", "--ray-workers-use-nsight", "--disable-custom-all-reduce", "--worker-cls",
        "--worker-extension-cls", "--enable-multimodal-encoder-data-parallel", "--block-size", "--gpu-memory-utilization",
        "--kv-cache-memory-bytes", "--swap-space", "--kv-cache-dtype", "--num-gpu-blocks-override",
        "--enable-prefix-caching", "--prefix-caching-hash-algo", "--cpu-offload-gb", "--calculate-kv-scales",
        "--kv-sharing-fast-prefill", "--mamba-cache-dtype", "--mamba-ssm-cache-dtype", "--mamba-block-size",
        "--limit-mm-per-prompt", "--enable-mm-embeds", "--media-io-kwargs", "--mm-processor-kwargs",
        "--mm-processor-cache-gb", "--disable-mm-preprocessor-cache", "--mm-processor-cache-type", "--mm-shm-cache-max-object-size-mb",
        "--mm-encoder-tp-mode", "--mm-encoder-attn-backend", "--interleave-mm-strings", "--skip-mm-profiling",
        "--video-pruning-rate", "--enable-lora", "--max-loras", "--max-lora-rank",
        "--lora-extra-vocab-size", "--lora-dtype", "--max-cpu-loras", "--fully-sharded-loras",
        "--default-mm-loras", "--show-hidden-metrics-for-version", "--otlp-traces-endpoint", "--collect-detailed-traces",
        "--max-num-batched-tokens", "--max-num-seqs", "--max-num-partial-prefills", "--max-long-partial-prefills",
        "--long-prefill-token-threshold", "--num-lookahead-slots", "--scheduling-policy", "--enable-chunked-prefill",
        "--disable-chunked-mm-input", "--scheduler-cls", "--disable-hybrid-kv-cache-manager", "--async-scheduling",
        "--cudagraph-capture-sizes", "--cuda-graph-sizes", "--max-cudagraph-capture-size", "--speculative-config",
        "--kv-transfer-config", "--kv-events-config", "--compilation-config", "--additional-config",
        "--structured-outputs-config", "--disable-log-stats", "--aggregate-engine-logging", "--enable-log-requests",
        "--disable-log-requests", "--host", "--port", "--uds",
        "--uvicorn-log-level", "--disable-uvicorn-access-log", "--allow-credentials", "--allowed-origins",
        "--allowed-methods", "--allowed-headers", "--api-key", "--lora-modules",
        "--chat-template", "--chat-template-content-format", "--trust-request-chat-template", "--response-role",
        "--ssl-keyfile", "--ssl-certfile", "--ssl-ca-certs", "--enable-ssl-refresh",
        "--ssl-cert-reqs", "--root-path", "--middleware", "--return-tokens-as-token-ids",
        "--disable-frontend-multiprocessing", "--enable-request-id-headers", "--enable-auto-tool-choice", "--exclude-tools-when-tool-choice-none",
        "--tool-call-parser", "--tool-parser-plugin", "--tool-server", "--log-config-file",
        "--max-log-len", "--disable-fastapi-docs", "--enable-prompt-tokens-details", "--enable-server-load-tracking",
        "--enable-force-include-usage", "--enable-tokenizer-info-endpoint", "--enable-log-outputs", "--h11-max-incomplete-event-size",
        "--h11-max-header-count", "--log-error-stack", "--tokens-only", "--no-trust-remote-code",
        "--no-enforce-eager", "--no-disable-sliding-window", "--no-disable-cascade-attn", "--no-skip-tokenizer-init",
        "--no-enable-prompt-embeds", "--no-enable-sleep-mode", "--no-use-tqdm-on-load", "--no-data-parallel-hybrid-lb",
        "--no-enable-expert-parallel", "--no-enable-dbo", "--no-disable-nccl-for-dp-synchronization", "--no-enable-eplb",
        "--no-eplb-log-balancedness", "--no-ray-workers-use-nsight", "--no-disable-custom-all-reduce", "--no-enable-prefix-caching",
        "--no-calculate-kv-scales", "--no-kv-sharing-fast-prefill", "--no-enable-mm-embeds", "--no-interleave-mm-strings",
        "--no-skip-mm-profiling", "--no-enable-lora", "--no-fully-sharded-loras", "--no-enable-chunked-prefill",
        "--no-disable-chunked-mm-input", "--no-disable-hybrid-kv-cache-manager", "--no-async-scheduling", "--no-enable-log-requests",
        "--no-disable-log-requests", "--no-disable-uvicorn-access-log", "--no-allow-credentials", "--no-trust-request-chat-template",
        "--no-enable-ssl-refresh", "--no-return-tokens-as-token-ids", "--no-disable-frontend-multiprocessing", "--no-enable-request-id-headers",
        "--no-enable-auto-tool-choice", "--no-exclude-tools-when-tool-choice-none", "--no-disable-fastapi-docs", "--no-enable-prompt-tokens-details",
        "--no-enable-server-load-tracking", "--no-enable-force-include-usage", "--no-enable-tokenizer-info-endpoint", "--no-enable-log-outputs",
        "--no-log-error-stack", "--no-tokens-only",
        # 2026 additions (vllm/entrypoints/openai/cli_args.py @ 00522333)
        "--grpc", "--default-chat-template-kwargs", "--enable-per-request-metrics", "--enable-log-deltas",
        "--cohere-is-reasoning-model", "--cohere-format", "--fingerprint-mode", "--fingerprint-value",
        "--data-parallel-supervisor-port", "--dp-supervisor-probe-interval-s", "--dp-supervisor-probe-timeout-s",
        "--dp-supervisor-probe-failure-threshold", "--disable-access-log-for-endpoints", "--ssl-ciphers",
        "--enable-offline-docs", "--enable-flash-late-interaction", "--no-enable-per-request-metrics",
        "--no-enable-log-deltas", "--no-cohere-is-reasoning-model", "--no-enable-offline-docs",
        "--no-enable-flash-late-interaction",
        # Drain on SIGTERM (EngineArgs.shutdown_timeout, vLLM 0.18+)
        "--shutdown-timeout",
    )
)

# Flags seen only in newer vLLM releases; accepted too, since an operator may pass them through.
NEWER_SERVE_FLAGS: frozenset[str] = frozenset(
    (
        "--fail-on-environ-validation", "--gdn-prefill-backend", "--max-num-queued-reqs",
        "--max-num-queued-tokens", "--kv-cache-metrics-sample", "--nnodes",
    )
)

# Short aliases and the long flag each one stands for.
SHORT_ALIASES: dict[str, str] = {
    "-q": "--quantization",
    "-tp": "--tensor-parallel-size",
    "-pp": "--pipeline-parallel-size",
    "-dcp": "--decode-context-parallel-size",
    "-dp": "--data-parallel-size",
    "-dpn": "--data-parallel-rank",
    "-dpr": "--data-parallel-start-rank",
    "-dpl": "--data-parallel-size-local",
    "-dpa": "--data-parallel-address",
    "-dpp": "--data-parallel-rpc-port",
    "-dpb": "--data-parallel-backend",
    "-O": "--compilation-config",
    "-asc": "--api-server-count",
}

# Flags that take no value: every --X that has a --no-X negation (argparse BooleanOptionalAction), the negations
# themselves, and the plain store_true flags.
_STORE_TRUE = frozenset(
    (
        "--headless", "--disable-log-stats", "--aggregate-engine-logging", "--disable-mm-preprocessor-cache",
        "--enable-multimodal-encoder-data-parallel", "--guided-decoding-disable-fallback",
        "--guided-decoding-disable-any-whitespace", "--guided-decoding-disable-additional-properties",
        "--fail-on-environ-validation", "--grpc",
    )
)
BOOLEAN_FLAGS: frozenset[str] = frozenset(
    {f for f in SERVE_FLAGS if f.startswith("--no-")}
    | {"--" + f[len("--no-") :] for f in SERVE_FLAGS if f.startswith("--no-")}
    | _STORE_TRUE
)

# Flags that take one or more values (argparse nargs="+").
MULTI_VALUE_FLAGS: frozenset[str] = frozenset(("--served-model-name", "--lora-modules", "--middleware", "--tool-server"))
