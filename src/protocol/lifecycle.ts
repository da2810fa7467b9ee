// The lifecycle protocol between the Python runtime (runtime/llm_runtime) and the supervisor.
// The runtime prints one JSON object per line on stdout under the key "llm_runtime":
//   {"llm_runtime":{"event":"starting","engine":"sim","version":"0.1.0","pid":123}}
//   {"llm_runtime":{"event":"loading","progress":0.5,"detail":"Loading safetensors checkpoint shards: 2/4"}}
//   {"llm_runtime":{"event":"ready","detail":"Application startup complete."}}
//   {"llm_runtime":{"event":"fatal","reason":"cuda_oom","detail":"torch.OutOfMemoryError: ...","hint":"..."}}
// runtime/llm_runtime/lifecycle.py is the Python side of the same definition.

export const LIFECYCLE_KEY = "llm_runtime";

export const FATAL_REASONS = [
  "cuda_oom", // CUDA out of memory while loading weights
  "gpu_memory_busy", // free GPU memory below GPU_MEMORY_UTILIZATION x total (another process holds memory)
  "kv_cache_oom", // weights fit but nothing left for the KV cache
  "model_access", // gated/private model, missing or wrong HF_TOKEN
  "model_not_found", // model folder / repo not found
  "bad_config", // vLLM rejected the configuration (e.g. max_model_len too large)
  "no_gpu", // no GPU visible
  "engine_error", // any other fatal engine error
  "injected", // the simulator's --sim-fail-start
] as const;
export type FatalReason = (typeof FATAL_REASONS)[number];

/**
 * Whether restarting the engine can cure each reason when it comes while loading. The others need the operator
 * to change something first (free the GPU, fix HF_TOKEN, lower max_model_len…), so the supervisor fails at once.
 * A fatal after the engine was ready is always retried (restart-policy.ts).
 */
export const FATAL_REASON_RETRYABLE: Readonly<Record<FatalReason, boolean>> = {
  cuda_oom: false,
  gpu_memory_busy: false,
  kv_cache_oom: false,
  model_access: false,
  model_not_found: false,
  bad_config: false,
  no_gpu: false,
  engine_error: true,
  injected: false,
};

export function isFatalReason(value: string): value is FatalReason {
  return (FATAL_REASONS as readonly string[]).includes(value);
}

export type LifecycleEvent =
  | { event: "starting"; engine: string; version?: string; pid?: number }
  | { event: "loading"; progress: number | null; detail: string }
  | { event: "ready"; detail?: string }
  | { event: "fatal"; reason: FatalReason; detail: string; hint?: string };

/** Returns the lifecycle event on this output line, or null when the line is ordinary log output. */
export function parseLifecycleLine(line: string): LifecycleEvent | null {
  const start = line.indexOf(`{"${LIFECYCLE_KEY}"`);
  if (start < 0) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.slice(start));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const body = (parsed as Record<string, unknown>)[LIFECYCLE_KEY];
  if (typeof body !== "object" || body === null) return null;
  const ev = body as Record<string, unknown>;
  switch (ev.event) {
    case "starting":
      return {
        event: "starting",
        engine: String(ev.engine ?? ""),
        ...(typeof ev.version === "string" ? { version: ev.version } : {}),
        ...(typeof ev.pid === "number" ? { pid: ev.pid } : {}),
      };
    case "loading": {
      const p = typeof ev.progress === "number" && Number.isFinite(ev.progress) ? ev.progress : null;
      return {
        event: "loading",
        progress: p === null ? null : Math.min(1, Math.max(0, p)),
        detail: String(ev.detail ?? ""),
      };
    }
    case "ready":
      return { event: "ready", ...(typeof ev.detail === "string" ? { detail: ev.detail } : {}) };
    case "fatal": {
      // The runtime refuses unknown reasons (lifecycle.py fatal()); one from a newer runtime is kept in the detail.
      const reason = String(ev.reason ?? "engine_error");
      const detail = String(ev.detail ?? "");
      return {
        event: "fatal",
        reason: isFatalReason(reason) ? reason : "engine_error",
        detail: isFatalReason(reason) ? detail : `(${reason}) ${detail}`,
        ...(typeof ev.hint === "string" ? { hint: ev.hint } : {}),
      };
    }
    default:
      return null;
  }
}
