// The parts of vLLM's chat.completion.chunk and text_completion chunk the gateway reads (pricing, the token cap,
// /llm translation, answer assembly): in full with JSON.parse, or, for the usual text chunk, by one scan.
import { EngineProtocolError } from "../wire/engine-errors.js";
import { isRecord, parseUsage, type TokenUsage } from "../wire/json-values.js";

/** Which OpenAI stream the chunks belong to: chat.completion.chunk or text_completion. */
export type CompletionKind = "chat" | "completion";

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

/**
 * What parseEngineChunk returns of the fields a relay reads (choices, usage, error), by the scan when the chunk
 * is the usual text chunk with an unescaped text; id, created and model are then null.
 */
export function readEngineChunk(data: string, scanner: TextChunkScanner): EngineChunk {
  const scanned = scanner.scan(data);
  if (scanned === null || !scanned.plain) return parseEngineChunk(data);
  return {
    id: null,
    created: null,
    model: null,
    choices: [{ index: 0, content: scanned.literal, finishReason: null }],
    usage: scanned.usage,
    error: null,
  };
}

/** A text chunk as the scan reads it. */
export class TextChunk {
  /** The chunk; its text literal is data[start, close), without its quotes. */
  data = "";
  start = 0;
  close = 0;
  /** No escape in the literal: the literal is the text itself. */
  plain = true;
  /** The chunk's usage (continuous_usage_stats), or null when it has none. */
  usage: TokenUsage | null = null;
  /** Where the chunk's head (id, object, created, model: everything before `"choices":`) ends. */
  headEnd = 0;

  /** The text's JSON string literal, without its quotes: the text itself when `plain`. */
  get literal(): string {
    return this.data.slice(this.start, this.close);
  }

  /** Whether the text is not empty (without cutting it out of the chunk). */
  get hasText(): boolean {
    return this.close > this.start;
  }
}

// The text chunk, read from its end; key order as vLLM writes it (serving_chat.py, serving_completion.py; the
// simulator writes the same), usage only with continuous_usage_stats:
//   chat:       {…head…,"choices":[{"index":0,"delta":{["role":"assistant",]"content":"<text>"},"logprobs":null,"finish_reason":null}][,"usage":{…}]}
//   completion: {…head…,"choices":[{"index":0,"text":"<text>","logprobs":null,"finish_reason":null[,"stop_reason":null]}][,"usage":{…}]}
interface Shape {
  /** From "choices" to the text's key. */
  open: string;
  key: string;
  /** open and key together: what follows the head in a text chunk without a role. */
  openKey: string;
  /** What follows the text literal, up to the end of a chunk without usage, or up to the usage object. */
  bare: readonly string[];
  withUsage: readonly string[];
}
const ROLE = '"role":"assistant",';

function shape(open: string, key: string, tails: readonly string[]): Shape {
  return {
    open,
    key,
    openKey: open + key,
    bare: tails.map((t) => `${t}]}`),
    withUsage: tails.map((t) => `${t}],"usage":`),
  };
}
const CHAT_TEXT = shape('"choices":[{"index":0,"delta":{', '"content":"', [
  '"},"logprobs":null,"finish_reason":null}',
]);
const COMPLETION_TEXT = shape('"choices":[{"index":0,', '"text":"', [
  '","logprobs":null,"finish_reason":null}',
  '","logprobs":null,"finish_reason":null,"stop_reason":null}',
]);
const PROMPT = "prompt_tokens";
const COMPLETION = "completion_tokens";
const TOTAL = "total_tokens";
const USAGE_KEYS = [PROMPT, COMPLETION, TOTAL];

/**
 * The text chunk of a stream (one choice, index 0, no finish_reason, no logprobs, no tool call or reasoning, no
 * error, a flat usage or none) read without JSON.parse; null when the chunk must be parsed in full. With its
 * last brace and the fixed tail matched, everything from `"choices":` on is the frame above, so `choices` is a key
 * of the object that brace closes (a duplicate key earlier loses to it in JSON.parse too), and the literal is
 * found whole: inside a JSON string every quote is escaped, so the keys searched for cannot occur in one. Like
 * JSON.parse's callers, the head (id, object, created, model) is not validated byte by byte, only searched for an
 * error key.
 */
export function scanTextChunk(data: string, kind: CompletionKind): TextChunk | null {
  const form = kind === "chat" ? CHAT_TEXT : COMPLETION_TEXT;
  const end: FrameEnd = { close: 0, usage: null };
  return frameEnd(data, form, end) ? searchHead(data, form, end, new TextChunk()) : null;
}

/**
 * scanTextChunk for the chunks of one stream. vLLM writes the same head (id, object, created, model) on every
 * chunk of a stream (serving_chat.py, serving_completion.py), so once a chunk's head has been searched and found
 * clean, a later chunk that starts with the same characters needs no search: its text's key must follow that
 * head at once. What it reads is what scanTextChunk reads, at about 60 % of the cost (a chunk it refuses goes to the
 * full parse); a chunk with another head is searched in full, and its head is the one remembered next.
 * Nothing is allocated per chunk: what scan returns is the scanner's own object, rewritten by the next scan.
 */
export class TextChunkScanner {
  private readonly form: Shape;
  private head = "";
  private readonly end: FrameEnd = { close: 0, usage: null };
  private readonly chunk = new TextChunk();

  constructor(kind: CompletionKind) {
    this.form = kind === "chat" ? CHAT_TEXT : COMPLETION_TEXT;
  }

  /** The chunk as scanTextChunk reads it, in an object valid until the next scan; null for the full parse. */
  scan(data: string): TextChunk | null {
    this.chunk.data = ""; // the last chunk read is not kept past the next one
    const end = this.end;
    if (!frameEnd(data, this.form, end)) return null;
    const h = this.head.length;
    if (h > 0 && data.slice(0, h) === this.head) {
      const start = textStart(data, this.form, h);
      if (start >= 0) return textChunk(data, start, end, h, this.chunk);
    }
    const found = searchHead(data, this.form, end, this.chunk);
    if (found !== null) this.head = ownCopy(data.slice(0, found.headEnd));
    return found;
  }
}

/**
 * The characters of s in a string of their own: V8 keeps the whole string a slice was cut from alive (here one
 * engine read's text, up to 64 KiB, for as long as the stream lasts); a concatenation is flattened into a new
 * string when it is sliced.
 */
function ownCopy(s: string): string {
  return ` ${s}`.slice(1);
}

interface FrameEnd {
  /** Where the text literal's closing quote is. */
  close: number;
  usage: TokenUsage | null;
}

/** Where the text literal's closing quote is, and the usage that follows it, into `end`; false for another frame. */
function frameEnd(data: string, form: Shape, end: FrameEnd): boolean {
  const n = data.length;
  if (data.charCodeAt(0) !== 0x7b || data.charCodeAt(n - 1) !== 0x7d) return false; // {…}
  if (data.charCodeAt(n - 2) === 0x5d) {
    for (const tail of form.bare) {
      if (data.endsWith(tail)) return found(end, n - tail.length, null);
    }
    return false;
  }
  // The usage object: flat, last, closing the chunk.
  const open = data.lastIndexOf("{", n - 2);
  if (open < 0 || data.charCodeAt(n - 2) !== 0x7d) return false;
  const usage = flatUsage(data, open + 1, n - 2);
  if (usage === null) return false;
  for (const tail of form.withUsage) {
    if (matchAt(data, tail, open - tail.length)) return found(end, open - tail.length, usage);
  }
  return false;
}

function found(end: FrameEnd, close: number, usage: TokenUsage | null): true {
  end.close = close;
  end.usage = usage;
  return true;
}

/** The chunk's text literal from start to the frame's end, into `chunk`, when it is one whole JSON string literal. */
function textChunk(
  data: string,
  start: number,
  end: FrameEnd,
  headEnd: number,
  chunk: TextChunk,
): TextChunk | null {
  if (start > end.close) return null;
  const plain = plainLiteral(data, start, end.close);
  if (!plain && !wholeLiteral(data, start, end.close)) return null;
  chunk.data = data;
  chunk.start = start;
  chunk.close = end.close;
  chunk.plain = plain;
  chunk.usage = end.usage;
  chunk.headEnd = headEnd;
  return chunk;
}

/** Where the text starts when "choices" and the text's key (a role between them, in chat) follow h; or -1. */
function textStart(data: string, form: Shape, h: number): number {
  if (matchAt(data, form.openKey, h)) return h + form.openKey.length;
  const role = h + form.open.length;
  if (
    form === CHAT_TEXT &&
    matchAt(data, form.open, h) &&
    matchAt(data, ROLE, role) &&
    matchAt(data, form.key, role + ROLE.length)
  )
    return role + ROLE.length + form.key.length;
  return -1;
}

/** The text chunk found from its end: its text's key, then "choices" before it, then no error in the head. */
function searchHead(data: string, form: Shape, end: FrameEnd, chunk: TextChunk): TextChunk | null {
  const key = data.lastIndexOf(form.key, end.close);
  if (key < 0) return null;
  let head = key - form.open.length;
  if (!matchAt(data, form.open, head)) {
    head -= ROLE.length;
    if (
      form !== CHAT_TEXT ||
      !matchAt(data, form.open, head) ||
      !matchAt(data, ROLE, head + form.open.length)
    )
      return null;
  }
  // The head before "choices" (id, object, created, model) must not hold an error.
  if (head < 1 || data.lastIndexOf('"error":', head) >= 0) return null;
  return textChunk(data, key + form.key.length, end, head, chunk);
}

/**
 * Whether `s` is at `pos` in `data`. Not startsWith(s, pos): V8's endsWith is much cheaper on these chunks.
 */
function matchAt(data: string, s: string, pos: number): boolean {
  return pos >= 0 && pos + s.length <= data.length && data.endsWith(s, pos + s.length);
}

/** No backslash, quote or control character in s[from, to): the JSON literal's text is the characters themselves. */
function plainLiteral(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** s[from, to) a string literal's inside with escapes: every quote escaped, no control character, none left open. */
function wholeLiteral(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      if (++i >= to) return false;
    } else if (c < 0x20 || c === 0x22) {
      return false;
    }
  }
  return true;
}

/** Which of the usage keys data[from, to) is, without slicing it out; null for any other. */
function usageKey(data: string, from: number, to: number): string | null {
  for (const key of USAGE_KEYS) {
    if (to - from === key.length && data.endsWith(key, to)) return key;
  }
  return null;
}

/**
 * `"key":<digits>` pairs between from and to (a flat object's inside) with prompt_tokens and completion_tokens;
 * null for anything else (a nested object, a sign, a fraction, an unknown key).
 */
function flatUsage(data: string, from: number, to: number): TokenUsage | null {
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
