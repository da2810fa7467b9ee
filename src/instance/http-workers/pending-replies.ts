// Request and reply over the IPC channel: each request goes out under a new id, and its reply (matched by that id)
// settles it, unless a timeout or an abort did first.

export interface AskOptions<T> {
  /** Settles with onTimeout() when no reply came within this many ms. */
  timeoutMs?: number;
  onTimeout?: () => T | Promise<T>;
  /** An abort withdraws the request: onAbort(id) (tell the other side), then a rejection with the signal's reason. */
  signal?: AbortSignal;
  onAbort?: (id: number) => void;
  /** Who was asked (a worker), so that its end can settle what it owed (settleOwner). */
  owner?: number;
}

interface Pending<T> {
  resolve(value: T | Promise<T>): void;
  reject(err: unknown): void;
  owner: number | undefined;
}

export class PendingReplies<T> {
  private nextId = 0;
  private readonly pending = new Map<number, Pending<T>>();

  /** Whether a request still waits for this reply. */
  has(id: number): boolean {
    return this.pending.has(id);
  }

  /** Sends a request under a new id (`send(id)`) and settles with its reply. */
  ask(send: (id: number) => void, options: AskOptions<T> = {}): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        if (timer !== null) clearTimeout(timer);
        options.onAbort?.(id);
        reject(signal?.reason);
      };
      const done = () => {
        if (timer !== null) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      this.pending.set(id, {
        resolve: (value) => {
          done();
          resolve(value);
        },
        reject: (err) => {
          done();
          reject(err);
        },
        owner: options.owner,
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        const onTimeout = options.onTimeout;
        timer = setTimeout(() => {
          if (!this.pending.delete(id)) return;
          signal?.removeEventListener("abort", onAbort);
          if (onTimeout) resolve(onTimeout());
          else reject(new Error(`no reply within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
        timer.unref();
      }
      send(id);
    });
  }

  /** The reply to request `id`; false when nothing waits for it any more (timed out, withdrawn, answered). */
  reply(id: number, value: T): boolean {
    const waiting = this.pending.get(id);
    if (!waiting) return false;
    this.pending.delete(id);
    waiting.resolve(value);
    return true;
  }

  /** Request `id` failed on the other side. */
  fail(id: number, err: unknown): boolean {
    const waiting = this.pending.get(id);
    if (!waiting) return false;
    this.pending.delete(id);
    waiting.reject(err);
    return true;
  }

  /** Every request still waiting fails with `err` (the other side is gone). */
  failAll(err: unknown): void {
    for (const [id, waiting] of [...this.pending]) {
      this.pending.delete(id);
      waiting.reject(err);
    }
  }

  /** Every request asked of `owner` settles with `value` (it is gone: it owes nothing more). */
  settleOwner(owner: number, value: T): void {
    for (const [id, waiting] of [...this.pending]) {
      if (waiting.owner !== owner) continue;
      this.pending.delete(id);
      waiting.resolve(value);
    }
  }
}
