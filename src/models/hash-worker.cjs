// The hash thread (worker_threads) for files fetched in parts: it reads each file back from the page cache up
// to the prefix the main thread reports as written, and hashes it, so SHA-256 runs beside the downloads instead
// of on the thread that moves the bytes. CommonJS and not TypeScript: it is started by its path, from src/ in
// the tests and from dist/ once built (the build copies it).
"use strict";
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { closeSync, openSync, readSync } = require("node:fs");

const block = Buffer.allocUnsafe(8 * 1024 * 1024);
const files = new Map(); // id -> { fd, hash, hashed, failure }

parentPort.on("message", (m) => {
  if (m.op === "open") {
    const hash = createHash(m.algo);
    if (m.prelude) hash.update(m.prelude);
    let fd = null;
    let failure = null;
    try {
      fd = openSync(m.path, "r");
    } catch (err) {
      failure = err.message;
    }
    files.set(m.id, { fd, hash, hashed: 0, failure });
    return;
  }
  const f = files.get(m.id);
  if (f === undefined) return;
  if (f.failure === null && (m.op === "upto" || m.op === "digest")) {
    try {
      readUpTo(f, m.end);
    } catch (err) {
      f.failure = err.message;
    }
  }
  if (m.op === "digest" || m.op === "close") {
    if (f.fd !== null) closeSync(f.fd);
    files.delete(m.id);
  }
  if (m.op === "digest") {
    parentPort.postMessage(
      f.failure === null ? { id: m.id, digest: f.hash.digest("hex") } : { id: m.id, error: f.failure },
    );
  }
});

function readUpTo(f, end) {
  while (f.hashed < end) {
    const n = readSync(f.fd, block, 0, Math.min(block.length, end - f.hashed), f.hashed);
    if (n === 0) throw new Error(`the file ended at ${f.hashed} bytes while reading it back to hash it`);
    f.hash.update(block.subarray(0, n));
    f.hashed += n;
  }
}
