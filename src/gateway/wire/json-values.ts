// The JSON values the gateway reads from clients and from the engine.

export type JsonObject = Record<string, unknown>;

/** A JSON object (not an array, not null). */
export function isRecord(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An OpenAI usage object, as the engine reports it and the gateway bills it. */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function parseUsage(v: unknown): TokenUsage | null {
  if (!isRecord(v)) return null;
  const prompt = v.prompt_tokens;
  const completion = v.completion_tokens;
  if (typeof prompt !== "number" || typeof completion !== "number") return null;
  const total = typeof v.total_tokens === "number" ? v.total_tokens : prompt + completion;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total };
}
