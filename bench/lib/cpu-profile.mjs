// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per code area, so a missed
// target can be pinned on the code that costs it.
//
//   node bench/lib/cpu-profile.mjs <file.cpuprofile> [--top 30]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

/** Which part of the process a frame belongs to: our source file, a package, Node itself, or V8. */
export function areaOf(url, functionName) {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `pkg:${pkg[1]}`;
  if (url.startsWith("node:")) return url; // e.g. node:internal/webstreams/readablestream
  const ours = /\/dist\/(.+)\.js$/.exec(url);
  if (ours) return `src/${ours[1]}.ts`;
  const bench = /\/(bench\/.+)$/.exec(url);
  return bench ? bench[1] : url.replace(/^file:\/\//, "");
}

/** Whether a frame is code someone could change: ours (dist/ -> src/) or a package's. */
function isOwner(url) {
  return /\/dist\/|node_modules\/|\/bench\//.test(url ?? "");
}

/**
 * Self time (ms) by function and by area, biggest first, with each one's share of all sampled time; and "owner"
 * time: each sample charged to the nearest caller that is our code or a package, so time spent inside Node
 * (streams, sockets, GC-free natives) is pinned on the code that asked for it.
 */
export function summarizeProfile(profile, top = 30) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerCache = new Map();
  const ownerOf = (id) => {
    if (ownerCache.has(id)) return ownerCache.get(id);
    let cur = id;
    let found = null;
    while (cur !== undefined) {
      const { callFrame } = byId.get(cur);
      if (isOwner(callFrame.url)) {
        found = `${callFrame.functionName || "(anonymous)"} ${areaOf(callFrame.url, "")}:${callFrame.lineNumber + 1}`;
        break;
      }
      cur = parent.get(cur);
    }
    const name = found ?? `(no owner) ${byId.get(id).callFrame.functionName || "(anonymous)"}`;
    ownerCache.set(id, name);
    return name;
  };
  const owners = new Map();
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the interval after it to sample i.
    const dt = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const fns = new Map();
  const areas = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || "(anonymous)";
    if (name === "(idle)") {
      idle += us;
      continue;
    }
    total += us;
    const area = areaOf(callFrame.url, name);
    const key = `${name} ${area}:${callFrame.lineNumber + 1}`;
    const f = fns.get(key) ?? {
      function: name,
      where: `${area}:${callFrame.lineNumber + 1}`,
      area,
      selfMs: 0,
    };
    f.selfMs += us / 1000;
    fns.set(key, f);
    const owner = ownerOf(id);
    owners.set(owner, (owners.get(owner) ?? 0) + us / 1000);
    areas.set(area, (areas.get(area) ?? 0) + us / 1000);
  }
  const share = (ms) => Math.round((ms / (total / 1000)) * 1000) / 10;
  const topFns = [...fns.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top)
    .map((f) => ({ ...f, selfMs: Math.round(f.selfMs), percent: share(f.selfMs) }));
  const topAreas = [...areas.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([area, ms]) => ({ area, selfMs: Math.round(ms), percent: share(ms) }));
  const topOwners = [...owners.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([owner, ms]) => ({ owner, ms: Math.round(ms), percent: share(ms) }));
  return {
    busyMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    functions: topFns,
    areas: topAreas,
    owners: topOwners,
  };
}

export function profileMarkdown(summary) {
  const lines = [
    `Busy ${summary.busyMs} ms sampled (idle ${summary.idleMs} ms not counted).`,
    "",
    "| self ms | % busy | area |",
    "| ---: | ---: | --- |",
    ...summary.areas.map((a) => `| ${a.selfMs} | ${a.percent} | ${a.area} |`),
    "",
    "| self ms | % busy | function | where |",
    "| ---: | ---: | --- | --- |",
    ...summary.functions.map((f) => `| ${f.selfMs} | ${f.percent} | \`${f.function}\` | ${f.where} |`),
    "",
    "Time charged to the nearest caller in our code or a package (Node internals and natives folded into it):",
    "",
    "| ms | % busy | owner |",
    "| ---: | ---: | --- |",
    ...summary.owners.map((o) => `| ${o.ms} | ${o.percent} | \`${o.owner}\` |`),
  ];
  return lines.join("\n");
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "30" } },
  });
  if (positionals.length !== 1) {
    process.stderr.write("usage: node bench/lib/cpu-profile.mjs <file.cpuprofile> [--top N]\n");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(positionals[0], "utf8"));
  process.stdout.write(`${profileMarkdown(summarizeProfile(profile, Number(values.top)))}\n`);
}
