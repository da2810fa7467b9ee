/**
 * The longest SSE line the runner sends, in bytes without its newline. go-livepeer reads /llm streams with Go's
 * bufio.Scanner (ai/worker/worker.go, handleStreamingResponse), whose default limit is 64 KiB per line with the
 * newline: a longer line stops the read with "token too long" and the user's stream ends there.
 */
export const MAX_SSE_LINE_BYTES = 64 * 1024 - 1;

/** UTF-8 bytes of `s` inside a JSON string literal (escapes included). */
function escapedBytes(s: string): number {
  return Buffer.byteLength(JSON.stringify(s)) - 2;
}

/**
 * Cuts `text` into pieces whose JSON-escaped UTF-8 form is at most `budget` bytes each, never inside a code
 * point (a surrogate pair stays whole). The pieces joined are `text`.
 */
export function splitForBudget(text: string, budget: number): string[] {
  if (budget < 12)
    throw new RangeError(`an SSE text budget of ${budget} bytes cannot hold one escaped character`);
  const pieces: string[] = [];
  let start = 0;
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.codePointAt(i) as number;
    const width = code > 0xffff ? 2 : 1;
    const cost = escapedBytes(text.slice(i, i + width));
    if (used + cost > budget) {
      pieces.push(text.slice(start, i));
      start = i;
      used = 0;
    }
    used += cost;
    i += width;
  }
  if (start < text.length || pieces.length === 0) pieces.push(text.slice(start));
  return pieces;
}

/** Whether the frame "data: …\n\n" has a line longer than MAX_SSE_LINE_BYTES (cheap when it is short). */
export function frameTooLong(frame: string): boolean {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most frames are decided without counting.
  if (frame.length * 3 <= MAX_SSE_LINE_BYTES) return false;
  return Buffer.byteLength(frame) - 2 > MAX_SSE_LINE_BYTES;
}
