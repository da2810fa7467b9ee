// A file fetched out of order still gets the hash of its bytes in order: on the main thread for one stream
// (OrderedHash, reading back a resumed prefix) and on a worker thread for parts (HashThreads). The git blob
// sha1 of "Hello, World!" is b45ef6fe… (huggingface_hub utils/sha.py, git_hash's docstring).
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Part, splitFile } from "./file-parts.js";
import { type FileHash, HashThreads } from "./hash-threads.js";
import type { HubFile } from "./hub-api.js";
import { OrderedHash } from "./ordered-hash.js";

const CONTENT = randomBytes(1_000_000);
const SHA = createHash("sha256").update(CONTENT).digest("hex");
const lfs: HubFile = {
  path: "w.safetensors",
  size: CONTENT.length,
  etag: SHA,
  hash: { kind: "sha256", value: SHA },
};

let dir: string;
let file: string;
const threads = new HashThreads(1);
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "llmr-hash-"));
  file = path.join(dir, "data");
  writeFileSync(file, "");
});
afterEach(async () => {
  await threads.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes bytes [start, end) of CONTENT to the file, counts them in `parts` and tells the hash, as a part does. */
async function write(hash: FileHash, parts: Part[], start: number, end: number): Promise<void> {
  const fh = await open(file, "r+");
  await fh.write(CONTENT, start, end - start, start);
  await fh.close();
  const part = parts.find((p) => p.start <= start && start < p.end) as Part;
  part.written += end - start;
  hash.written(start, [CONTENT.subarray(start, end)], end - start);
}

describe.each([
  ["on the main thread (OrderedHash)", "main"],
  ["on a worker thread (HashThreads)", "worker"],
] as const)("hashing %s", (_name, where) => {
  const make = async (f: HubFile, parts: Part[]) => {
    const fh = await open(file, "r+");
    return where === "main"
      ? { hash: new OrderedHash(f, fh, parts), fh }
      : { hash: threads.open(f, file, parts), fh };
  };

  it("gives the SHA-256 of the whole file when its parts land out of order", async () => {
    const parts = splitFile(CONTENT.length, 300_000); // 0-300k, 300k-600k, 600k-900k, 900k-1M
    const { hash, fh } = await make(lfs, parts);
    await write(hash, parts, 600_000, 900_000);
    await write(hash, parts, 300_000, 450_000);
    await write(hash, parts, 0, 300_000);
    await write(hash, parts, 900_000, 1_000_000);
    await write(hash, parts, 450_000, 600_000);
    expect(await hash.digest()).toBe(SHA);
    await fh.close();
  });

  it("refuses to give a digest while a part is missing", async () => {
    const parts = splitFile(CONTENT.length, 500_000);
    const { hash, fh } = await make(lfs, parts);
    await write(hash, parts, 500_000, 1_000_000);
    await expect(hash.digest()).rejects.toThrow(/0 of 1000000 bytes|the parts are not all/);
    await fh.close();
  });

  it("hashes small files as git does (blob <size>\\0 first)", async () => {
    const hello = Buffer.from("Hello, World!");
    writeFileSync(file, hello);
    const sha1 = "b45ef6fec89518d314f546fd6c3025367b721684";
    const f: HubFile = {
      path: "h.txt",
      size: hello.length,
      etag: sha1,
      hash: { kind: "git-sha1", value: sha1 },
    };
    // Everything was written by an earlier run: the hash reads it back.
    const parts = [{ start: 0, end: hello.length, written: hello.length }];
    const { hash, fh } = await make(f, parts);
    expect(await hash.digest()).toBe(sha1);
    await fh.close();
  });
});

describe("a hash thread that fails", () => {
  // Without these, digest() waited for a reply that never came: once nothing else was pending, Node exited, and
  // `pull` ended with code 0 and no snapshot (seen with a build that lacked hash-worker.cjs).
  const parts = () => splitFile(CONTENT.length, 300_000);
  const finish = (hash: FileHash, p: Part[]) => Promise.all(p.map((q) => write(hash, p, q.start, q.end)));

  it("cannot start: the digest fails and says why", async () => {
    const broken = new HashThreads(1, new URL("./no-such-hash-worker.cjs", import.meta.url));
    try {
      const p = parts();
      const hash = broken.open(lfs, file, p);
      await finish(hash, p);
      await expect(hash.digest()).rejects.toThrow(
        /hash thread .*no-such-hash-worker\.cjs|Cannot find module/,
      );
    } finally {
      await broken.close();
    }
  });

  it("dies mid-file: the digest fails and says so, and later files fail at once", async () => {
    const script = path.join(dir, "dying-worker.cjs");
    writeFileSync(
      script,
      'require("node:worker_threads").parentPort.on("message", () => process.exit(7));\n',
    );
    const dying = new HashThreads(1, new URL(`file://${script}`));
    try {
      const p = parts();
      const hash = dying.open(lfs, file, p);
      await finish(hash, p);
      await expect(hash.digest()).rejects.toThrow(/hash thread stopped \(exit code 7\)/);
      const q = parts();
      const next = dying.open(lfs, file, q);
      await finish(next, q);
      await expect(next.digest()).rejects.toThrow(/hash thread stopped \(exit code 7\)/);
    } finally {
      await dying.close();
    }
  });
});
