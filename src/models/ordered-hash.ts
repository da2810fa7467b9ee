// The hash of a file fetched in one stream, on the main thread: SHA-256 takes bytes in order, so it follows the
// file's written prefix — bytes written where it stands are hashed from memory as they arrive (nothing is read
// back); a resumed file's earlier bytes are read back from disk first, in large blocks. Files fetched in parts
// are hashed on a worker thread instead (hash-threads.ts).
import { createHash, type Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { Part } from "./file-parts.js";
import type { FileHash } from "./hash-threads.js";
import type { HubFile } from "./hub-api.js";

const READ_BLOCK = 8 * 1024 * 1024;

export class OrderedHash implements FileHash {
  private readonly hash: Hash;
  private hashed = 0;
  private pumping: Promise<void> | null = null;
  private failure: unknown = null;
  private block: Buffer | null = null;

  constructor(
    private readonly file: HubFile,
    private readonly fh: FileHandle,
    private readonly parts: readonly Part[],
  ) {
    this.hash = createHash(file.hash.kind === "sha256" ? "sha256" : "sha1");
    if (file.hash.kind === "git-sha1") this.hash.update(`blob ${file.size}\0`);
    this.catchUp();
  }

  /** Bytes [pos, pos + n) are on disk (and counted in `parts`); `chunks` held them. */
  written(pos: number, chunks: readonly Buffer[], n: number): void {
    if (pos === this.hashed && this.pumping === null) {
      for (const c of chunks) this.hash.update(c);
      this.hashed += n;
    }
    this.catchUp();
  }

  /** The hex digest once every byte is hashed; call after the last write. */
  async digest(): Promise<string> {
    this.catchUp();
    while (this.pumping) await this.pumping;
    this.block = null;
    if (this.failure !== null) throw this.failure;
    if (this.hashed !== this.file.size)
      throw new Error(`hashed ${this.hashed} of ${this.file.size} bytes: the parts are not all written`);
    return this.hash.digest("hex");
  }

  /** Waits for a read-back in progress (before the file is closed, started over or deleted). */
  async discard(): Promise<void> {
    while (this.pumping) await this.pumping.catch(() => undefined);
  }

  /** End of the bytes written without a gap from byte 0. */
  private prefixEnd(): number {
    for (const p of this.parts) if (p.written < p.end - p.start) return p.start + p.written;
    return this.file.size;
  }

  private catchUp(): void {
    if (this.pumping !== null || this.failure !== null || this.hashed >= this.prefixEnd()) return;
    this.pumping = this.readBack()
      .catch((err: unknown) => {
        this.failure = err;
      })
      .finally(() => {
        this.pumping = null;
        this.catchUp();
      });
  }

  private async readBack(): Promise<void> {
    for (let end = this.prefixEnd(); this.hashed < end; end = this.prefixEnd()) {
      this.block ??= Buffer.allocUnsafe(READ_BLOCK);
      const want = Math.min(READ_BLOCK, end - this.hashed);
      const { bytesRead } = await this.fh.read(this.block, 0, want, this.hashed);
      if (bytesRead === 0) throw new Error(`the file ended at ${this.hashed} bytes while reading it back`);
      this.hash.update(this.block.subarray(0, bytesRead));
      this.hashed += bytesRead;
    }
  }
}
