// The parts of vLLM's chat.completion.chunk the gateway reads (pricing, the token cap, /llm translation).
import { EngineProtocolError } from "../wire/engine-errors.js";
import { isRecord, parseUsage, type TokenUsage } from "../wire/json-values.js";

export interface EngineChoice {
  index: number;
  content: string; // delta.content (chat) or text (completions), "" when absent
  finishReason: string | null;
}

export interface EngineChunk {
  id: string | null;
  created: number | null;
  model: string | null;
  choices: EngineChoice[];
  usage: TokenUsage | null;
  /** An error the engine reported inside the stream (vLLM sends `data: {"error": {...}}`). */
  error: string | null;
}

export function parseEngineChunk(data: string): EngineChunk {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new EngineProtocolError(`the engine sent an SSE event that is not JSON: ${data.slice(0, 200)}`);
  }
  if (!isRecord(parsed))
    throw new EngineProtocolError("the engine sent an SSE event that is not a JSON object");
  if (parsed.error !== undefined) {
    const e = parsed.error;
    const message = isRecord(e) && typeof e.message === "string" ? e.message : JSON.stringify(e);
    return { id: null, created: null, model: null, choices: [], usage: null, error: message };
  }
  const choices: EngineChoice[] = [];
  if (Array.isArray(parsed.choices)) {
    for (const c of parsed.choices) {
      if (!isRecord(c)) continue;
      const delta = isRecord(c.delta) ? c.delta : {};
      choices.push({
        index: typeof c.index === "number" ? c.index : 0,
        content: typeof delta.content === "string" ? delta.content : typeof c.text === "string" ? c.text : "",
        finishReason: typeof c.finish_reason === "string" && c.finish_reason !== "" ? c.finish_reason : null,
      });
    }
  }
  return {
    id: typeof parsed.id === "string" ? parsed.id : null,
    created: typeof parsed.created === "number" ? parsed.created : null,
    model: typeof parsed.model === "string" ? parsed.model : null,
    choices,
    usage: parseUsage(parsed.usage),
    error: null,
  };
}

// One regular expression per question: V8's compiled regexps find these keys in a chunk several times faster
// than String#includes / indexOf (bench/results/perf-notes.md, round 4). Any finish_reason other than null
// (every one, not only the first) sends the chunk to the full parse.
const USAGE_OR_ERROR = /"(?:usage|error)":/;
const FINISH_NOT_NULL = /"finish_reason":(?!null)/;

/**
 * A cheap look at a chunk that only carries text: true when it has non-empty delta content, false when it has
 * none; null when the chunk must be parsed in full (usage, an error, a finish_reason, or a shape this scan does
 * not know). Sound because `"key":` can only be a key: inside a JSON string every quote is escaped.
 */
export function scanTextChunk(data: string): boolean | null {
  if (USAGE_OR_ERROR.test(data) || FINISH_NOT_NULL.test(data)) return null;
  // A chat chunk's delta.content, else a text_completion chunk's text.
  let key = '"content":';
  let at = data.indexOf(key);
  if (at < 0) {
    key = '"text":';
    at = data.indexOf(key);
  }
  if (at < 0) return false;
  const value = at + key.length;
  if (data.charCodeAt(value) !== 0x22) return null; // not a string value: parse
  return data.charCodeAt(value + 1) !== 0x22;
}
