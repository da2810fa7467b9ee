// Hashing off the main thread for files fetched in parts (hash-worker.cjs): the main thread posts how far each
// file's written prefix reaches, a worker reads those bytes back and hashes them. Up to 4 threads, one fewer
// than the cores, each file on one of them; started on first use, stopped by close() when the pull ends. A
// thread that fails to start, throws or exits fails every digest that waits on it, then and later: a reply
// that never comes would leave the pull waiting on nothing.
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

interface Waiter {
  thread: number;
  resolve(digest: string): void;
  reject(err: Error): void;
}

export class HashThreads {
  private readonly workers: Worker[] = [];
  // Why a thread can no longer answer (it failed to start, threw or exited): its digests fail with this at once.
  private readonly failures = new Map<number, Error>();
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 0;

  constructor(
    private readonly count = Math.max(1, Math.min(4, availableParallelism() - 1)),
    private readonly script = new URL("./hash-worker.cjs", import.meta.url),
  ) {}

  /** Hashes `path` (a file of `parts`) on a worker as the parts report their bytes written. */
  open(file: HubFile, path: string, parts: readonly Part[]): FileHash {
    const id = this.nextId++;
    const thread = id % this.count;
    const worker = this.worker(thread);
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
          const failure = this.failures.get(thread);
          if (failure) throw failure;
          this.waiting.set(id, { thread, resolve, reject });
          worker.postMessage({ op: "digest", id, end: file.size });
        }),
      discard: async () => {
        worker.postMessage({ op: "close", id });
      },
    };
  }

  async close(): Promise<void> {
    const stopping = this.workers.splice(0); // their exits are not failures
    this.failures.clear();
    await Promise.all(stopping.map((w) => w.terminate()));
  }

  private worker(i: number): Worker {
    const existing = this.workers[i];
    if (existing) return existing;
    const w = new Worker(this.script);
    w.on("message", (r: Reply) => {
      const waiter = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      if ("digest" in r) waiter?.resolve(r.digest);
      else waiter?.reject(new Error(r.error));
    });
    w.on("error", (err) => {
      if (this.workers[i] === w)
        this.fail(
          i,
          new Error(
            `the hash thread (${this.script.pathname}) failed: ${err.message}; run the command again, it resumes (when the message names a missing file, the installation is incomplete: run npm run build first)`,
          ),
        );
    });
    w.on("exit", (code) => {
      if (this.workers[i] === w)
        this.fail(
          i,
          new Error(`the hash thread stopped (exit code ${code}); run the command again, it resumes`),
        );
    });
    this.workers[i] = w;
    return w;
  }

  /** Thread i is gone: every digest waiting on it, and every later one, fails with `err`. */
  private fail(i: number, err: Error): void {
    const reason = this.failures.get(i) ?? err; // the first word (an error, then its exit) is the reason
    this.failures.set(i, reason);
    for (const [id, waiter] of this.waiting) {
      if (waiter.thread !== i) continue;
      this.waiting.delete(id);
      waiter.reject(reason);
    }
  }
}
