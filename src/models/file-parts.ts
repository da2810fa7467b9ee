// How a file is split for download, and which of its bytes are already on disk. A file up to one part is one
// request into blobs/<etag>.incomplete, whose size is its progress. A larger one is fetched in parts side by
// side (Range requests) into blobs/<etag>.parts, and blobs/<etag>.parts.json records how far each part got.
import { readFileSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { sizeOrZero } from "./hf-cache.js";

/**
 * 32 MiB: a part costs one request on a kept-alive connection (about a round trip of idle time, ≈1 % of a
 * part at 100 MB/s per connection), a file's last parts finish within about one part's time of each other,
 * and a killed pull loses at most the parts in flight. huggingface_hub's hf_transfer used 10 MB chunks;
 * config and tokenizer files and small shards stay single requests.
 */
export const PART_SIZE = 32 * 1024 * 1024;

/** Bytes [start, end) of the file, of which the first `written` are on disk. */
export interface Part {
  start: number;
  end: number;
  written: number;
}

export interface PartPaths {
  incomplete: string; // blobs/<etag>.incomplete
  parts: string; // blobs/<etag>.parts
}

interface PartsRecord {
  size: number;
  partSize: number;
  written: number[];
}

export function splitFile(size: number, partSize: number): Part[] {
  if (size <= partSize) return [{ start: 0, end: size, written: 0 }];
  const parts: Part[] = [];
  for (let start = 0; start < size; start += partSize)
    parts.push({ start, end: Math.min(size, start + partSize), written: 0 });
  return parts;
}

export const recordPath = (paths: PartPaths) => `${paths.parts}.json`;

export interface Progress {
  parts: Part[];
  from: "record" | "incomplete" | "nothing";
}

/** The file's parts with what a previous run left: its record, else an .incomplete prefix (to be adopted). */
export function readProgress(size: number, partSize: number, paths: PartPaths): Progress {
  const parts = splitFile(size, partSize);
  if (parts.length > 1) {
    const record = readRecord(recordPath(paths));
    const onDisk = sizeOrZero(paths.parts);
    if (
      record !== null &&
      record.size === size &&
      record.partSize === partSize &&
      record.written.length === parts.length &&
      parts.every(
        (p, i) =>
          isCount(record.written[i], p.end - p.start) && p.start + (record.written[i] as number) <= onDisk,
      )
    ) {
      for (const [i, p] of parts.entries()) p.written = record.written[i] as number;
      return { parts, from: "record" };
    }
  }
  const prefix = sizeOrZero(paths.incomplete);
  if (prefix === 0 || prefix > size) return { parts, from: "nothing" };
  for (const p of parts) p.written = Math.max(0, Math.min(prefix, p.end) - p.start);
  return { parts, from: "incomplete" };
}

/**
 * Makes the files on disk match what readProgress found, before the download writes; returns the file to write.
 * An .incomplete longer than the file is deleted; a split file takes an .incomplete prefix over, and drops a
 * .parts it has no valid record of.
 */
export async function prepareFiles(
  size: number,
  partSize: number,
  progress: Progress,
  paths: PartPaths,
): Promise<string> {
  if (sizeOrZero(paths.incomplete) > size) await rm(paths.incomplete, { force: true });
  if (progress.parts.length === 1) return paths.incomplete;
  if (progress.from === "record") return paths.parts;
  await rm(paths.parts, { force: true });
  await removeRecord(paths);
  if (progress.from === "incomplete") {
    await rename(paths.incomplete, paths.parts);
    await saveRecord(paths, size, partSize, progress.parts);
  }
  return paths.parts;
}

/** Writes the record atomically (a rename), so a kill leaves the old one or the new one. */
export async function saveRecord(paths: PartPaths, size: number, partSize: number, parts: Part[]) {
  const record: PartsRecord = { size, partSize, written: parts.map((p) => p.written) };
  const tmp = `${recordPath(paths)}.tmp`;
  await writeFile(tmp, JSON.stringify(record));
  await rename(tmp, recordPath(paths));
}

export async function removeRecord(paths: PartPaths): Promise<void> {
  await rm(recordPath(paths), { force: true });
}

/** Bytes of the file already on disk. */
export function writtenBytes(parts: Part[]): number {
  return parts.reduce((sum, p) => sum + p.written, 0);
}

function readRecord(p: string): PartsRecord | null {
  try {
    const v = JSON.parse(readFileSync(p, "utf8")) as Partial<PartsRecord>;
    if (typeof v.size === "number" && typeof v.partSize === "number" && Array.isArray(v.written))
      return v as PartsRecord;
  } catch {
    // missing or unreadable: nothing recorded
  }
  return null;
}

function isCount(v: unknown, max: number): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
}
