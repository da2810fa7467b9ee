// Reads an OpenAI-style SSE stream as it arrives and times its token events the way `vllm bench serve` does:
// TTFT = request sent -> first event carrying generated text; ITL = the gap between consecutive text events
// (events that arrive in the same read share one timestamp, so a gap of 0 means they came in one TCP read);
// TPOT = (end-to-end - TTFT) / (tokens - 1). vLLM's role-only first chunk carries no text; the engine sends it
// in the same write as the first token, so counting from it would give the same TTFT.

export class SseReader {
  /** @param {number} startedAt performance.now() when the request was sent */
  constructor(startedAt) {
    this.startedAt = startedAt;
    this.buffer = "";
    this.dataEvents = 0; // every `data:` event except [DONE]
    this.contentEvents = 0; // events whose choices[0] carries non-empty text
    this.firstAt = null;
    this.lastAt = null;
    this.gaps = []; // ms between consecutive content events
    this.contentTimes = []; // arrival time of every content event
    this.usageTokens = null; // the last usage.completion_tokens seen
    this.done = false; // saw data: [DONE]
    this.error = null; // the first error object the stream carried
  }

  /** Feeds one decoded read; `at` is its arrival time. */
  push(text, at) {
    let buf = this.buffer + text;
    if (buf.includes("\r")) buf = buf.replace(/\r\n?/g, "\n");
    let start = 0;
    for (;;) {
      const end = buf.indexOf("\n\n", start);
      if (end === -1) break;
      this.onEvent(buf.slice(start, end), at);
      start = end + 2;
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
  }

  onEvent(block, at) {
    let data = null;
    for (const line of block.split("\n")) {
      if (!line.startsWith("data:")) continue;
      const value = line.slice(line[5] === " " ? 6 : 5);
      data = data === null ? value : `${data}\n${value}`;
    }
    if (data === null || data === "") return;
    if (data === "[DONE]") {
      this.done = true;
      return;
    }
    this.dataEvents++;
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      this.error ??= `an SSE event is not JSON: ${data.slice(0, 80)}`;
      return;
    }
    if (chunk.error) this.error ??= JSON.stringify(chunk.error).slice(0, 200);
    const choice = chunk.choices?.[0];
    if (choice?.finish_reason === "error")
      this.error ??= `finish_reason error: ${JSON.stringify(chunk).slice(0, 200)}`;
    const content = choice?.delta?.content ?? choice?.text;
    if (typeof content === "string" && content !== "") {
      this.contentEvents++;
      this.contentTimes.push(at);
      if (this.firstAt === null) this.firstAt = at;
      else this.gaps.push(at - this.lastAt);
      this.lastAt = at;
    }
    const tokens = chunk.usage?.completion_tokens;
    if (typeof tokens === "number") this.usageTokens = tokens;
  }

  /** Time to first token in ms, or null when no text arrived. */
  ttft() {
    return this.firstAt === null ? null : this.firstAt - this.startedAt;
  }

  /** Time per output token after the first, in ms (vLLM's TPOT), or null for replies of one token. */
  tpot(endedAt) {
    if (this.firstAt === null || this.contentEvents < 2) return null;
    return (endedAt - this.firstAt) / (this.contentEvents - 1);
  }
}
