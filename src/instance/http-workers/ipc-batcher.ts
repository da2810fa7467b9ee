// Under load a worker asks for, and gives back, hundreds of engine slots a second. One IPC write per message
// would be one pipe write and one JSON frame each; the messages of one turn of the event loop go as one batch.
import type { Batch } from "./messages.js";

/** Queues messages and sends them together at the end of the current turn of the event loop. */
export class IpcBatcher<M> {
  private queue: M[] = [];
  private scheduled = false;

  constructor(private readonly send: (message: M | Batch<M>) => void) {}

  post(message: M): void {
    this.queue.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what is queued now (also called before the channel closes). */
  flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    this.send(queue.length === 1 ? (queue[0] as M) : { type: "batch", messages: queue });
  }
}
