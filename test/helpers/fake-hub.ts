// A small Hugging Face hub on 127.0.0.1, speaking the endpoints and headers the clients use (read in
// huggingface_hub's file_download.py / utils/_http.py and @huggingface/hub's model-info.ts / list-files.ts):
//   GET /api/models/{id}/revision/{rev}   model info: {id, sha, gated, siblings}
//   GET /api/models/{id}/tree/{rev}       file list (recursive), paged with a Link: <…>; rel="next" header
//   GET /{id}/resolve/{rev}/{path}        small files answered directly (ETag = git blob sha1, Range honoured);
//                                         LFS files: 302 to a CDN on another origin, with X-Repo-Commit,
//                                         X-Linked-Etag (sha256) and X-Linked-Size, as huggingface.co does
// Errors carry X-Error-Code (GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound) and X-Error-Message.
// Knobs let a test cut a connection mid-file, stall one, slow bodies down, answer a status of its choosing (for
// good, or a few times as a busy hub or CDN does, with Retry-After and an HTML page), or ignore Range; the
// hostile ones (rewriteEntry, nextPageOrigin, rawTree, oversize, redirectFor, cdnBase) play a tampering hub or
// mirror. Bodies in flight are counted, so a test sees how many files or parts came side by side.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type FakeFile, type FakeRepo, gitBlobSha1, sha256 } from "./fake-repo.js";

/** A refusal: `times` answers of `status` (Infinity: every one), after `after` real answers (default 0). */
export interface Refusal {
  status: number;
  times: number;
  after?: number;
  headers?: Record<string, string>;
  html?: string; // a CDN's error page
}

export interface RequestLog {
  server: "hub" | "cdn";
  method: string;
  url: string;
  range: string | null;
  authorization: string | null;
}

/** One entry of the hub's tree answer (GET /api/models/{id}/tree/{rev}), as huggingface.co sends it. */
export interface TreeEntryJson {
  type: string;
  oid: string;
  size: number;
  path: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

export class FakeHub {
  readonly log: RequestLog[] = [];
  /** path -> byte after which the next GET of that file is cut (socket destroyed); used once per entry. */
  readonly cutAt = new Map<string, number>();
  /** path -> byte after which the next GET stops sending and hangs until the client goes away. */
  readonly stallAt = new Map<string, number>();
  /** path -> status every GET of that file answers (e.g. 500). */
  readonly statusFor = new Map<string, number>();
  /**
   * Refusals before the real answer: "info" (the model info), "hub:<path>" (the hub's answer for a file),
   * "cdn:<path>" (the CDN's answer for an LFS file).
   */
  readonly refuse = new Map<string, Refusal>();
  /** The CDN answers 200 with the whole file to a Range request, as a server without range support does. */
  cdnIgnoresRange = false;
  /** Each file body is sent in two halves this many ms apart, so bodies in flight overlap. */
  bodyDelayMs = 0;
  /**
   * Bytes per second each file body is sent at (0: as fast as the socket takes them): one TCP connection's
   * share over a real network, where the round trip and the window cap each stream, not the machine.
   */
  bodyBytesPerSecond = 0;
  /** The most file bodies (hub or CDN) that were being sent at once. */
  peakBodies = 0;
  private bodies = 0;
  /** paths whose bytes are served with the first byte flipped (a corrupting proxy). */
  readonly corrupt = new Set<string>();
  pageSize = 4;
  /** Rewrites each file entry of the tree answer (a hub lying about oids, sizes or paths). */
  rewriteEntry: ((entry: TreeEntryJson) => TreeEntryJson) | null = null;
  /** An origin the tree's `Link: <…>; rel="next"` points at instead of the hub's own. */
  nextPageOrigin: string | null = null;
  /** A body (with its headers) every tree page answers instead of the real list. */
  rawTree: { body: Buffer; headers: Record<string, string> } | null = null;
  /** path -> extra bytes served after the file's own (chunked, or with a Content-Length that counts them). */
  readonly oversize = new Map<string, { extra: number; contentLength: boolean }>();
  /** path -> bytes of an oversize answer handed to the socket before the client went away. */
  readonly oversizeSent = new Map<string, { bytes: number; done: boolean }>();
  /** path -> Location the hub redirects that file to. */
  readonly redirectFor = new Map<string, string>();
  /** Origin in the LFS redirect's Location (default: the CDN server's own 127.0.0.1 address). */
  cdnBase: string | null = null;
  private hub: Server;
  private cdn: Server;
  private sockets = new Set<Socket>();

  constructor(readonly repos: FakeRepo[]) {
    this.hub = createServer((req, res) => this.onHub(req, res));
    this.cdn = createServer((req, res) => this.onCdn(req, res));
    for (const s of [this.hub, this.cdn])
      s.on("connection", (sock) => {
        this.sockets.add(sock);
        sock.on("close", () => this.sockets.delete(sock));
      });
  }

  async start(): Promise<this> {
    await Promise.all([this.hub, this.cdn].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
    return this;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
  }

  get cdnOrigin(): string {
    return `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.hub, this.cdn].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  /** GETs of files (not API calls), in order. */
  fileGets(): RequestLog[] {
    return this.log.filter((l) => l.method === "GET" && (l.server === "cdn" || l.url.includes("/resolve/")));
  }

  private record(server: "hub" | "cdn", req: IncomingMessage): void {
    this.log.push({
      server,
      method: req.method ?? "",
      url: req.url ?? "",
      range: req.headers.range ?? null,
      authorization: req.headers.authorization ?? null,
    });
  }

  private onHub(req: IncomingMessage, res: ServerResponse): void {
    this.record("hub", req);
    const url = new URL(req.url ?? "/", this.endpoint);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? null;
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const [, id, kind, rev] = api as unknown as [string, string, string, string];
      const repo = this.repoFor(id, token, res, false);
      if (!repo) return;
      if (decodeURIComponent(rev) !== "main" && rev !== repo.commit) {
        error(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
        return;
      }
      if (kind === "revision") {
        if (this.refused("info", res)) return;
        json(res, 200, {
          _id: `id-${repo.id}`,
          id: repo.id,
          sha: repo.commit,
          gated: repo.gated ?? false,
          private: false,
          siblings: repo.files.map((f) => ({ rfilename: f.path })),
        });
        return;
      }
      if (this.rawTree) {
        res.writeHead(200, this.rawTree.headers);
        res.end(this.rawTree.body);
        return;
      }
      // The next-page link carries the name the client used (Host), as a hub behind its own domain does.
      this.tree(repo, new URL(url.pathname + url.search, `http://${req.headers.host}`), res);
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const [, id, rev, rawPath] = resolve as unknown as [string, string, string, string];
      const repo = this.repoFor(id, token, res, true);
      if (!repo) return;
      if (rev !== "main" && rev !== repo.commit) {
        error(res, 404, "RevisionNotFound", "Invalid rev id");
        return;
      }
      const path = rawPath.split("/").map(decodeURIComponent).join("/");
      const file = repo.files.find((f) => f.path === path);
      if (!file) {
        error(res, 404, "EntryNotFound", `${path} does not exist on "${rev}"`);
        return;
      }
      const forced = this.statusFor.get(path);
      if (forced) {
        error(res, forced, null, `forced ${forced}`);
        return;
      }
      if (this.refused(`hub:${path}`, res)) return;
      res.setHeader("X-Repo-Commit", repo.commit);
      const elsewhere = this.redirectFor.get(path);
      if (elsewhere) {
        res.writeHead(302, { Location: elsewhere });
        res.end();
        return;
      }
      if (file.lfs) {
        res.setHeader("X-Linked-Etag", `"${sha256(file.content)}"`);
        res.setHeader("X-Linked-Size", String(file.content.length));
        res.setHeader("ETag", `"${gitBlobSha1(Buffer.from("pointer"))}"`);
        res.writeHead(302, {
          Location: `${this.cdnBase ?? this.cdnOrigin}/lfs/${sha256(file.content)}?X-Amz-Signature=fake`,
        });
        res.end();
        return;
      }
      res.setHeader("ETag", `"${gitBlobSha1(file.content)}"`);
      const over = this.oversize.get(path);
      if (over) void this.serveOversize(res, file, over);
      else this.serveBytes(req, res, file);
      return;
    }
    error(res, 404, null, "Not found");
  }

  private onCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record("cdn", req);
    const m = /^\/lfs\/([0-9a-f]{64})$/.exec(new URL(req.url ?? "/", this.cdnOrigin).pathname);
    const file = m && this.repos.flatMap((r) => r.files).find((f) => f.lfs && sha256(f.content) === m[1]);
    if (!file) {
      error(res, 404, null, "no such object");
      return;
    }
    // A presigned URL: the CDN rejects a request that also carries a token, as S3 does.
    if (req.headers.authorization) {
      error(res, 400, null, "Only one auth mechanism allowed");
      return;
    }
    if (this.refused(`cdn:${file.path}`, res)) return;
    res.setHeader("ETag", `"${sha256(file.content)}"`);
    if (this.cdnIgnoresRange) delete req.headers.range;
    this.serveBytes(req, res, file);
  }

  /** Answers the refusal set for `key`, if any is left; true when it did. */
  private refused(key: string, res: ServerResponse): boolean {
    const r = this.refuse.get(key);
    if (!r || r.times <= 0) return false;
    if (r.after) {
      r.after--;
      return false;
    }
    r.times--;
    if (r.html !== undefined) {
      res.writeHead(r.status, { "Content-Type": "text/html", ...r.headers });
      res.end(r.html);
    } else {
      for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
      error(res, r.status, null, `refused with ${r.status}`);
    }
    return true;
  }

  private repoFor(
    id: string,
    token: string | null,
    res: ServerResponse,
    forDownload: boolean,
  ): FakeRepo | null {
    const repo = this.repos.find((r) => r.id === id);
    if (!repo) {
      // The hub answers 401 to anonymous callers for a repo that does not exist (it cannot tell private ones).
      if (token === null) error(res, 401, "RepoNotFound", "Repository not found");
      else error(res, 404, "RepoNotFound", "Repository not found");
      return null;
    }
    if (forDownload && repo.gated) {
      if (token === null) {
        error(
          res,
          401,
          "GatedRepo",
          `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        );
        return null;
      }
      if (!(repo.tokens ?? []).includes(token)) {
        error(
          res,
          403,
          "GatedRepo",
          `Access to model ${id} is restricted and you are not in the authorized list.`,
        );
        return null;
      }
    }
    return repo;
  }

  private tree(repo: FakeRepo, url: URL, res: ServerResponse): void {
    const dirs = new Set<string>();
    for (const f of repo.files) {
      const parts = f.path.split("/");
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
    }
    const rewrite = this.rewriteEntry ?? ((e: TreeEntryJson) => e);
    const entries = [
      ...[...dirs].map((d) => ({ type: "directory", oid: gitBlobSha1(Buffer.from(d)), size: 0, path: d })),
      ...repo.files.map((f) =>
        rewrite(
          f.lfs
            ? {
                type: "file",
                oid: gitBlobSha1(Buffer.from(`lfs pointer ${sha256(f.content)}`)),
                size: 130,
                path: f.path,
                lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 130 },
              }
            : { type: "file", oid: gitBlobSha1(f.content), size: f.content.length, path: f.path },
        ),
      ),
    ];
    const cursor = Number(url.searchParams.get("cursor") ?? "0");
    const page = entries.slice(cursor, cursor + this.pageSize);
    if (cursor + this.pageSize < entries.length) {
      const next = new URL(url.pathname + url.search, this.nextPageOrigin ?? url.origin);
      next.searchParams.set("cursor", String(cursor + this.pageSize));
      res.setHeader("Link", `<${next.href}>; rel="next"`);
    }
    json(res, 200, page);
  }

  /** The file's bytes then `extra` zero bytes, written as fast as the client takes them, until it leaves. */
  private async serveOversize(
    res: ServerResponse,
    file: FakeFile,
    over: { extra: number; contentLength: boolean },
  ): Promise<void> {
    const sent = { bytes: 0, done: false };
    this.oversizeSent.set(file.path, sent);
    const total = file.content.length + over.extra;
    res.writeHead(200, {
      "Content-Type": "application/octet-stream",
      ...(over.contentLength ? { "Content-Length": String(total) } : {}),
    });
    let closed = false;
    res.on("close", () => {
      closed = true;
    });
    const zeros = Buffer.alloc(64 * 1024);
    res.write(file.content);
    sent.bytes += file.content.length;
    while (!closed && sent.bytes < total) {
      const chunk = zeros.subarray(0, Math.min(zeros.length, total - sent.bytes));
      const more = res.write(chunk);
      sent.bytes += chunk.length;
      if (!more && !closed)
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go).off("close", go);
            resolve();
          };
          res.on("drain", go).on("close", go);
        });
    }
    if (!closed) res.end();
    sent.done = true;
  }

  private serveBytes(req: IncomingMessage, res: ServerResponse, file: FakeFile): void {
    const size = file.content.length;
    let start = 0;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (req.headers.range && !range) {
      error(res, 416, null, "bad range");
      return;
    }
    if (range) {
      start = Number(range[1]);
      if (start >= size) {
        res.writeHead(416, { "Content-Range": `bytes */${size}` });
        res.end();
        return;
      }
    }
    const end = range?.[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    let body = file.content.subarray(start, end + 1);
    if (this.corrupt.has(file.path) && body.length > 0) {
      body = Buffer.from(body);
      body[0] = (body[0] as number) ^ 0xff;
    }
    const headers: Record<string, string> = {
      "Content-Length": String(body.length),
      "Accept-Ranges": "bytes",
      "Content-Type": "application/octet-stream",
    };
    if (range) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    this.bodies++;
    this.peakBodies = Math.max(this.peakBodies, this.bodies);
    res.once("close", () => this.bodies--);
    const cut = this.cutAt.get(file.path);
    const stall = this.stallAt.get(file.path);
    const limit = cut ?? stall;
    if (limit !== undefined && limit > start && limit < end + 1) {
      if (cut !== undefined) this.cutAt.delete(file.path);
      if (stall !== undefined) this.stallAt.delete(file.path);
      res.write(file.content.subarray(start, limit), () => {
        // Cut: the connection drops mid-body. Stall: it stays open, silent, until the client leaves.
        if (cut !== undefined) setTimeout(() => req.socket.destroy(), 20);
      });
      return;
    }
    if (this.bodyBytesPerSecond > 0) {
      paced(res, body, this.bodyBytesPerSecond);
      return;
    }
    if (this.bodyDelayMs > 0 && body.length > 1) {
      res.write(body.subarray(0, body.length >> 1));
      setTimeout(() => res.end(body.subarray(body.length >> 1)), this.bodyDelayMs);
      return;
    }
    res.end(body);
  }
}

// A paced body goes out every PACE_MS: what the rate allows since its start, plus at most one step ahead.
const PACE_MS = 5;

function paced(res: ServerResponse, body: Buffer, bytesPerSecond: number): void {
  const started = performance.now();
  let sent = 0;
  const step = () => {
    if (res.destroyed) return;
    const allowed = ((performance.now() - started + PACE_MS) / 1000) * bytesPerSecond;
    const due = Math.min(body.length, Math.max(sent, Math.floor(allowed)));
    const more = due > sent ? res.write(body.subarray(sent, due)) : true;
    sent = due;
    if (sent >= body.length) {
      res.end();
      return;
    }
    if (more) setTimeout(step, PACE_MS);
    else res.once("drain", () => setTimeout(step, PACE_MS));
  };
  step();
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function error(res: ServerResponse, status: number, code: string | null, message: string): void {
  if (code) res.setHeader("X-Error-Code", code);
  // A header cannot carry control characters (a hostile path may hold one): they go as "?".
  res.setHeader("X-Error-Message", message.replace(/\p{Cc}/gu, "?"));
  json(res, status, { error: message });
}
