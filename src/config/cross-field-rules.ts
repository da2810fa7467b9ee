// Rules between variables. Each runs only when the variables it compares parsed, so one bad value does not
// hide another problem.
import type { EnvValues } from "./env-schema.js";
import type { Finding } from "./model-checks.js";

export function crossFieldIssues(v: Partial<EnvValues>): Finding[] {
  const issues: Finding[] = [];
  const batched = v.MAX_NUM_BATCHED_TOKENS;
  const seqs = v.MAX_NUM_SEQS;
  if (batched !== undefined && seqs !== undefined && batched < seqs) {
    issues.push({
      variable: "MAX_NUM_BATCHED_TOKENS",
      message: `max_num_batched_tokens (${batched}) must be greater than or equal to max_num_seqs (${seqs}). Set MAX_NUM_BATCHED_TOKENS=${seqs} or more, or lower MAX_NUM_SEQS to ${batched}.`,
    });
  }
  if (v.PORT !== undefined && v.ENGINE_PORT !== undefined && v.PORT === v.ENGINE_PORT) {
    issues.push({
      variable: "ENGINE_PORT",
      message: `is the same as PORT (${v.PORT}): the gateway and the engine cannot listen on one port. Pick another ENGINE_PORT (e.g. ${v.PORT === 8100 ? 8101 : 8100}) or 0 for a free one.`,
    });
  }
  const kv = v.SIM_KV_TOKENS;
  const len = v.MAX_MODEL_LEN;
  // The simulator, like vLLM, refuses to start when one MAX_MODEL_LEN sequence does not fit its 16-token blocks.
  if (v.ENGINE === "sim" && kv !== undefined && len !== undefined && Math.floor(kv / 16) * 16 < len) {
    issues.push({
      variable: "SIM_KV_TOKENS",
      message: `${kv} tokens of KV cache hold less than one MAX_MODEL_LEN (${len}) sequence; the simulator would refuse to start, as vLLM does. Set SIM_KV_TOKENS=${Math.ceil(len / 16) * 16} or more, or lower MAX_MODEL_LEN.`,
    });
  }
  if (v.DISTRIBUTED_EXECUTOR === "ray") issues.push(...rayIssues(v));
  const count = typeof v.REPLICAS === "number" ? v.REPLICAS : 1;
  if (v.PORT !== undefined && v.ENGINE_PORT && count > 1) {
    const last = v.ENGINE_PORT + count - 1;
    if (v.PORT > v.ENGINE_PORT && v.PORT <= last)
      issues.push({
        variable: "ENGINE_PORT",
        message: `is ${v.ENGINE_PORT}: with REPLICAS=${count} the engines take ports ${v.ENGINE_PORT}…${last}, which include PORT (${v.PORT}). Pick an ENGINE_PORT above ${v.PORT} or at most ${v.PORT - count}, or 0 for free ports.`,
      });
  }
  return issues;
}

/**
 * Notes (`!` in check/flags) between variables: legal settings an operator may not expect. MAX_NUM_BATCHED_TOKENS
 * below MAX_MODEL_LEN: the AI-runner raises it silently; vLLM V1 (our pinned engine) always chunks prefill, so
 * a long prompt is scheduled over several steps, and a lower value is a real tuning knob (lower inter-token
 * latency while long prompts are prefilled). Only V0 without chunked prefill refused it.
 */
export function crossFieldNotes(v: Partial<EnvValues>): string[] {
  const notes: string[] = [];
  const batched = v.MAX_NUM_BATCHED_TOKENS;
  const len = v.MAX_MODEL_LEN;
  if (batched !== undefined && len !== undefined && batched < len) {
    notes.push(
      `MAX_NUM_BATCHED_TOKENS (${batched}) is below MAX_MODEL_LEN (${len}): vLLM chunks the prefill of longer prompts over several steps (lower inter-token latency for the others, a longer time to first token for them). The AI-runner would raise it to ${len}; set MAX_NUM_BATCHED_TOKENS=${len} for the same behaviour.`,
    );
  }
  return notes;
}

/** DISTRIBUTED_EXECUTOR=ray: one engine over a Ray cluster the operator started (README "Past one node"). */
function rayIssues(v: Partial<EnvValues>): Finding[] {
  const issues: Finding[] = [];
  if (v.RAY_ADDRESS === null) {
    issues.push({
      variable: "RAY_ADDRESS",
      message:
        "is not set, but DISTRIBUTED_EXECUTOR=ray needs the Ray cluster's address. Start the cluster first (ray start --head --port=6379 on this node, ray start --address=<this node's IP>:6379 on the others), then set RAY_ADDRESS=<this node's IP>:6379.",
    });
  }
  if (v.REPLICAS !== undefined && v.REPLICAS !== 1 && v.REPLICAS !== "auto") {
    issues.push({
      variable: "REPLICAS",
      message: `is ${v.REPLICAS}, but DISTRIBUTED_EXECUTOR=ray runs one engine over the whole Ray cluster. Set REPLICAS=1, or drop DISTRIBUTED_EXECUTOR to run one engine per GPU group on this node.`,
    });
  }
  if (v.DRIVER !== "process" && v.ENGINE_PORT === 0) {
    issues.push({
      variable: "ENGINE_PORT",
      message:
        "is 0, but with DISTRIBUTED_EXECUTOR=ray the engine container uses the host's network and must listen on a known port. Set ENGINE_PORT, e.g. 8100.",
    });
  }
  return issues;
}
