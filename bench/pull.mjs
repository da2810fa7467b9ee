// `npm run bench:pull`: `llm-runner pull` against curl, fetching the same files from the same fake hub and CDN
// on 127.0.0.1 (test/helpers/fake-hub.ts, compiled for the bench; it speaks the hub's protocol: resolve URL,
// 302 to the CDN, Range). Two models: 4 × 256 MiB shards and 1 × 1 GiB file. Four clients side by side in one
// run: pull (PULL_CONCURRENCY=8, SHA-256 checked, cache layout written), `curl --parallel --parallel-max 8`,
// plain curl (one file after the other), and curl --parallel followed by `openssl dgst -sha256` compared with
// the hub's hashes (the same download with pull's guarantee added); each round rotates their order. Each run writes into a fresh folder
// that is deleted after it. Reported: medians of MB/s (bytes over wall time, process start to exit) and of CPU
// per GiB (user + system of the client process, from GNU time), pull's ratio to curl --parallel. The fake hub
// runs in this process, so its CPU is not counted for anyone.
//
//   npm run bench:pull                          # 5 rounds; writes bench/results/pull.md
//   npm run bench:pull -- --rounds 3 --strict   # exit 1 when pull is below 0.8 × curl --parallel
//   npm run bench:pull -- --against <dist>      # another build's pull beside (e.g. main's: git worktree add, build)
//   npm run bench:pull -- --pace 50             # each body at most 50 MB/s, as one TCP stream over a WAN; writes
//                                               # bench/results/pull-paced.md
// On 127.0.0.1 nothing caps a connection, so the clients race for the CPU; over a real network each stream is
// capped by its round trip and window, and what counts is how many streams a client keeps busy: --pace.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { median, round } from "./lib/stats.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MiB = 1024 * 1024;
const TARGET = 0.8;
const CONCURRENCY = 8;
const CHECKED = "curl --parallel, then openssl sha256"; // curl with pull's guarantee added
const sha256Cache = new WeakMap(); // file content -> its SHA-256, for the openssl check

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    strict: { type: "boolean", default: false },
    against: { type: "string" },
    pace: { type: "string", default: "0" },
  },
  strict: true,
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
  process.stderr.write(`--rounds must be a whole number from 1 to 20 (got "${values.rounds}").\n`);
  process.exit(2);
}
const pace = Number(values.pace);
if (!Number.isFinite(pace) || pace < 0 || pace > 10_000) {
  process.stderr.write(
    `--pace must be MB/s per connection from 0 (no cap) to 10000 (got "${values.pace}").\n`,
  );
  process.exit(2);
}
const curlVersion = spawnSync("curl", ["--version"], { encoding: "utf8" }).stdout?.split("\n")[0] ?? "";
if (curlVersion === "") {
  process.stderr.write(
    "curl is not installed: the bench compares pull with it. Install curl and run again.\n",
  );
  process.exit(2);
}
const hasParallel = spawnSync("curl", ["--help", "all"], { encoding: "utf8" }).stdout.includes(
  "--parallel-max",
);
const hasTime = spawnSync("/usr/bin/time", ["-f", "%U", "true"], { stdio: "ignore" }).status === 0;
if (!hasTime) {
  process.stderr.write(
    "GNU time (/usr/bin/time) is missing: it measures each client's CPU. apt-get install time\n",
  );
  process.exit(2);
}

const loadBefore = os.loadavg()[0];
const tmp = mkdtempSync(path.join(os.tmpdir(), "llm-runner-bench-pull-"));
const { FakeHub, bigModel } = await loadFakeHub(path.join(tmp, "fake-hub"));
const models = [
  { name: "4 × 256 MiB", repo: "bench/four-shards", sizes: [256 * MiB, 256 * MiB, 256 * MiB, 256 * MiB] },
  { name: "1 × 1 GiB", repo: "bench/one-file", sizes: [1024 * MiB] },
];
process.stderr.write("generating 2 GiB of model files...\n");
const hub = await new FakeHub(models.map((m) => bigModel(m.repo, m.sizes))).start();
hub.pageSize = 1000; // the real hub's tree pages; the helper's default of 4 exercises paging in tests
hub.bodyBytesPerSecond = pace * 1e6;
const cleanup = () => rmSync(tmp, { recursive: true, force: true });
process.once("SIGINT", () => {
  cleanup();
  process.exit(130);
});

const clients = [
  { name: "pull", run: (m, dir) => runPull(m, dir, path.join(REPO, "dist")) },
  ...(values.against
    ? [{ name: "pull (--against build)", run: (m, dir) => runPull(m, dir, values.against) }]
    : []),
  ...(hasParallel ? [{ name: "curl --parallel", run: (m, dir) => runCurl(m, dir, true) }] : []),
  { name: "curl, one file at a time", run: (m, dir) => runCurl(m, dir, false) },
  ...(hasParallel ? [{ name: CHECKED, run: (m, dir) => runCurl(m, dir, true, true) }] : []),
];

try {
  const samples = {}; // model name -> client name -> [{ mbps, cpuPerGiB }]
  for (let r = 0; r < rounds; r++) {
    for (const model of models) {
      const order = clients.map((_, i) => clients[(i + r) % clients.length]);
      for (const client of order) {
        const dir = path.join(tmp, "out");
        mkdirSync(dir, { recursive: true });
        const bytes = filesOf(model).reduce((sum, f) => sum + f.content.length, 0);
        const { wall, cpu } = await client.run(model, dir);
        rmSync(dir, { recursive: true, force: true });
        const sample = { mbps: bytes / wall / 1e6, cpuPerGiB: cpu / (bytes / (1024 * MiB)) };
        samples[model.name] ??= {};
        samples[model.name][client.name] ??= [];
        samples[model.name][client.name].push(sample);
        process.stderr.write(
          `round ${r + 1}/${rounds} ${model.name} ${client.name}: ${round(sample.mbps, 0)} MB/s, ${round(sample.cpuPerGiB, 2)} s CPU/GiB\n`,
        );
      }
    }
  }
  const report = writeReport(samples);
  process.stdout.write(report);
  const missed = models.filter((m) => hasParallel && ratioOf(samples[m.name]) < TARGET);
  if (values.strict && missed.length > 0) process.exitCode = 1;
} finally {
  await hub.close();
  cleanup();
}

/** Compiles the fake hub (TypeScript, a test helper) into `dir` and imports it. */
async function loadFakeHub(dir) {
  const tsc = path.join(REPO, "node_modules", ".bin", "tsc");
  const args = [
    path.join(REPO, "test", "helpers", "fake-hub.ts"),
    ...["--outDir", dir, "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"],
    ...["--skipLibCheck", "--types", "node"],
  ];
  const r = spawnSync(tsc, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`compiling test/helpers/fake-hub.ts failed:\n${r.stdout}${r.stderr}`);
  writeFileSync(path.join(dir, "package.json"), '{"type":"module"}');
  const hubModule = await import(pathToFileURL(path.join(dir, "fake-hub.js")).href);
  const repoModule = await import(pathToFileURL(path.join(dir, "fake-repo.js")).href);
  return { FakeHub: hubModule.FakeHub, bigModel: repoModule.bigModel };
}

function filesOf(model) {
  return hub.repos.find((r) => r.id === model.repo).files;
}

/** Runs argv under GNU time; returns wall seconds (start to exit) and the CPU seconds it used. */
async function timed(argv, env) {
  const timeFile = path.join(tmp, "time.txt");
  const start = performance.now();
  const child = spawn("/usr/bin/time", ["-f", "%U %S", "-o", timeFile, ...argv], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const code = await new Promise((resolve) => child.once("exit", resolve));
  const wall = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}:\n${stderr.slice(-2000)}`);
  const [user, sys] = readFileSync(timeFile, "utf8").trim().split("\n").at(-1).split(" ").map(Number);
  return { wall, cpu: user + sys };
}

function runPull(model, dir, dist) {
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    HF_ENDPOINT: hub.endpoint,
    MODEL_DIR: path.join(dir, "hub"),
    PULL_CONCURRENCY: String(CONCURRENCY),
  };
  return timed([process.execPath, path.join(path.resolve(dist), "cli", "main.js"), "pull", model.repo], env);
}

/**
 * curl alone; with `check`, then every file's SHA-256 (OpenSSL: SHA-NI where the CPU has it, as Node's crypto;
 * coreutils' sha256sum is about 3 times slower here) compared with the hub's: pull's guarantee.
 */
function runCurl(model, dir, parallel, check = false) {
  const files = filesOf(model);
  const targets = files.flatMap((f, i) => [
    "-o",
    path.join(dir, `f${i}`),
    `${hub.endpoint}/${model.repo}/resolve/main/${f.path}`,
  ]);
  const mode = parallel ? ["--parallel", "--parallel-max", String(CONCURRENCY)] : [];
  const curl = ["curl", "--silent", "--show-error", "--fail", "--location", ...mode, ...targets];
  if (!check) return timed(curl, { PATH: process.env.PATH });
  const sums = path.join(tmp, "SHA256SUMS");
  const outputs = files.map((_, i) => path.join(dir, `f${i}`));
  writeFileSync(sums, files.map((f, i) => `${sha256Of(f.content)} *${outputs[i]}\n`).join(""));
  // GNU time counts what sh waited for: curl's CPU and openssl's. cmp fails the run on any mismatch.
  const script = `curl "$@" && openssl dgst -sha256 -r ${outputs.join(" ")} | cmp -s - "$SUMS"`;
  return timed(["sh", "-c", script, "sh", ...curl.slice(1)], {
    PATH: process.env.PATH,
    SUMS: sums,
  });
}

function sha256Of(content) {
  if (!sha256Cache.has(content)) sha256Cache.set(content, createHash("sha256").update(content).digest("hex"));
  return sha256Cache.get(content);
}

function ratioOf(byClient) {
  return median(byClient.pull.map((s) => s.mbps)) / median(byClient["curl --parallel"].map((s) => s.mbps));
}

function writeReport(samples) {
  const lines = [
    `# \`llm-runner pull\` against curl (\`npm run bench:pull${pace > 0 ? ` -- --pace ${pace}` : ""}\`)`,
    "",
    `Run ${new Date().toISOString()} · ${rounds} rounds, medians (min–max) · Node ${process.version} · ${curlVersion}`,
    `· ${os.cpus().length} cores, shared with other work while it ran (load average ${round(loadBefore, 1)} before,`,
    `${round(os.loadavg()[0], 1)} after): compare the ratios, not the absolute figures.`,
    pace > 0
      ? `\nEvery file body (hub and CDN) is paced at ${pace} MB/s, as one TCP stream over a WAN is capped by its round trip and window: what counts is how many streams a client keeps busy.`
      : "",
    "",
    "The same files (weights plus config and tokenizer files) from the same fake hub and CDN on 127.0.0.1",
    "(test/helpers/fake-hub.ts: resolve URL, 302 to the CDN, Range honoured). pull checks every file's SHA-256 and",
    'writes the Hugging Face cache layout; curl only writes the bytes. "curl --parallel, then openssl sha256" adds',
    "pull's guarantee to curl: the same download, then every file's SHA-256 (OpenSSL) compared with the hub's.",
    "CPU: user + system of the client process (and of what it ran).",
    hasParallel ? "" : "\nThis curl has no `--parallel` (added in curl 7.66): only plain curl is compared.\n",
    values.against ? `"pull (--against build)" is the build in ${values.against}.\n` : "",
  ];
  for (const [name, byClient] of Object.entries(samples)) {
    lines.push(
      `## ${name}`,
      "",
      "| client | MB/s | CPU s/GiB | ÷ curl --parallel (MB/s) |",
      "| --- | ---: | ---: | ---: |",
    );
    const ref = byClient["curl --parallel"] ? median(byClient["curl --parallel"].map((s) => s.mbps)) : null;
    for (const [client, list] of Object.entries(byClient)) {
      const mbps = list.map((s) => s.mbps);
      const cpu = list.map((s) => s.cpuPerGiB);
      const spread = (v, d) =>
        `${round(median(v), d)} (${round(Math.min(...v), d)}–${round(Math.max(...v), d)})`;
      const ratio = ref ? round(median(mbps) / ref, 2) : "–";
      lines.push(`| ${client} | ${spread(mbps, 0)} | ${spread(cpu, 2)} | ${ratio} |`);
    }
    if (ref) {
      const ratio = ratioOf(byClient);
      lines.push(
        "",
        `pull ÷ curl --parallel: ${round(ratio, 2)} (target ≥ ${TARGET}: ${ratio >= TARGET ? "met" : "missed"})`,
      );
      const checked = byClient[CHECKED];
      if (checked)
        lines.push(
          `pull ÷ (${CHECKED}): ${round(median(byClient.pull.map((s) => s.mbps)) / median(checked.map((s) => s.mbps)), 2)}`,
        );
    }
    lines.push("");
  }
  const text = `${lines.join("\n")}\n`;
  writeFileSync(path.join(REPO, "bench", "results", pace > 0 ? "pull-paced.md" : "pull.md"), text);
  return text;
}
