/**
 * The engine's metrics text, kept for a short while per engine: /metrics is public, and without this every
 * scrape (or a flood of them) would be one more request to the engine. Scrapes that arrive while one is under
 * way share it.
 */
export class ScrapeCache {
  private readonly entries = new Map<string, { at: number; text: Promise<string> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The text cached under `key` when younger than the TTL; otherwise `load()`'s (a failed load is kept too). */
  get(key: string, load: () => Promise<string>): Promise<string> {
    const at = this.now();
    const hit = this.entries.get(key);
    if (hit !== undefined && at - hit.at < this.ttlMs) return hit.text;
    // Stale entries go, so engines of older generations are not kept.
    for (const [k, e] of this.entries) if (at - e.at >= this.ttlMs) this.entries.delete(k);
    const text = load().catch(() => "");
    this.entries.set(key, { at, text });
    return text;
  }
}
