import { type EngineChunk, parseEngineChunk } from "./engine-chunk.js";

// vLLM's text chunk with continuous_usage_stats, read from its end (serving_chat.py; key order as pydantic
// writes it): {…head…,"choices":[{"index":0,"delta":{["role":"assistant",]"content":"<text>"},"logprobs":null,
// "finish_reason":null}],"usage":{"prompt_tokens":P,"total_tokens":T,"completion_tokens":C}}
const CHOICE_OPEN = '"choices":[{"index":0,"delta":{';
const ROLE = '"role":"assistant",';
const CONTENT_KEY = '"content":"';
const CHOICE_CLOSE = '"},"logprobs":null,"finish_reason":null}],"usage":';
const PROMPT = "prompt_tokens";
const COMPLETION = "completion_tokens";
const TOTAL = "total_tokens";
const USAGE_KEYS = [PROMPT, COMPLETION, TOTAL];

/**
 * Whether `s` is at `pos` in `data`. Not startsWith: in V8 (node 20) `endsWith` compares several times faster
 * than `startsWith(s, pos)` on these chunks (bench/results/perf-notes.md, round 4).
 */
function matchAt(data: string, s: string, pos: number): boolean {
  return pos >= 0 && pos + s.length <= data.length && data.endsWith(s, pos + s.length);
}

/** Which of the usage keys data[from, to) is, without slicing it out; null for any other. */
function usageKey(data: string, from: number, to: number): string | null {
  for (const key of USAGE_KEYS) {
    if (to - from === key.length && data.endsWith(key, to)) return key;
  }
  return null;
}

/**
 * The /llm relay's read of one engine chunk: what parseEngineChunk returns, without JSON.parse of the whole chunk
 * for the usual text chunk of a stream with continuous usage stats. Anything else (an error, a finish_reason,
 * no usage, an escaped text, another shape or key order) is parsed in full. Like /v1's scanTextChunk, the scan
 * checks the chunk's frame, not every byte of its head (id, object, created, model): the frames /llm sends are
 * its own, so they stay valid JSON either way. Only the fields LlmRelay reads are filled (id, model and created
 * are null).
 */
export function readLlmChunk(data: string): EngineChunk {
  return scanLlmTextChunk(data) ?? parseEngineChunk(data);
}

/** The fast path of readLlmChunk; null when the chunk must be parsed in full. */
export function scanLlmTextChunk(data: string): EngineChunk | null {
  const n = data.length;
  if (data.charCodeAt(0) !== 0x7b || data.charCodeAt(n - 1) !== 0x7d) return null; // {…}
  // The usage object: flat, last, closing the chunk.
  const open = data.lastIndexOf("{", n - 2);
  if (open < 0 || data.charCodeAt(n - 2) !== 0x7d) return null;
  const usage = flatUsage(data, open + 1, n - 2);
  if (usage === null) return null;
  // The one choice: its text literal, no finish_reason, no logprobs.
  const close = open - CHOICE_CLOSE.length;
  if (!matchAt(data, CHOICE_CLOSE, close)) return null;
  const key = data.lastIndexOf(CONTENT_KEY, close);
  if (key < 0) return null;
  const content = data.slice(key + CONTENT_KEY.length, close);
  // The literal is the text itself only without escapes (a quote or a control character is always escaped).
  if (!plainLiteral(content)) return null;
  let head = key - CHOICE_OPEN.length;
  if (!matchAt(data, CHOICE_OPEN, head)) {
    head -= ROLE.length;
    if (!matchAt(data, CHOICE_OPEN, head) || !matchAt(data, ROLE, head + CHOICE_OPEN.length)) return null;
  }
  // The head before "choices" (id, object, created, model) must not hold an error.
  if (head < 1 || data.lastIndexOf('"error":', head) >= 0) return null;
  return {
    id: null,
    created: null,
    model: null,
    choices: [{ index: 0, content, finishReason: null }],
    usage,
    error: null,
  };
}

/** No backslash, quote or control character: the JSON literal's text is the characters themselves. */
export function plainLiteral(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/**
 * `"key":<digits>` pairs between from and to (a flat object's inside) with prompt_tokens and completion_tokens;
 * null for anything else (a nested object, a sign, a fraction, an unknown key).
 */
function flatUsage(data: string, from: number, to: number) {
  let prompt = -1;
  let completion = -1;
  let total = -1;
  let i = from;
  while (i < to) {
    if (data.charCodeAt(i) !== 0x22) return null;
    const keyEnd = data.indexOf('":', i + 1);
    if (keyEnd < 0 || keyEnd >= to) return null;
    const name = usageKey(data, i + 1, keyEnd);
    let j = keyEnd + 2;
    let value = 0;
    const start = j;
    for (let c = data.charCodeAt(j); c >= 0x30 && c <= 0x39; c = data.charCodeAt(++j))
      value = value * 10 + (c - 0x30);
    if (j === start || j - start > 15) return null;
    if (name === PROMPT) prompt = value;
    else if (name === COMPLETION) completion = value;
    else if (name === TOTAL) total = value;
    else return null;
    if (j === to) break;
    if (data.charCodeAt(j) !== 0x2c) return null;
    i = j + 1;
  }
  if (prompt < 0 || completion < 0) return null;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: total < 0 ? prompt + completion : total,
  };
}
