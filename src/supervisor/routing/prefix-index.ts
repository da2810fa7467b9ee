// Which replica recently received which prompt blocks: the approximate prefix index, as llm-d's approximate
// prefix-cache scorer keeps it (llm-d/llm-d-inference-scheduler, pkg/epp/framework/plugins/scheduling/scorer/prefix/
// README.md; the indexer: kubernetes-sigs/gateway-api-inference-extension, pkg/epp/scheduling/framework/plugins/
// multi/prefix/indexer.go: an LRU of block hashes per pod). Ours holds, per replica, at most `capacity` hashes in
// two generations (the newer takes every hash recorded; when it is half full it becomes the older and the oldest is
// dropped), an LRU to within half its size at a Set insert per block. The entries belong to one engine: a replica
// whose engine changed (restart, reload) starts empty, as its KV cache does.

/** vLLM's blocks an H100 80 GB holds for Llama 3 8B (≈ 500 k tokens / 16; llm-d's DefaultLRUCapacityPerServer). */
export const DEFAULT_INDEX_BLOCKS = 31_250;

class ReplicaBlocks {
  private newer = new Set<number>();
  private older = new Set<number>();

  constructor(
    private readonly half: number,
    /** The engine these blocks were sent to: its supervisor and generation. */
    readonly engine: object,
    readonly generation: number,
  ) {}

  get size(): number {
    return this.newer.size + this.older.size;
  }

  has(hash: number): boolean {
    return this.newer.has(hash) || this.older.has(hash);
  }

  add(hash: number): void {
    if (this.newer.has(hash)) return;
    this.newer.add(hash);
    if (this.newer.size < this.half) return;
    this.older = this.newer;
    this.newer = new Set();
  }
}

export class PrefixIndex {
  private readonly replicas = new Map<number, ReplicaBlocks>();
  private readonly half: number;

  /** `capacity`: block hashes kept per replica (its engine's KV blocks, when known). */
  constructor(readonly capacity: number = DEFAULT_INDEX_BLOCKS) {
    this.half = Math.max(1, Math.floor(capacity / 2));
  }

  /** How many leading blocks of `blocks` replica `replica`, now running `engine` at `generation`, holds. */
  match(replica: number, engine: object, generation: number, blocks: Int32Array): number {
    const held = this.current(replica, engine, generation);
    if (held === undefined) return 0;
    let n = 0;
    while (n < blocks.length && held.has(blocks[n] as number)) n += 1;
    return n;
  }

  /** The replica was sent this prompt: its engine now caches these blocks. */
  record(replica: number, engine: object, generation: number, blocks: Int32Array): void {
    let held = this.current(replica, engine, generation);
    if (held === undefined) {
      held = new ReplicaBlocks(this.half, engine, generation);
      this.replicas.set(replica, held);
    }
    for (const hash of blocks) held.add(hash);
  }

  /** Forgets a replica's blocks (its engine stopped, died, or the replica was removed). */
  drop(replica: number): void {
    this.replicas.delete(replica);
  }

  /** Block hashes held for a replica (for tests and the memory figure). */
  size(replica: number): number {
    return this.replicas.get(replica)?.size ?? 0;
  }

  /** The replica's blocks, if they were recorded for this very engine; another engine's are dropped. */
  private current(replica: number, engine: object, generation: number): ReplicaBlocks | undefined {
    const held = this.replicas.get(replica);
    if (held === undefined) return undefined;
    if (held.engine === engine && held.generation === generation) return held;
    this.replicas.delete(replica);
    return undefined;
  }
}
