#!/usr/bin/env node
// Checks that each folder of src/ imports only from folders below it (docs/ARCHITECTURE.md, "Layers"), and
// that no file imports the wiring file src/instance/run-instance.ts except the start command.
// Usage: node scripts/check-layers.mjs   (exit 1 and one line per offending import when a rule is broken)
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

// Bottom first. A folder may import its own layer's files and any folder on a lower line.
const LAYERS = [
  ["version.ts", "log", "protocol", "gpu"],
  ["config"],
  ["models", "pricing", "livepeer"],
  ["engine"],
  ["supervisor"],
  ["metrics"],
  ["gateway"],
  ["instance"],
  ["cli"],
];
const WIRING = "src/instance/run-instance.ts";
const WIRING_USERS = new Set(["src/cli/commands/start.ts"]);

const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
const top = (file) => path.relative("src", file).split(path.sep)[0];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts") && !p.endsWith(".test.ts") && !p.includes(`${path.sep}testing${path.sep}`)) out.push(p);
  }
  return out;
}

const problems = [];
const edges = new Set();
for (const file of walk("src")) {
  const from = top(file);
  if (!layerOf.has(from)) problems.push(`${file}: folder ${from} has no layer in scripts/check-layers.mjs`);
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    const target = path.normalize(path.join(path.dirname(file), m[1])).replace(/\.js$/, ".ts");
    const to = top(target);
    if (target === WIRING && !WIRING_USERS.has(file)) problems.push(`${file}: imports the wiring file ${WIRING}`);
    if (to === from) continue;
    edges.add(`${from} -> ${to}`);
    if ((layerOf.get(to) ?? 99) > (layerOf.get(from) ?? -1)) problems.push(`${file}: imports upward into ${target}`);
  }
}
if (process.argv.includes("--edges")) console.log([...edges].sort().join("\n"));
for (const p of problems) console.log(p);
console.log(problems.length === 0 ? "layers: every import goes downward" : `layers: ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
