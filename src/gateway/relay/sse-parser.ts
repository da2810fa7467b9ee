/**
 * Splits an SSE byte stream into events as bytes arrive. Returns each complete event's `data` (the data lines
 * joined by "\n"); events without data (comments, keep-alives) are skipped. Partial events and partial UTF-8
 * sequences wait for the next chunk, so an event is handed on the moment its last byte arrives.
 */
export class SseParser {
  private readonly decoder = new Utf8StreamDecoder();
  private buffer = "";
  /**
   * After push(): true when that read was exactly its events, each framed as `data: <data>\n\n` (no partial
   * event before or after it, no other line, no CR, no decoding fix-up), so its bytes are the frames a relay
   * would rebuild from the returned data.
   */
  verbatim = false;

  push(chunk: Uint8Array): string[] {
    const text = this.decoder.write(chunk);
    const fresh = this.buffer === "";
    this.buffer += text;
    const events = this.drain();
    this.verbatim =
      fresh &&
      this.simple &&
      this.buffer === "" &&
      // "d" first and "\n" last: no BOM dropped, no partial UTF-8 carried into or out of this read.
      chunk[0] === 0x64 &&
      chunk[chunk.length - 1] === 0x0a &&
      !text.includes("\uFFFD");
    return events;
  }

  /** The end of the stream: whatever complete event is left (an unterminated last event counts). */
  end(): string[] {
    this.buffer += this.decoder.end();
    const events = this.drain();
    if (this.buffer.trim() !== "") {
      const data = dataOf(this.buffer);
      if (data !== null) events.push(data);
    }
    this.buffer = "";
    this.verbatim = false;
    return events;
  }

  /** Whether every block the last drain() cut was one `data: ` line. */
  private simple = false;

  private drain(): string[] {
    const events: string[] = [];
    let simple = true;
    let buffer = this.buffer;
    if (buffer.includes("\r")) {
      if (buffer.includes("\r\n")) buffer = buffer.replace(/\r\n/g, "\n");
      simple = false;
    }
    let start = 0;
    let cut = buffer.indexOf("\n\n");
    while (cut >= 0) {
      const newline = buffer.indexOf("\n", start);
      if (newline === cut && buffer.startsWith("data: ", start)) {
        // The common case: one "data: " line.
        events.push(buffer.slice(start + 6, cut));
      } else {
        simple = false;
        const data = dataOf(buffer.slice(start, cut));
        if (data !== null) events.push(data);
      }
      start = cut + 2;
      cut = buffer.indexOf("\n\n", start);
    }
    this.buffer = start === 0 ? buffer : buffer.slice(start);
    this.simple = simple;
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

const STREAM = { stream: true } as const;

/**
 * Decodes a UTF-8 byte stream read by read, exactly as a default `TextDecoder` with `{ stream: true }` (a leading
 * BOM dropped, a character split across reads given whole in the later one, bad bytes replaced by U+FFFD). A read
 * on character boundaries, as an engine's SSE read is (it ends with "\n"), goes through Buffer#toString, which is
 * cheaper; only a read that ends inside a character, or follows one that did, goes through the TextDecoder.
 */
export class Utf8StreamDecoder {
  // The BOM is ours to drop (below): the TextDecoder may first see the stream in its middle.
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** Whether the TextDecoder may hold the first bytes of a character (its last read ended in a non-ASCII byte). */
  private pending = false;
  private atStart = true;

  write(chunk: Uint8Array): string {
    const n = chunk.length;
    if (n === 0) return "";
    let text: string;
    if (!this.pending && (chunk[n - 1] as number) < 0x80) {
      // Nothing carried in, nothing carried out: the read is whole characters (or bad bytes, replaced alike).
      text = Buffer.from(chunk.buffer, chunk.byteOffset, n).toString("utf8");
    } else {
      text = this.decoder.decode(chunk, STREAM);
      this.pending = (chunk[n - 1] as number) >= 0x80;
    }
    return this.dropBom(text);
  }

  /** The end of the stream: a character left incomplete becomes U+FFFD. A later write starts a new stream. */
  end(): string {
    const text = this.dropBom(this.decoder.decode());
    this.pending = false;
    this.atStart = true;
    return text;
  }

  /** A BOM is dropped only as the stream's first character, as TextDecoder does. */
  private dropBom(text: string): string {
    if (!this.atStart || text === "") return text;
    this.atStart = false;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}
