/**
 * Splits an SSE byte stream into events as bytes arrive. Returns each complete event's `data` (the data lines
 * joined by "\n"); events without data (comments, keep-alives) are skipped. Partial events and partial UTF-8
 * sequences wait for the next chunk, so an event is handed on the moment its last byte arrives.
 */
export class SseParser {
  private readonly decoder = new TextDecoder();
  private buffer = "";

  push(chunk: Uint8Array): string[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    return this.drain();
  }

  /** The end of the stream: whatever complete event is left (an unterminated last event counts). */
  end(): string[] {
    this.buffer += this.decoder.decode();
    const events = this.drain();
    if (this.buffer.trim() !== "") {
      const data = dataOf(this.buffer);
      if (data !== null) events.push(data);
    }
    this.buffer = "";
    return events;
  }

  private drain(): string[] {
    const events: string[] = [];
    if (this.buffer.includes("\r\n")) this.buffer = this.buffer.replace(/\r\n/g, "\n");
    let cut = this.buffer.indexOf("\n\n");
    while (cut >= 0) {
      const data = dataOf(this.buffer.slice(0, cut));
      if (data !== null) events.push(data);
      this.buffer = this.buffer.slice(cut + 2);
      cut = this.buffer.indexOf("\n\n");
    }
    return events;
  }
}

function dataOf(block: string): string | null {
  const lines: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("data:")) lines.push(line.slice(line[5] === " " ? 6 : 5));
  }
  return lines.length === 0 ? null : lines.join("\n");
}
