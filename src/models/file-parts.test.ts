// How a file is split and what a previous run left of it: a record of the parts written (blobs/<etag>.parts.json)
// is trusted only when it fits the file, and an .incomplete prefix (huggingface_hub's partial download) is taken
// over by a file fetched in parts rather than thrown away.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type PartPaths,
  prepareFiles,
  readProgress,
  recordPath,
  saveRecord,
  splitFile,
} from "./file-parts.js";

let dir: string;
let paths: PartPaths;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "llmr-parts-"));
  paths = { incomplete: path.join(dir, "e.incomplete"), parts: path.join(dir, "e.parts") };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("file parts", () => {
  it("splits a file into parts of the part size, the last one shorter; a small file is one part", () => {
    expect(splitFile(250, 100).map((p) => [p.start, p.end])).toEqual([
      [0, 100],
      [100, 200],
      [200, 250],
    ]);
    expect(splitFile(100, 100)).toEqual([{ start: 0, end: 100, written: 0 }]);
  });

  it("resumes each part where the record says it stopped", async () => {
    writeFileSync(paths.parts, Buffer.alloc(230));
    const parts = splitFile(250, 100);
    parts[0] = { start: 0, end: 100, written: 100 };
    parts[2] = { start: 200, end: 250, written: 30 };
    await saveRecord(paths, 250, 100, parts);
    const progress = readProgress(250, 100, paths);
    expect(progress.from).toBe("record");
    expect(progress.parts.map((p) => p.written)).toEqual([100, 0, 30]);
  });

  it.each([
    ["another size", { size: 251, partSize: 100, written: [100, 0, 30] }],
    ["another part size", { size: 250, partSize: 50, written: [100, 0, 30] }],
    ["more bytes than a part holds", { size: 250, partSize: 100, written: [101, 0, 30] }],
    ["bytes past the data file's end", { size: 250, partSize: 100, written: [100, 0, 50] }],
    ["a written count that is not a whole number", { size: 250, partSize: 100, written: [1.5, 0, 0] }],
  ])("ignores a record with %s and starts the file over", async (_what, record) => {
    writeFileSync(paths.parts, Buffer.alloc(230));
    writeFileSync(recordPath(paths), JSON.stringify(record));
    const progress = readProgress(250, 100, paths);
    expect(progress).toMatchObject({ from: "nothing" });
    expect(progress.parts.every((p) => p.written === 0)).toBe(true);
    await prepareFiles(250, 100, progress, paths);
    expect(existsSync(paths.parts)).toBe(false);
    expect(existsSync(recordPath(paths))).toBe(false);
  });

  it("takes an .incomplete prefix over: its bytes count in the parts, the file becomes .parts with a record", async () => {
    writeFileSync(paths.incomplete, Buffer.alloc(150, 7));
    const progress = readProgress(250, 100, paths);
    expect(progress.from).toBe("incomplete");
    expect(progress.parts.map((p) => p.written)).toEqual([100, 50, 0]);
    expect(await prepareFiles(250, 100, progress, paths)).toBe(paths.parts);
    expect(existsSync(paths.incomplete)).toBe(false);
    expect(readFileSync(paths.parts)).toEqual(Buffer.alloc(150, 7));
    expect(JSON.parse(readFileSync(recordPath(paths), "utf8"))).toEqual({
      size: 250,
      partSize: 100,
      written: [100, 50, 0],
    });
  });

  it("a single-part file resumes from its .incomplete size; one longer than the file is deleted", async () => {
    writeFileSync(paths.incomplete, Buffer.alloc(40));
    expect(readProgress(100, 100, paths).parts[0]?.written).toBe(40);
    writeFileSync(paths.incomplete, Buffer.alloc(140));
    const progress = readProgress(100, 100, paths);
    expect(progress.parts[0]?.written).toBe(0);
    await prepareFiles(100, 100, progress, paths);
    expect(existsSync(paths.incomplete)).toBe(false);
  });
});
