// Each generation body rendered into the block hasher in a stable order that keeps shared prefixes shared: the
// tools first (chat templates put them at the top of the prompt), then each message as role and text, each
// rendered from itself only, so a conversation's next request starts with the previous one's blocks. The engine's
// own chat template is unknown here; the separators only keep "ab"+"c" apart from "a"+"bc".
import { isRecord } from "../wire/json-values.js";
import { BlockHasher } from "./prefix-blocks.js";

const MESSAGE = "\u241e"; // record separator
const FIELD = "\u241f"; // unit separator

function saltOf(body: Record<string, unknown>): string {
  return typeof body.cache_salt === "string" ? body.cache_salt : "";
}

function renderTools(h: BlockHasher, tools: unknown): void {
  if (Array.isArray(tools) && tools.length > 0) h.text(`${MESSAGE}tools${FIELD}${JSON.stringify(tools)}`);
}

/** A message's content: a string, or parts (text parts as their text, any other part as its JSON). */
function renderContent(h: BlockHasher, content: unknown): void {
  if (typeof content === "string") {
    h.text(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content) {
    if (h.full) return;
    if (isRecord(part) && typeof part.text === "string") h.text(part.text);
    else h.text(`${FIELD}${JSON.stringify(part)}`);
  }
}

function renderMessage(h: BlockHasher, m: unknown): void {
  if (!isRecord(m)) return;
  h.text(`${MESSAGE}${typeof m.role === "string" ? m.role : ""}${FIELD}`);
  renderContent(h, m.content);
  if (m.tool_calls !== undefined) h.text(`${FIELD}${JSON.stringify(m.tool_calls)}`);
  if (typeof m.tool_call_id === "string") h.text(`${FIELD}${m.tool_call_id}`);
}

function renderMessages(h: BlockHasher, messages: unknown): void {
  if (!Array.isArray(messages)) return;
  for (const m of messages) {
    if (h.full) return;
    renderMessage(h, m);
  }
}

/** POST /v1/chat/completions and /llm: tools, then the messages. */
export function chatBlocks(body: Record<string, unknown>): Int32Array {
  const h = new BlockHasher(saltOf(body));
  renderTools(h, body.tools);
  renderMessages(h, body.messages);
  return h.blocks();
}

/** POST /v1/completions: the prompt's text, or its token ids 16 to a block (one prompt: completion-request.ts). */
export function completionBlocks(body: Record<string, unknown>): Int32Array {
  const h = new BlockHasher(saltOf(body));
  const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
  if (typeof prompt === "string") h.text(prompt);
  else if (Array.isArray(prompt)) h.tokens(prompt as number[]);
  return h.blocks();
}

/** POST /v1/responses: instructions, tools, then the input (a string, or items: messages as in chat, others as JSON). */
export function responsesBlocks(body: Record<string, unknown>): Int32Array {
  const h = new BlockHasher(saltOf(body));
  if (typeof body.instructions === "string") h.text(`${MESSAGE}instructions${FIELD}${body.instructions}`);
  renderTools(h, body.tools);
  const input = body.input;
  if (typeof input === "string") h.text(`${MESSAGE}user${FIELD}${input}`);
  else if (Array.isArray(input)) {
    for (const item of input) {
      if (h.full) break;
      if (isRecord(item) && typeof item.role === "string") renderMessage(h, item);
      else h.text(`${MESSAGE}${JSON.stringify(item)}`);
    }
  }
  return h.blocks();
}
