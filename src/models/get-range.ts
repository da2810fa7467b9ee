// One GET of a file (or a byte range of it) into a sink, following the hub's redirect to its CDN as
// huggingface_hub does (GET <endpoint>/<repo>/resolve/<commit>/<file>: small files come from the hub itself,
// LFS files through a redirect to a presigned CDN URL). The token goes to the hub's origin only; the hub's own
// headers are checked against its file list; a redirect from a public hub to a private address is refused.
// Undici's stream() hands each network chunk straight to the sink: no Readable, no promise per chunk.
import { Writable } from "node:stream";
import { type Dispatcher, stream } from "undici";
import type { HubFile } from "./hub-api.js";
import { isDiskFull, OversizeSignal } from "./part-writer.js";
import { isPrivateHost } from "./private-address.js";
import { describeError, PullError } from "./pull-error.js";
import { RETRY_STATUSES, serverWaitMs } from "./retry-policy.js";
import { type Server, serverOf, TemporaryFailure } from "./temporary-failure.js";

const MAX_REDIRECTS = 5;
// A stalled transfer (no bytes for this long) is treated like a cut connection and resumed.
const BODY_TIMEOUT_MS = 60_000;
// A redirect's body is read and dropped (the connection stays open for the next request), up to this much.
const MAX_REDIRECT_BODY = 64 * 1024;

export interface FileSource {
  endpoint: string;
  token: string | null;
  repo: string;
  commit: string;
  file: HubFile;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}

/** Bytes [start, end) of the file; `openEnded` sends `bytes=start-` (a single-stream resume). */
export interface ByteRange {
  start: number;
  end: number;
  openEnded: boolean;
}

/** The server answered 200 (the whole file) to a Range request. */
export class RangeIgnored extends Error {
  constructor(readonly server: Server) {
    super("HTTP 200 to a Range request (the whole file)");
  }
}

/** The server answered 416: the range is past its end of the file. */
export class RangeNotSatisfiable extends Error {
  constructor(readonly server: Server) {
    super("HTTP 416 (the range asked for is past its end of the file)");
  }
}

/** A status that is neither success, redirect nor temporary (401, 403, 404...). */
export class StatusRefused extends Error {
  constructor(
    readonly server: Server,
    readonly status: number,
    readonly errorCode: string | null,
    readonly detail: string,
  ) {
    super(`${server.host} answered HTTP ${status}`);
  }
}

/** The server sent, or announced, more bytes than were asked for. */
export class BodyTooLong extends Error {
  constructor(
    readonly host: string,
    readonly what: string,
  ) {
    super(`${host} ${what}`);
  }
}

export function resolveUrl(src: FileSource): URL {
  const file = src.file.path.split("/").map(encodeURIComponent).join("/");
  return new URL(`${src.endpoint}/${src.repo}/resolve/${src.commit}/${file}`);
}

/**
 * GETs `range` from `from` (the hub's resolve URL or a CDN URL learned before) into the sink `open` gives for
 * the body's first byte and the URL that answered (to ask for the file's other parts there at once); returns
 * that URL.
 */
export async function getRange(
  src: FileSource,
  from: URL,
  range: ByteRange | null,
  open: (pos: number, answered: URL) => Writable,
): Promise<URL> {
  const headers: Record<string, string> = { "user-agent": "llm-runner" };
  if (range)
    headers.range = range.openEnded ? `bytes=${range.start}-` : `bytes=${range.start}-${range.end - 1}`;
  const hub = new URL(src.endpoint);
  let url = from;
  for (let hop = 0; ; hop++) {
    if (src.token && url.origin === hub.origin) headers.authorization = `Bearer ${src.token}`;
    else delete headers.authorization; // huggingface_hub drops the token on the way to the CDN
    const server = serverOf(url, src.endpoint);
    let location: string | null = null;
    try {
      await stream(
        url,
        {
          method: "GET",
          headers,
          headersTimeout: BODY_TIMEOUT_MS,
          bodyTimeout: BODY_TIMEOUT_MS,
          ...(src.signal ? { signal: src.signal } : {}),
          ...(src.dispatcher ? { dispatcher: src.dispatcher } : {}),
          opaque: null,
        },
        ({ statusCode, headers: h }) => {
          const get = (name: string) => first(h[name]);
          if (server.role === "hub") checkHubHeaders(src, get);
          if (statusCode >= 300 && statusCode < 400 && get("location") !== null) {
            location = get("location");
            return discard();
          }
          return sinkFor(src, server, range, statusCode, get, (pos) => open(pos, url));
        },
      );
    } catch (err) {
      if (err instanceof OversizeSignal) throw new BodyTooLong(url.host, "sent more than that");
      if (isOurs(err) || isDiskFull(err) || src.signal?.aborted) throw err;
      throw new TemporaryFailure(server, `connection lost (${describeError(err)})`, null, null);
    }
    if (location === null) return url;
    if (hop >= MAX_REDIRECTS) {
      throw new PullError(
        "hub_error",
        `too many redirects for ${src.file.path}`,
        "check HF_ENDPOINT and any proxy in between",
      );
    }
    const next = new URL(location, url);
    checkRedirect(src, url, next);
    url = next;
  }
}

/** Checks a final answer's status and range, and returns where its body goes. */
function sinkFor(
  src: FileSource,
  server: Server,
  range: ByteRange | null,
  status: number,
  get: (name: string) => string | null,
  open: (pos: number) => Writable,
): Writable {
  if (RETRY_STATUSES.has(status))
    throw new TemporaryFailure(server, `HTTP ${status}`, status, serverWaitMs(status, get, Date.now()));
  if (status === 416) throw new RangeNotSatisfiable(server);
  if (status !== 200 && status !== 206) {
    const hubOnly = server.role === "hub";
    // The hub's own short message (X-Error-Message); never a body, and nothing from a CDN.
    const detail = hubOnly ? (get("x-error-message") ?? "").replace(/\p{Cc}/gu, "?").slice(0, 200) : "";
    throw new StatusRefused(server, status, hubOnly ? get("x-error-code") : null, detail);
  }
  let pos = 0;
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(get("content-range") ?? "");
    const start = Number(m?.[1]);
    const want = range?.start ?? 0;
    if (start !== want)
      throw new TemporaryFailure(server, `a range from byte ${m?.[1] ?? "?"} instead of ${want}`, null, null);
    if (m?.[3] !== "*" && Number(m?.[3]) !== src.file.size) {
      throw new PullError(
        "corrupt",
        `${server.host} says ${src.file.path} has ${m?.[3]} bytes, while the hub lists ${src.file.size}; nothing of this answer was kept`,
        "a proxy or mirror (HF_ENDPOINT) is serving other content than the hub lists; check it, then run the command again",
      );
    }
    pos = start;
  } else if (range !== null) {
    throw new RangeIgnored(server);
  }
  const announced = Number(get("content-length") ?? Number.NaN);
  const end = range?.end ?? src.file.size;
  if (pos + announced > end) throw new BodyTooLong(server.host, `announced ${pos + announced} bytes`);
  return open(pos);
}

function isOurs(err: unknown): boolean {
  return (
    err instanceof PullError ||
    err instanceof TemporaryFailure ||
    err instanceof StatusRefused ||
    err instanceof RangeIgnored ||
    err instanceof RangeNotSatisfiable ||
    err instanceof BodyTooLong
  );
}

function discard(): Writable {
  let seen = 0;
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      cb(
        seen > MAX_REDIRECT_BODY
          ? new Error(`a redirect came with more than ${MAX_REDIRECT_BODY} bytes`)
          : null,
      );
    },
  });
}

/**
 * Refuses a redirect from a public hub to this machine or its private network (an attacker's way to make the
 * pull call a local service); a hub that is itself on a private address (a local mirror) may redirect there.
 */
function checkRedirect(src: FileSource, from: URL, to: URL): void {
  if (to.protocol !== "http:" && to.protocol !== "https:") {
    throw new PullError(
      "hub_error",
      `${from.host} redirected ${src.file.path} to a ${to.protocol} URL; only http and https are followed`,
      "check HF_ENDPOINT and any proxy in between",
    );
  }
  if (!isPrivateHost(to.hostname) || isPrivateHost(new URL(src.endpoint).hostname)) return;
  throw new PullError(
    "hub_error",
    `${from.host} redirected ${src.file.path} to ${to.host}, a loopback, link-local or private address, while HF_ENDPOINT is public; the redirect was not followed`,
    "check HF_ENDPOINT: the Hugging Face hub redirects only to its public CDN; to pull from a mirror on your own network, set HF_ENDPOINT to the mirror's address",
  );
}

/** Checks the hub's own headers on its answer, as huggingface_hub's get_hf_file_metadata reads them. */
function checkHubHeaders(src: FileSource, get: (name: string) => string | null): void {
  const commit = get("x-repo-commit");
  const linkedEtag = normalizeEtag(get("x-linked-etag"));
  const linkedSize = get("x-linked-size");
  const problems: string[] = [];
  if (commit && commit !== src.commit) problems.push(`commit ${commit} instead of ${src.commit}`);
  if (linkedEtag && linkedEtag !== src.file.etag)
    problems.push(`etag ${linkedEtag} instead of ${src.file.etag}`);
  if (linkedSize && Number(linkedSize) !== src.file.size)
    problems.push(`size ${linkedSize} instead of ${src.file.size}`);
  if (problems.length > 0) {
    throw new PullError(
      "hub_error",
      `the hub's answer for ${src.file.path} does not match its file list: ${problems.join(", ")}`,
      "a proxy or mirror (HF_ENDPOINT) is serving other content; check it, then run the command again",
    );
  }
}

/** `"abc"` and `W/"abc"` -> `abc` (huggingface_hub's _normalize_etag). */
export function normalizeEtag(etag: string | null): string | null {
  if (etag === null) return null;
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

function first(v: string | string[] | undefined): string | null {
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}
