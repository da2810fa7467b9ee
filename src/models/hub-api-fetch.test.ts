// The hub's API calls stay on HF_ENDPOINT's origin: @huggingface/hub's listFiles follows a `Link: <url>;
// rel="next"` with the Authorization header (src/lib/list-files.ts), and huggingface_hub follows only relative
// redirects for its metadata calls (utils/_http.py, _httpx_follow_relative_redirects).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { hubApiFetch } from "./hub-api-fetch.js";
import { PullError } from "./pull-error.js";

const HUB = "https://hub.example";

function recording(answer: (url: string) => Response) {
  const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
  const base = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    calls.push({ url: String(input), init });
    return answer(String(input));
  }) as typeof fetch;
  return { calls, base };
}

async function failure(p: Promise<unknown>): Promise<PullError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PullError);
  return err as PullError;
}

describe("API calls to the hub", () => {
  it("never sends a request (or the token) to another origin", async () => {
    const { calls, base } = recording(() => new Response("[]"));
    const f = hubApiFetch(HUB, base);
    for (const other of [
      "https://evil.example/api/models/a/b/tree/c",
      "http://hub.example/x",
      "https://hub.example:444/x",
    ]) {
      const err = await failure(f(other, { headers: { Authorization: "Bearer hf_x" } }));
      expect(err.message).toContain(`the hub at hub.example sent an API call on to ${new URL(other).origin}`);
      expect(err.message).toContain("it was not followed, so HF_TOKEN was not sent there");
    }
    expect(calls).toEqual([]);
  });

  it("follows a redirect on the hub's origin (a renamed repo) and refuses one elsewhere", async () => {
    const { calls, base } = recording((url) =>
      url.endsWith("/old")
        ? new Response(null, { status: 307, headers: { location: "/api/models/new" } })
        : url.endsWith("/away")
          ? new Response(null, { status: 302, headers: { location: "http://169.254.169.254/latest" } })
          : new Response('{"ok":true}'),
    );
    const f = hubApiFetch(HUB, base);
    const res = await f(`${HUB}/api/models/old`, { headers: { Authorization: "Bearer hf_x" } });
    expect(await res.json()).toEqual({ ok: true });
    expect(calls.map((c) => c.url)).toEqual([`${HUB}/api/models/old`, `${HUB}/api/models/new`]);
    expect(calls.every((c) => c.init?.redirect === "manual")).toBe(true);
    const err = await failure(f(`${HUB}/away`));
    expect(err.message).toContain("sent an API call on to http://169.254.169.254");
    expect(calls).toHaveLength(3);
  });

  it("gives up after 5 redirects", async () => {
    const { base } = recording(() => new Response(null, { status: 302, headers: { location: "/again" } }));
    const err = await failure(hubApiFetch(HUB, base)(`${HUB}/again`));
    expect(err.message).toBe("the hub at hub.example redirected an API call more than 5 times");
  });

  it("reads an answer up to the cap and stops past it", async () => {
    const { base } = recording(() => new Response(new Uint8Array(1000).fill(0x20)));
    expect((await (await hubApiFetch(HUB, base, 1000)(`${HUB}/a`)).text()).length).toBe(1000);
    const err = await failure(hubApiFetch(HUB, base, 999)(`${HUB}/a`).then((r) => r.text()));
    expect(err.message).toMatch(
      /^the hub at hub\.example sent more than .* MiB \(after decompression\) for one API answer/,
    );
  });

  it("sees a real server's redirect through Node's fetch (redirect: manual keeps Location)", async () => {
    const server = createServer((req, res) => {
      if (req.url === "/old") res.writeHead(301, { Location: "/new" }).end();
      else res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ at: req.url }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await hubApiFetch(endpoint, fetch)(`${endpoint}/old`);
    expect(await res.json()).toEqual({ at: "/new" });
  });
});
