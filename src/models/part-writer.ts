// Where one response body goes: its chunks are gathered into large positioned writes (a writev of 512 KiB,
// not one write per 64 kB network read), one write in flight at a time in libuv's pool, so the socket is
// paused only when the disk falls behind. Bytes are counted as they arrive (progress) and handed to the
// hash once on disk. A body that would pass the end it was asked for is stopped before the extra byte is kept.
import type { FileHandle } from "node:fs/promises";
import { Writable } from "node:stream";

// Larger batches measured no faster and hold more memory per connection (more garbage collection).
const BATCH = 512 * 1024;
// A slow or stalled body still reaches the disk, so a resume (or Ctrl-C) starts from the last byte received.
const IDLE_FLUSH_MS = 100;

export interface WriteTarget {
  fh: FileHandle;
  /** File position of the body's first byte. */
  pos: number;
  /** The body must stop before this file position. */
  end: number;
  onBytes(n: number): void;
  onWritten(pos: number, chunks: readonly Buffer[], n: number): void;
}

export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** The body ran past `end`. */
export class OversizeSignal extends Error {}

export class PartWriter extends Writable {
  private stash: Buffer[] = [];
  private stashed = 0;
  private next: number; // file position of the first stashed byte
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly t: WriteTarget) {
    super({ highWaterMark: 2 * BATCH });
    this.next = t.pos;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.take([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.take(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.flush().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (err instanceof OversizeSignal) {
      this.clearTimer();
      cb(err);
      return;
    }
    // What arrived before a cut or an abort is good: it goes to disk before the error is reported.
    this.flush().then(
      () => cb(err),
      (writeErr: Error) => cb(err ?? writeErr),
    );
  }

  private take(list: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.failure !== null) {
      cb(this.failure as Error);
      return;
    }
    let n = 0;
    for (const c of list) n += c.length;
    if (this.next + this.stashed + n > this.t.end) {
      cb(new OversizeSignal());
      return;
    }
    for (const c of list) this.stash.push(c);
    this.stashed += n;
    this.t.onBytes(n);
    if (this.stashed >= BATCH) {
      this.flush().then(() => cb(), cb);
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush().catch(() => undefined); // the failure is kept and reported by the next write
    }, IDLE_FLUSH_MS);
    cb();
  }

  private flush(): Promise<void> {
    this.clearTimer();
    if (this.stashed === 0) return this.chain;
    const chunks = this.stash;
    const pos = this.next;
    const n = this.stashed;
    this.stash = [];
    this.stashed = 0;
    this.next += n;
    this.chain = this.chain.then(async () => {
      try {
        await writeAll(this.t.fh, chunks, pos, n);
      } catch (err) {
        this.failure = err;
        throw err;
      }
      this.t.onWritten(pos, chunks, n);
    });
    return this.chain;
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }
}

/** libuv stops short, without an error, when a write fails after some bytes (ENOSPC): the rest says why. */
async function writeAll(fh: FileHandle, chunks: Buffer[], pos: number, n: number): Promise<void> {
  let done = (await fh.writev(chunks, pos)).bytesWritten;
  while (done < n) {
    const rest = Buffer.concat(chunks).subarray(done);
    const wrote = (await fh.write(rest, 0, rest.length, pos + done)).bytesWritten;
    if (wrote === 0) throw new Error(`the disk took ${done} of ${n} bytes and then none`);
    done += wrote;
  }
}
