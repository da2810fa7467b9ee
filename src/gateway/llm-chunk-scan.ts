import { type EngineChunk, parseEngineChunk, parseUsage } from "./engine-chunk.js";

const CONTENT_KEY = '"content":"';
const USAGE_KEY = '"usage":{';
const FINISH_KEY = '"finish_reason":';

/**
 * The /llm relay's read of one engine chunk: what parseEngineChunk returns, without JSON.parse of the whole chunk
 * for the usual text chunk of a stream with continuous usage stats (`"delta":{"content":"…"}`, `"finish_reason":
 * null`, a flat `"usage":{…}`). Anything else (an error, a finish_reason, no usage, an escaped or second
 * `"content":`, a nested usage object) is parsed in full. Sound because `"key":` can only be a key: inside a JSON
 * string every quote is escaped. Like /v1's scanTextChunk, the scan checks the chunk's frame ({…,"usage":{…}}),
 * not every byte of its JSON: the frames /llm sends are its own, so they stay valid JSON either way. Only the fields LlmRelay reads are filled (id, model and created are null).
 */
export function readLlmChunk(data: string): EngineChunk {
  return scanLlmTextChunk(data) ?? parseEngineChunk(data);
}

/** The fast path of readLlmChunk; null when the chunk must be parsed in full. */
export function scanLlmTextChunk(data: string): EngineChunk | null {
  if (data.charCodeAt(0) !== 0x7b || data.charCodeAt(data.length - 1) !== 0x7d) return null; // {…}
  if (data.includes('"error":')) return null;
  const finish = data.indexOf(FINISH_KEY);
  if (finish < 0 || !data.startsWith("null", finish + FINISH_KEY.length)) return null;
  if (data.indexOf(FINISH_KEY, finish + 1) >= 0) return null; // several choices: parse
  const at = data.indexOf(CONTENT_KEY);
  if (at < 0 || data.indexOf('"content":', at + 1) >= 0) return null;
  const start = at + CONTENT_KEY.length;
  const end = data.indexOf('"', start);
  if (end < 0) return null;
  const content = data.slice(start, end);
  // The literal is the text itself only without escapes; control characters would make it invalid JSON.
  if (content.includes("\\") || hasControl(content)) return null;
  const u = data.indexOf(USAGE_KEY);
  if (u < 0) return null;
  const open = u + USAGE_KEY.length - 1;
  const close = data.indexOf("}", open);
  // Flat (no prompt_tokens_details object) and the chunk's last member, as vLLM writes it: `…,"usage":{…}}`.
  if (close !== data.length - 2 || data.lastIndexOf("{", close) !== open) return null;
  let usageValue: unknown;
  try {
    usageValue = JSON.parse(data.slice(open, close + 1));
  } catch {
    return null;
  }
  const usage = parseUsage(usageValue);
  if (usage === null) return null;
  return {
    id: null,
    created: null,
    model: null,
    choices: [{ index: 0, content, finishReason: null }],
    usage,
    error: null,
  };
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}
