// Reads a V8 heap snapshot (.heapsnapshot, as written by --heapsnapshot-signal or v8.writeHeapSnapshot) and
// sums what is live in it. A snapshot is taken after a full garbage collection, so its total self size is the
// retained heap: what a leak grows, unlike RSS, which also holds allocator high-water the OS has not taken back.
import { readFileSync } from "node:fs";

/**
 * @param {string} path
 * @returns {{ totalBytes: number, nodes: number, byName: Map<string, { count: number, bytes: number }> }}
 */
export function summarizeSnapshot(path) {
  const snap = JSON.parse(readFileSync(path, "utf8"));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const TYPE = fields.indexOf("type");
  const NAME = fields.indexOf("name");
  const SIZE = fields.indexOf("self_size");
  const { nodes, strings } = snap;
  const byName = new Map();
  let totalBytes = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const size = nodes[i + SIZE];
    totalBytes += size;
    const type = types[nodes[i + TYPE]];
    // Objects by constructor, closures by function name, the rest by type (strings, arrays, code, ...).
    const key = type === "object" || type === "closure" ? `${type}:${strings[nodes[i + NAME]]}` : type;
    const entry = byName.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    byName.set(key, entry);
  }
  return { totalBytes, nodes: nodes.length / width, byName };
}

/**
 * What grew between two summaries, largest first: the constructors a leak would show (a count that grows
 * with the number of requests).
 */
export function growth(before, after, top = 12) {
  const rows = [];
  for (const [name, a] of after.byName) {
    const b = before.byName.get(name) ?? { count: 0, bytes: 0 };
    rows.push({ name, count: a.count - b.count, bytes: a.bytes - b.bytes });
  }
  return rows.sort((x, y) => y.bytes - x.bytes).slice(0, top);
}
