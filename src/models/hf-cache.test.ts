import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  inside,
  isSnapshotComplete,
  linkSnapshotFile,
  readLocalSnapshot,
  repoCache,
  writeRef,
} from "./hf-cache.js";

const COMMIT = "a".repeat(40);
const etagOf = (name: string) => createHash("sha1").update(name).digest("hex");
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
    const etag = etagOf(name);
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
    expect(snap?.files.get("sub/x.json")).toBe(cache.blobPath(etagOf("sub/x.json")));
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

// huggingface_hub names blobs by git oid or sha256 (file_download.py REGEX_COMMIT_HASH / REGEX_SHA256) and keeps
// a snapshot file's path inside the snapshot folder (_get_pointer_path).
describe("names from the hub cannot lead out of the repo folder", () => {
  const cache = repoCache("/cache", "acme/m");

  it("names blobs only by a 40-hex git oid or a 64-hex sha256", () => {
    expect(cache.blobPath("b".repeat(40))).toBe(`/cache/models--acme--m/blobs/${"b".repeat(40)}`);
    expect(cache.incompletePath("c".repeat(64))).toBe(
      `/cache/models--acme--m/blobs/${"c".repeat(64)}.incomplete`,
    );
    for (const bad of ["../../etc/passwd", "B".repeat(40), "b".repeat(39), `${"b".repeat(40)}/x`, ""])
      expect(() => cache.blobPath(bad)).toThrow(/refusing the blob name .*: not a 40- or 64-hex-digit hash/);
  });

  it("keeps snapshot files, snapshots and refs inside their folders", async () => {
    expect(inside("/a/b", "c/d.json")).toBe("/a/b/c/d.json");
    expect(inside("/a/b", "/etc/passwd")).toBe("/a/b/etc/passwd"); // joined, not taken as absolute
    for (const bad of ["../x", "c/../../x", "", "."])
      expect(() => inside("/a/b", bad)).toThrow(/it leads out of \/a\/b/);
    expect(() => cache.snapshotDir("../../x")).toThrow(/leads out of/);
    expect(() => cache.refPath("../main")).toThrow(/leads out of/);
    await expect(linkSnapshotFile(cache, COMMIT, "../escape.json", "b".repeat(40))).rejects.toThrow(
      /leads out of/,
    );
  });

  it("reads no snapshot when refs/main leads out of snapshots/", async () => {
    const { dir, cache: c } = await cacheWith({ "config.json": "{}" });
    writeFileSync(c.refPath("main"), "../../..");
    expect(readLocalSnapshot(dir, "acme/m")).toBeNull();
  });
});
