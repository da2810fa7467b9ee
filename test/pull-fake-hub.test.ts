// `pull` against a real HTTP server (test/helpers/fake-hub.ts): the cache layout read back as huggingface_hub
// reads it, LFS redirects to another origin, a connection cut mid-file, hash checks, 401/403/404 and disk full.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHubApi } from "../src/models/hub-api.js";
import { fetchVia, proxyDispatcher } from "../src/models/hub-dispatcher.js";
import { PullError } from "../src/models/pull-error.js";
import { type PullEvent, pullModel } from "../src/models/pull-model.js";
import { FakeHub } from "./helpers/fake-hub.js";
import { etagOf, sha256, TINY_VLLM_FILES, tinyModel } from "./helpers/fake-repo.js";
import { ForwardProxy } from "./helpers/forward-proxy.js";
import { readBack } from "./helpers/hf-readback.js";

const REPO = "acme/tiny-llama";
let hub: FakeHub;
let cache: string;

beforeEach(async () => {
  hub = await new FakeHub([
    tinyModel(REPO),
    { ...tinyModel("acme/gated-llama"), gated: "manual", tokens: ["hf_granted"] },
  ]).start();
  cache = mkdtempSync(join(tmpdir(), "llmr-pull-"));
});
afterEach(async () => {
  await hub.close();
  rmSync(cache, { recursive: true, force: true });
});

function pull(
  opts: {
    repo?: string;
    token?: string | null;
    freeBytes?: () => Promise<number>;
    concurrency?: number;
    partSize?: number;
  } = {},
) {
  const events: PullEvent[] = [];
  const sleeps: number[] = []; // the waits between tries, on a clock that does not run
  const sleep = async (ms: number) => {
    sleeps.push(ms);
  };
  const token = opts.token ?? null;
  const promise = pullModel(
    { repo: opts.repo ?? REPO, cacheDir: cache, endpoint: hub.endpoint, token },
    {
      hub: createHubApi({ endpoint: hub.endpoint, token }, fetch, {
        sleep,
        now: Date.now,
        onRetry: (r) => events.push({ type: "retry", ...r }),
      }),
      freeBytes: opts.freeBytes ?? (async () => 1e12),
      sleep,
      onEvent: (e) => events.push(e),
      ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      ...(opts.partSize ? { partSize: opts.partSize } : {}),
    },
  );
  return { promise, events, sleeps };
}

/** Bytes of the files vLLM loads in tinyModel(): 500 kB of shards plus the small files (501 kB in all). */
function vllmBytes(): number {
  const model = tinyModel(REPO);
  const total = TINY_VLLM_FILES.reduce(
    (sum, p) => sum + (model.files.find((f) => f.path === p)?.content.length ?? 0),
    0,
  );
  expect(total).toBeGreaterThan(500_000);
  expect(total).toBeLessThan(501_500);
  return total;
}

/** The sha256 the CDN names a file of tinyModel() by. */
function sha256Of(path: string): string {
  return sha256(tinyModel(REPO).files.find((f) => f.path === path)?.content as Buffer);
}

async function pullError(p: Promise<unknown>): Promise<PullError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PullError);
  return err as PullError;
}

describe("pull into the Hugging Face cache layout", () => {
  it("fetches only what vLLM loads, verified, and huggingface_hub can resolve every file", async () => {
    const { promise, events } = pull();
    const result = await promise;
    const model = tinyModel(REPO);
    expect(result.commit).toBe(model.commit);
    for (const name of TINY_VLLM_FILES) {
      const file = model.files.find((f) => f.path === name);
      const got = readBack(cache, REPO, name);
      expect(got.blob).toBe(etagOf(file as (typeof model.files)[number]));
      expect(got.link).toBe(`../../blobs/${got.blob}`);
      expect(got.bytes.equals(file?.content as Buffer)).toBe(true);
    }
    const snapshot = readdirSync(join(cache, "models--acme--tiny-llama", "snapshots", model.commit)).sort();
    expect(snapshot).toEqual(TINY_VLLM_FILES);
    // Optional files the repo lacks are marked as huggingface_hub marks a 404, for offline loading.
    const noExist = readdirSync(join(cache, "models--acme--tiny-llama", ".no_exist", model.commit));
    expect(noExist).toContain("added_tokens.json");
    expect(noExist).toContain("chat_template.jinja");
    expect(noExist).not.toContain("tokenizer.json");
    // Nothing else was even requested: no README, .bin, original/ or unindexed shard.
    const fetched = hub.fileGets().map((l) => l.url);
    for (const skipped of [
      "README.md",
      "pytorch_model.bin",
      "original/",
      "extra-unindexed",
      ".gitattributes",
    ])
      expect(fetched.some((u) => u.includes(skipped))).toBe(false);
    // LFS files came from the CDN origin, without the token; the tree was read across pages.
    expect(hub.log.filter((l) => l.server === "cdn" && l.method === "GET")).toHaveLength(2);
    expect(hub.log.filter((l) => l.url.includes("/tree/")).length).toBeGreaterThan(1);
    expect(events.at(-1)).toMatchObject({ type: "done", fetched: vllmBytes() });
    expect(
      readdirSync(join(cache, "models--acme--tiny-llama", "blobs")).some((n) => n.endsWith(".incomplete")),
    ).toBe(false);
  });

  it("a second pull downloads nothing", async () => {
    await pull().promise;
    const before = hub.fileGets().length;
    const { promise, events } = pull();
    await promise;
    expect(hub.fileGets().length).toBe(before);
    expect(events.find((e) => e.type === "plan")).toMatchObject({ toFetch: 0 });
  });

  it("resumes a connection cut mid-file with a Range request from the byte where it stopped", async () => {
    const shard = "model-00001-of-00002.safetensors";
    hub.cutAt.set(shard, 123_457);
    const { promise, events } = pull();
    await promise;
    const cdnGets = hub.log.filter((l) => l.server === "cdn" && l.method === "GET");
    expect(cdnGets.map((l) => l.range)).toContain("bytes=123457-");
    expect(events).toContainEqual(expect.objectContaining({ type: "retry", what: shard, resumeAt: 123_457 }));
    const model = tinyModel(REPO);
    expect(
      readBack(cache, REPO, shard).bytes.equals(model.files.find((f) => f.path === shard)?.content as Buffer),
    ).toBe(true);
  });

  it("rejects a file whose SHA-256 does not match the hub's, deletes it and links nothing", async () => {
    hub.corrupt.add("model-00002-of-00002.safetensors");
    const err = await pullError(pull().promise);
    expect(err.kind).toBe("corrupt");
    expect(err.message).toMatch(
      /model-00002-of-00002\.safetensors failed verification: sha256 is [0-9a-f]{64}, the hub says/,
    );
    expect(existsSync(join(cache, "models--acme--tiny-llama", "refs", "main"))).toBe(false);
    expect(existsSync(join(cache, "models--acme--tiny-llama", "snapshots"))).toBe(false);
  });

  it("checks small files too (git blob sha1)", async () => {
    hub.corrupt.add("tokenizer.json");
    const err = await pullError(pull().promise);
    expect(err.message).toContain("tokenizer.json failed verification: git-sha1");
  });
});

describe("behind a proxy", () => {
  it("sends the API calls, the files and the CDN downloads through HTTP(S)_PROXY, except NO_PROXY hosts", async () => {
    const proxy = await new ForwardProxy().start();
    const dispatcher = proxyDispatcher({ HTTP_PROXY: proxy.url, NO_PROXY: "localhost" });
    try {
      expect(dispatcher).not.toBeNull();
      await pullModel(
        { repo: REPO, cacheDir: cache, endpoint: hub.endpoint, token: null },
        {
          hub: createHubApi({ endpoint: hub.endpoint, token: null }, fetchVia(dispatcher)),
          freeBytes: async () => 1e12,
          sleep: async () => {},
          onEvent: () => {},
          dispatcher: dispatcher as NonNullable<typeof dispatcher>,
        },
      );
      const hubHost = new URL(hub.endpoint).host;
      const cdnHost = new URL(hub.cdnOrigin).host;
      const via = (host: string) => proxy.seen.filter((l) => l.includes(host)).length;
      expect(via(hubHost)).toBeGreaterThanOrEqual(1);
      expect(via(cdnHost)).toBeGreaterThanOrEqual(1);
      expect(readBack(cache, REPO, "model-00002-of-00002.safetensors").bytes.length).toBe(200_000);
      // NO_PROXY names the hub: straight there.
      const before = proxy.seen.length;
      const direct = proxyDispatcher({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" });
      await createHubApi({ endpoint: hub.endpoint, token: null }, fetchVia(direct)).snapshotInfo(
        REPO,
        "main",
      );
      await direct?.close();
      expect(proxy.seen.length).toBe(before);
    } finally {
      await dispatcher?.close();
      await proxy.close();
    }
    expect(proxyDispatcher({})).toBeNull();
  });
});

describe("hub errors become the operator's fix", () => {
  it("gated model without HF_TOKEN: stops before any download, says where to accept the licence", async () => {
    const err = await pullError(pull({ repo: "acme/gated-llama" }).promise);
    expect(err.kind).toBe("gated");
    expect(err.fix).toContain(`accept the licence at ${hub.endpoint}/acme/gated-llama and set HF_TOKEN`);
    expect(hub.fileGets()).toHaveLength(0);
  });

  it("gated model with a token that was not granted: the hub's 403 says the same", async () => {
    const err = await pullError(pull({ repo: "acme/gated-llama", token: "hf_notgranted" }).promise);
    expect(err.kind).toBe("gated");
    expect(err.message).toContain("HTTP 403");
    expect(err.fix).toContain(`accept the licence at ${hub.endpoint}/acme/gated-llama and set HF_TOKEN`);
  });

  it("gated model with a granted token: downloads, and the token never goes to the CDN", async () => {
    await pull({ repo: "acme/gated-llama", token: "hf_granted" }).promise;
    expect(readBack(cache, "acme/gated-llama", "config.json").bytes.length).toBeGreaterThan(0);
    const hubFiles = hub.log.filter((l) => l.server === "hub" && l.url.includes("/resolve/"));
    expect(hubFiles.every((l) => l.authorization === "Bearer hf_granted")).toBe(true);
    expect(hub.log.filter((l) => l.server === "cdn").every((l) => l.authorization === null)).toBe(true);
  });

  it("unknown repo: 401 anonymously, 404 with a token; both say to check MODEL_ID", async () => {
    const anon = await pullError(pull({ repo: "acme/nope" }).promise);
    expect(anon.kind).toBe("not_found");
    expect(anon.message).toContain("HTTP 401");
    expect(anon.fix).toMatch(/check MODEL_ID .*set HF_TOKEN/);
    const withToken = await pullError(pull({ repo: "acme/nope", token: "hf_granted" }).promise);
    expect(withToken.kind).toBe("not_found");
    expect(withToken.message).toContain("HTTP 404");
  });

  it("a server error on a file that lasts through every retry keeps what was downloaded and says to run again", async () => {
    hub.statusFor.set("model-00002-of-00002.safetensors", 500);
    const err = await pullError(pull().promise);
    expect(err.kind).toBe("unavailable");
    expect(err.message).toContain(
      `the hub (${new URL(hub.endpoint).host}) answered HTTP 500 for model-00002-of-00002.safetensors of ${REPO} 6 times in a row`,
    );
    expect(err.fix).toContain("run the command again later");
    hub.statusFor.clear();
    const again = pull();
    await again.promise;
    const plan = again.events.find((e) => e.type === "plan");
    expect(plan).toMatchObject({ toFetch: 200_000 }); // only the failed shard
  });
});

describe("temporary errors are retried, as huggingface_hub retries them", () => {
  const SHARD1 = "model-00001-of-00002.safetensors";
  const retries = (events: PullEvent[]) =>
    events.filter((e): e is Extract<PullEvent, { type: "retry" }> => e.type === "retry");

  it("waits out a 429 with Retry-After on the model info, then pulls", async () => {
    hub.refuse.set("info", { status: 429, times: 1, headers: { "Retry-After": "7" } });
    const { promise, events, sleeps } = pull();
    await promise;
    expect(sleeps).toEqual([8000]); // Retry-After + 1 s, as huggingface_hub waits
    expect(retries(events)).toEqual([
      expect.objectContaining({
        what: `the model info of ${REPO}`,
        problem: "HTTP 429",
        server: { role: "hub", host: new URL(hub.endpoint).host },
        asked: true,
      }),
    ]);
    expect(readBack(cache, REPO, "config.json").bytes.length).toBeGreaterThan(0);
  });

  it("retries a 502 from the hub on config.json with backoff, then pulls", async () => {
    hub.refuse.set("hub:config.json", { status: 502, times: 2 });
    const { promise, sleeps } = pull();
    await promise;
    expect(sleeps).toEqual([1000, 2000]);
    expect(hub.fileGets().filter((l) => l.url.endsWith("/config.json"))).toHaveLength(3);
    expect(readBack(cache, REPO, "config.json").bytes.length).toBeGreaterThan(0);
  });

  it("retries a 503 from the CDN on a shard, naming the CDN, then pulls", async () => {
    hub.refuse.set(`cdn:${SHARD1}`, {
      status: 503,
      times: 1,
      html: "<html><h1>503 Service Unavailable</h1></html>",
    });
    const { promise, events } = pull();
    await promise;
    expect(retries(events)).toEqual([
      expect.objectContaining({
        what: SHARD1,
        problem: "HTTP 503",
        server: { role: "CDN", host: new URL(hub.cdnOrigin).host },
      }),
    ]);
    const shard = tinyModel(REPO).files.find((f) => f.path === SHARD1);
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard?.content as Buffer)).toBe(true);
  });

  it("a CDN that never recovers: 6 tries, then an error naming the CDN's host, without its HTML", async () => {
    hub.refuse.set(`cdn:${SHARD1}`, {
      status: 503,
      times: Number.POSITIVE_INFINITY,
      html: "<html><body><h1>503 Service Unavailable</h1><p>Back soon</p></body></html>",
    });
    const { promise, sleeps } = pull();
    const err = await pullError(promise);
    expect(err.kind).toBe("unavailable");
    expect(err.message).toMatch(
      new RegExp(
        `^the CDN \\(${new URL(hub.cdnOrigin).host}\\) answered HTTP 503 for ${SHARD1} of ${REPO} 6 times in a row; 0 of 300000 bytes are kept in .*\\.incomplete$`,
      ),
    );
    expect(err.message).not.toMatch(/<|html|Back soon/i);
    expect(err.fix).toBe(
      "the CDN is having trouble: run the command again later (it resumes where it stopped)",
    );
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(hub.log.filter((l) => l.server === "cdn" && l.url.includes(sha256Of(SHARD1)))).toHaveLength(6);
  });
});

describe("files and parts side by side", () => {
  const SHARD1 = "model-00001-of-00002.safetensors";
  const shard1 = () => tinyModel(REPO).files.find((f) => f.path === SHARD1)?.content as Buffer;

  it("downloads files side by side, PULL_CONCURRENCY bodies at once (1: one at a time)", async () => {
    hub.bodyDelayMs = 50;
    await pull({ concurrency: 8 }).promise;
    expect(hub.peakBodies).toBeGreaterThanOrEqual(2);
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard1())).toBe(true);

    rmSync(cache, { recursive: true, force: true });
    hub.peakBodies = 0;
    await pull({ concurrency: 1 }).promise;
    expect(hub.peakBodies).toBe(1);
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard1())).toBe(true);
  });

  it("keeps several paced streams busy at once, where one stream's pace would take longer (a WAN's share)", async () => {
    // 300 kB at 1 MB/s a stream: ≥ 0.3 s in one stream; five 64 KiB parts side by side each take ≈ 0.07 s.
    hub.bodyBytesPerSecond = 1_000_000;
    const started = performance.now();
    await pull({ concurrency: 1, partSize: 65_536 }).promise;
    expect(performance.now() - started).toBeGreaterThanOrEqual(0.9 * (300_000 + 200_000) * 1e-3);
    expect(hub.peakBodies).toBe(1);
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard1())).toBe(true);

    rmSync(cache, { recursive: true, force: true });
    hub.peakBodies = 0;
    await pull({ concurrency: 8, partSize: 65_536 }).promise;
    expect(hub.peakBodies).toBeGreaterThanOrEqual(5);
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard1())).toBe(true);
  });

  it("fetches a large file in ranged parts side by side; a part cut mid-way resumes on its own", async () => {
    hub.bodyDelayMs = 50;
    hub.cutAt.set(SHARD1, 150_000); // inside the third part (131072-196607)
    const { promise, events } = pull({ partSize: 65_536 });
    await promise;
    const ranges = hub.log
      .filter((l) => l.server === "cdn" && l.url.includes(sha256Of(SHARD1)))
      .map((l) => l.range)
      .sort();
    expect(ranges).toEqual(
      [
        "bytes=0-65535",
        "bytes=65536-131071",
        "bytes=131072-196607",
        "bytes=150000-196607",
        "bytes=196608-262143",
        "bytes=262144-299999",
      ].sort(),
    );
    expect(hub.peakBodies).toBeGreaterThanOrEqual(2);
    expect(events).toContainEqual(
      expect.objectContaining({ type: "retry", what: SHARD1, resumeAt: 150_000 }),
    );
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard1())).toBe(true);
    const blobs = readdirSync(join(cache, "models--acme--tiny-llama", "blobs"));
    expect(blobs.filter((n) => /\.(parts|json|incomplete)$/.test(n))).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: "done", fetched: vllmBytes() }); // the cut part lost nothing
  });

  it("asks the hub once per large file: the other parts go to the CDN link the first answer came from", async () => {
    // A request to the hub's resolve URL costs a round trip to the hub, counts against its rate limit and as a
    // download. hf_transfer asks the hub once per file and fetches every chunk from the URL it was redirected to:
    // "Only call the final redirect URL to avoid overloading the Hub with requests and also altering the
    // download count" (huggingface/hf_transfer, src/lib.rs, download_async).
    hub.bodyDelayMs = 50; // the first part is still arriving when the others start
    const { promise } = pull({ partSize: 65_536 });
    await promise;
    expect(hub.log.filter((l) => l.server === "hub" && l.url.endsWith(`/${SHARD1}`))).toHaveLength(1);
    expect(hub.log.filter((l) => l.server === "cdn" && l.url.includes(sha256Of(SHARD1)))).toHaveLength(5);
    expect(hub.peakBodies).toBeGreaterThanOrEqual(2);
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard1())).toBe(true);
  });

  it("a part whose CDN link is refused (expired, 403) asks the hub for a fresh link, without a wait", async () => {
    // Parts one after the other: the first follows the hub's redirect, the next ones ask the CDN directly.
    hub.refuse.set(`cdn:${SHARD1}`, { status: 403, times: 1, after: 1 });
    const { promise, events, sleeps } = pull({ partSize: 65_536, concurrency: 1 });
    await promise;
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard1())).toBe(true);
    expect(hub.log.filter((l) => l.server === "hub" && l.url.endsWith(`/${SHARD1}`))).toHaveLength(2);
    expect(events.filter((e) => e.type === "retry")).toEqual([]);
    expect(sleeps).toEqual([]);
  });

  it("a CDN that ignores Range still delivers a large file, in one stream", async () => {
    hub.cdnIgnoresRange = true;
    await pull({ partSize: 65_536 }).promise;
    expect(readBack(cache, REPO, SHARD1).bytes.equals(shard1())).toBe(true);
    const gets = hub.log.filter((l) => l.server === "cdn" && l.url.includes(sha256Of(SHARD1)));
    expect(gets.map((l) => l.range)).toEqual(["bytes=0-65535", null]);
  });
});

describe("disk space", () => {
  it("refuses up front when the model does not fit, with needed vs free", async () => {
    const err = await pullError(pull({ freeBytes: async () => 100_000 }).promise);
    expect(err.kind).toBe("disk_full");
    expect(err.message).toMatch(/the download needs 501 kB, 100 kB is free/);
    expect(err.fix).toContain("or set MODEL_DIR to a disk with room");
    expect(hub.fileGets().filter((l) => l.server === "cdn")).toHaveLength(0);
  });

  it("on a real full disk (a 256 kB tmpfs): refuses up front, and a disk that fills mid-file keeps the part", async () => {
    const mnt = join(cache, "tmpfs");
    mkdirSync(mnt);
    await mount(mnt, "256k");
    try {
      const real = await pullError(
        pullModel(
          { repo: REPO, cacheDir: mnt, endpoint: hub.endpoint, token: null },
          {
            hub: createHubApi({ endpoint: hub.endpoint, token: null }),
            freeBytes: (await import("../src/models/disk-space.js")).freeBytes,
            sleep: async () => {},
            onEvent: () => {},
          },
        ),
      );
      expect(real.kind).toBe("disk_full");
      expect(real.message).toMatch(/needs 501 kB, 2\d\d kB is free/);

      // A disk that looked big enough but filled up (another writer): ENOSPC mid-file.
      const mid = await pullError(
        pullModel(
          { repo: REPO, cacheDir: mnt, endpoint: hub.endpoint, token: null },
          {
            hub: createHubApi({ endpoint: hub.endpoint, token: null }),
            freeBytes: async () => 1e12,
            sleep: async () => {},
            onEvent: () => {},
          },
        ),
      );
      expect(mid.kind).toBe("disk_full");
      // Files come side by side: the one that meets the full disk is named, whichever it is.
      expect(mid.message).toMatch(/the disk filled up while writing [\w.-]+ \(.*ENOSPC/);
      expect(mid.fix).toContain(`df -h ${mnt}`);
      const blobs = readdirSync(join(mnt, "models--acme--tiny-llama", "blobs"));
      expect(blobs.some((n) => n.endsWith(".incomplete"))).toBe(true);
    } finally {
      await umount(mnt);
    }
  });
});

async function mount(dir: string, size: string): Promise<void> {
  const { execa } = await import("execa");
  const r = await execa("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { reject: false });
  if (r.exitCode !== 0)
    throw new Error(
      `this test mounts a small tmpfs and needs root (CI runs as root): mount said ${r.stderr}`,
    );
}

async function umount(dir: string): Promise<void> {
  const { execa } = await import("execa");
  await execa("umount", [dir]);
}
