// `pull` against a hub or mirror that lies (test/helpers/fake-hub.ts, hostile knobs): its file list names
// paths and blobs outside MODEL_DIR, its bodies run past the listed size, its answers are gzip bombs, its next
// page and its redirects lead to other hosts. Tree entries follow the hub's answer to
// GET /api/models/{id}/tree/{rev} (@huggingface/hub src/lib/list-files.ts, ListFileEntry: oid is the git blob
// sha1, lfs.oid the sha256, sizes in bytes); git oids and sha256s are what huggingface_hub accepts
// (file_download.py REGEX_COMMIT_HASH / REGEX_SHA256).
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHubApi } from "../src/models/hub-api.js";
import { fetchVia, proxyDispatcher } from "../src/models/hub-dispatcher.js";
import { PullError } from "../src/models/pull-error.js";
import { pullModel } from "../src/models/pull-model.js";
import { FakeHub, type TreeEntryJson } from "./helpers/fake-hub.js";
import { etagOf, tinyModel } from "./helpers/fake-repo.js";
import { ForwardProxy } from "./helpers/forward-proxy.js";
import { readBack } from "./helpers/hf-readback.js";

const REPO = "acme/tiny-llama";
const SHARD = "model-00002-of-00002.safetensors";
let hub: FakeHub;
let root: string; // the test's folder: MODEL_DIR is root/hub, anything else in root is "outside"
let cache: string;

beforeEach(async () => {
  hub = await new FakeHub([tinyModel(REPO)]).start();
  root = mkdtempSync(join(tmpdir(), "llmr-hostile-"));
  cache = join(root, "hub");
});
afterEach(async () => {
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

function pull(opts: { endpoint?: string; token?: string | null; proxy?: string } = {}) {
  const endpoint = opts.endpoint ?? hub.endpoint;
  const token = opts.token ?? null;
  const dispatcher = opts.proxy ? proxyDispatcher({ HTTP_PROXY: opts.proxy }) : null;
  return pullModel(
    { repo: REPO, cacheDir: cache, endpoint, token },
    {
      hub: createHubApi({ endpoint, token }, fetchVia(dispatcher)),
      freeBytes: async () => 1e12,
      sleep: async () => {},
      onEvent: () => {},
      ...(dispatcher ? { dispatcher } : {}),
    },
  ).finally(() => dispatcher?.close());
}

async function pullError(p: Promise<unknown>): Promise<PullError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PullError);
  return err as PullError;
}

const repoDir = () => join(cache, "models--acme--tiny-llama");
const rewrite = (path: string, change: (e: TreeEntryJson) => TreeEntryJson) => {
  hub.rewriteEntry = (e) => (e.path === path ? change(e) : e);
};

describe("a file list that names places outside the repo folder", () => {
  it("an oid that climbs out of blobs/ is refused before any download or folder is made", async () => {
    rewrite("config.json", (e) => ({ ...e, oid: "../../../outside/etag-plain" }));
    const err = await pullError(pull());
    expect(err.kind).toBe("hub_error");
    expect(err.message).toContain(
      `the hub at ${new URL(hub.endpoint).host} sent a file list for ${REPO} that a Hugging Face hub never sends: config.json has the git oid "../../../outside/etag-plain" (not 40 hex digits)`,
    );
    expect(err.fix).toContain("check HF_ENDPOINT");
    expect(existsSync(join(root, "outside"))).toBe(false);
    expect(hub.fileGets()).toHaveLength(0);
  });

  it.each([
    ["config.json", "oid"],
    [SHARD, "lfs.oid"],
  ])("an oid (%s, %s) naming a file that exists outside is not taken as downloaded", async (path, field) => {
    const secret = join(root, "secret.txt");
    writeFileSync(secret, "not a model file");
    rewrite(path, (e) =>
      field === "oid"
        ? { ...e, oid: "../../../secret.txt" }
        : { ...e, lfs: { ...(e.lfs as NonNullable<TreeEntryJson["lfs"]>), oid: "../../../secret.txt" } },
    );
    const err = await pullError(pull());
    expect(err.message).toContain(
      `${path} has the ${field === "oid" ? "git oid" : "LFS sha256"} "../../../secret.txt"`,
    );
    expect(existsSync(join(repoDir(), "snapshots"))).toBe(false);
    expect(readFileSync(secret, "utf8")).toBe("not a model file");
  });

  it.each([
    ["../escape.json", "it climbs out with '..'"],
    ["/etc/escape.json", "it is absolute"],
    ["..\\..\\escape.json", "it contains a backslash"],
    ["escape\u0000.json", "it contains a control character"],
    ["sub//escape.json", "it has an empty or '.' segment"],
  ])("a file path %j is refused: %s", async (bad, why) => {
    rewrite("generation_config.json", (e) => ({ ...e, path: bad }));
    const err = await pullError(pull());
    expect(err.kind).toBe("hub_error");
    expect(err.message).toContain(`the path ${JSON.stringify(bad)} is unsafe (${why})`);
    expect(hub.fileGets()).toHaveLength(0);
  });

  it("a blob already in the cache with other bytes, or as a link elsewhere, is fetched again, not trusted", async () => {
    const model = tinyModel(REPO);
    const config = model.files.find((f) => f.path === "config.json") as (typeof model.files)[number];
    const shard = model.files.find((f) => f.path === SHARD) as (typeof model.files)[number];
    const secret = join(root, "secret.bin");
    writeFileSync(secret, Buffer.alloc(shard.content.length, 7));
    mkdirSync(join(repoDir(), "blobs"), { recursive: true });
    // Same size, other bytes: only the hash tells them apart.
    writeFileSync(join(repoDir(), "blobs", etagOf(config)), Buffer.alloc(config.content.length, 0x20));
    symlinkSync(secret, join(repoDir(), "blobs", etagOf(shard)));
    await pull();
    expect(readBack(cache, REPO, "config.json").bytes.equals(config.content)).toBe(true);
    expect(readBack(cache, REPO, SHARD).bytes.equals(shard.content)).toBe(true);
    expect(lstatSync(join(repoDir(), "blobs", etagOf(shard))).isFile()).toBe(true);
    expect(readFileSync(secret).equals(Buffer.alloc(shard.content.length, 7))).toBe(true);
  });
});

describe("sizes and bodies", () => {
  it.each([
    [-5, "it is negative"],
    [1.5, "it is not a whole number"],
    ["12", "it is not a whole number"],
  ])("a listed size of %j is refused before any download: %s", async (size, why) => {
    rewrite("config.json", (e) => ({ ...e, size: size as number }));
    const err = await pullError(pull());
    expect(err.message).toContain(`config.json has the size ${JSON.stringify(size)} (${why})`);
    expect(hub.fileGets()).toHaveLength(0);
  });

  it.each([
    ["chunked", false],
    ["with a Content-Length", true],
  ])("a body past the listed size (%s) is stopped at once and deleted", async (_how, contentLength) => {
    const size = tinyModel(REPO).files.find((f) => f.path === "config.json")?.content.length as number;
    hub.oversize.set("config.json", { extra: 64 * 1024 * 1024, contentLength });
    const err = await pullError(pull());
    expect(err.kind).toBe("corrupt");
    expect(err.message).toMatch(
      new RegExp(
        `^127\\.0\\.0\\.1:\\d+ (sent more than that|announced ${size + 64 * 1024 * 1024} bytes) for config\\.json, which the hub lists as ${size} bytes; the download was stopped and deleted$`,
      ),
    );
    const sent = hub.oversizeSent.get("config.json");
    await expect.poll(() => sent?.done, { timeout: 10_000 }).toBe(true);
    // The client hung up within the socket buffers' reach, not after the 64 MiB.
    expect(sent?.bytes).toBeLessThan(16 * 1024 * 1024);
    expect(existsSync(join(repoDir(), "blobs"))).toBe(true);
    expect(existsSync(join(repoDir(), "snapshots"))).toBe(false);
  });

  it("a gzip bomb as the file list is cut off at 16 MiB with an error naming the host", async () => {
    // 64 kB on the wire, 64 MiB of JSON once fetch decompresses it (Content-Encoding: gzip).
    const json = Buffer.concat([Buffer.from("["), Buffer.alloc(64 * 1024 * 1024, 0x20), Buffer.from("]")]);
    hub.rawTree = {
      body: gzipSync(json),
      headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" },
    };
    const err = await pullError(pull());
    expect(err.kind).toBe("hub_error");
    expect(err.message).toBe(
      `the hub at ${new URL(hub.endpoint).host} sent more than 16 MiB (after decompression) for one API answer; it was not read further`,
    );
  });
});

describe("HF_TOKEN and redirects stay with the hub", () => {
  it("a next-page link to another host is not followed, so the token never reaches it", async () => {
    hub.nextPageOrigin = hub.cdnOrigin; // another origin (port) that logs what it receives
    const err = await pullError(pull({ token: "hf_secret" }));
    expect(err.kind).toBe("hub_error");
    expect(err.message).toContain(
      `sent an API call on to ${hub.cdnOrigin} (a next page or a redirect), which is not HF_ENDPOINT's origin`,
    );
    expect(hub.log.filter((l) => l.server === "cdn")).toEqual([]);
    expect(hub.log.filter((l) => l.url.includes("/tree/")).every((l) => l.server === "hub")).toBe(true);
  });

  describe("with a public HF_ENDPOINT (names served through a proxy)", () => {
    let proxy: ForwardProxy;
    const endpoint = "http://hub.example.com";
    beforeEach(async () => {
      proxy = await new ForwardProxy({
        "hub.example.com:80": new URL(hub.endpoint).host,
        "cdn.example.com:80": new URL(hub.cdnOrigin).host,
      }).start();
      hub.cdnBase = "http://cdn.example.com";
    });
    afterEach(() => proxy.close());

    it("follows the hub's redirect to its public CDN", async () => {
      await pull({ endpoint, proxy: proxy.url, token: "hf_secret" });
      expect(readBack(cache, REPO, SHARD).bytes.length).toBe(200_000);
      const cdn = hub.log.filter((l) => l.server === "cdn");
      expect(cdn.length).toBe(2);
      expect(cdn.every((l) => l.authorization === null)).toBe(true);
    });

    it.each([
      ["loopback", (cdn: string) => `${cdn}/admin/reset`],
      ["localhost", (cdn: string) => `http://localhost:${new URL(cdn).port}/admin/reset`],
    ])("refuses a redirect to a %s address", async (_kind, target) => {
      hub.redirectFor.set("config.json", target(hub.cdnOrigin));
      const err = await pullError(pull({ endpoint, proxy: proxy.url }));
      expect(err.kind).toBe("hub_error");
      expect(err.message).toMatch(
        /^hub\.example\.com redirected config\.json to (127\.0\.0\.1|localhost):\d+, a loopback, link-local or private address, while HF_ENDPOINT is public; the redirect was not followed$/,
      );
      expect(hub.log.filter((l) => l.url.includes("/admin/"))).toEqual([]);
    });
  });
});
