#!/usr/bin/env node
// Checks that each folder of src/ imports only from folders below it (docs/ARCHITECTURE.md, "Layers"), the same
// inside src/gateway/ for its sub-folders, and that no file imports the wiring file src/instance/run-instance.ts
// except the start command.
// Usage: node scripts/check-layers.mjs   (exit 1 and one line per offending import when a rule is broken)
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

// Bottom first. A folder may import its own layer's files and any folder on a lower line.
const LAYERS = [
  ["version.ts", "log", "protocol", "gpu", "telemetry"],
  ["config"],
  ["models", "pricing", "livepeer"],
  ["engine"],
  ["supervisor"],
  ["metrics"],
  ["gateway"],
  ["instance"],
  ["cli"],
];
// Inside gateway/, bottom first: each sub-folder (or top-level file) imports only its own entry and lower ones.
const GATEWAY_LAYERS = [
  ["wire"],
  ["http"],
  ["requests", "routing"],
  ["dialects"],
  ["exchange"],
  ["relay"],
  ["gateway-deps.ts"],
  ["generation"],
  ["routes"],
  ["create-gateway.ts"],
];
const WIRING = "src/instance/run-instance.ts";
const WIRING_USERS = new Set(["src/cli/commands/start.ts"]);

const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
const gatewayLayerOf = new Map(GATEWAY_LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
const top = (file) => path.relative("src", file).split(path.sep)[0];
/** The file's entry inside gateway/ (a sub-folder or a top-level file), or null outside gateway/. */
const inGateway = (file) => {
  const parts = path.relative("src", file).split(path.sep);
  return parts[0] === "gateway" ? parts[1] : null;
};

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
/** file → the src files it imports (type-only imports too: they tie the files together for a reader as well). */
const imports = new Map();
for (const file of walk("src")) {
  imports.set(file, []);
  const from = top(file);
  if (!layerOf.has(from)) problems.push(`${file}: folder ${from} has no layer in scripts/check-layers.mjs`);
  const part = inGateway(file);
  if (part !== null && !gatewayLayerOf.has(part))
    problems.push(`${file}: gateway/${part} has no layer in scripts/check-layers.mjs`);
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    const target = path.normalize(path.join(path.dirname(file), m[1])).replace(/\.js$/, ".ts");
    const to = top(target);
    imports.get(file).push(target);
    if (target === WIRING && !WIRING_USERS.has(file)) problems.push(`${file}: imports the wiring file ${WIRING}`);
    if (to === from) {
      const into = inGateway(target);
      if (part === null || into === null || into === part) continue;
      edges.add(`gateway/${part} -> gateway/${into}`);
      if ((gatewayLayerOf.get(into) ?? 99) > (gatewayLayerOf.get(part) ?? -1))
        problems.push(`${file}: imports upward into ${target}`);
      continue;
    }
    edges.add(`${from} -> ${to}`);
    if ((layerOf.get(to) ?? 99) > (layerOf.get(from) ?? -1)) problems.push(`${file}: imports upward into ${target}`);
  }
}
// No import circles between files, inside a folder or across: each must read from the bottom up.
for (const cycle of findCycles(imports)) problems.push(`import circle: ${cycle.join(" -> ")}`);

/** One cycle per strongly connected group of files that import each other (Tarjan), as a readable path. */
function findCycles(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const groups = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const group = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1) groups.push(group);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return groups.map((group) => {
    const members = new Set(group);
    const start = [...group].sort()[0];
    // Walk from the first file along imports inside the group until a file repeats.
    const path = [start];
    for (let at = start; ; ) {
      at = graph.get(at).find((w) => members.has(w));
      if (path.includes(at)) return [...path.slice(path.indexOf(at)), at];
      path.push(at);
    }
  });
}

if (process.argv.includes("--edges")) console.log([...edges].sort().join("\n"));
for (const p of problems) console.log(p);
console.log(
  problems.length === 0 ? "layers: every import goes downward, no import circles" : `layers: ${problems.length} problem(s)`,
);
process.exit(problems.length === 0 ? 0 : 1);
