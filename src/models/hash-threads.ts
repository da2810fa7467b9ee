// Hashing off the main thread for files fetched in parts (hash-worker.cjs): the main thread posts how far each
// file's written prefix reaches, a worker reads those bytes back and hashes them. Up to 4 threads, one fewer
// than the cores, each file on one of them; started on first use, stopped by close() when the pull ends.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Part } from "./file-parts.js";
import type { HubFile } from "./hub-api.js";

// Posting less often than every write: each message wakes the worker.
const POST_EVERY = 4 * 1024 * 1024;

/** The hash of one file as its bytes reach the disk. */
export interface FileHash {
  /** Bytes [pos, pos + n) are on disk (and counted in the parts); `chunks` held them. */
  written(pos: number, chunks: readonly Buffer[], n: number): void;
  digest(): Promise<string>;
  /** Stops using the file (it is started over or deleted). */
  discard(): Promise<void>;
}

type Reply = { id: number; digest: string } | { id: number; error: string };

export class HashThreads {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve(d: string): void; reject(e: Error): void }>();
  private nextId = 0;

  constructor(private readonly count = Math.max(1, Math.min(4, availableParallelism() - 1))) {}

  /** Hashes `path` (a file of `parts`) on a worker as the parts report their bytes written. */
  open(file: HubFile, path: string, parts: readonly Part[]): FileHash {
    const id = this.nextId++;
    const worker = this.worker(id % this.count);
    const algo = file.hash.kind === "sha256" ? "sha256" : "sha1";
    const prelude = file.hash.kind === "git-sha1" ? `blob ${file.size}\0` : null;
    worker.postMessage({ op: "open", id, path, algo, prelude });
    let posted = 0;
    const prefixEnd = () => {
      for (const p of parts) if (p.written < p.end - p.start) return p.start + p.written;
      return file.size;
    };
    const post = () => {
      const end = prefixEnd();
      if (end > posted && (end - posted >= POST_EVERY || end === file.size)) {
        worker.postMessage({ op: "upto", id, end });
        posted = end;
      }
    };
    post(); // a resumed file: what an earlier run wrote
    return {
      written: post,
      digest: () =>
        new Promise<string>((resolve, reject) => {
          if (prefixEnd() !== file.size)
            throw new Error(`${prefixEnd()} of ${file.size} bytes are written: the parts are not all done`);
          this.waiting.set(id, { resolve, reject });
          worker.postMessage({ op: "digest", id, end: file.size });
        }),
      discard: async () => {
        worker.postMessage({ op: "close", id });
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }

  private worker(i: number): Worker {
    const existing = this.workers[i];
    if (existing) return existing;
    const w = new Worker(new URL("./hash-worker.cjs", import.meta.url));
    w.on("message", (r: Reply) => {
      const waiter = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      if ("digest" in r) waiter?.resolve(r.digest);
      else waiter?.reject(new Error(r.error));
    });
    w.on("error", (err) => {
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
    });
    this.workers[i] = w;
    return w;
  }
}
