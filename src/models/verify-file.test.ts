// A blob already in the cache counts only when it checks out as `hf cache verify` checks one (huggingface_hub
// utils/_verification.py): sha256 of the bytes for LFS files, git's blob sha1 otherwise — git_hash in
// utils/sha.py, whose docstring gives git_hash(b"Hello, World!") == "b45ef6fec89518d314f546fd6c3025367b721684".
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HubFile } from "./hub-api.js";
import { isVerifiedBlob } from "./verify-file.js";

const HELLO = Buffer.from("Hello, World!");
const gitFile: HubFile = {
  path: "hello.txt",
  size: HELLO.length,
  etag: "b45ef6fec89518d314f546fd6c3025367b721684",
  hash: { kind: "git-sha1", value: "b45ef6fec89518d314f546fd6c3025367b721684" },
};
const sha = createHash("sha256").update(HELLO).digest("hex");
const lfsFile: HubFile = {
  path: "w.safetensors",
  size: HELLO.length,
  etag: sha,
  hash: { kind: "sha256", value: sha },
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "llmr-verify-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("a blob already in the cache", () => {
  it.each([
    ["git blob sha1", gitFile],
    ["sha256", lfsFile],
  ])("is taken when its size and %s match", async (_kind, file) => {
    const blob = path.join(dir, file.etag);
    writeFileSync(blob, HELLO);
    expect(await isVerifiedBlob(file, blob)).toBe(true);
    expect(existsSync(blob)).toBe(true);
  });

  it("is missing when there is none", async () => {
    expect(await isVerifiedBlob(gitFile, path.join(dir, gitFile.etag))).toBe(false);
  });

  it.each([
    ["other bytes of the same size", Buffer.from("Hello, World?")],
    ["another size", Buffer.from("Hello")],
  ])("with %s is deleted so the pull fetches it again", async (_what, bytes) => {
    for (const file of [gitFile, lfsFile]) {
      const blob = path.join(dir, file.etag);
      writeFileSync(blob, bytes);
      expect(await isVerifiedBlob(file, blob)).toBe(false);
      expect(existsSync(blob)).toBe(false);
    }
  });

  it("as a link (even to the right bytes) is deleted, and what it pointed at is left alone", async () => {
    const elsewhere = path.join(dir, "elsewhere.txt");
    writeFileSync(elsewhere, HELLO);
    const blob = path.join(dir, gitFile.etag);
    symlinkSync(elsewhere, blob);
    expect(await isVerifiedBlob(gitFile, blob)).toBe(false);
    expect(existsSync(blob)).toBe(false);
    expect(readFileSync(elsewhere)).toEqual(HELLO);
  });
});
