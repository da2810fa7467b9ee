import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isSnapshotComplete, linkSnapshotFile, readLocalSnapshot, repoCache, writeRef } from "./hf-cache.js";

const COMMIT = "a".repeat(40);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function cacheWith(files: Record<string, string>, opts: { ref?: boolean } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "llmr-hfcache-"));
  dirs.push(dir);
  const cache = repoCache(dir, "acme/m");
  mkdirSync(path.join(cache.repoDir, "blobs"), { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const etag = `etag-${name.replaceAll("/", "_")}`;
    writeFileSync(cache.blobPath(etag), content);
    await linkSnapshotFile(cache, COMMIT, name, etag);
  }
  if (opts.ref !== false) await writeRef(cache, "main", COMMIT);
  return { dir, cache };
}

describe("the hub cache layout", () => {
  it("links snapshot files relatively into blobs/ and writes refs/main without a newline", async () => {
    const { dir, cache } = await cacheWith({ "config.json": "{}", "sub/x.json": "1" });
    const snap = readLocalSnapshot(dir, "acme/m");
    expect(snap?.commit).toBe(COMMIT);
    expect([...(snap?.files.keys() ?? [])].sort()).toEqual(["config.json", "sub/x.json"]);
    expect(snap?.files.get("sub/x.json")).toBe(cache.blobPath("etag-sub_x.json"));
  });

  it("has no snapshot without refs/main", async () => {
    const { dir } = await cacheWith({ "config.json": "{}" }, { ref: false });
    expect(readLocalSnapshot(dir, "acme/m")).toBeNull();
  });

  it("is complete with config.json and every shard the index names, not before", async () => {
    const index = JSON.stringify({ weight_map: { a: "m-1.safetensors", b: "m-2.safetensors" } });
    const partial = await cacheWith({
      "config.json": "{}",
      "model.safetensors.index.json": index,
      "m-1.safetensors": "w",
    });
    expect(isSnapshotComplete(readLocalSnapshot(partial.dir, "acme/m") as never)).toBe(false);
    const full = await cacheWith({
      "config.json": "{}",
      "model.safetensors.index.json": index,
      "m-1.safetensors": "w",
      "m-2.safetensors": "w",
    });
    expect(isSnapshotComplete(readLocalSnapshot(full.dir, "acme/m") as never)).toBe(true);
  });

  it("is not complete without weights, or when a link's blob is gone", async () => {
    const noWeights = await cacheWith({ "config.json": "{}", "tokenizer.json": "{}" });
    expect(isSnapshotComplete(readLocalSnapshot(noWeights.dir, "acme/m") as never)).toBe(false);
    const dangling = await cacheWith({ "config.json": "{}" });
    symlinkSync("../../blobs/gone", path.join(dangling.cache.snapshotDir(COMMIT), "model.safetensors"));
    expect(isSnapshotComplete(readLocalSnapshot(dangling.dir, "acme/m") as never)).toBe(false);
  });
});
