// Tree entries as the hub sends them (GET /api/models/{id}/tree/{rev}; @huggingface/hub list-files.ts
// ListFileEntry): `oid` is the git blob sha1, `lfs.oid` the sha256 of an LFS file, sizes in bytes. huggingface_hub
// accepts the same hash shapes (file_download.py REGEX_COMMIT_HASH ^[0-9a-f]{40}$, REGEX_SHA256 ^[0-9a-f]{64}$).
import { describe, expect, it } from "vitest";
import { hubFileFromEntry, repoPathProblem, sizeProblem } from "./hub-file-check.js";
import { PullError } from "./pull-error.js";

const OID = "0123456789abcdef0123456789abcdef01234567";
const SHA = "ab".repeat(32);
const entry = (over: Record<string, unknown> = {}) => ({
  type: "file",
  path: "config.json",
  size: 12,
  oid: OID,
  ...over,
});
const check = (over: Record<string, unknown>) => () =>
  hubFileFromEntry(entry(over) as never, "hub.example", "acme/m");

describe("a tree entry becomes a file to fetch", () => {
  it("takes a small file by its git oid and an LFS file by its sha256 and LFS size", () => {
    expect(hubFileFromEntry(entry(), "h", "r")).toEqual({
      path: "config.json",
      size: 12,
      etag: OID,
      hash: { kind: "git-sha1", value: OID },
    });
    const lfs = entry({
      path: "model.safetensors",
      size: 134,
      lfs: { oid: SHA, size: 5e9, pointerSize: 134 },
    });
    expect(hubFileFromEntry(lfs, "h", "r")).toEqual({
      path: "model.safetensors",
      size: 5e9,
      etag: SHA,
      hash: { kind: "sha256", value: SHA },
    });
  });

  it("skips folders and files listed without a hash", () => {
    expect(hubFileFromEntry(entry({ type: "directory" }), "h", "r")).toBeNull();
    expect(hubFileFromEntry(entry({ oid: undefined }), "h", "r")).toBeNull();
  });

  it.each([
    [{ oid: "../../etc/hostname" }, 'config.json has the git oid "../../etc/hostname" (not 40 hex digits)'],
    [{ oid: OID.toUpperCase() }, "(not 40 hex digits)"],
    [{ oid: SHA }, "(not 40 hex digits)"],
    [
      { lfs: { oid: "../../../etc/passwd", size: 1 } },
      'config.json has the LFS sha256 "../../../etc/passwd" (not 64 hex digits)',
    ],
    [{ lfs: { oid: OID, size: 1 } }, "(not 64 hex digits)"],
    [{ size: -5 }, "config.json has the size -5 (it is negative)"],
    [{ size: 2.5 }, "config.json has the size 2.5 (it is not a whole number)"],
    [{ lfs: { oid: SHA, size: "7" } }, 'config.json has the size "7" (it is not a whole number)'],
    [{ path: "../x.json" }, `the path "../x.json" is unsafe (it climbs out with '..')`],
  ])("refuses %j, naming the host and what is wrong", (over, what) => {
    expect(check(over)).toThrow(PullError);
    expect(check(over)).toThrow(
      `the hub at hub.example sent a file list for acme/m that a Hugging Face hub never sends`,
    );
    expect(check(over)).toThrow(what);
  });

  it("prints a hostile value quoted and shortened", () => {
    expect(check({ oid: `\u001b[2J${"x".repeat(200)}` })).toThrow(
      /has the git oid "\\u001b\[2Jx{67}\.\.\. \(not 40/,
    );
  });
});

describe("a repo path", () => {
  it.each(["config.json", "sub/dir/tokenizer.model", "weird name (1).json", ".gitattributes"])(
    "%j is safe",
    (p) => {
      expect(repoPathProblem(p)).toBeNull();
    },
  );

  it.each([
    ["", "it is empty"],
    [null, "it is empty"],
    ["x".repeat(1025), "it is longer than 1024 characters"],
    ["a\u0000.json", "it contains a control character"],
    ["a\n.json", "it contains a control character"],
    ["a\u009b.json", "it contains a control character"],
    ["..\\x.json", "it contains a backslash"],
    ["/etc/passwd", "it is absolute"],
    ["..", "it climbs out with '..'"],
    ["a/../../x", "it climbs out with '..'"],
    ["./x", "it has an empty or '.' segment"],
    ["a//x", "it has an empty or '.' segment"],
    ["a/", "it has an empty or '.' segment"],
  ])("%j is refused: %s", (p, why) => {
    expect(repoPathProblem(p)).toBe(why);
  });
});

describe("a size", () => {
  it("is a whole number of bytes, 0 included, up to 2^53 - 1", () => {
    expect(sizeProblem(0)).toBeNull();
    expect(sizeProblem(Number.MAX_SAFE_INTEGER)).toBeNull();
    expect(sizeProblem(2 ** 53)).toBe("it is not a whole number");
    expect(sizeProblem(Number.NaN)).toBe("it is not a whole number");
    expect(sizeProblem(Number.POSITIVE_INFINITY)).toBe("it is not a whole number");
    expect(sizeProblem(-1)).toBe("it is negative");
  });
});
