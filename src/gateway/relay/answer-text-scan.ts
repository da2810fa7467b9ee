import type { CompletionKind } from "./answer-assembler.js";
import { plainLiteral } from "./llm-chunk-scan.js";

// The text chunk of a stream the gateway assembles into a non-streaming answer (no continuous usage: the engine
// body of openai-generation.ts asks only for the final usage chunk), read from its end. vLLM writes the choice
// in this key order (serving_chat.py / serving_completion.py; the simulator's responses.py the same):
//   chat:       …,"choices":[{"index":0,"delta":{"content":"<text>"},"logprobs":null,"finish_reason":null}]}
//   completion: …,"choices":[{"index":0,"text":"<text>","logprobs":null,"finish_reason":null[,"stop_reason":null]}]}
const OPEN: Record<CompletionKind, string> = {
  chat: '"choices":[{"index":0,"delta":{"content":"',
  completion: '"choices":[{"index":0,"text":"',
};
const CLOSE: Record<CompletionKind, readonly string[]> = {
  chat: ['"},"logprobs":null,"finish_reason":null}]}'],
  completion: [
    '","logprobs":null,"finish_reason":null}]}',
    '","logprobs":null,"finish_reason":null,"stop_reason":null}]}',
  ],
};

/**
 * The text of a chunk that carries nothing else for AnswerAssembler (one choice, index 0, no finish_reason, no
 * logprobs, no tool call or reasoning, no usage, no error), without JSON.parse; null when the chunk must be
 * parsed in full. The choice is read from the chunk's end: with an unescaped text literal, everything from
 * `"choices":` to the last `}` is the frame above, so `choices` is a key of the object the chunk's last brace
 * closes (the top level; a duplicate key earlier in the head loses to it in JSON.parse too). Like the stream
 * relays' scans, the head (id, object, created, model) is not validated byte by byte; the caller reads it from
 * a chunk it parsed in full (AnswerAssembler.hasHead).
 */
export function scanAnswerText(data: string, kind: CompletionKind): string | null {
  if (data.charCodeAt(0) !== 0x7b) return null; // {
  let close = -1;
  for (const tail of CLOSE[kind]) {
    if (data.endsWith(tail)) {
      close = data.length - tail.length;
      break;
    }
  }
  if (close < 0) return null;
  const open = OPEN[kind];
  const at = data.lastIndexOf(open, close);
  if (at < 1 || at + open.length > close) return null;
  const text = data.slice(at + open.length, close);
  if (!plainLiteral(text)) return null;
  // An error event is skipped whole by the assembler: leave it to the full parse.
  if (data.lastIndexOf('"error":', at) >= 0) return null;
  return text;
}
