// Rules between variables. Each runs only when the variables it compares parsed, so one bad value does not
// hide another problem.
import type { EnvValues } from "./env-schema.js";
import type { Finding } from "./model-checks.js";

export function crossFieldIssues(v: Partial<EnvValues>): Finding[] {
  const issues: Finding[] = [];
  const batched = v.MAX_NUM_BATCHED_TOKENS;
  const len = v.MAX_MODEL_LEN;
  const seqs = v.MAX_NUM_SEQS;
  // The AI-runner reference silently raised batched tokens here; we say so instead, with both numbers.
  if (batched !== undefined && len !== undefined && batched < len) {
    issues.push({
      variable: "MAX_NUM_BATCHED_TOKENS",
      message: `max_num_batched_tokens (${batched}) is smaller than max_model_len (${len}): a full-length prompt could not be scheduled in one step. Set MAX_NUM_BATCHED_TOKENS=${len} or more, or lower MAX_MODEL_LEN to ${batched}.`,
    });
  }
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
  return issues;
}
