// The prefix router's own cost, in-process on the built code (dist/): per request, rendering and hashing the prompt
// (gateway/routing/prompt-blocks.ts), the choice and the index update (supervisor/routing/route-picker.ts) over 4
// replicas that hold 16 tenants, and the chain's trip over IPC with GATEWAY_WORKERS (base64 out and back); and the
// prefix index's memory per block. Run with --expose-gc: `node --expose-gc bench/lib/router-cost.mjs` prints JSON.
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist");
const load = (p) => import(pathToFileURL(path.join(DIST, p)).href);
const { chatBlocks } = await load("gateway/routing/prompt-blocks.js");
const { RoutePicker } = await load("supervisor/routing/route-picker.js");
const { PrefixIndex } = await load("supervisor/routing/prefix-index.js");
const { hintFromWire, hintToWire } = await load("instance/http-workers/messages.js");

let seed = 7;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const word = () => Math.floor(rand() * 1e6).toString(36);
/** About `tokens` tokens of text at 4 characters a token. */
const text = (tokens) => {
  let s = "";
  while (s.length < tokens * 4) s += `${word()} `;
  return s.slice(0, tokens * 4);
};

/** Microseconds per call of `fn`, the median of 7 batches of `n`. */
function usPer(fn, n) {
  for (let i = 0; i < n; i++) fn(i); // warm the JIT
  const batches = [];
  for (let b = 0; b < 7; b++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    batches.push(((performance.now() - t0) * 1000) / n);
  }
  return batches.sort((a, b) => a - b)[3];
}

export function measure() {
  const tenants = Array.from({ length: 16 }, () => text(3_584));
  const body = (t, q) => ({
    messages: [
      { role: "system", content: tenants[t] },
      { role: "user", content: q },
    ],
  });
  const queries = Array.from({ length: 64 }, () => text(512));
  // 4,096 tokens: a 3,584-token system prompt and a 512-token question.
  const bodies = Array.from({ length: 64 }, (_, i) => body(i % 16, queries[i]));
  const engines = [{}, {}, {}, {}];
  const picker = new RoutePicker("prefix");
  const candidates = engines.map((engine, replica) => ({
    replica,
    inFlight: replica,
    slots: 128,
    free: true,
    engine,
    generation: 1,
  }));
  const chains = bodies.map((b) => chatBlocks(b));
  for (let t = 0; t < 16; t++) {
    const pick = picker.pick(candidates, { blocks: chains[t] });
    picker.commit(pick, candidates[pick.at], { blocks: chains[t] });
  }
  const hashUs = usPer((i) => chatBlocks(bodies[i % 64]), 2_000);
  const pickUs = usPer((i) => {
    const hint = { blocks: chains[i % 64] };
    const pick = picker.pick(candidates, hint);
    picker.commit(pick, candidates[pick.at], hint);
  }, 2_000);
  const ipcUs = usPer(
    (i) => hintFromWire(JSON.parse(JSON.stringify(hintToWire({ blocks: chains[i % 64] })))),
    2_000,
  );
  const blocks = chains[0].length;

  // Memory: 4 replicas' indexes filled to llm-d's default capacity (31,250 blocks each).
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const index = new PrefixIndex();
  const chain = new Int32Array(256);
  for (let r = 0; r < 4; r++) {
    for (let k = 0; k < 31_250 / 256 + 1; k++) {
      for (let i = 0; i < 256; i++) chain[i] = (rand() * 2 ** 32) | 0;
      index.record(r, engines[r], 1, chain);
    }
  }
  global.gc?.();
  const held = [0, 1, 2, 3].reduce((n, r) => n + index.size(r), 0);
  const bytesPerBlock = (process.memoryUsage().heapUsed - before) / held;
  return {
    promptTokens: 4_096,
    blocks,
    hashUs,
    pickUs,
    ipcUs,
    totalUs: hashUs + pickUs,
    index: {
      blocksHeld: held,
      bytesPerBlock,
      mb: (held * bytesPerBlock) / 2 ** 20,
      gc: global.gc !== undefined,
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(`${JSON.stringify(measure())}\n`);
}
