import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "./helpers/cli.js";
import {
  chatBody,
  clientAgent,
  metric,
  type Runner,
  startRunner,
  stopAllRunners,
  TOKEN,
} from "./helpers/load.js";
import { rawHttp } from "./helpers/raw-http.js";

// A runner without AUTH_TOKEN (the default) on 127.0.0.1, attacked the way a web page the user opens can: a
// "simple" cross-site POST (text/plain, form or no content type: the browser sends it without asking), a fetch
// from a foreign Origin, and DNS rebinding (evil.example made to resolve to 127.0.0.1, so Host: evil.example).
// README "Security" documents each refusal; with AUTH_TOKEN set none of them applies.

let open: Runner; // no AUTH_TOKEN, CORS_ORIGINS unset, ALLOWED_HOSTS=runner.lan
let guarded: Runner; // AUTH_TOKEN set, everything else unset

beforeAll(async () => {
  assertBuilt();
  open = await startRunner({ ALLOWED_HOSTS: "runner.lan", SIM_ITL_MS: "1" }, { auth: false });
  guarded = await startRunner({ SIM_ITL_MS: "1" });
}, 120_000);
afterAll(async () => {
  await stopAllRunners();
});

/** Requests the runner's engine has finished (the simulator's own counter, read through the runner's /metrics). */
async function engineRequests(runner: Runner): Promise<number> {
  await new Promise((r) => setTimeout(r, 2_100)); // past the runner's short cache of the engine's series
  const res = await request(`${runner.url}/metrics`, { dispatcher: clientAgent });
  return metric(await res.body.text(), "vllm:e2e_request_latency_seconds_count") ?? Number.NaN;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request as raw HTTP/1.1 (any Host, any headers, or none), read to its end. */
async function send(
  runner: Runner,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
  version = "HTTP/1.1",
): Promise<Answer> {
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const out = await rawHttp(
    runner.port,
    `${method} ${path} ${version}\r\n${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => false,
  );
  const [top = "", rest = ""] = out.split(/\r\n\r\n/, 2) as [string, string];
  const lines = top.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
  const parsed: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    parsed[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers: parsed, body: out.slice(top.length + 4) || rest };
}

const host = (runner: Runner) => `127.0.0.1:${runner.port}`;
const llm = chatBody("/llm", "hello", 4, false);
const v1 = chatBody("/v1/chat/completions", "hello", 4, false);

/** /llm's error body: {"detail":{"msg"}} with 400, 401 or 500 only (wire-status.ts); returns msg. */
function llmError(a: Answer): string {
  expect([400, 401, 500], a.body).toContain(a.status);
  const msg = (JSON.parse(a.body) as { detail?: { msg?: unknown } }).detail?.msg;
  expect(typeof msg).toBe("string");
  return msg as string;
}

/** /v1's error body: OpenAI's {"error":{message,type,param,code}}; returns the error. */
function openAiError(a: Answer, status: number): { message: string; type: string; code: number } {
  expect(a.status, a.body).toBe(status);
  const err = (JSON.parse(a.body) as { error: { message: string; type: string; code: number } }).error;
  expect(err.code).toBe(status);
  return err;
}

describe("no AUTH_TOKEN, on loopback: what a web page can send is refused", () => {
  it("a POST that is not Content-Type: application/json gets a 4xx naming the header, and the engine does nothing", async () => {
    const before = await engineRequests(open);
    // The three "simple" content types of the Fetch standard, and none at all (a Blob body without a type).
    const types: Array<string | null> = [
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      null,
    ];
    for (const type of types) {
      const headers = { host: host(open), ...(type === null ? {} : { "content-type": type }) };
      const msg = llmError(await send(open, "POST", "/llm", headers, llm));
      expect(msg).toContain("Content-Type: application/json");
      const err = openAiError(await send(open, "POST", "/v1/chat/completions", headers, v1), 415);
      expect(err.message).toContain("Content-Type: application/json");
      openAiError(await send(open, "POST", "/v1/completions", headers, '{"prompt":"hi"}'), 415);
    }
    expect(await engineRequests(open), "the engine worked for a refused request").toBe(before);
    // The same bodies as JSON are served: the check can pass.
    const json = { host: host(open), "content-type": "Application/JSON; charset=utf-8" };
    expect((await send(open, "POST", "/llm", json, llm)).status).toBe(200);
    expect((await send(open, "POST", "/v1/chat/completions", json, v1)).status).toBe(200);
    expect(await engineRequests(open)).toBe(before + 2);
  });

  it("a request carrying an Origin is refused unless CORS_ORIGINS lists it (the default lists none)", async () => {
    const json = { host: host(open), "content-type": "application/json" };
    for (const origin of ["https://evil.example", "null", `http://${host(open)}`, "http://localhost:3000"]) {
      const msg = llmError(await send(open, "POST", "/llm", { ...json, origin }, llm));
      expect(msg).toContain("CORS_ORIGINS");
      const v1Refusal = await send(open, "POST", "/v1/chat/completions", { ...json, origin }, v1);
      expect(openAiError(v1Refusal, 403).type).toBe("PermissionDeniedError");
      expect(v1Refusal.headers["access-control-allow-origin"]).toBeUndefined();
      const preflight = await send(open, "OPTIONS", "/v1/chat/completions", {
        host: host(open),
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      });
      expect(preflight.status).toBe(403);
      expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
      expect((await send(open, "GET", "/health", { host: host(open), origin })).status).toBe(403);
    }
    // Clients that are not browsers send no Origin.
    expect((await send(open, "POST", "/llm", json, llm)).status).toBe(200);
  });

  it("DNS rebinding: a Host that is not an IP, localhost or an ALLOWED_HOSTS name is refused, an empty one too", async () => {
    const port = open.port;
    const refused = [`evil.example:${port}`, "evil.example", "", `127.0.0.1.evil.example:${port}`];
    for (const name of refused) {
      const health = await send(open, "GET", "/health", { host: name });
      expect(health.status, `Host: ${JSON.stringify(name)}`).toBe(403);
      expect((JSON.parse(health.body) as { detail: { msg: string } }).detail.msg).toContain("ALLOWED_HOSTS");
      const msg = llmError(
        await send(open, "POST", "/llm", { host: name, "content-type": "application/json" }, llm),
      );
      expect(msg).toContain("DNS rebinding");
      openAiError(await send(open, "GET", "/v1/models", { host: name }), 403);
      expect((await send(open, "GET", "/metrics", { host: name })).status).toBe(403);
    }
    // HTTP/1.0 allows a request without Host at all.
    expect((await send(open, "GET", "/health", {}, "", "HTTP/1.0")).status).toBe(403);
    // ollama's bypass (PR #17721), a port without a name: not even a URL, so the HTTP layer refuses it first.
    for (const path of ["/health", "/v1/models"])
      expect((await send(open, "GET", path, { host: `:${port}` })).status).toBe(400);

    const allowed = [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `localhost.:${port}`,
      `app.localhost:${port}`,
      `[::1]:${port}`,
      `runner.lan:${port}`,
      "runner.lan",
    ];
    for (const name of allowed) {
      expect((await send(open, "GET", "/health", { host: name })).status, `Host: ${name}`).toBe(200);
    }
    const served = await send(
      open,
      "POST",
      "/llm",
      { host: `localhost:${port}`, "content-type": "application/json" },
      llm,
    );
    expect(served.status).toBe(200);
  });
});

describe("with AUTH_TOKEN set nothing changes for clients", () => {
  it("text/plain bodies, foreign origins and any Host are served when the token is right", async () => {
    const headers = {
      host: `evil.example:${guarded.port}`,
      origin: "https://app.example",
      "content-type": "text/plain",
      authorization: `Bearer ${TOKEN}`,
    };
    const llmAnswer = await send(guarded, "POST", "/llm", headers, llm);
    expect(llmAnswer.status, llmAnswer.body).toBe(200);
    const v1Answer = await send(guarded, "POST", "/v1/chat/completions", headers, v1);
    expect(v1Answer.status, v1Answer.body).toBe(200);
    // CORS_ORIGINS unset with a token: any origin (a page cannot send the token without the user's code).
    expect(v1Answer.headers["access-control-allow-origin"]).toBe("*");
    expect((await send(guarded, "GET", "/health", { host: "" })).status).toBe(200);
    // And without the token the answer is still auth's 401.
    const denied = await send(guarded, "POST", "/llm", { ...headers, authorization: "Bearer nope" }, llm);
    expect(denied.status).toBe(401);
  });
});
